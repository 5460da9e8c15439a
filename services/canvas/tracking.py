"""Executions follow their batches: batch events in, node states and results out.

The canvas service reads the events batch sends its users (``events.user.>``) through one
durable consumer shared by every replica, and takes those of batches it recorded an execution
for. Each job state that is news (`services.canvas.node_states.merge`) is saved with the
execution; a node whose jobs all succeeded has its result kept; each node whose state changed
is announced on the canvas's subject (``canvas.nodes``), for everyone viewing the canvas.

Events can be missed (batch treats progress events as advisory; a burst names only some of
its jobs; a replica was down), so an execution is reconciled with batch's own listing of its
jobs when there is reason to think it is behind: a summary (completed, cancelled, retried)
whose final counts its jobs do not match, a progress event that left jobs out, nothing heard
for a while although it is not settled, and after a restart. The record is always eventually
right; in the usual case, it is right from the events alone.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping
from dataclasses import dataclass

import msgspec
from google.protobuf import json_format
from nats.js import JetStreamContext
from nats.js.api import DeliverPolicy

from libs.bus import Consumer, Delivery, publish
from libs.bus.events import (
    BatchCancelled,
    BatchCompleted,
    BatchProgress,
    BatchRetried,
    BatchSubmitted,
    BatchSummary,
    CanvasNodes,
    NodeResult,
)
from libs.bus.states import JobState
from libs.bus.subjects import ALL_USER_EVENTS, canvas_events_subject
from libs.downstream import Downstream
from libs.errors import NotFound, Unavailable
from libs.logs import get_logger
from libs.metrics import CANVAS_RECONCILIATIONS
from services.canvas.node_states import (
    ExecutionNode,
    JobStatus,
    final_counts,
    merge,
    node_changes,
    read_back,
)
from services.canvas.nodetypes import NodeTypeRegistry
from services.canvas.results import ExecutionRecord, ResultStore
from services.canvas.store import CanvasStore
from shotgraph.batch.v1 import batch_pb2, batch_pb2_grpc

__all__ = ["BATCH_EVENTS_DURABLE", "ExecutionTracker", "TrackingTimes"]

log = get_logger(__name__)

BATCH_EVENTS_DURABLE = "canvas-batch-events"
_PAGE = 100  # the most ListJobs gives at once


class NotRecordedYet(Unavailable):
    """An event of a canvas's batch came before the canvas recorded its execution (it records
    it as SubmitBatch returns): heard again shortly."""


@dataclass(frozen=True)
class TrackingTimes:
    """How soon an execution is reconciled with batch when it may be behind."""

    # After a summary its jobs disagree with: progress events still on their way (batch
    # coalesces them, and sends a summary at once) usually settle it before then.
    summary_grace_s: float = 2.0
    # After a progress event that left jobs out: at most one listing per batch this often.
    partial_s: float = 5.0
    # Nothing heard of an unsettled execution for this long: its events may have been lost.
    quiet_s: float = 30.0
    sweep_s: float = 1.0  # how often each replica looks for executions to reconcile
    claim: int = 20  # executions claimed per look


class ExecutionTracker:
    def __init__(
        self,
        results: ResultStore,
        canvases: CanvasStore,
        batch: Downstream[batch_pb2_grpc.BatchServiceStub],
        js: JetStreamContext,
        registry: NodeTypeRegistry,
        times: TrackingTimes = TrackingTimes(),
    ) -> None:
        self._results = results
        self._canvases = canvases
        self._batch = batch
        self._js = js
        self._registry = registry
        self.times = times

    def consumer(
        self,
        *,
        durable: str = BATCH_EVENTS_DURABLE,
        filter_subject: str = ALL_USER_EVENTS,
        concurrency: int = 4,
    ) -> Consumer[BatchSummary]:
        """The durable consumer of batch events, shared by every replica (tests follow one
        user's batches with a durable of their own)."""
        return Consumer(
            service="canvas",
            stream="EVENTS",
            durable=durable,
            filter_subject=filter_subject,
            message=(BatchSubmitted, BatchProgress, BatchCompleted, BatchCancelled, BatchRetried),
            handler=self.on_batch_event,
            skip_other_types=True,
            # An hour of older events is for browsers resuming; a new canvas deployment
            # reconciles what it recorded instead.
            deliver_policy=DeliverPolicy.NEW,
            concurrency=concurrency,
            retry_base_s=0.2,
            max_deliver=6,
        )

    async def on_batch_event(self, event: BatchSummary, delivery: Delivery) -> None:
        if not event.canvas_id:
            # No canvas submitted it (renders, the API's own batches). An event from a batch
            # release older than canvas_id is skipped too: reconciliation covers those.
            return
        if isinstance(event, BatchProgress):
            heard = {
                job.key: JobStatus(job.state, job.progress, job.output, job.error, job.retry)
                for job in event.jobs
            }
            known = await self.apply(event.batch_id, heard) is not None
            if known and event.more_jobs_changed:
                await self._results.check_after(event.batch_id, self.times.partial_s)
        else:
            execution = await self._results.execution(event.batch_id)
            known = execution is not None
            expected = {state: n for state, n in event.counts.items() if state.is_final}
            if execution is not None and _behind(execution.jobs, expected):
                await self._results.check_after(
                    event.batch_id, self.times.summary_grace_s, expecting=expected
                )
        if not known:
            raise NotRecordedYet(f"no execution of batch {event.batch_id} yet")

    async def apply(self, batch_id: str, heard: Mapping[str, JobStatus]) -> int | None:
        """Merge job states heard of into the execution of ``batch_id``, keep what its nodes
        made, and announce the nodes that changed. How many of the states were news; None
        when there is no such execution."""
        async with self._results.locked(batch_id) as locked:
            if locked is None:
                return None
            execution = locked.record
            jobs = merge(execution.jobs, heard)
            if jobs is None:
                return 0  # heard before
            nodes = await self._typed(execution)
            before = read_back(batch_id, nodes, execution.jobs, self._registry)
            after = read_back(batch_id, nodes, jobs, self._registry)
            for node_id, why in after.unassembled.items():
                if node_id not in before.unassembled:
                    log.warning(
                        "canvas.result_not_assembled",
                        batch_id=batch_id,
                        node_id=node_id,
                        reason=why,
                    )
            await locked.save(jobs, after.made, settled=after.over)
            # Inside the transaction: a failed announcement rolls the change back, and the
            # event is heard again.
            if changed := node_changes(nodes, before, after):
                await self.announce(execution.canvas_id, execution.version, batch_id, changed)
        return sum(1 for key, status in jobs.items() if execution.jobs.get(key) != status)

    async def announce(
        self, canvas_id: str, version: int, batch_id: str, nodes: list[NodeResult]
    ) -> None:
        event = CanvasNodes(canvas_id=canvas_id, version=version, batch_id=batch_id, nodes=nodes)
        await publish(self._js, canvas_events_subject(canvas_id), event)

    async def reconcile(self, execution: ExecutionRecord) -> bool:
        """Bring the execution up to date with batch's own listing of its jobs; whether the
        listing held news."""
        listed: dict[str, JobStatus] = {}
        token = ""
        while True:
            try:
                page: batch_pb2.ListJobsResponse = await self._batch.call(
                    self._batch.stub.ListJobs,
                    batch_pb2.ListJobsRequest(
                        owner_id=execution.user_id,
                        batch_id=execution.batch_id,
                        page_size=_PAGE,
                        page_token=token,
                        view=batch_pb2.JOB_VIEW_BASIC,
                    ),
                )
            except NotFound:
                log.warning("canvas.batch_gone", batch_id=execution.batch_id)
                return False
            for job in page.jobs:
                output = json_format.MessageToDict(job.output) if job.HasField("output") else None
                listed[job.key] = JobStatus(
                    JobState(job.state), job.progress, output, job.error, job.retry
                )
            token = page.next_page_token
            if not token:
                break
        return bool(await self.apply(execution.batch_id, listed))

    async def sweep(self) -> int:
        """Reconcile the executions that are due or quiet; how many were looked at."""
        claimed = await self._results.claim_checks(self.times.quiet_s, self.times.claim)
        for execution in claimed:
            if execution.expected is not None and not _behind(execution.jobs, execution.expected):
                CANVAS_RECONCILIATIONS.labels("skipped").inc()  # the events came in time
                continue
            try:
                news = await self.reconcile(execution)
            except Exception as exc:  # batch is down: checked again once the execution is quiet
                CANVAS_RECONCILIATIONS.labels("failed").inc()
                log.warning("canvas.reconcile_failed", batch_id=execution.batch_id, error=repr(exc))
                continue
            CANVAS_RECONCILIATIONS.labels("caught_up" if news else "agreed").inc()
            if news:
                log.info("canvas.caught_up", batch_id=execution.batch_id)
        return len(claimed)

    async def run(self, stopping: asyncio.Event) -> None:
        """Reconcile every unsettled execution once (events may have been missed while no
        replica ran), then whatever becomes due, until ``stopping``."""
        due = await self._results.check_all_unsettled()
        log.info("canvas.tracking_started", unsettled=due)
        while not stopping.is_set():
            try:
                busy = await self.sweep() == self.times.claim
            except Exception as exc:  # Postgres away: try again next time
                log.warning("canvas.sweep_failed", error=repr(exc))
                busy = False
            if not busy:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stopping.wait(), self.times.sweep_s)

    async def _typed(self, execution: ExecutionRecord) -> dict[str, ExecutionNode]:
        """The execution's nodes, each with its type: executions recorded before types were
        take them from the version they executed."""
        if all(node.type for node in execution.nodes.values()):
            return execution.nodes
        version = await self._canvases.version(execution.canvas_id, execution.version)
        types = {
            node["id"]: node["type"]
            for node in ((version.graph or {}).get("nodes", []) if version else [])
        }
        return {
            node_id: msgspec.structs.replace(node, type=node.type or types.get(node_id, ""))
            for node_id, node in execution.nodes.items()
        }


def _behind(jobs: Mapping[str, JobStatus], expected: Mapping[JobState, int]) -> bool:
    """Whether the jobs heard of disagree with a summary's count of jobs in each final state."""
    heard = final_counts(jobs)
    return any(heard.get(state, 0) != expected.get(state, 0) for state in {*heard, *expected})
