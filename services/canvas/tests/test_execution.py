"""Execute and results: what is recorded of an execution, and how each node's result is read
back from its jobs, by its type, also for executions recorded before types were.

``read_back`` is pure and tested alone. ``Executions`` is tested with what it talks to running
for real: its ResultStore on Postgres (the service's own migrations; the canvas, its user and
its node keys are the test's own, and their rows are deleted after it), the batch service in
this process (``tests/in_process.py``), whose jobs the test runs as their workers would by
reporting on each queued one, and JetStream, where the user's browsers hear of Execute.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest
from google.protobuf import json_format
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError

from libs.bus import Envelope
from libs.bus.events import CanvasExecution
from libs.bus.states import JobState, NodeState, ReportedState
from libs.bus.subjects import user_events_subject
from libs.bus.work import FunctionSpec, JobReport
from libs.db import migrate
from libs.jobs import register_functions
from services.canvas.app import MIGRATIONS
from services.canvas.compile import node_keys
from services.canvas.execution import Executions, JobStatus, read_back
from services.canvas.graph import Graph
from services.canvas.kinds import DEFAULT_TYPES
from services.canvas.results import ExecutionRecord, ResultStore
from services.canvas.store import CanvasRecord, CanvasStore
from services.canvas.tests.test_compile import WITH_AUDIO, graph_of, scored, storyboard
from shotgraph.batch.v1 import batch_pb2
from tests.in_process import BatchService

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


# --- Executions, with its stores, the batch service and the bus running ---------------------------

# The function the test's audio kind compiles to, announced as its worker would.
AUDIO_MIX = FunctionSpec(
    name="audio.mix",
    input_schema={
        "type": "object",
        "required": ["track", "frames"],
        "additionalProperties": False,
        "properties": {"track": {"type": "string"}, "frames": {"type": "array"}},
    },
)


@pytest.fixture
async def results(pg_pool: asyncpg.Pool) -> ResultStore:
    await migrate(pg_pool, "canvas", MIGRATIONS)
    return ResultStore(pg_pool)


@pytest.fixture
async def canvas(pg_pool: asyncpg.Pool, results: ResultStore) -> AsyncIterator[CanvasRecord]:
    """A canvas of a user of this test's own (``results`` has migrated its schema). After the
    test, the results its executions kept, the canvas with its executions and the user's
    batches are deleted."""
    record = await CanvasStore(pg_pool).create(f"user-{uuid.uuid4().hex}", "Execute")
    yield record
    canvas_id = uuid.UUID(record.id)
    await pg_pool.execute(
        "DELETE FROM canvas.node_results WHERE key IN (SELECT node->>'key'"
        " FROM canvas.executions, jsonb_each(nodes) AS n(id, node) WHERE canvas_id = $1)",
        canvas_id,
    )
    await pg_pool.execute("DELETE FROM canvas.canvases WHERE id = $1", canvas_id)
    await pg_pool.execute("DELETE FROM batch.batches WHERE owner_id = $1", record.owner_id)


def own(data: dict[str, Any]) -> dict[str, Any]:
    """``data`` with each node's name made this test's own, and so its key: the results kept
    under the keys are this test's rows alone."""
    tag = uuid.uuid4().hex[:8]
    for node in data["nodes"]:
        properties = node["properties"]
        for name in ("name", "location", "track"):
            if name in properties:
                properties[name] = f"{properties[name]} {tag}"
    return data


async def jobs_of(batch: BatchService, owner_id: str, batch_id: str) -> list[batch_pb2.Job]:
    listed: batch_pb2.ListJobsResponse = await batch.client.call(
        batch.client.stub.ListJobs,
        batch_pb2.ListJobsRequest(owner_id=owner_id, batch_id=batch_id),
    )
    assert not listed.next_page_token
    return list(listed.jobs)


async def run_queued(batch: BatchService, owner_id: str, batch_id: str) -> set[str]:
    """What the workers do with the batch's queued jobs: each succeeds with its function's
    output, which releases the jobs depending on it. The keys of the jobs run."""
    queued = [
        job
        for job in await jobs_of(batch, owner_id, batch_id)
        if JobState(job.state) is JobState.QUEUED
    ]
    await batch.report(
        *(
            JobReport(
                job_id=job.id,
                batch_id=batch_id,
                state=ReportedState.SUCCEEDED,
                progress=100,
                output=OUTPUTS[job.function],
            )
            for job in queued
        )
    )
    return {job.key for job in queued}


async def events_to(js: JetStreamContext, user_id: str) -> list[Envelope]:
    """What the user's browsers are told, oldest first: every event the EVENTS stream keeps on
    the user's subject."""
    subject, seq = user_events_subject(user_id), 1
    events: list[Envelope] = []
    while True:
        try:
            kept = await js.get_msg("EVENTS", seq, subject=subject, next=True)
        except NotFoundError:
            return events
        events.append(Envelope.decode(kept.data or b""))
        seq = (kept.seq or seq) + 1


async def node_results(
    runs: Executions, canvas_id: str, graph: Graph
) -> dict[str, tuple[NodeState, dict[str, Any]]]:
    """Each node's state and result, as the studio asks for them."""
    reply = await runs.node_results(canvas_id, 1, graph, complete=True)
    return {
        n.node_id: (NodeState(n.state), json_format.MessageToDict(n.output)) for n in reply.nodes
    }


