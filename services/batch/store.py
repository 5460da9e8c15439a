"""Batches and jobs in the ``batch`` schema: the durable queue behind the work subjects."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

import asyncpg

from libs.blobs import blob_ids
from libs.bus.states import BatchState, JobState, ReportedState
from libs.bus.work import JobReport
from libs.pagination import Cursor
from services.batch.domain import (
    JobChange,
    JobSpec,
    JobStanding,
    JobUpdate,
    Priority,
    decide_reports,
    roll_up,
)

__all__ = [
    "BatchRecord",
    "BatchStore",
    "Dispatch",
    "JobRecord",
    "ReportOutcome",
]

_JOB_COLUMNS = (
    "id, key, function, state, attempts, progress, input, output, error, depends_on, worker,"
    " created_at, started_at, finished_at, retry"
)
_BATCH_COLUMNS = "id, owner_id, canvas_id, state, priority, created_at, updated_at, finished_at"
_SKIPPED_ERROR = "skipped: a job it depends on did not succeed"
_FINAL_BATCH_STATES = tuple(state for state in BatchState if state.is_final)
# Not final: what the queue view and the dispatch window count (the jobs_active index).
_ACTIVE_JOB_STATES = (JobState.PENDING, JobState.QUEUED, JobState.RUNNING)


def _is(state: StrEnum) -> str:
    """A state as an SQL literal. Literals, not parameters: the partial indexes (jobs_active,
    jobs_to_dispatch) serve only predicates the planner can match when it plans."""
    return f"'{state.value}'"


def _in(*states: StrEnum) -> str:
    return f"({', '.join(_is(state) for state in states)})"


@dataclass(frozen=True)
class JobRecord:
    id: str
    key: str
    function: str
    state: JobState
    attempts: int
    progress: int
    input: dict[str, Any]
    output: dict[str, Any] | None
    error: str
    depends_on: list[str]
    worker: str
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    retry: int = 0  # which retry of the batch this state is from

    @classmethod
    def from_row(cls, row: asyncpg.Record) -> JobRecord:
        values = {k: v for k, v in row.items() if k in cls.__dataclass_fields__}
        values["id"] = str(row["id"])
        values["state"] = JobState(row["state"])
        values["depends_on"] = [str(d) for d in row["depends_on"]]
        return cls(**values)


@dataclass(frozen=True)
class BatchRecord:
    id: str
    owner_id: str
    canvas_id: str
    state: BatchState
    priority: Priority
    created_at: datetime
    updated_at: datetime
    finished_at: datetime | None
    counts: dict[JobState, int] = field(default_factory=dict)
    jobs: list[JobRecord] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(self.counts.values())


@dataclass(frozen=True)
class Dispatch:
    """A ready job on its way to its work subject."""

    job_id: str
    batch_id: str
    owner_id: str
    function: str
    input: dict[str, Any]
    dispatch: int  # 1 for the first publish; part of the message id, so republishing dedupes
    trace_parent: str  # the submitter's trace context


@dataclass
class ReportOutcome:
    """What applying a group of reports changed, for events and metrics."""

    changes: list[JobChange] = field(default_factory=list)
    batches: list[BatchRecord] = field(default_factory=list)
    released: int = 0  # jobs whose dependencies all succeeded, now ready to dispatch


def _batch(row: asyncpg.Record, counts: dict[JobState, int]) -> BatchRecord:
    return BatchRecord(
        id=str(row["id"]),
        owner_id=row["owner_id"],
        canvas_id=row["canvas_id"],
        state=BatchState(row["state"]),
        priority=Priority(row["priority"]),
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        finished_at=row["finished_at"],
        counts=counts,
    )


def _standing(row: asyncpg.Record) -> JobStanding:
    return JobStanding(
        id=str(row["id"]),
        batch_id=str(row["batch_id"]),
        key=row["key"],
        function=row["function"],
        state=JobState(row["state"]),
        dispatches=row["dispatches"],
        on_subject=row["on_subject"],
        progress=row["progress"],
        error=row["error"],
        worker=row["worker"],
        attempts=row["attempts"],
        retry=row["retry"],
    )


def _prefixed(alias: str, columns: str) -> str:
    return ", ".join(f"{alias}.{column.strip()}" for column in columns.split(","))


async def _record_job_blobs(conn: asyncpg.Connection, updates: Sequence[JobUpdate]) -> None:
    """Every blob the new outputs name becomes readable by the owner of the job's batch."""
    pairs = [(u.job_id, blob) for u in updates for blob in sorted(blob_ids(u.output or {}))]
    if not pairs:
        return
    await conn.execute(
        "INSERT INTO batch.job_blobs (blob, owner_id)"
        " SELECT DISTINCT made.blob, b.owner_id"
        " FROM unnest($1::uuid[], $2::text[]) AS made (job_id, blob)"
        " JOIN batch.jobs j ON j.id = made.job_id JOIN batch.batches b ON b.id = j.batch_id"
        " ON CONFLICT DO NOTHING",
        [uuid.UUID(job) for job, _ in pairs],
        [blob for _, blob in pairs],
    )


