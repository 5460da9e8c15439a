"""Execute: a version's graph submitted as one batch, and each node's result collected.

Results are collected from the batch service when they are asked for (Execute, node results):
every job that succeeded is read back once with its execution, and a node whose jobs all
succeeded keeps its result, assembled by its type, under its key. The browser follows the
running jobs live through the batch's own progress events (a job's key is
``<node id>/<step>``), and learns the cached nodes at once from the ``canvas.execution``
event sent when Execute is pressed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from google.protobuf import json_format
from nats.js import JetStreamContext

from libs.bus import publish
from libs.bus.events import CanvasExecution, NodeResult
from libs.bus.states import JobState, NodeState
from libs.bus.subjects import user_events_subject
from libs.downstream import Downstream
from libs.logs import get_logger
from libs.rpc import struct
from services.canvas.compile import Plan, node_keys, node_output, plan
from services.canvas.graph import Graph
from services.canvas.kinds import DEFAULT_TYPES
from services.canvas.nodetypes import MissingOutput, NodeTypeRegistry
from services.canvas.results import ExecutionRecord, ResultStore
from shotgraph.batch.v1 import batch_pb2, batch_pb2_grpc
from shotgraph.canvas.v1 import canvas_pb2

__all__ = ["Executions", "JobStatus", "NodeProgress", "ReadBack", "read_back"]

log = get_logger(__name__)

_PAGE: Final = 100


@dataclass(frozen=True)
class JobStatus:
    """One job of an execution, as the batch service reports it."""

    state: JobState
    progress: int
    output: dict[str, Any] | None
    error: str


@dataclass(frozen=True)
class NodeProgress:
    """A node still being made (or that failed to be), in one batch."""

    batch_id: str
    state: NodeState  # queued, running or failed
    progress: int
    error: str


@dataclass(frozen=True)
class ReadBack:
    """What one execution's jobs have made so far."""

    made: dict[str, dict[str, Any]]  # node key -> its result
    live: dict[str, NodeProgress]  # node key -> how far it is, for the nodes not made
    # node id -> why no result could be assembled although its jobs succeeded; none is kept,
    # so the next Execute makes the node again
    unassembled: dict[str, str]

    @property
    def over(self) -> bool:
        """Every node made or failed: nothing more will come of this execution."""
        return all(node.state is NodeState.FAILED for node in self.live.values())


def read_back(
    execution: ExecutionRecord,
    jobs: Mapping[str, JobStatus],
    registry: NodeTypeRegistry,
    types: Mapping[str, str],
) -> ReadBack:
    """Each node of ``execution``: its result, assembled by its type, once its jobs all
    succeeded; else how far they are. ``types`` (node key -> type) is the graph at hand, for
    executions recorded before each node's type was."""
    read = ReadBack(made={}, live={}, unassembled={})
    for node_id, node in execution.nodes.items():
        states = [jobs.get(key) for key in node["jobs"]]
        if not all(s is not None and s.state is JobState.SUCCEEDED for s in states):
            read.live[node["key"]] = _summary(execution.batch_id, states)
            continue
        # A key is a hash over the node's type, so a graph holding the key knows the type.
        type_name = node.get("type") or types.get(node["key"])
        node_type = registry.get(type_name) if type_name else None
        if node_type is None:
            known = f"type {type_name!r} is not registered" if type_name else "type is unknown"
            read.unassembled[node_id] = f"its {known}"
            continue
        outputs = {key: jobs[key].output or {} for key in node["jobs"]}
        try:
            read.made[node["key"]] = node_output(node_type, node_id, outputs)
        except MissingOutput as exc:
            read.unassembled[node_id] = str(exc)
    return read


