"""Execute and results on the real services: what is recorded of an execution, and how its
node states and results follow the batch's events, whatever order and however often they come,
and catch up with batch when events were missed.

Everything runs for real: the ResultStore on Postgres (the service's own migrations; the canvas,
its user and its node keys are the test's own, and their rows are deleted after it), the batch
service in this process (``tests/in_process.py``), whose jobs the test runs as their workers
would by reporting on each queued one, and JetStream, where batch tells the user of each change
and the canvas service's tracker consumes those events. The pure core (precedence, read-back)
is tested alone in ``test_node_states.py``.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import asyncpg
import msgspec
import pytest
from google.protobuf import json_format
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError
from prometheus_client import REGISTRY

from libs.bus import Envelope
from libs.bus.events import (
    BatchCompleted,
    BatchProgress,
    BatchSummary,
    CanvasExecution,
    CanvasNodes,
)
from libs.bus.states import BatchState, JobState, NodeState, ReportedState
from libs.bus.subjects import (
    canvas_events_subject,
    user_batch_events_subject,
    user_feed_subjects,
)
from libs.bus.work import FunctionSpec, JobReport
from libs.db import migrate
from libs.errors import is_retryable
from libs.jobs import register_functions
from services.canvas.app import MIGRATIONS
from services.canvas.compile import node_keys
from services.canvas.execution import Executions
from services.canvas.graph import Graph
from services.canvas.kinds import DEFAULT_TYPES
from services.canvas.node_states import JobStatus
from services.canvas.results import ResultStore
from services.canvas.store import CanvasRecord, CanvasStore
from services.canvas.tests.test_compile import WITH_AUDIO, graph_of, scored, storyboard
from services.canvas.tracking import ExecutionTracker, NotRecordedYet, TrackingTimes
from shotgraph.batch.v1 import batch_pb2
from shotgraph.canvas.v1 import canvas_pb2
from tests.in_process import BatchService

THUMB, RENDER, FRAME = "1" * 64, "2" * 64, "3" * 64
# What each function's worker returns, its image declared.
OUTPUTS: dict[str, dict[str, Any]] = {
    "image.thumbnail": {"thumbnail": THUMB, "image": THUMB, "width": 512, "height": 384},
    "render.scad": {"png": RENDER, "glb": "4" * 64, "colours": [], "cached": [], "image": RENDER},
    "image.frame": {"frame": FRAME, "image": FRAME, "width": 1280, "height": 720},
    "audio.mix": {"audio": "5" * 64, "waveform": "6" * 64},
}
TIMEOUT_S = 15.0
# The storyboard's nodes once every job succeeded (bo has no references: it makes nothing).
STORYBOARD_MADE = {
    "ada": NodeState.SUCCEEDED,
    "bo": NodeState.IDLE,
    "yard": NodeState.SUCCEEDED,
    "s010": NodeState.SUCCEEDED,
}
# Reconcile at once when asked: the tests decide when events are missed.
PROMPT = TrackingTimes(summary_grace_s=0.0, partial_s=0.0, quiet_s=3600.0, sweep_s=0.05)

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


async def events_on(js: JetStreamContext, *subjects: str) -> list[Envelope]:
    """What browsers following ``subjects`` are told, oldest first: every event the EVENTS
    stream keeps on them."""
    kept: list[tuple[int, Envelope]] = []
    for subject in subjects:
        seq = 1
        while True:
            try:
                found = await js.get_msg("EVENTS", seq, subject=subject, next=True)
            except NotFoundError:
                break
            seq = found.seq or seq
            kept.append((seq, Envelope.decode(found.data or b"")))
            seq += 1
    return [event for _, event in sorted(kept, key=lambda pair: pair[0])]


async def node_results(
    runs: Executions, canvas_id: str, graph: Graph
) -> dict[str, tuple[NodeState, dict[str, Any]]]:
    """Each node's state and result, as the studio asks for them."""
    reply = await runs.node_results(canvas_id, 1, graph, complete=True)
    return {
        n.node_id: (NodeState(n.state), json_format.MessageToDict(n.output)) for n in reply.nodes
    }


