"""Execute and results, in process: what is recorded of an execution, and how each node's result
is read back from its jobs, by its type, also for executions recorded before types were."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from typing import Any, cast

import pytest
from google.protobuf import json_format
from nats.js import JetStreamContext

from libs.bus.states import JobState, NodeState
from libs.downstream import Downstream
from libs.rpc import struct
from services.canvas.compile import node_keys
from services.canvas.execution import Executions, JobStatus, read_back
from services.canvas.graph import Graph
from services.canvas.kinds import DEFAULT_TYPES
from services.canvas.results import ExecutionRecord, ResultStore
from services.canvas.tests.test_compile import WITH_AUDIO, graph_of, scored, storyboard
from shotgraph.batch.v1 import batch_pb2, batch_pb2_grpc

THUMB, RENDER, FRAME = "1" * 64, "2" * 64, "3" * 64
# What each function's worker returns, its image declared.
OUTPUTS: dict[str, dict[str, Any]] = {
    "image.thumbnail": {"thumbnail": THUMB, "image": THUMB, "width": 512, "height": 384},
    "render.scad": {"png": RENDER, "glb": "4" * 64, "colours": [], "cached": [], "image": RENDER},
    "image.frame": {"frame": FRAME, "image": FRAME, "width": 1280, "height": 720},
    "audio.mix": {"audio": "5" * 64, "waveform": "6" * 64},
}


def succeeded(output: dict[str, Any]) -> JobStatus:
    return JobStatus(JobState.SUCCEEDED, 100, output, "")


def record(nodes: dict[str, dict[str, Any]]) -> ExecutionRecord:
    return ExecutionRecord(str(uuid.uuid4()), str(uuid.uuid4()), 1, "ada", nodes, False)


# --- read_back: the pure part --------------------------------------------------------------------


def test_a_node_whose_jobs_all_succeeded_is_made_by_its_recorded_type() -> None:
    execution = record(
        {
            "yard": {"key": "k-yard", "type": "scene", "jobs": ["yard/render"]},
            "ada": {"key": "k-ada", "type": "character", "jobs": ["ada/thumbnail/0"]},
        }
    )
    jobs = {
        "yard/render": succeeded(OUTPUTS["render.scad"]),
        "ada/thumbnail/0": JobStatus(JobState.RUNNING, 40, None, ""),
    }

    read = read_back(execution, jobs, DEFAULT_TYPES, {})

    files = {"png": RENDER, "glb": "4" * 64, "colours": [], "cached": []}
    assert read.made == {"k-yard": {"render": files, "image": RENDER}}
    assert read.live["k-ada"].state is NodeState.RUNNING and not read.over


def test_an_execution_recorded_without_types_takes_them_from_the_graph_by_key() -> None:
    execution = record({"s010": {"key": "k-shot", "jobs": ["s010/frame"]}})  # an older record

    read = read_back(
        execution,
        {"s010/frame": succeeded(OUTPUTS["image.frame"])},
        DEFAULT_TYPES,
        {"k-shot": "shot"},
    )

    assert read.made == {"k-shot": {"frame": FRAME, "image": FRAME}} and read.over


@pytest.mark.parametrize(
    ("node", "output", "why"),
    [
        ({"key": "k-gone", "jobs": ["s010/frame"]}, OUTPUTS["image.frame"], "type is unknown"),
        (
            {"key": "k-shot", "type": "storyboard", "jobs": ["s010/frame"]},
            OUTPUTS["image.frame"],
            "'storyboard' is not registered",
        ),
        (
            {"key": "k-shot", "type": "shot", "jobs": ["s010/frame"]},
            {"frame": FRAME},  # made before the frame job declared its image
            "declared no 'image'",
        ),
    ],
    ids=["old-record-whose-key-no-graph-at-hand-holds", "type-no-longer-registered", "no-image"],
)
def test_a_result_that_cannot_be_assembled_is_not_kept_and_the_execution_settles(
    node: dict[str, Any], output: dict[str, Any], why: str
) -> None:
    read = read_back(
        record({"s010": node}), {"s010/frame": succeeded(output)}, DEFAULT_TYPES, {"k-shot": "shot"}
    )

    assert read.made == {} and read.live == {} and read.over
    assert why in read.unassembled["s010"]


# --- Executions with the batch service and the stores faked --------------------------------------


class FakeResults:
    def __init__(self) -> None:
        self.kept: dict[str, dict[str, Any]] = {}
        self.executions: dict[str, ExecutionRecord] = {}

    async def results(self, keys: Iterable[str]) -> dict[str, dict[str, Any]]:
        return {key: self.kept[key] for key in keys if key in self.kept}

    async def keep(self, results: Mapping[str, Mapping[str, Any]]) -> None:
        for key, output in results.items():
            self.kept.setdefault(key, dict(output))

    async def record(
        self, batch_id: str, canvas_id: str, version: int, user_id: str, nodes: dict[str, Any]
    ) -> None:
        self.executions[batch_id] = ExecutionRecord(
            batch_id, canvas_id, version, user_id, nodes, False
        )

    async def unsettled(self, canvas_id: str) -> list[ExecutionRecord]:
        return [e for e in self.executions.values() if e.canvas_id == canvas_id and not e.settled]

    async def settle(self, batch_id: str) -> None:
        execution = self.executions[batch_id]
        self.executions[batch_id] = ExecutionRecord(
            execution.batch_id,
            execution.canvas_id,
            execution.version,
            execution.user_id,
            execution.nodes,
            True,
        )


class FakeBatches:
    """Jobs submitted are queued until ``finish`` runs them as their workers would."""

    def __init__(self) -> None:
        self.jobs: dict[str, list[batch_pb2.Job]] = {}

    async def SubmitBatch(self, request: batch_pb2.SubmitBatchRequest) -> Any:
        batch_id = str(uuid.uuid4())
        self.jobs[batch_id] = [
            batch_pb2.Job(key=spec.key, function=spec.function, state="queued", batch_id=batch_id)
            for spec in request.jobs
        ]
        return batch_pb2.SubmitBatchResponse(batch=batch_pb2.Batch(id=batch_id), created=True)

    async def ListJobs(self, request: batch_pb2.ListJobsRequest) -> Any:
        return batch_pb2.ListJobsResponse(jobs=self.jobs[request.batch_id])

    @property
    def stub(self) -> FakeBatches:
        return self

    async def call(self, method: Any, request: Any, *, deadline_s: float | None = None) -> Any:
        return await method(request)

    def finish(self) -> None:
        for jobs in self.jobs.values():
            for job in jobs:
                job.state, job.progress = "succeeded", 100
                job.output.CopyFrom(struct(OUTPUTS[job.function]))


class FakeBus:
    async def publish(self, subject: str, payload: bytes, headers: dict[str, str]) -> None:
        return None


def executions(results: FakeResults, batches: FakeBatches, registry: Any) -> Executions:
    return Executions(
        cast(ResultStore, results),
        cast(Downstream[batch_pb2_grpc.BatchServiceStub], batches),
        cast(JetStreamContext, FakeBus()),
        registry=registry,
    )


async def outputs(runs: Executions, canvas_id: str, graph: Graph) -> dict[str, Any]:
    reply = await runs.node_results(canvas_id, 1, graph, complete=True)
    return {n.node_id: json_format.MessageToDict(n.output) for n in reply.nodes}


async def test_execute_records_each_nodes_type_and_a_new_kinds_result_is_assembled_by_it() -> None:
    results, batches = FakeResults(), FakeBatches()
    runs = executions(results, batches, WITH_AUDIO)
    graph, canvas_id = graph_of(scored(), WITH_AUDIO), str(uuid.uuid4())

    started = await runs.execute(canvas_id, 1, "ada", graph)

    (execution,) = results.executions.values()
    assert {n: node["type"] for n, node in execution.nodes.items()} == {
        "ada": "character",
        "yard": "scene",
        "s010": "shot",
        "score": "audio",
    }
    assert {n.node_id: n.state for n in started.nodes}["score"] == NodeState.QUEUED
    batches.finish()
    made = await outputs(runs, canvas_id, graph)
    assert made["score"] == {"mix": "5" * 64, "image": "6" * 64}
    assert made["s010"] == {"frame": FRAME, "image": FRAME}
    assert made["ada"] == {"thumbnails": [THUMB], "image": THUMB}


async def test_an_execution_recorded_before_types_is_still_read_back() -> None:
    results, batches = FakeResults(), FakeBatches()
    runs = executions(results, batches, DEFAULT_TYPES)
    graph, canvas_id = graph_of(storyboard()), str(uuid.uuid4())
    await runs.execute(canvas_id, 1, "ada", graph)
    for execution in results.executions.values():  # as an older canvas service wrote it
        for node in execution.nodes.values():
            del node["type"]
    batches.finish()

    made = await outputs(runs, canvas_id, graph)

    assert made["yard"]["image"] == RENDER and made["s010"]["frame"] == FRAME
    assert all(e.settled for e in results.executions.values())
    assert set(results.kept) == {node_keys(graph)[n] for n in ("ada", "yard", "s010")}