class Executions:
    def __init__(
        self,
        results: ResultStore,
        batch: Downstream[batch_pb2_grpc.BatchServiceStub],
        js: JetStreamContext,
        *,
        registry: NodeTypeRegistry = DEFAULT_TYPES,
    ) -> None:
        self._results = results
        self._batch = batch
        self._js = js
        self._registry = registry

    async def execute(
        self, canvas_id: str, version: int, user_id: str, graph: Graph
    ) -> canvas_pb2.Execution:
        """Submit what is not made yet; report every node (cached ones at once)."""
        keys = node_keys(graph)
        live = await self.collect(canvas_id, _types(graph, keys))
        results = await self._results.results(keys.values())
        compiled = plan(graph, results, self._registry, keys=keys)
        nodes = {node_id: _node(node_id, compiled, NodeState.CACHED) for node_id in compiled.cached}
        batch_id = ""
        if compiled.batch:
            batch_id = _running_batch(compiled, live) or await self._submit(
                canvas_id, version, user_id, graph, compiled
            )
            for node_id in compiled.jobs:
                nodes[node_id] = _node(node_id, compiled, NodeState.QUEUED)
        for node_id in compiled.idle:
            nodes[node_id] = _node(node_id, compiled, NodeState.IDLE)
        execution = canvas_pb2.Execution(
            canvas_id=canvas_id,
            version=version,
            batch_id=batch_id,
            nodes=[nodes[node.id] for node in graph.nodes],
        )
        await self._announce(user_id, execution)
        return execution

    async def node_results(
        self, canvas_id: str, version: int, graph: Graph, *, complete: bool
    ) -> canvas_pb2.NodeResults:
        """What each node of ``graph`` has made, or how far its jobs are. Only a ``complete``
        graph compiles, which tells the nodes that make nothing ("idle") from the rest."""
        keys = node_keys(graph)
        live = await self.collect(canvas_id, _types(graph, keys))
        results = await self._results.results(keys.values())
        idle = set(plan(graph, results, self._registry, keys=keys).idle) if complete else set()
        nodes = []
        for node in graph.nodes:
            key = keys[node.id]
            output = results.get(key)
            reply = canvas_pb2.NodeResult(node_id=node.id, key=key, state=NodeState.NOT_RUN)
            if output is not None:
                reply.state, reply.progress = NodeState.SUCCEEDED, 100
                reply.output.update(output)
            elif key in live:
                reply.state, reply.progress = live[key].state, live[key].progress
                reply.error = live[key].error
            elif node.id in idle:
                reply.state = NodeState.IDLE
            nodes.append(reply)
        return canvas_pb2.NodeResults(canvas_id=canvas_id, version=version, nodes=nodes)

    async def collect(self, canvas_id: str, types: Mapping[str, str]) -> dict[str, NodeProgress]:
        """Read back the canvas's unsettled executions: keep the results of nodes whose jobs
        all succeeded, settle executions that are over. Returns the nodes still being made,
        or that failed, by node key. ``types`` (node key -> type) is the graph at hand."""
        live: dict[str, NodeProgress] = {}
        for execution in await self._results.unsettled(canvas_id):
            read = read_back(execution, await self._jobs(execution), self._registry, types)
            for node_id, why in read.unassembled.items():
                log.warning(
                    "canvas.result_not_assembled",
                    batch_id=execution.batch_id,
                    node_id=node_id,
                    reason=why,
                )
            live.update(read.live)
            if read.made:
                await self._results.keep(read.made)
            if read.over:
                await self._results.settle(execution.batch_id)
        return live

    async def _jobs(self, execution: ExecutionRecord) -> dict[str, JobStatus]:
        jobs: dict[str, JobStatus] = {}
        token = ""
        while True:
            page: batch_pb2.ListJobsResponse = await self._batch.call(
                self._batch.stub.ListJobs,
                batch_pb2.ListJobsRequest(
                    owner_id=execution.user_id,
                    batch_id=execution.batch_id,
                    page_size=_PAGE,
                    page_token=token,
                ),
            )
            for job in page.jobs:
                output = json_format.MessageToDict(job.output) if job.HasField("output") else None
                jobs[job.key] = JobStatus(JobState(job.state), job.progress, output, job.error)
            token = page.next_page_token
            if not token:
                return jobs

    async def _submit(
        self,
        canvas_id: str,
        version: int,
        user_id: str,
        graph: Graph,
        compiled: Plan,
    ) -> str:
        jobs = [
            batch_pb2.JobSpec(
                function=job.function,
                input=struct(job.input),
                key=job.key,
                depends_on=list(job.depends_on),
            )
            for job in compiled.batch
        ]
        reply: batch_pb2.SubmitBatchResponse = await self._batch.call(
            self._batch.stub.SubmitBatch,
            batch_pb2.SubmitBatchRequest(owner_id=user_id, canvas_id=canvas_id, jobs=jobs),
        )
        types = {node.id: node.type for node in graph.nodes}
        nodes = {
            node_id: {
                "key": compiled.keys[node_id],
                "type": types[node_id],  # which type assembles the node's result
                "jobs": [job.key for job in node_jobs],
            }
            for node_id, node_jobs in compiled.jobs.items()
        }
        await self._results.record(reply.batch.id, canvas_id, version, user_id, nodes)
        return reply.batch.id

    async def _announce(self, user_id: str, execution: canvas_pb2.Execution) -> None:
        event = CanvasExecution(
            canvas_id=execution.canvas_id,
            version=execution.version,
            batch_id=execution.batch_id,
            nodes=[
                NodeResult(
                    node_id=node.node_id,
                    key=node.key,
                    state=NodeState(node.state),
                    progress=node.progress,
                    output=json_format.MessageToDict(node.output)
                    if node.HasField("output")
                    else None,
                    error=node.error,
                )
                for node in execution.nodes
            ],
        )
        try:
            await publish(self._js, user_events_subject(user_id), event)
        except Exception as exc:  # the reply carries the same; the event is for other tabs
            log.warning("canvas.execution_not_announced", error=repr(exc))


def _types(graph: Graph, keys: Mapping[str, str]) -> dict[str, str]:
    """Each node's type by the node's key."""
    return {keys[node.id]: node.type for node in graph.nodes}


def _running_batch(compiled: Plan, live: Mapping[str, NodeProgress]) -> str | None:
    """The batch already making every node this plan would make, if there is one: pressing
    Execute again while it runs submits nothing twice."""
    batches = {
        live[key].batch_id if key in live and live[key].state is not NodeState.FAILED else None
        for key in (compiled.keys[node_id] for node_id in compiled.jobs)
    }
    return batches.pop() if len(batches) == 1 else None


def _summary(batch_id: str, states: list[JobStatus | None]) -> NodeProgress:
    """A node's state from its jobs': failed if one failed, running if one runs, else queued."""
    known = [s for s in states if s is not None]
    errors = [s.error for s in known if s.state.is_broken]
    if errors:
        return NodeProgress(batch_id, NodeState.FAILED, 0, errors[0] or "a job failed")
    progress = round(sum(s.progress for s in known) / max(1, len(states)))
    if any(s.state in (JobState.RUNNING, JobState.SUCCEEDED) for s in known):
        return NodeProgress(batch_id, NodeState.RUNNING, progress, "")
    return NodeProgress(batch_id, NodeState.QUEUED, progress, "")


def _node(node_id: str, compiled: Plan, state: NodeState) -> canvas_pb2.NodeResult:
    output = compiled.cached.get(node_id)
    return canvas_pb2.NodeResult(
        node_id=node_id,
        key=compiled.keys[node_id],
        state=state,
        progress=100 if output is not None else 0,
        output=struct(dict(output)) if output is not None else None,
    )
