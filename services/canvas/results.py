"""What Execute made, in the ``canvas`` schema: node results by key, and executions (which
batch job makes which node)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import asyncpg

__all__ = ["ExecutionRecord", "ResultStore"]


@dataclass(frozen=True)
class ExecutionRecord:
    batch_id: str
    canvas_id: str
    version: int
    user_id: str
    # node id -> {"key": node key, "type": node type, "jobs": [job keys]}; executions recorded
    # before the type was have none (execution.read_back finds it by the key)
    nodes: dict[str, dict[str, Any]]
    settled: bool

    @classmethod
    def from_row(cls, row: asyncpg.Record) -> ExecutionRecord:
        return cls(
            **{**dict(row), "batch_id": str(row["batch_id"]), "canvas_id": str(row["canvas_id"])}
        )


_EXECUTION = "batch_id, canvas_id, version, user_id, nodes, settled"


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
        await self._pool.executemany(
            "INSERT INTO canvas.node_results (key, output) VALUES ($1, $2)"
            " ON CONFLICT (key) DO NOTHING",
            [(key, dict(output)) for key, output in results.items()],
        )

    async def record(
        self, batch_id: str, canvas_id: str, version: int, user_id: str, nodes: dict[str, Any]
    ) -> None:
        await self._pool.execute(
            "INSERT INTO canvas.executions (batch_id, canvas_id, version, user_id, nodes)"
            " VALUES ($1, $2, $3, $4, $5) ON CONFLICT (batch_id) DO NOTHING",
            uuid.UUID(batch_id),
            uuid.UUID(canvas_id),
            version,
            user_id,
            nodes,
        )

    async def unsettled(self, canvas_id: str) -> list[ExecutionRecord]:
        """Executions of the canvas whose jobs may still be running, oldest first."""
        rows = await self._pool.fetch(
            f"SELECT {_EXECUTION} FROM canvas.executions"
            " WHERE canvas_id = $1 AND NOT settled ORDER BY created_at",
            uuid.UUID(canvas_id),
        )
        return [ExecutionRecord.from_row(r) for r in rows]

    async def settle(self, batch_id: str) -> None:
        await self._pool.execute(
            "UPDATE canvas.executions SET settled = true WHERE batch_id = $1", uuid.UUID(batch_id)
        )