class Following:
    """The canvas service's tracker for one test: its consumer follows the test user's batch
    events while ``running``; ``stop`` is a restart's first half."""

    def __init__(self, tracker: ExecutionTracker, js: JetStreamContext, user_id: str) -> None:
        self.tracker = tracker
        self._js = js
        self._consumer = tracker.consumer(
            durable=f"canvas-test-{uuid.uuid4().hex}",
            filter_subject=user_batch_events_subject(user_id),
        )
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()

    async def start(self) -> None:
        """Run the consumer; returns once it exists, so it hears of everything from now."""
        self._stopping = asyncio.Event()
        self._task = asyncio.create_task(self._consumer.run(self._js, self._stopping))

        async def exists() -> bool:
            try:
                await self._js.consumer_info("EVENTS", self._consumer.durable)
            except NotFoundError:
                return False
            return True

        await eventually(exists, "the consumer exists")

    async def stop(self) -> None:
        self._stopping.set()
        if self._task is not None:
            await self._task

    async def delete(self) -> None:
        with contextlib.suppress(NotFoundError):
            await self._js.delete_consumer("EVENTS", self._consumer.durable)


@pytest.fixture
def tracker(
    results: ResultStore,
    pg_pool: asyncpg.Pool,
    batch_service: BatchService,
    nats_js: JetStreamContext,
) -> ExecutionTracker:
    """A tracker nothing runs: the test hands it events and sweeps itself."""
    return ExecutionTracker(
        results, CanvasStore(pg_pool), batch_service.client, nats_js, DEFAULT_TYPES, PROMPT
    )


@pytest.fixture
async def following(
    results: ResultStore,
    pg_pool: asyncpg.Pool,
    batch_service: BatchService,
    nats_js: JetStreamContext,
    canvas: CanvasRecord,
) -> AsyncIterator[Following]:
    tracker = ExecutionTracker(
        results, CanvasStore(pg_pool), batch_service.client, nats_js, WITH_AUDIO, PROMPT
    )
    follower = Following(tracker, nats_js, canvas.owner_id)
    await follower.start()
    try:
        yield follower
    finally:
        await follower.stop()
        await follower.delete()


async def eventually(check: Callable[[], Awaitable[bool]], what: str | Callable[[], str]) -> None:
    """Wait (bounded) until ``check`` holds: events are handled as they come."""
    deadline = asyncio.get_running_loop().time() + TIMEOUT_S
    while not await check():
        if asyncio.get_running_loop().time() > deadline:
            pytest.fail(f"timed out waiting until {what if isinstance(what, str) else what()}")
        await asyncio.sleep(0.02)


async def states_become(
    runs: Executions,
    canvas_id: str,
    graph: Graph,
    expected: dict[str, NodeState],
    *,
    sweeping: ExecutionTracker | None = None,
) -> dict[str, tuple[NodeState, dict[str, Any]]]:
    """The node results once their states are ``expected``; ``sweeping`` reconciles what is
    due before each look, as the tracker's loop does in the service."""
    latest: dict[str, tuple[NodeState, dict[str, Any]]] = {}

    async def reached() -> bool:
        nonlocal latest
        if sweeping is not None:
            await sweeping.sweep()
        latest = await node_results(runs, canvas_id, graph)
        return {n: state for n, (state, _) in latest.items()} == expected

    await eventually(reached, lambda: f"node states are {expected}, not {latest}")
    return latest


def reconciliations(result: str) -> float:
    return (
        REGISTRY.get_sample_value("shotgraph_canvas_reconciliations_total", {"result": result})
        or 0.0
    )


def list_jobs_calls() -> float:
    """ListJobs calls the batch service in this process has answered."""
    return (
        REGISTRY.get_sample_value(
            "shotgraph_grpc_requests_total", {"service": "peer", "method": "ListJobs", "code": "OK"}
        )
        or 0.0
    )


