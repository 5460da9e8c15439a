"""Canvases, their versions and shares, in the ``canvas`` schema.

Every save is a version. ``canvases.version`` is the newest one's number, and a save names the
version it was made from: the row lock on the canvas makes two saves from one base take turns,
and the second one finds its base stale (``StaleBase``) instead of overwriting the first.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Final

import asyncpg

from libs.blobs import blob_ids
from libs.errors import Conflict, NotFound
from libs.pagination import Cursor

__all__ = [
    "ACCESS_LEVELS",
    "MAX_SHARES",
    "CanvasRecord",
    "CanvasStore",
    "Deleted",
    "ShareRecord",
    "StaleBase",
    "VersionRecord",
    "refer_to_blobs",
]

EMPTY_GRAPH: Final[dict[str, Any]] = {"nodes": [], "edges": []}
ACCESS_LEVELS: Final = ("read", "write")
# Whom one canvas may be shared with at most: one listing holds every share.
MAX_SHARES: Final = 500

_CANVAS = "c.id, c.owner_id, c.name, c.version, c.created_at, c.updated_at"
_VERSION = "v.canvas_id, v.number, v.parent, v.author_id, v.message, v.autosave, v.created_at"
# The caller's access to a canvas: theirs, or shared with them.
_ACCESS = (
    "CASE WHEN c.owner_id = $2 THEN 'owner'"
    " ELSE (SELECT s.access FROM canvas.shares s WHERE s.canvas_id = c.id AND s.user_id = $2)"
    " END"
)


@dataclass(frozen=True)
class CanvasRecord:
    id: str
    owner_id: str
    name: str
    version: int
    created_at: datetime
    updated_at: datetime
    access: str  # the reader's: "owner", "write" or "read"
    graph: dict[str, Any] | None = None  # the newest version's, where asked for

    @classmethod
    def from_row(cls, row: asyncpg.Record) -> CanvasRecord:
        return cls(**{**dict(row), "id": str(row["id"])})


@dataclass(frozen=True)
class VersionRecord:
    canvas_id: str
    number: int
    parent: int
    author_id: str
    message: str
    autosave: bool
    created_at: datetime
    graph: dict[str, Any] | None = None

    @classmethod
    def from_row(cls, row: asyncpg.Record) -> VersionRecord:
        return cls(**{**dict(row), "canvas_id": str(row["canvas_id"])})


@dataclass(frozen=True)
class ShareRecord:
    user_id: str
    access: str  # "read" or "write"
    created_at: datetime


@dataclass(frozen=True)
class Deleted:
    """What a delete leaves to tell: the canvas's last version, and when it went."""

    version: int
    deleted_at: datetime


class StaleBase(Exception):
    """The save was made from ``base``, but the newest version is ``current``."""

    def __init__(self, base: int, current: VersionRecord) -> None:
        super().__init__(f"version {base} is not the newest: {current.number} is")
        self.base = base
        self.current = current


