"""BatchStore on a real PostgreSQL, migrated with the service's own migrations.

The migrations and the store's SQL name the ``batch`` schema, and the dispatcher and the queue
view read every job in it, so tests cannot share that schema by keeping to an owner of their
own (as the canvas store's tests do). Each test gets a database of its own instead, named after
its ``pg_schema``, with ``batch`` migrated into it: the store runs its real SQL unchanged, and
creating a database takes some 20 ms.
"""

from __future__ import annotations

import asyncio
import shutil
import uuid
from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

from libs.bus.states import BatchState, JobState, ReportedState
from libs.bus.work import JobReport
from libs.db import create_pool, migrate
from libs.devstack import DevStack
from services.batch.app import MIGRATIONS
from services.batch.domain import JobSpec, Priority
from services.batch.store import BatchRecord, BatchStore, Dispatch, JobRecord, ReportOutcome

OWNER = "user-ada"
SKIPPED = "skipped: a job it depends on did not succeed"


def _database_url(url: str, database: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{database}"))


@pytest.fixture
async def batch_pool(
    devstack: DevStack, pg_pool: asyncpg.Pool, pg_schema: str
) -> AsyncIterator[asyncpg.Pool]:
    """A pool on a database of this test's own, its ``batch`` schema migrated."""
    await pg_pool.execute(f"CREATE DATABASE {pg_schema}")
    try:
        pool = await create_pool(_database_url(devstack.database_url, pg_schema))
        try:
            await migrate(pool, "batch", MIGRATIONS)
            yield pool
        finally:
            await pool.close()
    finally:
        await pg_pool.execute(f"DROP DATABASE {pg_schema} WITH (FORCE)")


@pytest.fixture
def store(batch_pool: asyncpg.Pool) -> BatchStore:
    return BatchStore(batch_pool)


# -- helpers: submitting, dispatching, reporting, reading back ------------------------------


def spec(key: str, *depends_on: str, function: str = "render.scad", **input: Any) -> JobSpec:
    return JobSpec(function=function, input=input, key=key, depends_on=depends_on)


async def submit(
    store: BatchStore, *specs: JobSpec, priority: Priority = Priority.NORMAL
) -> BatchRecord:
    batch, created = await store.create(OWNER, "canvas-1", specs, priority=priority)
    assert created
    return batch


class Worker:
    """The work subjects, as far as a test needs them: what each dispatch published."""

    def __init__(self) -> None:
        self.received: list[Dispatch] = []

    async def publish(self, dispatches: list[Dispatch]) -> None:
        self.received.extend(dispatches)


async def dispatch(store: BatchStore, *, limit: int = 100, window: int = 100) -> list[Dispatch]:
    """One round of the dispatcher; what it published."""
    worker = Worker()
    sent = await store.dispatch_ready(limit, window, worker.publish)
    assert sent == len(worker.received)
    return worker.received


def report(
    job: Dispatch, state: ReportedState, *, attempt: int = 1, dispatch: int | None = None, **f: Any
) -> JobReport:
    """What the worker handed ``job`` reports (of that dispatch unless told otherwise)."""
    f.setdefault("worker", "render-1")
    return JobReport(
        job_id=job.job_id,
        batch_id=job.batch_id,
        state=state,
        attempt=attempt,
        dispatch=job.dispatch if dispatch is None else dispatch,
        **f,
    )


async def jobs_of(store: BatchStore, batch: BatchRecord) -> dict[str, JobRecord]:
    """The batch's jobs by key."""
    return {job.key: job for _, job in await store.jobs(OWNER, batch.id, 1000)}


async def states_of(store: BatchStore, batch: BatchRecord) -> dict[str, JobState]:
    return {key: job.state for key, job in (await jobs_of(store, batch)).items()}


async def reread(store: BatchStore, batch: BatchRecord) -> BatchRecord:
    again = await store.get(OWNER, batch.id)
    assert again is not None
    return again


def by_key(dispatches: Sequence[Dispatch], jobs: dict[str, JobRecord]) -> dict[str, Dispatch]:
    keys = {job.id: key for key, job in jobs.items()}
    return {keys[d.job_id]: d for d in dispatches}


async def dispatched(store: BatchStore, batch: BatchRecord, **window: int) -> dict[str, Dispatch]:
    """Dispatch once; what went out, by job key."""
    return by_key(await dispatch(store, **window), await jobs_of(store, batch))


# -- submission -----------------------------------------------------------------------------


async def test_jobs_with_dependencies_wait_and_the_others_are_queued(store: BatchStore) -> None:
    batch = await submit(store, spec("a", frame=1), spec("b"), spec("c", "a", "b"))

    assert batch.state == BatchState.QUEUED and batch.finished_at is None
    assert batch.counts == {JobState.QUEUED: 2, JobState.PENDING: 1} and batch.total == 3
    jobs = await jobs_of(store, batch)
    assert list(jobs) == ["a", "b", "c"], "in submission order"
    assert {k: j.state for k, j in jobs.items()} == {
        "a": JobState.QUEUED,
        "b": JobState.QUEUED,
        "c": JobState.PENDING,
    }
    assert jobs["c"].depends_on == [jobs["a"].id, jobs["b"].id]
    assert jobs["a"].input == {"frame": 1} and jobs["a"].attempts == 0


async def test_an_idempotency_key_returns_the_first_batch(
    store: BatchStore, batch_pool: asyncpg.Pool
) -> None:
    first, created = await store.create(OWNER, "c", [spec("a")], idempotency_key="k-1")
    again, created_again = await store.create(
        OWNER, "c", [spec("x"), spec("y")], idempotency_key="k-1"
    )
    other, other_created = await store.create("user-bob", "c", [spec("a")], idempotency_key="k-1")

    assert created and not created_again and other_created
    assert again.id == first.id and again.total == 1, "the first batch, not the resubmission"
    assert other.id != first.id, "keys are per owner"
    assert await batch_pool.fetchval("SELECT count(*) FROM batch.jobs") == 2


# -- dispatch -------------------------------------------------------------------------------


async def test_ready_jobs_are_dispatched_once_with_their_owner_and_trace(
    store: BatchStore,
) -> None:
    traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    batch, _ = await store.create(
        OWNER, "c", [spec("a", scale=2), spec("b", "a")], trace_parent=traceparent
    )

    (sent,) = await dispatch(store)

    jobs = await jobs_of(store, batch)
    assert sent == Dispatch(
        job_id=jobs["a"].id,
        batch_id=batch.id,
        owner_id=OWNER,
        function="render.scad",
        input={"scale": 2},
        dispatch=1,
        trace_parent=traceparent,
    )
    assert await dispatch(store) == [], "on its subject already; the pending job waits"


async def test_urgent_jobs_go_before_normal_ones(store: BatchStore) -> None:
    bulk = await submit(store, spec("n1"), spec("n2"), spec("n3"))
    urgent = await submit(store, spec("u1"), spec("u2"), priority=Priority.URGENT)
    ids = {
        job.id: key
        for batch in (bulk, urgent)
        for key, job in (await jobs_of(store, batch)).items()
    }

    first = await dispatch(store, limit=3)
    rest = await dispatch(store, limit=3)

    assert [ids[d.job_id] for d in first] == ["u1", "u2", "n1"]
    assert [ids[d.job_id] for d in rest] == ["n2", "n3"]


async def test_the_window_bounds_each_functions_jobs_on_their_subject(store: BatchStore) -> None:
    batch = await submit(
        store,
        *(spec(f"r{i}") for i in range(4)),
        spec("t0", function="image.thumbnail"),
    )

    first = await dispatched(store, batch, window=2)
    assert sorted(first) == ["r0", "r1", "t0"], "two renders: the window; thumbnails apart"
    assert await dispatch(store, window=2) == [], "the render window is full"

    # A running job still holds its place; a finished one frees it.
    await store.apply_reports([report(first["r0"], ReportedState.RUNNING)])
    assert await dispatch(store, window=2) == []
    await store.apply_reports([report(first["r1"], ReportedState.SUCCEEDED)])
    assert sorted(await dispatched(store, batch, window=2)) == ["r2"]


async def test_the_window_lets_urgent_work_overtake_a_bulk_backlog(store: BatchStore) -> None:
    bulk = await submit(store, *(spec(f"n{i}") for i in range(5)))
    on_subject = await dispatched(store, bulk, window=2)
    assert sorted(on_subject) == ["n0", "n1"], "the rest of the backlog waits in Postgres"
    urgent = await submit(store, spec("u"), priority=Priority.URGENT)
    assert await dispatch(store, window=2) == []

    await store.apply_reports(
        [report(on_subject[k], ReportedState.SUCCEEDED) for k in ("n0", "n1")]
    )

    after = await dispatch(store, window=2)
    u, n2 = (await jobs_of(store, urgent))["u"], (await jobs_of(store, bulk))["n2"]
    assert [d.job_id for d in after] == [u.id, n2.id]


async def test_two_dispatchers_at_once_claim_different_jobs(store: BatchStore) -> None:
    await submit(store, *(spec(f"j{i}") for i in range(6)))
    first_holds_its_claim = asyncio.Event()
    let_first_commit = asyncio.Event()
    first, second = Worker(), Worker()

    async def slow_publish(dispatches: list[Dispatch]) -> None:
        await first.publish(dispatches)
        first_holds_its_claim.set()
        await let_first_commit.wait()

    async def first_dispatcher() -> int:
        try:
            return await store.dispatch_ready(3, 100, slow_publish)
        finally:
            first_holds_its_claim.set()  # also when it fails: nothing waits forever

    one = asyncio.create_task(first_dispatcher())
    try:
        await first_holds_its_claim.wait()
        if one.done():
            pytest.fail(f"the first dispatcher ended before it published: {await one}")
        # SKIP LOCKED: the second claims past the first's rows instead of waiting for them.
        sent = await asyncio.wait_for(store.dispatch_ready(10, 100, second.publish), timeout=5)
    finally:
        let_first_commit.set()
    assert await one == 3 and sent == 3

    firsts = {d.job_id for d in first.received}
    seconds = {d.job_id for d in second.received}
    assert len(firsts) == 3 and len(seconds) == 3 and not firsts & seconds
    assert await dispatch(store) == [], "every job went out exactly once"


async def test_a_failed_publish_rolls_the_claim_back(store: BatchStore) -> None:
    batch = await submit(store, spec("a"), spec("b"))

    async def broken_publish(dispatches: list[Dispatch]) -> None:
        raise ConnectionError("nats: no servers available")

    with pytest.raises(ConnectionError):
        await store.dispatch_ready(10, 100, broken_publish)

    again = await dispatched(store, batch)
    assert sorted(again) == ["a", "b"], "still ready"
    assert {d.dispatch for d in again.values()} == {1}, "the same message ids: JetStream dedupes"


async def test_a_job_that_got_through_a_failed_publish_is_run_once(store: BatchStore) -> None:
    batch = await submit(store, spec("a"))
    jetstream = Worker()

    async def half_publish(dispatches: list[Dispatch]) -> None:
        await jetstream.publish(dispatches)  # the message is in the stream...
        raise TimeoutError("nats: timeout")  # ...but its ack never came back

    with pytest.raises(TimeoutError):
        await store.dispatch_ready(10, 100, half_publish)
    (got_through,) = jetstream.received

    # A worker takes it and reports before the dispatcher tries again.
    await store.apply_reports([report(got_through, ReportedState.RUNNING)])

    assert await states_of(store, batch) == {"a": JobState.RUNNING}
    assert await dispatch(store) == [], "it is out: nothing to send again"
    await store.apply_reports([report(got_through, ReportedState.SUCCEEDED, output={"ok": 1})])
    assert (await reread(store, batch)).state == BatchState.SUCCEEDED


# -- worker reports -------------------------------------------------------------------------


async def test_reports_move_a_job_and_roll_up_its_batch(store: BatchStore) -> None:
    batch = await submit(store, spec("a"), spec("b"))
    sent = await dispatched(store, batch)

    running = await store.apply_reports(
        [report(sent["a"], ReportedState.RUNNING, progress=0, worker="render-7")]
    )
    assert [(c.key, c.state) for c in running.changes] == [("a", JobState.RUNNING)]
    assert [(b.id, b.state) for b in running.batches] == [(batch.id, BatchState.RUNNING)]
    a = (await jobs_of(store, batch))["a"]
    assert (a.state, a.worker, a.attempts) == (JobState.RUNNING, "render-7", 1)
    assert a.started_at is not None and a.finished_at is None

    done = await store.apply_reports(
        [
            report(sent["a"], ReportedState.RUNNING, progress=50),
            report(sent["a"], ReportedState.SUCCEEDED, progress=100, output={"png": "sha256:1"}),
            report(sent["b"], ReportedState.SUCCEEDED, progress=100, output={"png": "sha256:2"}),
        ]
    )

    assert [(c.key, c.state) for c in done.changes] == [
        ("a", JobState.RUNNING),
        ("a", JobState.SUCCEEDED),
        ("b", JobState.SUCCEEDED),
    ]
    (rolled,) = done.batches
    assert rolled.state == BatchState.SUCCEEDED and rolled.counts == {JobState.SUCCEEDED: 2}
    assert rolled.finished_at is not None and rolled.finished_at >= rolled.created_at
    jobs = await jobs_of(store, batch)
    assert (jobs["a"].output, jobs["a"].progress) == ({"png": "sha256:1"}, 100)
    assert jobs["a"].finished_at is not None
    assert await reread(store, batch) == rolled


async def test_a_duplicate_report_is_applied_once(store: BatchStore) -> None:
    batch = await submit(store, spec("a"), spec("b", "a"))
    sent = await dispatched(store, batch)
    failed = report(sent["a"], ReportedState.FAILED, error="bad input")

    first = await store.apply_reports([failed, failed])
    again = await store.apply_reports([failed])

    assert [(c.key, c.state) for c in first.changes] == [
        ("a", JobState.FAILED),
        ("b", JobState.SKIPPED),  # users hear of skipped jobs as of any other change
    ]
    assert first.changes[1].error.startswith("skipped")
    assert again == ReportOutcome(), "no change, no roll-up, nothing to tell users"
    assert len(await store.attempts(sent["a"].job_id)) == 1


async def test_a_duplicate_success_releases_dependants_once(store: BatchStore) -> None:
    batch = await submit(store, spec("a"), spec("b", "a"))
    sent = await dispatched(store, batch)
    succeeded = report(sent["a"], ReportedState.SUCCEEDED, output={"x": 1})

    assert (await store.apply_reports([succeeded])).released == 1
    assert (await store.apply_reports([succeeded])).released == 0
    assert await states_of(store, batch) == {"a": JobState.SUCCEEDED, "b": JobState.QUEUED}


async def test_a_deferred_job_comes_back_when_due_with_the_next_dispatch(
    store: BatchStore, batch_pool: asyncpg.Pool
) -> None:
    batch = await submit(store, spec("a"))
    (first,) = await dispatch(store)
    await store.apply_reports([report(first, ReportedState.RUNNING)])

    before = await batch_pool.fetchval("SELECT clock_timestamp()")
    outcome = await store.apply_reports(
        [report(first, ReportedState.DEFERRED, delay_s=60, error="backend busy")]
    )

    assert [c.state for c in outcome.changes] == [JobState.QUEUED]
    not_before: datetime = await batch_pool.fetchval("SELECT not_before FROM batch.jobs")
    assert 59 <= (not_before - before).total_seconds() <= 61
    assert await dispatch(store) == [], "not before it is due"
    assert await store.attempts(first.job_id) == [], "a deferral spends no attempt"

    await batch_pool.execute(
        "UPDATE batch.jobs SET not_before = clock_timestamp() - '1s'::interval"
    )
    (second,) = await dispatch(store)
    assert (second.job_id, second.dispatch) == (first.job_id, 2)

    # The earlier dispatch's word is stale; the new dispatch's counts.
    late = await store.apply_reports([report(first, ReportedState.FAILED, error="late")])
    assert late.changes == []
    await store.apply_reports([report(second, ReportedState.SUCCEEDED, output={"ok": True})])
    assert await states_of(store, batch) == {"a": JobState.SUCCEEDED}
    assert (await reread(store, batch)).state == BatchState.SUCCEEDED


async def test_a_report_redelivered_after_a_deferral_does_not_revive_the_job(
    store: BatchStore, batch_pool: asyncpg.Pool
) -> None:
    batch = await submit(store, spec("a"))
    (first,) = await dispatch(store)
    running = report(first, ReportedState.RUNNING, progress=0)
    await store.apply_reports([running])
    await store.apply_reports([report(first, ReportedState.DEFERRED, delay_s=60)])

    replayed = await store.apply_reports([running])  # its ack was lost: delivered again

    assert replayed.changes == []
    assert await states_of(store, batch) == {"a": JobState.QUEUED}
    await batch_pool.execute(
        "UPDATE batch.jobs SET not_before = clock_timestamp() - '1s'::interval"
    )
    (second,) = await dispatch(store)
    assert (second.job_id, second.dispatch) == (first.job_id, 2), "sent again once due"


async def test_a_report_redelivered_after_a_retry_does_not_fail_the_job_again(
    store: BatchStore,
) -> None:
    batch = await submit(store, spec("a"), spec("b", "a"))
    (first,) = await dispatch(store)
    failed = report(first, ReportedState.FAILED, error="backend down")
    await store.apply_reports([failed])
    await store.retry_failed(OWNER, batch.id)

    replayed = await store.apply_reports([failed])

    assert replayed.changes == []
    assert await states_of(store, batch) == {"a": JobState.QUEUED, "b": JobState.PENDING}
    (second,) = await dispatch(store)
    assert (second.job_id, second.dispatch) == (first.job_id, 2)


async def test_a_retried_attempt_stays_on_its_subject_and_is_kept(store: BatchStore) -> None:
    batch = await submit(store, spec("a"))
    (sent,) = await dispatch(store)

    await store.apply_reports(
        [report(sent, ReportedState.RETRYING, attempt=1, error="TimeoutError: backend")]
    )

    assert await states_of(store, batch) == {"a": JobState.QUEUED}
    assert await dispatch(store) == [], "JetStream delivers it again, not the dispatcher"
    await store.apply_reports(
        [
            report(sent, ReportedState.RUNNING, attempt=2, worker="render-2"),
            report(sent, ReportedState.SUCCEEDED, attempt=2, worker="render-2"),
        ]
    )
    a = (await jobs_of(store, batch))["a"]
    assert (a.state, a.attempts, a.worker) == (JobState.SUCCEEDED, 2, "render-2")
    history = await store.attempts(a.id)
    assert [(h["attempt"], h["worker"], h["error"]) for h in history] == [
        (1, "render-1", "TimeoutError: backend")
    ]


# -- dependencies ---------------------------------------------------------------------------


async def test_a_dependant_is_released_when_all_its_dependencies_succeeded(
    store: BatchStore,
) -> None:
    batch = await submit(store, spec("a"), spec("b"), spec("c", "a", "b"))
    sent = await dispatched(store, batch)

    one = await store.apply_reports([report(sent["a"], ReportedState.SUCCEEDED, output={"a": 1})])
    assert one.released == 0
    assert (await states_of(store, batch))["c"] == JobState.PENDING
    assert await dispatch(store) == []

    both = await store.apply_reports([report(sent["b"], ReportedState.SUCCEEDED, output={"b": 2})])
    assert both.released == 1
    (c,) = await dispatch(store)
    assert c.input == {"dependencies": {"a": {"a": 1}, "b": {"b": 2}}}


async def test_a_dependency_named_twice_is_waited_for_once(store: BatchStore) -> None:
    batch = await submit(store, spec("a"), spec("b"), spec("c", "a", "a", "b"))
    sent = await dispatched(store, batch)

    await store.apply_reports([report(sent["a"], ReportedState.SUCCEEDED)])

    assert (await states_of(store, batch))["c"] == JobState.PENDING, "b has not succeeded"
    released = await store.apply_reports([report(sent["b"], ReportedState.SUCCEEDED)])
    assert released.released == 1
    assert (await states_of(store, batch))["c"] == JobState.QUEUED


async def test_a_failure_skips_everything_downstream(store: BatchStore) -> None:
    batch = await submit(
        store,
        spec("a"),
        spec("b", "a"),
        spec("c", "b"),  # downstream through b
        spec("d"),
        spec("e", "a", "d"),  # one of two dependencies broken is enough
        spec("f", "d"),  # not downstream of a
    )
    sent = await dispatched(store, batch)
    assert sorted(sent) == ["a", "d"]

    await store.apply_reports([report(sent["a"], ReportedState.FAILED, error="bad model")])

    jobs = await jobs_of(store, batch)
    assert {k: j.state for k, j in jobs.items()} == {
        "a": JobState.FAILED,
        "b": JobState.SKIPPED,
        "c": JobState.SKIPPED,
        "d": JobState.QUEUED,
        "e": JobState.SKIPPED,
        "f": JobState.PENDING,
    }
    assert {jobs[k].error for k in "bce"} == {SKIPPED}
    assert all(jobs[k].finished_at is not None for k in "bce")

    await store.apply_reports([report(sent["d"], ReportedState.SUCCEEDED)])
    (f,) = await dispatch(store)
    await store.apply_reports([report(f, ReportedState.SUCCEEDED)])
    finished = await reread(store, batch)
    assert finished.state == BatchState.FAILED and finished.finished_at is not None


async def test_a_cancelled_job_skips_its_dependants(store: BatchStore) -> None:
    batch = await submit(store, spec("a"), spec("b", "a"))
    sent = await dispatched(store, batch)

    await store.apply_reports([report(sent["a"], ReportedState.CANCELLED)])

    assert await states_of(store, batch) == {"a": JobState.CANCELLED, "b": JobState.SKIPPED}
    assert (await reread(store, batch)).state == BatchState.CANCELLED


# -- commands -------------------------------------------------------------------------------


async def test_retry_runs_failed_and_skipped_jobs_again(store: BatchStore) -> None:
    batch = await submit(store, spec("a"), spec("b", "a"), spec("c", "b"), spec("d"))
    sent = await dispatched(store, batch)
    await store.apply_reports(
        [
            report(sent["a"], ReportedState.FAILED, error="flaky backend"),
            report(sent["d"], ReportedState.SUCCEEDED, output={"d": 4}),
        ]
    )
    failed = await reread(store, batch)
    assert failed.state == BatchState.FAILED and failed.finished_at is not None

    retried = await store.retry_failed(OWNER, batch.id)

    assert retried is not None
    assert retried.state == BatchState.RUNNING and retried.finished_at is None
    jobs = await jobs_of(store, batch)
    assert {k: j.state for k, j in jobs.items()} == {
        "a": JobState.QUEUED,
        "b": JobState.PENDING,
        "c": JobState.PENDING,
        "d": JobState.SUCCEEDED,
    }
    assert (jobs["a"].error, jobs["a"].output, jobs["a"].finished_at) == ("", None, None)
    assert jobs["d"].output == {"d": 4}, "what succeeded is kept"
    # Readers ordering a job's states by retry: what was put back is in its first retry.
    assert {k: j.retry for k, j in jobs.items()} == {"a": 1, "b": 1, "c": 1, "d": 0}
    (again,) = await dispatch(store)
    assert (again.job_id, again.dispatch) == (sent["a"].job_id, 2)

    succeeded = await store.apply_reports([report(again, ReportedState.SUCCEEDED)])
    assert [(c.key, c.retry) for c in succeeded.changes] == [("a", 1)]
    (b,) = await dispatch(store)
    await store.apply_reports([report(b, ReportedState.SUCCEEDED)])
    (c,) = await dispatch(store)
    await store.apply_reports([report(c, ReportedState.SUCCEEDED)])
    assert (await reread(store, batch)).state == BatchState.SUCCEEDED
    # The first round's failure stays in the history.
    assert [h["error"] for h in await store.attempts(sent["a"].job_id)] == ["flaky backend"]


async def test_retry_skips_again_what_waits_on_a_cancelled_job(store: BatchStore) -> None:
    batch = await submit(store, spec("a"), spec("c"), spec("b", "a", "c"), spec("d", "b"))
    sent = await dispatched(store, batch)
    await store.apply_reports([report(sent["a"], ReportedState.FAILED, error="flaky")])
    await store.cancel(OWNER, batch.id)  # c, on its subject, is cancelled before it runs

    retried = await store.retry_failed(OWNER, batch.id)

    assert retried is not None
    assert await states_of(store, batch) == {
        "a": JobState.QUEUED,
        "c": JobState.CANCELLED,  # a retry runs failed and skipped jobs, not cancelled ones
        "b": JobState.SKIPPED,  # so b can never run
        "d": JobState.SKIPPED,
    }
    (again,) = await dispatch(store)
    await store.apply_reports([report(again, ReportedState.SUCCEEDED)])
    finished = await reread(store, batch)
    assert finished.state == BatchState.CANCELLED and finished.finished_at is not None


async def test_retry_and_cancel_of_someone_elses_or_no_batch_find_nothing(
    store: BatchStore,
) -> None:
    batch = await submit(store, spec("a"))

    assert await store.retry_failed("user-bob", batch.id) is None
    assert await store.cancel("user-bob", batch.id) is None
    assert await store.cancel(OWNER, "not-a-uuid") is None
    assert await store.retry_failed(OWNER, str(uuid.uuid4())) is None
    assert await states_of(store, batch) == {"a": JobState.QUEUED}


async def test_cancel_stops_what_has_not_started_and_leaves_running_jobs_to_their_worker(
    store: BatchStore,
) -> None:
    batch = await submit(store, spec("run"), spec("sent"), spec("later", "run"), spec("wait"))
    sent = await dispatched(store, batch, limit=2)
    assert sorted(sent) == ["run", "sent"]
    await store.apply_reports([report(sent["run"], ReportedState.RUNNING)])

    cancelled = await store.cancel(OWNER, batch.id)

    assert cancelled is not None and cancelled.state == BatchState.RUNNING
    assert await states_of(store, batch) == {
        "run": JobState.RUNNING,
        "sent": JobState.CANCELLED,  # queued on its subject: its worker drops it
        "later": JobState.CANCELLED,
        "wait": JobState.CANCELLED,
    }
    assert await dispatch(store) == [], "nothing cancelled goes out"

    await store.apply_reports([report(sent["run"], ReportedState.CANCELLED)])
    finished = await reread(store, batch)
    assert finished.state == BatchState.CANCELLED and finished.finished_at is not None


# -- dead letters and the queue view --------------------------------------------------------


async def test_an_exhausted_job_fails_with_every_attempts_error(store: BatchStore) -> None:
    batch = await submit(store, spec("a"), spec("b", "a"))
    (sent,) = await dispatch(store)
    await store.apply_reports(
        [
            report(sent, ReportedState.RETRYING, attempt=1, error="OSError: 1"),
            report(sent, ReportedState.RUNNING, attempt=2, worker="render-2"),
            report(sent, ReportedState.RETRYING, attempt=2, worker="render-2", error="OSError: 2"),
        ]
    )

    outcome = await store.record_exhausted(sent.job_id, "no result after 3 deliveries")

    assert [(c.key, c.state) for c in outcome.changes] == [
        ("a", JobState.FAILED),
        ("b", JobState.SKIPPED),
    ]
    assert [b.state for b in outcome.batches] == [BatchState.FAILED]
    jobs = await jobs_of(store, batch)
    assert (jobs["a"].state, jobs["a"].error) == (JobState.FAILED, "no result after 3 deliveries")
    assert jobs["b"].state == JobState.SKIPPED
    history = await store.attempts(sent.job_id)
    assert [(h["attempt"], h["worker"], h["error"]) for h in history] == [
        (1, "render-1", "OSError: 1"),
        (2, "render-2", "OSError: 2"),
        (3, "", "no result after 3 deliveries"),
    ]
    assert await store.record_exhausted(sent.job_id, "again") == ReportOutcome(), "recorded once"


async def test_an_exhausted_job_nobody_knows_changes_nothing(store: BatchStore) -> None:
    assert await store.record_exhausted(str(uuid.uuid4()), "lost") == ReportOutcome()
    assert await store.record_exhausted("garbage", "lost") == ReportOutcome()


async def test_queue_stats_count_jobs_per_function_and_running_jobs_per_worker(
    store: BatchStore,
) -> None:
    batch = await submit(
        store,
        spec("r1"),
        spec("r2"),
        spec("r3"),
        spec("r4"),
        spec("r5", "r1"),
        spec("t1", function="image.thumbnail"),
        spec("t2", function="image.thumbnail"),
        spec("done", function="image.thumbnail"),
    )
    sent = await dispatched(store, batch, window=3)
    assert sorted(sent) == ["done", "r1", "r2", "r3", "t1", "t2"], "r4 waits for room"
    await store.apply_reports(
        [
            report(sent["r1"], ReportedState.RUNNING, worker="render-a"),
            report(sent["r2"], ReportedState.RUNNING, worker="render-b"),
            report(sent["t1"], ReportedState.RUNNING, worker="image-a"),
            report(sent["done"], ReportedState.SUCCEEDED, worker="image-a"),
        ]
    )

    functions, workers = await store.queue_stats()

    assert functions == [
        {
            "function": "image.thumbnail",
            "waiting_on_dependencies": 0,
            "queued": 0,
            "on_subject": 1,
            "running": 1,
        },
        {
            "function": "render.scad",
            "waiting_on_dependencies": 1,
            "queued": 1,
            "on_subject": 1,
            "running": 2,
        },
    ]
    assert workers == [
        {"function": "image.thumbnail", "worker": "image-a", "running": 1},
        {"function": "render.scad", "worker": "render-a", "running": 1},
        {"function": "render.scad", "worker": "render-b", "running": 1},
    ]


# -- who may read what jobs made ------------------------------------------------------------


async def test_blobs_a_job_made_are_readable_by_its_batchs_owner_alone(store: BatchStore) -> None:
    png, glb, frame = "a" * 64, "b" * 64, "c" * 64
    batch = await submit(store, spec("render"), spec("frames"))
    sent = await dispatched(store, batch)
    assert not await store.produced_blob(OWNER, png)
    await store.apply_reports(
        [
            report(
                sent["render"],
                ReportedState.SUCCEEDED,
                output={"outputs": {"png": png, "glb": glb}, "image": png, "note": "f" * 63},
            ),
            report(sent["frames"], ReportedState.SUCCEEDED, output={"frames": [{"blob": frame}]}),
        ]
    )
    for blob in (png, glb, frame):
        assert await store.produced_blob(OWNER, blob)
        assert not await store.produced_blob("user-bob", blob)
    assert not await store.produced_blob(OWNER, "f" * 63), "only blob addresses count"


async def test_the_migration_records_the_blobs_of_outputs_made_before_it(
    devstack: DevStack, pg_pool: asyncpg.Pool, pg_schema: str, tmp_path: Path
) -> None:
    for earlier in sorted(MIGRATIONS.glob("000[1-3]_*.sql")):
        shutil.copy(earlier, tmp_path)
    await pg_pool.execute(f"CREATE DATABASE {pg_schema}")
    try:
        pool = await create_pool(_database_url(devstack.database_url, pg_schema))
        try:
            await migrate(pool, "batch", tmp_path)
            batch = await pool.fetchval(
                "INSERT INTO batch.batches (owner_id, state) VALUES ($1, 'succeeded') RETURNING id",
                OWNER,
            )
            await pool.execute(
                "INSERT INTO batch.jobs (batch_id, position, function, state, input, output)"
                " VALUES ($1, 0, 'render.scad', 'succeeded', '{}', $2)",
                batch,
                {"outputs": {"png": "a" * 64}, "frames": [{"blob": "b" * 64}], "n": "c" * 63},
            )
            await migrate(pool, "batch", MIGRATIONS)
            store = BatchStore(pool)
            assert await store.produced_blob(OWNER, "a" * 64)
            assert await store.produced_blob(OWNER, "b" * 64)
            assert not await store.produced_blob(OWNER, "c" * 63)
            assert not await store.produced_blob("user-bob", "a" * 64)
        finally:
            await pool.close()
    finally:
        await pg_pool.execute(f"DROP DATABASE {pg_schema} WITH (FORCE)")