async def test_execute_records_each_nodes_type_and_node_states_follow_the_batchs_events(
    results: ResultStore,
    batch_service: BatchService,
    nats_js: JetStreamContext,
    canvas: CanvasRecord,
    following: Following,
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
    assert {n: (e.key, e.type, e.jobs) for n, e in execution.nodes.items()} == {
        "ada": (keys["ada"], "character", ["ada/thumbnail/0"]),
        "yard": (keys["yard"], "scene", ["yard/render"]),
        "s010": (keys["s010"], "shot", ["s010/frame"]),
        "score": (keys["score"], "audio", ["score/mix"]),
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
    # The user's browsers hear of the batch, then of Execute with every node's state; every
    # viewer of the canvas hears of every node's state on the canvas's subject.
    events = await events_on(nats_js, *user_feed_subjects(user))
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
    (viewed,) = await events_on(nats_js, canvas_events_subject(canvas.id))
    assert viewed.open(CanvasNodes).nodes == announced.nodes

    asked = list_jobs_calls()
    assert await run_queued(batch_service, user, started.batch_id) == {
        "ada/thumbnail/0",
        "yard/render",
    }
    asked += 1  # run_queued lists the jobs it runs
    await states_become(
        runs,
        canvas.id,
        graph,
        {
            "ada": NodeState.SUCCEEDED,
            "bo": NodeState.IDLE,
            "yard": NodeState.SUCCEEDED,
            "s010": NodeState.QUEUED,  # its frame, released, waits for a worker
            "score": NodeState.QUEUED,
        },
    )
    assert [e.batch_id for e in await results.unsettled(canvas.id)] == [started.batch_id]
    assert await run_queued(batch_service, user, started.batch_id) == {"s010/frame"}
    assert await run_queued(batch_service, user, started.batch_id) == {"score/mix"}
    asked += 2
    made = await states_become(
        runs, canvas.id, graph, {**dict.fromkeys(keys, NodeState.SUCCEEDED), "bo": NodeState.IDLE}
    )

    assert made["score"] == (NodeState.SUCCEEDED, {"mix": "5" * 64, "image": "6" * 64})
    assert made["s010"] == (NodeState.SUCCEEDED, {"frame": FRAME, "image": FRAME})
    assert made["ada"] == (NodeState.SUCCEEDED, {"thumbnails": [THUMB], "image": THUMB})
    assert made["bo"] == (NodeState.IDLE, {})
    assert await results.unsettled(canvas.id) == [], "every node made: settled"
    assert list_jobs_calls() == asked, "states came from events, not from listing the jobs"
    # Each change of a node was told to the canvas's viewers once, as it happened.
    told = [e.open(CanvasNodes) for e in await events_on(nats_js, canvas_events_subject(canvas.id))]
    changes = [{(n.node_id, n.state) for n in event.nodes} for event in told[1:]]
    assert changes == [
        {("ada", NodeState.SUCCEEDED), ("yard", NodeState.SUCCEEDED)},
        {("s010", NodeState.SUCCEEDED)},
        {("score", NodeState.SUCCEEDED)},
    ]
    assert told[-1].nodes[0].output == {"mix": "5" * 64, "image": "6" * 64}


async def execute_storyboard(
    results: ResultStore, batch: BatchService, js: JetStreamContext, canvas: CanvasRecord
) -> tuple[Executions, Graph, str, canvas_pb2.Execution]:
    """The storyboard executed on the canvas by its owner: (executions, graph, user, reply)."""
    runs = Executions(results, batch.client, js)
    graph, user = graph_of(own(storyboard())), canvas.owner_id
    return runs, graph, user, await runs.execute(canvas.id, 1, user, graph)


async def user_batch_events(js: JetStreamContext, user_id: str) -> list[BatchSummary]:
    kinds = {kind.TYPE: kind for kind in BatchSummary.__subclasses__()}
    return [
        event.open(kinds[event.type])
        for event in await events_on(js, user_batch_events_subject(user_id))
        if event.type in kinds
    ]


async def test_batch_events_twice_late_and_out_of_order_still_give_the_right_states(
    results: ResultStore,
    tracker: ExecutionTracker,
    batch_service: BatchService,
    nats_js: JetStreamContext,
    canvas: CanvasRecord,
) -> None:
    """Nothing follows the events while the batch runs; then every event is handled newest
    first, and each twice, as a redelivering, reordering bus could hand them over."""
    runs, graph, user, started = await execute_storyboard(results, batch_service, nats_js, canvas)
    for worker_state in (ReportedState.RUNNING, ReportedState.SUCCEEDED):
        queued = [
            job
            for job in await jobs_of(batch_service, user, started.batch_id)
            if JobState(job.state) in (JobState.QUEUED, JobState.RUNNING)
        ]
        await batch_service.report(
            *(
                JobReport(
                    job_id=job.id,
                    batch_id=started.batch_id,
                    state=worker_state,
                    progress=100 if worker_state is ReportedState.SUCCEEDED else 30,
                    output=OUTPUTS[job.function]
                    if worker_state is ReportedState.SUCCEEDED
                    else None,
                )
                for job in queued
            )
        )
    await run_queued(batch_service, user, started.batch_id)  # s010's frame, released
    events = await user_batch_events(nats_js, user)
    progress = [e for e in events if isinstance(e, BatchProgress)]
    assert len(progress) == 3 and "batch.completed" in {e.TYPE for e in events}
    asked = list_jobs_calls()

    for event in reversed(events):
        for _ in range(2):
            await tracker.on_batch_event(event, delivery=None)  # type: ignore[arg-type]

    made = await node_results(runs, canvas.id, graph)
    assert {n: state for n, (state, _) in made.items()} == STORYBOARD_MADE
    assert await results.unsettled(canvas.id) == []
    assert list_jobs_calls() == asked, "the events alone were enough"
    told = [e.open(CanvasNodes) for e in await events_on(nats_js, canvas_events_subject(canvas.id))]
    changes = [(n.node_id, n.state) for event in told[1:] for n in event.nodes]
    assert sorted(changes) == [
        ("ada", NodeState.SUCCEEDED),
        ("s010", NodeState.SUCCEEDED),
        ("yard", NodeState.SUCCEEDED),
    ], "no node went back to running after it succeeded, and each was told once"


async def test_missed_events_are_caught_up_by_reconciling_with_batch(
    results: ResultStore,
    pg_pool: asyncpg.Pool,
    batch_service: BatchService,
    nats_js: JetStreamContext,
    canvas: CanvasRecord,
    following: Following,
) -> None:
    runs, graph, user, started = await execute_storyboard(results, batch_service, nats_js, canvas)
    # The canvas service is down while the first jobs finish, and their events are lost.
    await following.stop()
    await following.delete()
    await run_queued(batch_service, user, started.batch_id)
    follower = Following(following.tracker, nats_js, user)
    await follower.start()
    try:
        # Back: the last job's events come, and the completion's counts tell that two
        # succeeded jobs were never heard of. A reconciliation lists them.
        caught_up = reconciliations("caught_up")
        await run_queued(batch_service, user, started.batch_id)
        await states_become(runs, canvas.id, graph, STORYBOARD_MADE, sweeping=following.tracker)
        assert await results.unsettled(canvas.id) == []
        assert reconciliations("caught_up") == caught_up + 1
    finally:
        await follower.stop()
        await follower.delete()


async def test_a_summary_heard_before_the_progress_it_counts_asks_batch_for_nothing(
    results: ResultStore,
    tracker: ExecutionTracker,
    batch_service: BatchService,
    nats_js: JetStreamContext,
    canvas: CanvasRecord,
) -> None:
    """The completion overtakes the last progress event: its counts disagree with the jobs
    heard of, so a check is due; the progress comes within the grace, and the check is
    skipped without a listing."""
    runs, graph, user, started = await execute_storyboard(results, batch_service, nats_js, canvas)
    await run_queued(batch_service, user, started.batch_id)
    await run_queued(batch_service, user, started.batch_id)
    events = await user_batch_events(nats_js, user)
    completed = [e for e in events if isinstance(e, BatchCompleted)]
    assert len(completed) == 1
    asked, skipped = list_jobs_calls(), reconciliations("skipped")

    await tracker.on_batch_event(completed[0], delivery=None)  # type: ignore[arg-type]
    for event in events:
        if isinstance(event, BatchProgress):
            await tracker.on_batch_event(event, delivery=None)  # type: ignore[arg-type]
    assert await tracker.sweep() == 1, "the completion asked for a check"

    assert reconciliations("skipped") == skipped + 1
    assert list_jobs_calls() == asked, "the progress events had told everything"
    made = await node_results(runs, canvas.id, graph)
    assert {n: state for n, (state, _) in made.items()} == STORYBOARD_MADE


async def test_a_restarted_canvas_service_catches_up_from_its_durable_consumer(
    results: ResultStore,
    batch_service: BatchService,
    nats_js: JetStreamContext,
    canvas: CanvasRecord,
    following: Following,
) -> None:
    runs, graph, user, started = await execute_storyboard(results, batch_service, nats_js, canvas)
    await run_queued(batch_service, user, started.batch_id)
    await following.stop()  # the canvas service goes down mid-Execute
    await run_queued(batch_service, user, started.batch_id)
    stopped = await node_results(runs, canvas.id, graph)
    assert stopped["s010"][0] is NodeState.QUEUED, "nobody heard the frame succeed yet"

    await following.start()  # and comes back: its durable consumer hands it what it missed

    await states_become(
        runs,
        canvas.id,
        graph,
        STORYBOARD_MADE,
    )


async def test_a_retried_batch_brings_failed_nodes_back_and_then_makes_them(
    results: ResultStore,
    pg_pool: asyncpg.Pool,
    batch_service: BatchService,
    nats_js: JetStreamContext,
    canvas: CanvasRecord,
    following: Following,
) -> None:
    runs, graph, user, started = await execute_storyboard(results, batch_service, nats_js, canvas)
    jobs = {job.key: job for job in await jobs_of(batch_service, user, started.batch_id)}
    await batch_service.report(
        JobReport(
            job_id=jobs["yard/render"].id,
            batch_id=started.batch_id,
            state=ReportedState.FAILED,
            error="the sandbox is gone",
        )
    )
    await states_become(
        runs,
        canvas.id,
        graph,
        {
            "ada": NodeState.QUEUED,
            "bo": NodeState.IDLE,
            "yard": NodeState.FAILED,
            "s010": NodeState.FAILED,
        },
    )
    await run_queued(batch_service, user, started.batch_id)  # ada's thumbnail
    await eventually(
        lambda: _settled(results, canvas.id), "the execution settles: nothing more comes of it"
    )

    await batch_service.client.call(
        batch_service.client.stub.RetryBatch,
        batch_pb2.RetryBatchRequest(owner_id=user, batch_id=started.batch_id),
    )
    # Its summary counts no failed job where the execution heard of two: it is reconciled.
    await states_become(
        runs,
        canvas.id,
        graph,
        {
            "ada": NodeState.SUCCEEDED,
            "bo": NodeState.IDLE,
            "yard": NodeState.QUEUED,
            "s010": NodeState.QUEUED,
        },
        sweeping=following.tracker,
    )
    (execution,) = await results.unsettled(canvas.id)
    assert execution.jobs["yard/render"] == JobStatus(JobState.QUEUED, retry=1)
    await run_queued(batch_service, user, started.batch_id)
    await run_queued(batch_service, user, started.batch_id)

    await states_become(
        runs,
        canvas.id,
        graph,
        STORYBOARD_MADE,
    )


async def _settled(results: ResultStore, canvas_id: str) -> bool:
    return await results.unsettled(canvas_id) == []


async def test_an_event_before_its_execution_is_recorded_is_heard_again(
    results: ResultStore,
    tracker: ExecutionTracker,
    batch_service: BatchService,
    nats_js: JetStreamContext,
    canvas: CanvasRecord,
) -> None:
    unknown = str(uuid.uuid4())
    event = BatchProgress(
        batch_id=unknown,
        state=BatchState.RUNNING,
        total=1,
        counts={},
        jobs=[],
        canvas_id=canvas.id,
    )

    with pytest.raises(NotRecordedYet) as raised:
        await tracker.on_batch_event(event, delivery=None)  # type: ignore[arg-type]
    assert is_retryable(raised.value)
    # A batch no canvas submitted is none of the canvas service's business.
    await tracker.on_batch_event(
        msgspec.structs.replace(event, canvas_id=""),
        delivery=None,  # type: ignore[arg-type]
    )


async def test_an_execution_recorded_before_types_takes_them_from_the_version_it_executed(
    pg_pool: asyncpg.Pool,
    results: ResultStore,
    batch_service: BatchService,
    nats_js: JetStreamContext,
    canvas: CanvasRecord,
    following: Following,
) -> None:
    data = own(storyboard())
    version, _ = await CanvasStore(pg_pool).save(
        canvas.id, canvas.owner_id, 1, data, "storyboard", autosave=False
    )
    runs = Executions(results, batch_service.client, nats_js)
    graph, user = graph_of(data), canvas.owner_id
    started = await runs.execute(canvas.id, version.number, user, graph)
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
    await run_queued(batch_service, user, started.batch_id)
    await run_queued(batch_service, user, started.batch_id)

    made = await states_become(
        runs,
        canvas.id,
        graph,
        STORYBOARD_MADE,
    )

    files = {"png": RENDER, "glb": "4" * 64, "colours": [], "cached": []}
    assert made["yard"] == (NodeState.SUCCEEDED, {"render": files, "image": RENDER})
    assert made["s010"] == (NodeState.SUCCEEDED, {"frame": FRAME, "image": FRAME})
    keys = node_keys(graph)
    kept = await results.results(keys.values())
    assert set(kept) == {keys[n] for n in ("ada", "yard", "s010")}