async def test_execute_records_each_nodes_type_and_a_new_kinds_result_is_assembled_by_it(
    results: ResultStore,
    batch_service: BatchService,
    nats_js: JetStreamContext,
    canvas: CanvasRecord,
) -> None:
    await register_functions(nats_js, [AUDIO_MIX])
    runs = Executions(results, batch_service.client, nats_js, registry=WITH_AUDIO)
    graph, user = graph_of(own(scored()), WITH_AUDIO), canvas.owner_id
    keys = node_keys(graph)

    started = await runs.execute(canvas.id, 1, user, graph)

    (execution,) = await results.unsettled(canvas.id)
    assert (execution.batch_id, execution.version, execution.user_id) == (
        started.batch_id,
        1,
        user,
    )
    assert execution.nodes == {
        "ada": {"key": keys["ada"], "type": "character", "jobs": ["ada/thumbnail/0"]},
        "yard": {"key": keys["yard"], "type": "scene", "jobs": ["yard/render"]},
        "s010": {"key": keys["s010"], "type": "shot", "jobs": ["s010/frame"]},
        "score": {"key": keys["score"], "type": "audio", "jobs": ["score/mix"]},
    }
    assert {n.node_id: (n.key, n.state) for n in started.nodes} == {
        "ada": (keys["ada"], NodeState.QUEUED),
        "bo": (keys["bo"], NodeState.IDLE),
        "yard": (keys["yard"], NodeState.QUEUED),
        "s010": (keys["s010"], NodeState.QUEUED),
        "score": (keys["score"], NodeState.QUEUED),
    }
    # The batch service took the graph's jobs as one batch, each waiting on its inputs.
    jobs = await jobs_of(batch_service, user, started.batch_id)
    assert {job.key: (job.function, JobState(job.state)) for job in jobs} == {
        "ada/thumbnail/0": ("image.thumbnail", JobState.QUEUED),
        "yard/render": ("render.scad", JobState.QUEUED),
        "s010/frame": ("image.frame", JobState.PENDING),
        "score/mix": ("audio.mix", JobState.PENDING),
    }
    # The browser hears of the batch, then of Execute with every node's state.
    events = await events_to(nats_js, user)
    assert [event.type for event in events] == ["batch.submitted", "canvas.execution"]
    announced = events[-1].open(CanvasExecution)
    assert (announced.canvas_id, announced.version, announced.batch_id) == (
        canvas.id,
        1,
        started.batch_id,
    )
    assert {n.node_id: (n.key, n.state) for n in announced.nodes} == {
        n.node_id: (n.key, n.state) for n in started.nodes
    }

    assert await run_queued(batch_service, user, started.batch_id) == {
        "ada/thumbnail/0",
        "yard/render",
    }
    partway = await node_results(runs, canvas.id, graph)
    assert {node_id: state for node_id, (state, _) in partway.items()} == {
        "ada": NodeState.SUCCEEDED,
        "bo": NodeState.IDLE,
        "yard": NodeState.SUCCEEDED,
        "s010": NodeState.QUEUED,  # its frame, released, waits for a worker
        "score": NodeState.QUEUED,
    }
    assert [e.batch_id for e in await results.unsettled(canvas.id)] == [started.batch_id]
    assert await run_queued(batch_service, user, started.batch_id) == {"s010/frame"}
    assert await run_queued(batch_service, user, started.batch_id) == {"score/mix"}
    made = await node_results(runs, canvas.id, graph)

    assert made["score"] == (NodeState.SUCCEEDED, {"mix": "5" * 64, "image": "6" * 64})
    assert made["s010"] == (NodeState.SUCCEEDED, {"frame": FRAME, "image": FRAME})
    assert made["ada"] == (NodeState.SUCCEEDED, {"thumbnails": [THUMB], "image": THUMB})
    assert made["bo"] == (NodeState.IDLE, {})
    assert await results.unsettled(canvas.id) == [], "every node made: settled"


async def test_an_execution_recorded_before_types_is_still_read_back(
    pg_pool: asyncpg.Pool,
    results: ResultStore,
    batch_service: BatchService,
    nats_js: JetStreamContext,
    canvas: CanvasRecord,
) -> None:
    runs = Executions(results, batch_service.client, nats_js)
    graph, user = graph_of(own(storyboard())), canvas.owner_id
    started = await runs.execute(canvas.id, 1, user, graph)
    batch_id = uuid.UUID(started.batch_id)
    # As an older canvas service wrote it: which job makes which node, and no type.
    nodes = await pg_pool.fetchval(
        "SELECT nodes FROM canvas.executions WHERE batch_id = $1", batch_id
    )
    for node in nodes.values():
        del node["type"]
    await pg_pool.execute(
        "UPDATE canvas.executions SET nodes = $2 WHERE batch_id = $1", batch_id, nodes
    )
    assert await run_queued(batch_service, user, started.batch_id) == {
        "ada/thumbnail/0",
        "yard/render",
    }
    assert await run_queued(batch_service, user, started.batch_id) == {"s010/frame"}

    made = await node_results(runs, canvas.id, graph)

    files = {"png": RENDER, "glb": "4" * 64, "colours": [], "cached": []}
    assert made["yard"] == (NodeState.SUCCEEDED, {"render": files, "image": RENDER})
    assert made["s010"] == (NodeState.SUCCEEDED, {"frame": FRAME, "image": FRAME})
    settled = "SELECT settled FROM canvas.executions WHERE batch_id = $1"
    assert await pg_pool.fetchval(settled, batch_id) is True
    keys = node_keys(graph)
    kept = await results.results(keys.values())
    assert set(kept) == {keys[n] for n in ("ada", "yard", "s010")}
