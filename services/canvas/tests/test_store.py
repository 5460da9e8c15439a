"""CanvasStore on a real PostgreSQL, migrated with the service's own migrations.

The migration SQL names the ``canvas`` schema itself, so every test shares that schema and keeps
to rows of an owner id of its own, deleted afterwards.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable

import asyncpg
import pytest

from libs.db import migrate
from libs.pagination import decode_cursor, encode_cursor
from services.canvas.app import MIGRATIONS
from services.canvas.store import CanvasRecord, CanvasStore


@pytest.fixture
async def store(pg_pool: asyncpg.Pool) -> CanvasStore:
    await migrate(pg_pool, "canvas", MIGRATIONS)
    return CanvasStore(pg_pool)


@pytest.fixture
async def new_owner(pg_pool: asyncpg.Pool) -> AsyncIterator[Callable[[], str]]:
    """Owner ids unique to this test; their canvases are deleted after it."""
    owners: list[str] = []

    def new_owner() -> str:
        owners.append(f"user-{uuid.uuid4().hex}")
        return owners[-1]

    yield new_owner
    await pg_pool.execute("DELETE FROM canvas.canvases WHERE owner_id = ANY($1)", owners)


@pytest.fixture
def owner(new_owner: Callable[[], str]) -> str:
    return new_owner()


async def test_create_then_get(store: CanvasStore, owner: str) -> None:
    created = await store.create(owner, "Shot 010")

    assert uuid.UUID(created.id)
    assert (created.owner_id, created.name, created.version) == (owner, "Shot 010", 1)
    assert created.created_at.tzinfo is not None
    assert await store.get(owner, created.id) == created


async def test_get_as_another_owner_is_none(
    store: CanvasStore, owner: str, new_owner: Callable[[], str]
) -> None:
    created = await store.create(owner, "private")
    assert await store.get(new_owner(), created.id) is None


@pytest.mark.parametrize("canvas_id", ["", "42", "not-a-uuid", "'; DROP TABLE canvas.canvases"])
async def test_get_with_a_malformed_id_is_none(
    store: CanvasStore, owner: str, canvas_id: str
) -> None:
    assert await store.get(owner, canvas_id) is None


async def test_get_of_an_unknown_id_is_none(store: CanvasStore, owner: str) -> None:
    assert await store.get(owner, str(uuid.uuid4())) is None


async def test_list_pages_newest_first_cover_every_row_once(
    store: CanvasStore, owner: str, new_owner: Callable[[], str]
) -> None:
    created = [await store.create(owner, f"canvas {i}") for i in range(7)]
    await store.create(new_owner(), "someone else's")  # never listed

    pages: list[list[CanvasRecord]] = []
    token = ""
    while True:
        page = await store.list(owner, 3, decode_cursor(token))
        pages.append(page)
        if len(page) < 3:
            break
        token = encode_cursor(page[-1].created_at, page[-1].id)  # as the API hands it out

    assert [len(p) for p in pages] == [3, 3, 1]
    listed = [record for page in pages for record in page]
    assert listed == created[::-1]
    assert [(r.created_at, r.id) for r in listed] == sorted(
        ((r.created_at, r.id) for r in listed), reverse=True
    )


async def test_list_of_an_owner_without_canvases_is_empty(store: CanvasStore, owner: str) -> None:
    assert await store.list(owner, 10, None) == []