def _uuid(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(value)
    except ValueError:
        return None


class BatchStore:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    # -- submission -----------------------------------------------------------------------

    async def create(
        self,
        owner_id: str,
        canvas_id: str,
        specs: Sequence[JobSpec],
        *,
        priority: Priority = Priority.NORMAL,
        idempotency_key: str | None = None,
        trace_parent: str = "",
    ) -> tuple[BatchRecord, bool]:
        """Insert a batch and all its jobs in one transaction; (batch, created).

        With an idempotency key already used by this owner, nothing is inserted and the first
        batch is returned with ``created`` False.
        """
        ids = {spec.key: uuid.uuid4() for spec in specs}
        async with self._pool.acquire() as conn, conn.transaction():
            batch_id = await conn.fetchval(
                "INSERT INTO batch.batches"
                " (owner_id, canvas_id, state, priority, idempotency_key, trace_parent)"
                " VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING RETURNING id",
                owner_id,
                canvas_id,
                BatchState.QUEUED.value,
                int(priority),
                idempotency_key,
                trace_parent,
            )
            if batch_id is None:
                existing = await conn.fetchval(
                    "SELECT id FROM batch.batches WHERE owner_id = $1 AND idempotency_key = $2",
                    owner_id,
                    idempotency_key,
                )
                record = await self._get(conn, owner_id, existing)
                assert record is not None
                return record, False
            await conn.executemany(
                "INSERT INTO batch.jobs (id, batch_id, position, key, function, state, input,"
                " depends_on, waiting_on, priority)"
                " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
                [
                    (
                        ids[spec.key],
                        batch_id,
                        position,
                        spec.key,
                        spec.function,
                        (JobState.PENDING if spec.depends_on else JobState.QUEUED).value,
                        spec.input,
                        [ids[d] for d in spec.depends_on],
                        len(set(spec.depends_on)),
                        int(priority),
                    )
                    for position, spec in enumerate(specs)
                ],
            )
            record = await self._get(conn, owner_id, batch_id)
        assert record is not None
        return record, True

    # -- reading --------------------------------------------------------------------------

    async def get(self, owner_id: str, batch_id: str) -> BatchRecord | None:
        key = _uuid(batch_id)
        if key is None:
            return None
        async with self._pool.acquire() as conn:
            return await self._get(conn, owner_id, key)

    async def _get(
        self, conn: asyncpg.Connection, owner_id: str, batch_id: uuid.UUID
    ) -> BatchRecord | None:
        row = await conn.fetchrow(
            f"SELECT {_BATCH_COLUMNS} FROM batch.batches WHERE id = $1 AND owner_id = $2",
            batch_id,
            owner_id,
        )
        if row is None:
            return None
        counts = await self._counts(conn, [batch_id])
        return _batch(row, counts.get(batch_id, {}))

    @staticmethod
    async def _counts(
        conn: asyncpg.Connection, batch_ids: Sequence[uuid.UUID]
    ) -> dict[uuid.UUID, dict[JobState, int]]:
        counts: dict[uuid.UUID, dict[JobState, int]] = {}
        for row in await conn.fetch(
            "SELECT batch_id, state, count(*) AS n FROM batch.jobs WHERE batch_id = ANY($1)"
            " GROUP BY batch_id, state",
            list(batch_ids),
        ):
            counts.setdefault(row["batch_id"], {})[JobState(row["state"])] = row["n"]
        return counts

    async def jobs(
        self, owner_id: str, batch_id: str, limit: int, after_position: int = -1
    ) -> list[tuple[int, JobRecord]]:
        """A page of a batch's jobs in submission order, as (position, job)."""
        key = _uuid(batch_id)
        if key is None:
            return []
        rows = await self._pool.fetch(
            f"SELECT j.position, {_prefixed('j', _JOB_COLUMNS)}"
            " FROM batch.jobs j JOIN batch.batches b ON b.id = j.batch_id"
            " WHERE j.batch_id = $1 AND b.owner_id = $2 AND j.position > $3"
            " ORDER BY j.position LIMIT $4",
            key,
            owner_id,
            after_position,
            limit,
        )
        return [(r["position"], JobRecord.from_row(r)) for r in rows]

    async def job(self, owner_id: str, job_id: str) -> tuple[str, JobRecord] | None:
        """One job of this owner's, with its batch id."""
        key = _uuid(job_id)
        if key is None:
            return None
        row = await self._pool.fetchrow(
            f"SELECT j.batch_id, {_prefixed('j', _JOB_COLUMNS)}"
            " FROM batch.jobs j JOIN batch.batches b ON b.id = j.batch_id"
            " WHERE j.id = $1 AND b.owner_id = $2",
            key,
            owner_id,
        )
        return (str(row["batch_id"]), JobRecord.from_row(row)) if row else None

    async def list_batches(
        self, owner_id: str, limit: int, after: Cursor | None
    ) -> list[BatchRecord]:
        """Newest first; ``after`` is the (created_at, id) of the last batch already served."""
        async with self._pool.acquire() as conn:
            if after is None:
                rows = await conn.fetch(
                    f"SELECT {_BATCH_COLUMNS} FROM batch.batches WHERE owner_id = $1"
                    " ORDER BY created_at DESC, id DESC LIMIT $2",
                    owner_id,
                    limit,
                )
            else:
                rows = await conn.fetch(
                    f"SELECT {_BATCH_COLUMNS} FROM batch.batches WHERE owner_id = $1"
                    " AND (created_at, id) < ($2, $3) ORDER BY created_at DESC, id DESC LIMIT $4",
                    owner_id,
                    after[0],
                    uuid.UUID(after[1]),
                    limit,
                )
            counts = await self._counts(conn, [r["id"] for r in rows])
        return [_batch(r, counts.get(r["id"], {})) for r in rows]

    async def attempts(self, job_id: str) -> list[dict[str, Any]]:
        """Every failed attempt of a job: its dead-letter history."""
        key = _uuid(job_id)
        rows = await self._pool.fetch(
            "SELECT attempt, worker, error, at FROM batch.job_attempts WHERE job_id = $1"
            " ORDER BY at, dispatch, attempt",
            key,
        )
        return [dict(r) for r in rows]

    async def produced_blob(self, owner_id: str, blob: str) -> bool:
        """Whether a job of one of ``owner_id``'s batches named ``blob`` in its output."""
        found: bool = await self._pool.fetchval(
            "SELECT EXISTS (SELECT 1 FROM batch.job_blobs WHERE blob = $1 AND owner_id = $2)",
            blob,
            owner_id,
        )
        return found

    # -- commands -------------------------------------------------------------------------

    async def cancel(self, owner_id: str, batch_id: str) -> BatchRecord | None:
        """Cancel every job not yet running; running ones stop when their worker notices."""
        key = _uuid(batch_id)
        if key is None:
            return None
        async with self._pool.acquire() as conn, conn.transaction():
            if not await self._lock_own_batch(conn, owner_id, key):
                return None
            await conn.execute(
                f"UPDATE batch.jobs SET state = {_is(JobState.CANCELLED)},"
                " finished_at = clock_timestamp()"
                f" WHERE batch_id = $1 AND state IN {_in(JobState.PENDING, JobState.QUEUED)}",
                key,
            )
            await self._roll_up(conn, [key])
            return await self._get(conn, owner_id, key)

    async def retry_failed(self, owner_id: str, batch_id: str) -> BatchRecord | None:
        """Put failed and skipped jobs back: ready ones queued, the rest waiting on theirs (and
        skipped again if one of theirs was cancelled)."""
        key = _uuid(batch_id)
        if key is None:
            return None
        async with self._pool.acquire() as conn, conn.transaction():
            if not await self._lock_own_batch(conn, owner_id, key):
                return None
            await conn.execute(
                "UPDATE batch.jobs j SET"
                " waiting_on = (SELECT count(*) FROM batch.jobs d"
                f"   WHERE d.id = ANY(j.depends_on) AND d.state <> {_is(JobState.SUCCEEDED)}),"
                f" state = {_is(JobState.PENDING)}, error = '', progress = 0, output = NULL,"
                " dispatched_at = NULL, not_before = NULL, finished_at = NULL, retry = retry + 1"
                f" WHERE j.batch_id = $1 AND j.state IN {_in(JobState.FAILED, JobState.SKIPPED)}",
                key,
            )
            # Cancelled jobs stay cancelled, so whatever waits on one can never run.
            cancelled = await conn.fetch(
                "SELECT id FROM batch.jobs"
                f" WHERE batch_id = $1 AND state = {_is(JobState.CANCELLED)}",
                key,
            )
            if cancelled:
                await self._skip_downstream(conn, [r["id"] for r in cancelled])
            await conn.execute(
                f"UPDATE batch.jobs SET state = {_is(JobState.QUEUED)}"
                f" WHERE batch_id = $1 AND state = {_is(JobState.PENDING)} AND waiting_on = 0",
                key,
            )
            await conn.execute("UPDATE batch.batches SET finished_at = NULL WHERE id = $1", key)
            await self._roll_up(conn, [key])
            return await self._get(conn, owner_id, key)

    @staticmethod
    async def _lock_own_batch(conn: asyncpg.Connection, owner_id: str, key: uuid.UUID) -> bool:
        """Lock the batch for a command, if it is this owner's (batch rows before job rows)."""
        return bool(
            await conn.fetchval(
                "SELECT 1 FROM batch.batches WHERE id = $1 AND owner_id = $2 FOR UPDATE",
                key,
                owner_id,
            )
        )

    # -- the dispatch outbox --------------------------------------------------------------

    async def dispatch_ready(
        self,
        limit: int,
        window: int,
        publish: Callable[[list[Dispatch]], Awaitable[None]],
    ) -> int:
        """Claim up to ``limit`` ready jobs, most urgent first, hand them to ``publish``, and
        mark them dispatched in the same transaction.

        ``window`` bounds the jobs of one function already on their subject, so an urgent batch
        overtakes a bulk one instead of queueing behind it inside JetStream. If publishing
        fails the transaction rolls back; republishing later reuses the message ids, so
        JetStream drops whatever did get through (and a report of such a message that comes
        first is taken as of the job's dispatch: ``domain.decide_reports``).
        """
        async with self._pool.acquire() as conn, conn.transaction():
            outstanding = {
                r["function"]: r["n"]
                for r in await conn.fetch(
                    "SELECT function, count(*) AS n FROM batch.jobs"
                    f" WHERE state IN {_in(JobState.QUEUED, JobState.RUNNING)}"
                    " AND dispatched_at IS NOT NULL"
                    " GROUP BY function"
                )
            }
            full = [f for f, n in outstanding.items() if n >= window]
            claimed = await conn.fetch(
                "SELECT j.id, j.batch_id, b.owner_id, b.trace_parent, j.function, j.input,"
                " j.depends_on, j.dispatches"
                " FROM batch.jobs j JOIN batch.batches b ON b.id = j.batch_id"
                f" WHERE j.state = {_is(JobState.QUEUED)} AND j.dispatched_at IS NULL"
                " AND (j.not_before IS NULL OR j.not_before <= clock_timestamp())"
                " AND j.function <> ALL($2::text[])"
                " ORDER BY j.priority DESC, j.created_at, j.position LIMIT $1"
                " FOR UPDATE OF j SKIP LOCKED",
                limit,
                full,
            )
            # Within each function's window, in claim order (most urgent first).
            budget = {f: window - n for f, n in outstanding.items()}
            rows = []
            for row in claimed:
                if budget.setdefault(row["function"], window) > 0:
                    budget[row["function"]] -= 1
                    rows.append(row)
            if not rows:
                return 0
            outputs = await self._dependency_outputs(conn, rows)
            dispatches = [
                Dispatch(
                    job_id=str(r["id"]),
                    batch_id=str(r["batch_id"]),
                    owner_id=r["owner_id"],
                    function=r["function"],
                    input={**r["input"], "dependencies": outputs[r["id"]]}
                    if r["depends_on"]
                    else r["input"],
                    dispatch=r["dispatches"] + 1,
                    trace_parent=r["trace_parent"],
                )
                for r in rows
            ]
            await publish(dispatches)
            await conn.execute(
                "UPDATE batch.jobs SET dispatched_at = clock_timestamp(),"
                " dispatches = dispatches + 1 WHERE id = ANY($1)",
                [r["id"] for r in rows],
            )
        return len(rows)

    @staticmethod
    async def _dependency_outputs(
        conn: asyncpg.Connection, rows: Sequence[asyncpg.Record]
    ) -> dict[uuid.UUID, dict[str, Any]]:
        """Each job's dependencies' outputs, by dependency key: what the job receives."""
        wanted = {d for r in rows for d in r["depends_on"]}
        if not wanted:
            return {r["id"]: {} for r in rows}
        found = {
            d["id"]: (d["key"], d["output"])
            for d in await conn.fetch(
                "SELECT id, key, output FROM batch.jobs WHERE id = ANY($1)", list(wanted)
            )
        }
        return {r["id"]: dict(found[d] for d in r["depends_on"]) for r in rows}

    # -- worker reports -------------------------------------------------------------------

    async def apply_reports(self, reports: Sequence[JobReport]) -> ReportOutcome:
        """Apply a group of worker reports in one transaction, in the order they came.

        What they change is decided by ``domain.decide_reports`` over the locked rows; here it
        is written: job rows, failed attempts, released dependants, skipped downstream jobs,
        and the batches rolled up.
        """
        outcome = ReportOutcome()
        ids = sorted({uuid.UUID(r.job_id) for r in reports})
        async with self._pool.acquire() as conn, conn.transaction():
            # Batch rows first, in id order (as cancel and retry do): two processes applying
            # reports of one batch take turns, so each roll-up counts the other's commits.
            await conn.execute(
                "SELECT 1 FROM batch.batches WHERE id IN"
                " (SELECT DISTINCT batch_id FROM batch.jobs WHERE id = ANY($1))"
                " ORDER BY id FOR UPDATE",
                ids,
            )
            rows = await conn.fetch(
                "SELECT id, batch_id, key, function, state, dispatches,"
                " dispatched_at IS NOT NULL AS on_subject, progress, error, worker, attempts, retry"
                " FROM batch.jobs WHERE id = ANY($1) ORDER BY id FOR UPDATE",
                ids,
            )
            decision = decide_reports([_standing(r) for r in rows], reports)
            outcome.changes = list(decision.changes)
            if decision.failures:
                await conn.executemany(
                    "INSERT INTO batch.job_attempts (job_id, dispatch, attempt, worker, error)"
                    " VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
                    [
                        (uuid.UUID(f.job_id), f.dispatch, f.attempt, f.worker, f.error)
                        for f in decision.failures
                    ],
                )
            if not decision.updates:
                return outcome
            await conn.executemany(
                "UPDATE batch.jobs SET state = $2, progress = $3, output = COALESCE($4, output),"
                " error = $5, worker = $6, attempts = $7, dispatches = $8,"
                " started_at = COALESCE(started_at, clock_timestamp()),"
                " finished_at = CASE WHEN $9 THEN clock_timestamp() END,"
                " dispatched_at = CASE WHEN $10"
                "   THEN COALESCE(dispatched_at, clock_timestamp()) END,"
                " not_before = CASE WHEN $11::float8 IS NULL THEN not_before"
                "   ELSE clock_timestamp() + make_interval(secs => $11::float8) END"
                " WHERE id = $1",
                [
                    (
                        uuid.UUID(u.job_id),
                        u.state.value,
                        u.progress,
                        u.output,
                        u.error,
                        u.worker,
                        u.attempts,
                        u.dispatches,
                        u.finished,
                        u.on_subject,
                        u.requeue_after_s,
                    )
                    for u in decision.updates
                ],
            )
            await _record_job_blobs(conn, decision.updates)
            if decision.succeeded:
                outcome.released = await self._release_dependents(
                    conn, [uuid.UUID(i) for i in decision.succeeded]
                )
            if decision.broken:
                # Skipped jobs are changes users hear of like any other.
                outcome.changes += await self._skip_downstream(
                    conn, [uuid.UUID(i) for i in decision.broken]
                )
            batch_ids = sorted({row["batch_id"] for row in rows})
            outcome.batches = await self._roll_up(conn, batch_ids)
        return outcome

    @staticmethod
    async def _release_dependents(conn: asyncpg.Connection, succeeded: list[uuid.UUID]) -> int:
        # waiting_on counts distinct dependencies: one named twice is still one to wait for.
        released = await conn.fetch(
            "UPDATE batch.jobs SET waiting_on = waiting_on"
            "   - (SELECT count(DISTINCT d) FROM unnest(depends_on) AS d WHERE d = ANY($1)),"
            " state = CASE WHEN waiting_on"
            "   - (SELECT count(DISTINCT d) FROM unnest(depends_on) AS d WHERE d = ANY($1)) <= 0"
            f"   THEN {_is(JobState.QUEUED)} ELSE state END"
            f" WHERE depends_on && $1 AND state = {_is(JobState.PENDING)} RETURNING state",
            succeeded,
        )
        return sum(1 for r in released if r["state"] == JobState.QUEUED)

    @staticmethod
    async def _skip_downstream(
        conn: asyncpg.Connection, broken: list[uuid.UUID]
    ) -> list[JobChange]:
        rows = await conn.fetch(
            "WITH RECURSIVE downstream(id) AS ("
            "   SELECT id FROM batch.jobs"
            f"   WHERE depends_on && $1 AND state = {_is(JobState.PENDING)}"
            "   UNION"
            "   SELECT j.id FROM batch.jobs j JOIN downstream d ON j.depends_on @> ARRAY[d.id]"
            f"   WHERE j.state = {_is(JobState.PENDING)})"
            f" UPDATE batch.jobs SET state = {_is(JobState.SKIPPED)}, error = $2,"
            " finished_at = clock_timestamp() WHERE id IN (SELECT id FROM downstream)"
            " RETURNING id, batch_id, key, function, progress, retry",
            broken,
            _SKIPPED_ERROR,
        )
        return [
            JobChange(
                job_id=str(r["id"]),
                batch_id=str(r["batch_id"]),
                key=r["key"],
                function=r["function"],
                state=JobState.SKIPPED,
                progress=r["progress"],
                output=None,
                error=_SKIPPED_ERROR,
                retry=r["retry"],
            )
            for r in rows
        ]

    async def _roll_up(
        self, conn: asyncpg.Connection, batch_ids: Sequence[uuid.UUID]
    ) -> list[BatchRecord]:
        """Recompute the state of each batch from its jobs' counts, and store it."""
        counts = await self._counts(conn, batch_ids)
        states = [(b, roll_up(counts.get(b, {})).value) for b in batch_ids]
        rows = await conn.fetch(
            "UPDATE batch.batches b SET state = s.state, updated_at = clock_timestamp(),"
            f" finished_at = CASE WHEN s.state IN {_in(*_FINAL_BATCH_STATES)}"
            "   THEN COALESCE(b.finished_at, clock_timestamp()) END"
            " FROM unnest($1::uuid[], $2::text[]) AS s(id, state) WHERE b.id = s.id"
            f" RETURNING {_prefixed('b', _BATCH_COLUMNS)}",
            [b for b, _ in states],
            [s for _, s in states],
        )
        return [_batch(r, counts.get(r["id"], {})) for r in rows]

    # -- dead letters and the queue view --------------------------------------------------

    async def record_exhausted(self, job_id: str, error: str) -> ReportOutcome:
        """A job whose deliveries ran out without a final report (its worker kept dying)."""
        key = _uuid(job_id)
        if key is None:
            return ReportOutcome()
        row = await self._pool.fetchrow(
            "SELECT batch_id, dispatches, attempts FROM batch.jobs WHERE id = $1", key
        )
        if row is None:
            return ReportOutcome()
        report = JobReport(
            job_id=str(key),
            batch_id=str(row["batch_id"]),
            state=ReportedState.FAILED,
            dispatch=row["dispatches"],
            attempt=row["attempts"] + 1,
            error=error,
        )
        return await self.apply_reports([report])

    async def queue_stats(self) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """Jobs not yet finished per function, and running jobs per worker."""
        async with self._pool.acquire() as conn:
            functions = await conn.fetch(
                "SELECT function,"
                f" count(*) FILTER (WHERE state = {_is(JobState.PENDING)})"
                "   AS waiting_on_dependencies,"
                f" count(*) FILTER (WHERE state = {_is(JobState.QUEUED)}"
                "   AND dispatched_at IS NULL) AS queued,"
                f" count(*) FILTER (WHERE state = {_is(JobState.QUEUED)}"
                "   AND dispatched_at IS NOT NULL)"
                "   AS on_subject,"
                f" count(*) FILTER (WHERE state = {_is(JobState.RUNNING)}) AS running"
                f" FROM batch.jobs WHERE state IN {_in(*_ACTIVE_JOB_STATES)}"
                " GROUP BY function ORDER BY function"
            )
            workers = await conn.fetch(
                "SELECT function, worker, count(*) AS running FROM batch.jobs"
                f" WHERE state = {_is(JobState.RUNNING)}"
                " GROUP BY function, worker ORDER BY function, worker"
            )
        return [dict(r) for r in functions], [dict(r) for r in workers]
