"""Canvases in the ``canvas`` schema."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from libs.pagination import Cursor

__all__ = ["CanvasRecord", "CanvasStore"]

_COLUMNS = "id, owner_id, name, version, created_at, updated_at"


@dataclass(frozen=True)
class CanvasRecord:
    id: str
    owner_id: str
    name: str
    version: int
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_row(cls, row: asyncpg.Record) -> CanvasRecord:
        return cls(**{**dict(row), "id": str(row["id"])})


class CanvasStore:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def create(self, owner_id: str, name: str) -> CanvasRecord:
        row = await self._pool.fetchrow(
            f"INSERT INTO canvas.canvases (owner_id, name) VALUES ($1, $2) RETURNING {_COLUMNS}",
            owner_id,
            name,
        )
        return CanvasRecord.from_row(row)

    async def get(self, owner_id: str, canvas_id: str) -> CanvasRecord | None:
        try:
            key = uuid.UUID(canvas_id)
        except ValueError:
            return None
        row = await self._pool.fetchrow(
            f"SELECT {_COLUMNS} FROM canvas.canvases WHERE id = $1 AND owner_id = $2", key, owner_id
        )
        return CanvasRecord.from_row(row) if row else None

    async def list(self, owner_id: str, limit: int, after: Cursor | None) -> list[CanvasRecord]:
        """Newest first; ``after`` is the (created_at, id) of the last row already served."""
        if after is None:
            rows = await self._pool.fetch(
                f"SELECT {_COLUMNS} FROM canvas.canvases WHERE owner_id = $1"
                " ORDER BY created_at DESC, id DESC LIMIT $2",
                owner_id,
                limit,
            )
        else:
            rows = await self._pool.fetch(
                f"SELECT {_COLUMNS} FROM canvas.canvases WHERE owner_id = $1"
                " AND (created_at, id) < ($2, $3) ORDER BY created_at DESC, id DESC LIMIT $4",
                owner_id,
                after[0],
                uuid.UUID(after[1]),
                limit,
            )
        return [CanvasRecord.from_row(r) for r in rows]