def _uuid(text: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(text)
    except ValueError:
        return None


def _gone(canvas_id: str) -> NotFound:
    """A canvas deleted between the caller's access check and its change."""
    return NotFound(f"no canvas {canvas_id}")


class CanvasStore:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def create(self, owner_id: str, name: str) -> CanvasRecord:
        """A canvas with its first version: an empty graph."""
        async with self._pool.acquire() as conn, conn.transaction():
            row = await conn.fetchrow(
                "INSERT INTO canvas.canvases AS c (owner_id, name) VALUES ($1, $2)"
                f" RETURNING {_CANVAS}, 'owner' AS access",
                owner_id,
                name,
            )
            await conn.execute(
                "INSERT INTO canvas.versions (canvas_id, number, author_id, message, graph)"
                " VALUES ($1, $2, $3, 'Created', $4)",
                row["id"],
                row["version"],
                owner_id,
                EMPTY_GRAPH,
            )
        return replace(CanvasRecord.from_row(row), graph=EMPTY_GRAPH)

    async def head(self, canvas_id: str) -> tuple[CanvasRecord, dict[str, str]] | None:
        """The canvas with its newest graph (access "owner") and who it is shared with."""
        key = _uuid(canvas_id)
        if key is None:
            return None
        async with self._pool.acquire() as conn, conn.transaction(readonly=True):
            row = await conn.fetchrow(
                f"SELECT {_CANVAS}, 'owner' AS access, v.graph FROM canvas.canvases c"
                " JOIN canvas.versions v ON v.canvas_id = c.id AND v.number = c.version"
                " WHERE c.id = $1",
                key,
            )
            if row is None:
                return None
            shares = await conn.fetch(
                "SELECT user_id, access FROM canvas.shares WHERE canvas_id = $1", key
            )
        return CanvasRecord.from_row(row), {r["user_id"]: r["access"] for r in shares}

    async def list_canvases(
        self, user_id: str, limit: int, after: Cursor | None
    ) -> list[CanvasRecord]:
        """Owned or shared, newest first; ``after`` is the (created_at, id) last served."""
        visible = (
            "(c.owner_id = $2 OR c.id IN (SELECT canvas_id FROM canvas.shares WHERE user_id = $2))"
        )
        select = f"SELECT {_CANVAS}, {_ACCESS} AS access FROM canvas.canvases c WHERE {visible}"
        order = " ORDER BY c.created_at DESC, c.id DESC LIMIT $1"
        if after is None:
            rows = await self._pool.fetch(select + order, limit, user_id)
        else:
            rows = await self._pool.fetch(
                select + " AND (c.created_at, c.id) < ($3, $4)" + order,
                limit,
                user_id,
                after[0],
                uuid.UUID(after[1]),
            )
        return [CanvasRecord.from_row(r) for r in rows]

    async def save(
        self,
        canvas_id: str,
        author_id: str,
        base: int,
        graph: dict[str, Any],
        message: str,
        *,
        autosave: bool,
    ) -> tuple[VersionRecord, bool]:
        """A new version from ``base``; (the version, whether one was made).

        An autosave identical to the newest graph makes none. An autosave on top of the same
        author's autosave replaces it (with a new number, so a stale base is still caught), so
        autosaves never bury named versions. Raises StaleBase; the caller checked access.
        """
        async with self._pool.acquire() as conn, conn.transaction():
            current = await self._lock_head(conn, canvas_id)
            if current.number != base:
                raise StaleBase(base, current)
            if autosave and current.graph == graph:
                return current, False
            coalesce = autosave and current.autosave and current.author_id == author_id
            parent = current.parent if coalesce else current.number
            if coalesce:
                await conn.execute(
                    "DELETE FROM canvas.versions WHERE canvas_id = $1 AND number = $2",
                    uuid.UUID(canvas_id),
                    current.number,
                )
            made = await self._append(conn, canvas_id, author_id, parent, graph, message, autosave)
        return made, True

    async def _lock_head(self, conn: asyncpg.Connection, canvas_id: str) -> VersionRecord:
        # The lock first, then the read: a join locked in one statement would be re-checked
        # against the old version row after the wait, and find nothing.
        number = await conn.fetchval(
            "SELECT version FROM canvas.canvases WHERE id = $1 FOR UPDATE", uuid.UUID(canvas_id)
        )
        if number is None:
            raise _gone(canvas_id)
        head = await _version(conn, canvas_id, number)
        assert head is not None, "a canvas's newest version is never deleted"
        return head

    async def _append(
        self,
        conn: asyncpg.Connection,
        canvas_id: str,
        author_id: str,
        parent: int,
        graph: dict[str, Any],
        message: str,
        autosave: bool,
    ) -> VersionRecord:
        number = await conn.fetchval(
            "UPDATE canvas.canvases SET version = version + 1, updated_at = clock_timestamp()"
            " WHERE id = $1 RETURNING version",
            uuid.UUID(canvas_id),
        )
        row = await conn.fetchrow(
            "INSERT INTO canvas.versions AS v"
            " (canvas_id, number, parent, author_id, message, autosave, graph)"
            f" VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING {_VERSION}, v.graph",
            uuid.UUID(canvas_id),
            number,
            parent,
            author_id,
            message,
            autosave,
            graph,
        )
        await refer_to_blobs(conn, canvas_id, graph)
        return VersionRecord.from_row(row)

    async def version(self, canvas_id: str, number: int) -> VersionRecord | None:
        """One version with its graph; the caller checked access."""
        return await _version(self._pool, canvas_id, number)

    async def versions(self, canvas_id: str, limit: int, before: int | None) -> list[VersionRecord]:
        """Newest first, without graphs; ``before`` is the number last served."""
        rows = await self._pool.fetch(
            f"SELECT {_VERSION} FROM canvas.versions v WHERE v.canvas_id = $1"
            " AND v.number < $2 ORDER BY v.number DESC LIMIT $3",
            uuid.UUID(canvas_id),
            before if before is not None else 2**31 - 1,
            limit,
        )
        return [VersionRecord.from_row(r) for r in rows]

    async def can_read_blob(self, user_id: str, blob: str) -> bool:
        """Whether a canvas that ``user_id`` owns or is shared references ``blob``."""
        found: bool = await self._pool.fetchval(
            "SELECT EXISTS (SELECT 1 FROM canvas.blob_refs r"
            " JOIN canvas.canvases c ON c.id = r.canvas_id WHERE r.blob = $1 AND (c.owner_id = $2"
            " OR EXISTS (SELECT 1 FROM canvas.shares s"
            " WHERE s.canvas_id = c.id AND s.user_id = $2)))",
            blob,
            user_id,
        )
        return found

    async def rename(self, canvas_id: str, name: str) -> None:
        """A new name (a change caches must learn of, so ``updated_at`` moves too). NotFound
        when the canvas is gone; the caller checked access."""
        renamed = await self._pool.fetchval(
            "UPDATE canvas.canvases SET name = $2, updated_at = clock_timestamp() WHERE id = $1"
            " RETURNING id",
            uuid.UUID(canvas_id),
            name,
        )
        if renamed is None:
            raise _gone(canvas_id)

    async def delete(self, canvas_id: str) -> Deleted:
        """The canvas and, by their foreign keys, its versions, shares, executions and blob
        references: nothing of it stays to be read. NotFound when it is already gone; the
        caller checked that its owner asks."""
        key = uuid.UUID(canvas_id)
        async with self._pool.acquire() as conn, conn.transaction():
            # Executions first, in the order the execution tracker locks (an execution, then
            # the canvas its results refer to): the cascade alone would lock the canvas first
            # and could deadlock with a batch event being recorded.
            await conn.execute("DELETE FROM canvas.executions WHERE canvas_id = $1", key)
            row = await conn.fetchrow(
                "DELETE FROM canvas.canvases WHERE id = $1"
                " RETURNING version, clock_timestamp() AS deleted_at",
                key,
            )
        if row is None:
            raise _gone(canvas_id)
        return Deleted(version=row["version"], deleted_at=row["deleted_at"])

    async def shares(self, canvas_id: str) -> list[ShareRecord]:
        """Everyone the canvas is shared with, oldest share first; the caller checked access."""
        rows = await self._pool.fetch(
            "SELECT user_id, access, created_at FROM canvas.shares WHERE canvas_id = $1"
            " ORDER BY created_at, user_id",
            uuid.UUID(canvas_id),
        )
        return [ShareRecord(**dict(r)) for r in rows]

    async def share(self, canvas_id: str, user_id: str, access: str | None) -> datetime:
        """Grant ``access`` ("read" or "write"), or take it away with None; the canvas's new
        ``updated_at`` (a share changes who may read it, which caches must learn). NotFound
        when the canvas is gone, Conflict when a new share would pass ``MAX_SHARES``."""
        key = uuid.UUID(canvas_id)
        async with self._pool.acquire() as conn, conn.transaction():
            # The row lock also makes two shares of one canvas take turns, so the count holds.
            updated: datetime | None = await conn.fetchval(
                "UPDATE canvas.canvases SET updated_at = clock_timestamp() WHERE id = $1"
                " RETURNING updated_at",
                key,
            )
            if updated is None:
                raise _gone(canvas_id)
            if access is None:
                await conn.execute(
                    "DELETE FROM canvas.shares WHERE canvas_id = $1 AND user_id = $2", key, user_id
                )
                return updated
            count, has = await conn.fetchrow(
                "SELECT count(*), bool_or(user_id = $2) FROM canvas.shares WHERE canvas_id = $1",
                key,
                user_id,
            )
            if count >= MAX_SHARES and not has:
                raise Conflict(
                    f"canvas {canvas_id} is shared with {MAX_SHARES} users, the most it may be;"
                    " take a share back first"
                )
            await conn.execute(
                "INSERT INTO canvas.shares (canvas_id, user_id, access) VALUES ($1, $2, $3)"
                " ON CONFLICT (canvas_id, user_id) DO UPDATE SET access = EXCLUDED.access",
                key,
                user_id,
                access,
            )
        return updated


async def _version(
    db: asyncpg.Pool | asyncpg.Connection, canvas_id: str, number: int
) -> VersionRecord | None:
    row = await db.fetchrow(
        f"SELECT {_VERSION}, v.graph FROM canvas.versions v"
        " WHERE v.canvas_id = $1 AND v.number = $2",
        uuid.UUID(canvas_id),
        number,
    )
    return VersionRecord.from_row(row) if row else None


async def refer_to_blobs(conn: asyncpg.Connection, canvas_id: str, value: object) -> None:
    """Record the blobs ``value`` (a graph, a result) names as referenced by the canvas."""
    blobs = sorted(blob_ids(value))
    if blobs:
        await conn.execute(
            "INSERT INTO canvas.blob_refs (blob, canvas_id) SELECT unnest($1::text[]), $2"
            " ON CONFLICT DO NOTHING",
            blobs,
            uuid.UUID(canvas_id),
        )
