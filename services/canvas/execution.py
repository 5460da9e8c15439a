"""Execute: a version's graph submitted as one batch, and each node's state and result.

Execute compiles the graph (`services.canvas.compile`): nodes made before under the same key
are cached, the rest become one batch. Their states and results then come from the batch's
events (`services.canvas.tracking`), so Execute and node results read the canvas's own
records, never batch. Execute is announced to the user who pressed it (``canvas.execution``
on the user's subject, for their other tabs) and to everyone viewing the canvas
(``canvas.nodes`` with every node, on the canvas's subject), which then hears of each change.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping

from google.protobuf import json_format
from nats.js import JetStreamContext

from libs.bus import publish
from libs.bus.events import CanvasExecution, CanvasNodes, NodeResult
from libs.bus.states import NodeState
from libs.bus.subjects import canvas_events_subject, user_events_subject
from libs.downstream import Downstream
from libs.errors import NotFound, ShotgraphError
from libs.logs import get_logger
from libs.rpc import struct
from services.canvas.compile import Plan, node_keys, plan
from services.canvas.graph import Graph
from services.canvas.kinds import DEFAULT_TYPES
from services.canvas.node_states import ExecutionNode, NodeProgress, read_back
from services.canvas.nodetypes import NodeTypeRegistry
from services.canvas.results import ExecutionRecord, ResultStore
from shotgraph.batch.v1 import batch_pb2, batch_pb2_grpc
from shotgraph.canvas.v1 import canvas_pb2

__all__ = ["Executions"]

log = get_logger(__name__)


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
        live = await self.live(canvas_id)
        results = await self._results.results(keys.values())
        compiled = plan(graph, results, self._registry, keys=keys)
        # A result made elsewhere is now shown on this canvas: its readers may read its blobs.
        await self._results.refer(canvas_id, compiled.cached.values())
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
        live = await self.live(canvas_id)
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

    async def live(self, canvas_id: str) -> dict[str, NodeProgress]:
        """The nodes of the canvas's unsettled executions that are still being made, or that
        failed, by node key, as their batches' events told."""
        live: dict[str, NodeProgress] = {}
        for execution in await self._results.unsettled(canvas_id):
            read = read_back(execution.batch_id, execution.nodes, execution.jobs, self._registry)
            live.update(read.live)
        return live

    async def running(self, canvas_id: str) -> list[ExecutionRecord]:
        """The canvas's executions with a job not known to be final."""
        return [
            execution
            for execution in await self._results.unsettled(canvas_id)
            if any(
                execution.jobs.get(job) is None or not execution.jobs[job].state.is_final
                for node in execution.nodes.values()
                for job in node.jobs
            )
        ]

    async def cancel(self, executions: Iterable[ExecutionRecord]) -> None:
        """Cancel the batches of ``executions`` (a deleted canvas's: nothing would show what
        they make). Best effort: a batch that cannot be cancelled now runs to its end."""
        await asyncio.gather(*(self._cancel(e.user_id, e.batch_id) for e in executions))

    async def _cancel(self, owner_id: str, batch_id: str) -> None:
        try:
            await self._batch.call(
                self._batch.stub.CancelBatch,
                batch_pb2.CancelBatchRequest(owner_id=owner_id, batch_id=batch_id),
            )
        except ShotgraphError as exc:
            log.warning("canvas.batch_not_cancelled", batch_id=batch_id, error=str(exc))

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
            node_id: ExecutionNode(
                key=compiled.keys[node_id],
                jobs=[job.key for job in node_jobs],
                type=types[node_id],
            )
            for node_id, node_jobs in compiled.jobs.items()
        }
        try:
            await self._results.record(reply.batch.id, canvas_id, version, user_id, nodes)
        except NotFound:  # the canvas was deleted meanwhile: nothing would show what it makes
            await self._cancel(user_id, reply.batch.id)
            raise
        return reply.batch.id

    async def _announce(self, user_id: str, execution: canvas_pb2.Execution) -> None:
        nodes = [
            NodeResult(
                node_id=node.node_id,
                key=node.key,
                state=NodeState(node.state),
                progress=node.progress,
                output=json_format.MessageToDict(node.output) if node.HasField("output") else None,
                error=node.error,
            )
            for node in execution.nodes
        ]
        announced = {
            user_events_subject(user_id): CanvasExecution(
                canvas_id=execution.canvas_id,
                version=execution.version,
                batch_id=execution.batch_id,
                nodes=nodes,
            ),
            canvas_events_subject(execution.canvas_id): CanvasNodes(
                canvas_id=execution.canvas_id,
                version=execution.version,
                batch_id=execution.batch_id,
                nodes=nodes,
            ),
        }
        for subject, event in announced.items():
            try:
                await publish(self._js, subject, event)
            except Exception as exc:  # the reply carries the same; node results tell it later
                log.warning("canvas.execution_not_announced", subject=subject, error=repr(exc))


def _running_batch(compiled: Plan, live: Mapping[str, NodeProgress]) -> str | None:
    """The batch already making every node this plan would make, if there is one: pressing
    Execute again while it runs submits nothing twice."""
    batches = {
        live[key].batch_id if key in live and live[key].state is not NodeState.FAILED else None
        for key in (compiled.keys[node_id] for node_id in compiled.jobs)
    }
    return batches.pop() if len(batches) == 1 else None


def _node(node_id: str, compiled: Plan, state: NodeState) -> canvas_pb2.NodeResult:
    output = compiled.cached.get(node_id)
    return canvas_pb2.NodeResult(
        node_id=node_id,
        key=compiled.keys[node_id],
        state=state,
        progress=100 if output is not None else 0,
        output=struct(dict(output)) if output is not None else None,
    )
