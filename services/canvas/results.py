"""What Execute made, in the ``canvas`` schema: node results by key, and executions (which
batch job makes which node, and the newest state heard of each job)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import asyncpg
import msgspec

from libs.bus.states import JobState
from libs.errors import NotFound
from services.canvas.node_states import ExecutionNode, JobStatus
from services.canvas.store import refer_to_blobs

__all__ = ["ExecutionRecord", "LockedExecution", "ResultStore"]


@dataclass(frozen=True)
class ExecutionRecord:
    batch_id: str
    canvas_id: str
    version: int
    user_id: str
    nodes: dict[str, ExecutionNode]  # node id -> what makes it
    settled: bool
    jobs: dict[str, JobStatus]  # job key -> its newest state heard
    # Final state -> jobs, as a batch summary the jobs disagreed with counted them: None
    # when no reconciliation waits on one
    expected: dict[JobState, int] | None

    @classmethod
    def from_row(cls, row: asyncpg.Record) -> ExecutionRecord:
        return cls(
            batch_id=str(row["batch_id"]),
            canvas_id=str(row["canvas_id"]),
            version=row["version"],
            user_id=row["user_id"],
            nodes=msgspec.convert(row["nodes"], dict[str, ExecutionNode]),
            settled=row["settled"],
            jobs=msgspec.convert(row["jobs"], dict[str, JobStatus]),
            expected=msgspec.convert(row["expected"], dict[JobState, int] | None),
        )


_EXECUTION = "batch_id, canvas_id, version, user_id, nodes, settled, jobs, expected"


class LockedExecution:
    """An execution locked for one transaction: read it, then save what followed."""

    def __init__(self, conn: asyncpg.Connection, record: ExecutionRecord) -> None:
        self._conn = conn
        self.record = record

    async def save(
        self,
        jobs: Mapping[str, JobStatus],
        made: Mapping[str, Mapping[str, Any]],
        *,
        settled: bool,
    ) -> None:
        """The jobs' newest states, the results they made (kept by key) and whether nothing
        more will come of the execution."""
        if made:
            await _keep(self._conn, made)
            # Whoever can read the canvas sees these results, so may read their blobs.
            await refer_to_blobs(self._conn, self.record.canvas_id, list(made.values()))
        await self._conn.execute(
            "UPDATE canvas.executions SET jobs = $2, settled = $3, heard_at = clock_timestamp()"
            " WHERE batch_id = $1",
            uuid.UUID(self.record.batch_id),
            msgspec.to_builtins(jobs),
            settled,
        )


class ResultStore:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def results(self, keys: Iterable[str]) -> dict[str, dict[str, Any]]:
        """The kept results among ``keys``."""
        rows = await self._pool.fetch(
            "SELECT key, output FROM canvas.node_results WHERE key = ANY($1)", list(set(keys))
        )
        return {r["key"]: r["output"] for r in rows}

    async def keep(self, results: Mapping[str, Mapping[str, Any]]) -> None:
        """Keep node results by key; a key's result never changes, so the first one stays."""
        async with self._pool.acquire() as conn:
            await _keep(conn, results)

    async def refer(self, canvas_id: str, outputs: Iterable[Mapping[str, Any]]) -> None:
        """Record the blobs of results shown on the canvas as referenced by it; NotFound when
        the canvas was deleted meanwhile."""
        async with _canvas_kept(canvas_id), self._pool.acquire() as conn:
            await refer_to_blobs(conn, canvas_id, list(outputs))

    async def record(
        self,
        batch_id: str,
        canvas_id: str,
        version: int,
        user_id: str,
        nodes: Mapping[str, ExecutionNode],
    ) -> None:
        """Record an execution of the canvas; NotFound when the canvas was deleted meanwhile."""
        async with _canvas_kept(canvas_id):
            await self._pool.execute(
                "INSERT INTO canvas.executions (batch_id, canvas_id, version, user_id, nodes)"
                " VALUES ($1, $2, $3, $4, $5) ON CONFLICT (batch_id) DO NOTHING",
                uuid.UUID(batch_id),
                uuid.UUID(canvas_id),
                version,
                user_id,
                msgspec.to_builtins(nodes),
            )

    async def execution(self, batch_id: str) -> ExecutionRecord | None:
        row = await self._pool.fetchrow(
            f"SELECT {_EXECUTION} FROM canvas.executions WHERE batch_id = $1", _uuid(batch_id)
        )
        return ExecutionRecord.from_row(row) if row else None

    @asynccontextmanager
    async def locked(self, batch_id: str) -> AsyncIterator[LockedExecution | None]:
        """The execution of ``batch_id`` locked until the block ends (None if there is none):
        two replicas hearing of one batch take turns."""
        key = _uuid(batch_id)
        async with self._pool.acquire() as conn, conn.transaction():
            row = await conn.fetchrow(
                f"SELECT {_EXECUTION} FROM canvas.executions WHERE batch_id = $1 FOR UPDATE", key
            )
            yield LockedExecution(conn, ExecutionRecord.from_row(row)) if row else None

    async def unsettled(self, canvas_id: str) -> list[ExecutionRecord]:
        """Executions of the canvas whose jobs may still be running, oldest first."""
        rows = await self._pool.fetch(
            f"SELECT {_EXECUTION} FROM canvas.executions"
            " WHERE canvas_id = $1 AND NOT settled ORDER BY created_at",
            uuid.UUID(canvas_id),
        )
        return [ExecutionRecord.from_row(r) for r in rows]

    # -- reconciliation with batch --------------------------------------------------------

    async def check_after(
        self, batch_id: str, delay_s: float, *, expecting: Mapping[JobState, int] | None = None
    ) -> None:
        """Ask for a reconciliation of the execution within ``delay_s`` (sooner if already
        asked). With ``expecting`` (a summary's final counts) it is skipped if the jobs heard
        of by then agree; without, it is not skipped."""
        await self._pool.execute(
            "UPDATE canvas.executions SET due_at = LEAST(due_at,"
            "   clock_timestamp() + make_interval(secs => $2::float8)), expected = $3"
            " WHERE batch_id = $1",
            _uuid(batch_id),
            delay_s,
            {state.value: n for state, n in expecting.items()} if expecting is not None else None,
        )

    async def check_all_unsettled(self) -> int:
        """Ask for a reconciliation of every unsettled execution now (after a restart)."""
        status = await self._pool.execute(
            "UPDATE canvas.executions SET due_at = clock_timestamp() WHERE NOT settled"
        )
        return int(status.split()[-1])

    async def claim_checks(self, quiet_s: float, limit: int) -> list[ExecutionRecord]:
        """The executions to reconcile now, claimed: each one asked for, and each unsettled one
        nothing was heard of for ``quiet_s`` (its events may have been lost). Replicas claim
        disjoint sets (SKIP LOCKED), and a claim is marked checked."""
        # RETURNING sees the row as updated: the summary counts the check expects come from
        # the claim itself, before they are cleared.
        rows = await self._pool.fetch(
            "WITH claimed AS ("
            "   SELECT batch_id, expected FROM canvas.executions"
            "   WHERE due_at <= clock_timestamp() OR (NOT settled"
            "     AND GREATEST(heard_at, checked_at, created_at)"
            "       < clock_timestamp() - make_interval(secs => $1::float8))"
            "   ORDER BY due_at NULLS LAST LIMIT $2 FOR UPDATE SKIP LOCKED)"
            " UPDATE canvas.executions AS e"
            " SET due_at = NULL, expected = NULL, checked_at = clock_timestamp()"
            " FROM claimed WHERE e.batch_id = claimed.batch_id"
            " RETURNING e.batch_id, e.canvas_id, e.version, e.user_id, e.nodes, e.settled,"
            " e.jobs, claimed.expected",
            quiet_s,
            limit,
        )
        return [ExecutionRecord.from_row(r) for r in rows]


async def _keep(conn: asyncpg.Connection, results: Mapping[str, Mapping[str, Any]]) -> None:
    await conn.executemany(
        "INSERT INTO canvas.node_results (key, output) VALUES ($1, $2)"
        " ON CONFLICT (key) DO NOTHING",
        [(key, dict(output)) for key, output in results.items()],
    )


@asynccontextmanager
async def _canvas_kept(canvas_id: str) -> AsyncIterator[None]:
    """NotFound for a write that refers to a canvas deleted since the caller's access check."""
    try:
        yield
    except asyncpg.ForeignKeyViolationError as exc:
        raise NotFound(f"no canvas {canvas_id}") from exc


def _uuid(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(value)
    except ValueError:
        return None
