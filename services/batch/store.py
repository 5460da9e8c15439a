"""Batches and jobs in the ``batch`` schema."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from services.batch.domain import BatchState, JobSpec, JobState, apply_report, roll_up

__all__ = ["BatchRecord", "BatchStore", "JobRecord", "JobUpdate"]


@dataclass(frozen=True)
class JobRecord:
    id: str
    function: str
    state: JobState
    attempts: int
    progress: int
    input: dict[str, Any]
    output: dict[str, Any] | None
    error: str


@dataclass(frozen=True)
class BatchRecord:
    id: str
    owner_id: str
    canvas_id: str
    state: BatchState
    created_at: datetime
    updated_at: datetime
    jobs: list[JobRecord]


@dataclass(frozen=True)
class JobUpdate:
    """What changed when a worker's report was applied."""

    owner_id: str
    batch_id: str
    job: JobRecord
    batch_state: BatchState
    batch_finished: bool


def _job(row: asyncpg.Record) -> JobRecord:
    return JobRecord(
        id=str(row["id"]),
        function=row["function"],
        state=JobState(row["state"]),
        attempts=row["attempts"],
        progress=row["progress"],
        input=row["input"],
        output=row["output"],
        error=row["error"],
    )


_JOB_COLUMNS = "id, function, state, attempts, progress, input, output, error"


class BatchStore:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def create(self, owner_id: str, canvas_id: str, specs: list[JobSpec]) -> BatchRecord:
        async with self._pool.acquire() as conn, conn.transaction():
            batch_id = await conn.fetchval(
                "INSERT INTO batch.batches (owner_id, canvas_id, state) VALUES ($1, $2, $3)"
                " RETURNING id",
                owner_id,
                canvas_id,
                BatchState.QUEUED.value,
            )
            await conn.executemany(
                "INSERT INTO batch.jobs (batch_id, position, function, state, input)"
                " VALUES ($1, $2, $3, $4, $5)",
                [
                    (batch_id, i, spec.function, JobState.PENDING.value, spec.input)
                    for i, spec in enumerate(specs)
                ],
            )
        record = await self.get(owner_id, str(batch_id))
        assert record is not None
        return record

    async def get(self, owner_id: str, batch_id: str) -> BatchRecord | None:
        try:
            key = uuid.UUID(batch_id)
        except ValueError:
            return None
        async with self._pool.acquire() as conn:
            row = await conn.fetchrow(
                "SELECT id, owner_id, canvas_id, state, created_at, updated_at FROM batch.batches"
                " WHERE id = $1 AND owner_id = $2",
                key,
                owner_id,
            )
            if row is None:
                return None
            jobs = await conn.fetch(
                f"SELECT {_JOB_COLUMNS} FROM batch.jobs WHERE batch_id = $1 ORDER BY position", key
            )
        return BatchRecord(
            id=str(row["id"]),
            owner_id=row["owner_id"],
            canvas_id=row["canvas_id"],
            state=BatchState(row["state"]),
            created_at=row["created_at"],
            updated_at=row["updated_at"],
            jobs=[_job(j) for j in jobs],
        )

    async def mark_queued(self, job_ids: list[str]) -> None:
        await self._pool.execute(
            "UPDATE batch.jobs SET state = $2 WHERE id = ANY($1::uuid[]) AND state = $3",
            job_ids,
            JobState.QUEUED.value,
            JobState.PENDING.value,
        )

    async def apply_report(self, report: dict[str, Any]) -> JobUpdate | None:
        """Apply one worker report atomically; None when it was stale or a duplicate."""
        job_id = uuid.UUID(str(report["job_id"]))
        async with self._pool.acquire() as conn, conn.transaction():
            row = await conn.fetchrow(
                "SELECT j.state, j.batch_id, b.owner_id FROM batch.jobs j"
                " JOIN batch.batches b ON b.id = j.batch_id WHERE j.id = $1 FOR UPDATE OF j, b",
                job_id,
            )
            if row is None:
                return None
            new_state = apply_report(JobState(row["state"]), str(report.get("state")))
            if new_state is None:
                return None
            job = _job(
                await conn.fetchrow(
                    "UPDATE batch.jobs SET state = $2,"
                    " attempts = GREATEST(attempts, $3),"
                    " progress = COALESCE($4, progress),"
                    " output = COALESCE($5, output),"
                    " error = COALESCE($6, error),"
                    " started_at = COALESCE(started_at, clock_timestamp()),"
                    " finished_at = CASE WHEN $7 THEN clock_timestamp() END"
                    f" WHERE id = $1 RETURNING {_JOB_COLUMNS}",
                    job_id,
                    new_state.value,
                    int(report.get("attempt", 1)),
                    report.get("progress"),
                    report.get("output"),
                    report.get("error"),
                    new_state.is_final,
                )
            )
            states = [
                JobState(s)
                for s in await conn.fetchval(
                    "SELECT array_agg(state) FROM batch.jobs WHERE batch_id = $1", row["batch_id"]
                )
            ]
            batch_state = roll_up(states)
            await conn.execute(
                "UPDATE batch.batches SET state = $2, updated_at = clock_timestamp() WHERE id = $1",
                row["batch_id"],
                batch_state.value,
            )
        return JobUpdate(
            owner_id=row["owner_id"],
            batch_id=str(row["batch_id"]),
            job=job,
            batch_state=batch_state,
            batch_finished=batch_state in (BatchState.SUCCEEDED, BatchState.FAILED),
        )
