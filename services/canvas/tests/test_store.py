"""CanvasStore on a real PostgreSQL, migrated with the service's own migrations.

The migration SQL names the ``canvas`` schema itself, so every test shares that schema and keeps
to rows of an owner id of its own, deleted afterwards.
"""

from __future__ import annotations

import asyncio
import shutil
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

from libs.db import create_pool, migrate
from libs.devstack import DevStack
from libs.errors import Conflict, NotFound
from libs.pagination import decode_cursor, encode_cursor
from services.canvas.app import MIGRATIONS
from services.canvas.results import ResultStore
from services.canvas.store import CanvasRecord, CanvasStore, StaleBase


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
    await pg_pool.execute("DELETE FROM canvas.shares WHERE user_id = ANY($1)", owners)


@pytest.fixture
def owner(new_owner: Callable[[], str]) -> str:
    return new_owner()


async def test_create_then_get(store: CanvasStore, owner: str) -> None:
    created = await store.create(owner, "Shot 010")

    assert uuid.UUID(created.id)
    assert (created.owner_id, created.name, created.version) == (owner, "Shot 010", 1)
    assert created.created_at.tzinfo is not None
    assert await store.head(created.id) == (created, {}), "shared with nobody yet"


@pytest.mark.parametrize("canvas_id", ["", "42", "not-a-uuid", "'; DROP TABLE canvas.canvases"])
async def test_head_of_a_malformed_id_is_none(store: CanvasStore, canvas_id: str) -> None:
    assert await store.head(canvas_id) is None


async def test_head_of_an_unknown_id_is_none(store: CanvasStore) -> None:
    assert await store.head(str(uuid.uuid4())) is None


async def test_list_pages_newest_first_cover_every_row_once(
    store: CanvasStore, owner: str, new_owner: Callable[[], str]
) -> None:
    created = [await store.create(owner, f"canvas {i}") for i in range(7)]
    await store.create(new_owner(), "someone else's")  # never listed

    pages: list[list[CanvasRecord]] = []
    token = ""
    while True:
        page = await store.list_canvases(owner, 3, decode_cursor(token))
        pages.append(page)
        if len(page) < 3:
            break
        token = encode_cursor(page[-1].created_at, page[-1].id)  # as the API hands it out

    assert [len(p) for p in pages] == [3, 3, 1]
    listed = [record for page in pages for record in page]
    assert listed == [replace(c, graph=None) for c in created[::-1]], "lists leave graphs out"
    assert [(r.created_at, r.id) for r in listed] == sorted(
        ((r.created_at, r.id) for r in listed), reverse=True
    )


async def test_list_of_an_owner_without_canvases_is_empty(store: CanvasStore, owner: str) -> None:
    assert await store.list_canvases(owner, 10, None) == []


def graph_with(*names: str) -> dict[str, Any]:
    nodes = [
        {"id": name, "type": "character", "position": {"x": 0.0, "y": 0.0}, "properties": {}}
        for name in names
    ]
    return {"nodes": nodes, "edges": []}


async def test_every_save_is_a_version_made_from_the_newest(store: CanvasStore, owner: str) -> None:
    canvas = await store.create(owner, "versions")
    assert canvas.graph == {"nodes": [], "edges": []}
    first, made = await store.save(canvas.id, owner, 1, graph_with("a"), "Ada", autosave=False)
    assert made and (first.number, first.parent, first.message) == (2, 1, "Ada")
    second, _ = await store.save(canvas.id, owner, 2, graph_with("a", "b"), "", autosave=False)
    assert (second.number, second.parent) == (3, 2)
    head = await store.head(canvas.id)
    assert head is not None and head[0].version == 3 and head[0].graph == graph_with("a", "b")
    assert (await store.version(canvas.id, 2)) == first


async def test_a_save_from_a_stale_base_changes_nothing(store: CanvasStore, owner: str) -> None:
    canvas = await store.create(owner, "stale")
    await store.save(canvas.id, owner, 1, graph_with("a"), "", autosave=False)
    with pytest.raises(StaleBase) as raised:
        await store.save(canvas.id, owner, 1, graph_with("x"), "", autosave=False)
    assert raised.value.current.number == 2 and raised.value.current.graph == graph_with("a")
    head = await store.head(canvas.id)
    assert head is not None and head[0].version == 2 and head[0].graph == graph_with("a")


async def test_two_saves_from_one_base_at_once_one_wins_one_is_stale(
    store: CanvasStore, owner: str
) -> None:
    canvas = await store.create(owner, "race")
    outcomes = await asyncio.gather(
        *(store.save(canvas.id, owner, 1, graph_with(n), n, autosave=False) for n in "xy"),
        return_exceptions=True,
    )
    won = [o for o in outcomes if isinstance(o, tuple)]
    lost = [o for o in outcomes if isinstance(o, StaleBase)]
    assert len(won) == 1 and len(lost) == 1
    assert lost[0].current == won[0][0]  # the loser is told what won, to merge with
    versions = await store.versions(canvas.id, 10, None)
    assert [v.number for v in versions] == [2, 1]


async def test_autosaves_coalesce_without_burying_named_versions(
    store: CanvasStore, owner: str, new_owner: Callable[[], str]
) -> None:
    canvas = await store.create(owner, "autosave")
    named, _ = await store.save(canvas.id, owner, 1, graph_with("a"), "Named", autosave=False)
    auto1, _ = await store.save(canvas.id, owner, 2, graph_with("a", "b"), "", autosave=True)
    auto2, _ = await store.save(canvas.id, owner, 3, graph_with("a", "c"), "", autosave=True)
    assert (auto2.number, auto2.parent) == (4, 2), "replaces the autosave before it"
    same, made = await store.save(canvas.id, owner, 4, graph_with("a", "c"), "", autosave=True)
    assert not made and same == auto2, "nothing changed: no version"
    # Another author's autosave does not replace this one's.
    colleague = new_owner()
    await store.share(canvas.id, colleague, "write")
    theirs, _ = await store.save(canvas.id, colleague, 4, graph_with("z"), "", autosave=True)
    assert (theirs.number, theirs.parent) == (5, 4)
    numbers = [v.number for v in await store.versions(canvas.id, 10, None)]
    assert numbers == [5, 4, 2, 1]
    assert await store.version(canvas.id, auto1.number) is None
    assert (await store.version(canvas.id, named.number)) == named


async def test_versions_page_newest_first(store: CanvasStore, owner: str) -> None:
    canvas = await store.create(owner, "pages")
    for base in range(1, 6):
        await store.save(canvas.id, owner, base, graph_with(str(base)), "", autosave=False)
    first = await store.versions(canvas.id, 4, None)
    rest = await store.versions(canvas.id, 4, first[-1].number)
    assert [v.number for v in first + rest] == [6, 5, 4, 3, 2, 1]
    assert all(v.graph is None for v in first + rest), "lists leave graphs out"


async def test_shares_are_kept_listed_and_taken_back(
    store: CanvasStore, owner: str, new_owner: Callable[[], str]
) -> None:
    canvas = await store.create(owner, "shared")
    reader, writer, stranger = new_owner(), new_owner(), new_owner()
    changed = await store.share(canvas.id, reader, "read")
    await store.share(canvas.id, writer, "write")
    head = await store.head(canvas.id)
    assert head is not None and head[1] == {reader: "read", writer: "write"}
    assert head[0].updated_at >= changed > canvas.updated_at, "caches learn of shares"
    listed = await store.list_canvases(reader, 10, None)
    assert [(c.id, c.access) for c in listed] == [(canvas.id, "read")]
    assert await store.list_canvases(stranger, 10, None) == []
    await store.share(canvas.id, reader, None)
    assert await store.list_canvases(reader, 10, None) == []
    head = await store.head(canvas.id)
    assert head is not None and head[1] == {writer: "write"}


async def test_a_referenced_blob_is_readable_while_the_canvas_is(
    store: CanvasStore, new_owner: Callable[[], str]
) -> None:
    owner, reader, stranger = new_owner(), new_owner(), new_owner()
    photo, dropped = uuid.uuid4().hex * 2, uuid.uuid4().hex * 2
    canvas = await store.create(owner, "Shot 020")
    node = {"id": "ref", "type": "image.reference", "properties": {"blob": dropped}}
    first, _ = await store.save(canvas.id, owner, 1, _graph(node), "", autosave=False)
    node = {"id": "ref", "type": "image.reference", "properties": {"blob": photo}}
    await store.save(canvas.id, owner, first.number, _graph(node), "", autosave=False)

    # Every version counts: whoever reads the canvas reads its history too.
    assert await store.can_read_blob(owner, photo) and await store.can_read_blob(owner, dropped)
    assert not await store.can_read_blob(reader, photo)
    await store.share(canvas.id, reader, "read")
    assert await store.can_read_blob(reader, photo)
    assert not await store.can_read_blob(stranger, photo)
    await store.share(canvas.id, reader, None)
    assert not await store.can_read_blob(reader, photo), "unsharing takes the blob back"


async def test_results_shown_on_a_canvas_lend_their_blobs_to_its_readers(
    store: CanvasStore, pg_pool: asyncpg.Pool, new_owner: Callable[[], str]
) -> None:
    owner, reader = new_owner(), new_owner()
    frame, glb = uuid.uuid4().hex * 2, uuid.uuid4().hex * 2
    canvas = await store.create(owner, "Shot 030")
    await store.share(canvas.id, reader, "read")
    assert not await store.can_read_blob(reader, frame)
    await ResultStore(pg_pool).refer(canvas.id, [{"frame": frame}, {"render": {"glb": glb}}])
    assert await store.can_read_blob(reader, frame) and await store.can_read_blob(reader, glb)


def _graph(*nodes: dict[str, Any]) -> dict[str, Any]:
    return {"nodes": list(nodes), "edges": []}


async def test_the_migration_records_the_blobs_of_graphs_saved_before_it(
    devstack: DevStack, pg_pool: asyncpg.Pool, pg_schema: str, tmp_path: Path
) -> None:
    for earlier in sorted(MIGRATIONS.glob("000[1-3]_*.sql")):
        shutil.copy(earlier, tmp_path)
    parts = urlsplit(devstack.database_url)
    await pg_pool.execute(f"CREATE DATABASE {pg_schema}")
    try:
        pool = await create_pool(urlunsplit(parts._replace(path=f"/{pg_schema}")))
        try:
            await migrate(pool, "canvas", tmp_path)
            canvas = await pool.fetchval(
                "INSERT INTO canvas.canvases (owner_id, name) VALUES ('user-ada', 'old')"
                " RETURNING id"
            )
            node = {"id": "ref", "properties": {"blob": "a" * 64, "note": "b" * 63}}
            await pool.execute(
                "INSERT INTO canvas.versions (canvas_id, number, author_id, graph)"
                " VALUES ($1, 2, 'user-ada', $2)",
                canvas,
                {"nodes": [node], "edges": []},
            )
            await migrate(pool, "canvas", MIGRATIONS)
            store = CanvasStore(pool)
            assert await store.can_read_blob("user-ada", "a" * 64)
            assert not await store.can_read_blob("user-ada", "b" * 63)
            assert not await store.can_read_blob("user-bob", "a" * 64)
        finally:
            await pool.close()
    finally:
        await pg_pool.execute(f"DROP DATABASE {pg_schema} WITH (FORCE)")


async def test_a_rename_is_a_change_caches_learn_of(store: CanvasStore, owner: str) -> None:
    canvas = await store.create(owner, "Episode 1")
    await store.rename(canvas.id, "Episode 2")
    head = await store.head(canvas.id)
    assert head is not None and head[0].name == "Episode 2"
    assert head[0].updated_at > canvas.updated_at and head[0].version == canvas.version


async def test_shares_list_oldest_first_and_stop_at_the_most_a_canvas_takes(
    store: CanvasStore, owner: str, new_owner: Callable[[], str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("services.canvas.store.MAX_SHARES", 2)
    canvas = await store.create(owner, "crowded")
    first, second, third = new_owner(), new_owner(), new_owner()
    await store.share(canvas.id, first, "read")
    await store.share(canvas.id, second, "write")

    with pytest.raises(Conflict, match="shared with 2 users"):
        await store.share(canvas.id, third, "read")
    await store.share(canvas.id, first, "write")  # a change of access is no new share
    assert [(s.user_id, s.access) for s in await store.shares(canvas.id)] == [
        (first, "write"),
        (second, "write"),
    ]
    await store.share(canvas.id, second, None)
    await store.share(canvas.id, third, "read")
    assert [s.user_id for s in await store.shares(canvas.id)] == [first, third]


async def test_a_delete_takes_everything_of_the_canvas_with_it(
    store: CanvasStore, pg_pool: asyncpg.Pool, owner: str, new_owner: Callable[[], str]
) -> None:
    reader, photo = new_owner(), uuid.uuid4().hex * 2
    canvas = await store.create(owner, "doomed")
    node = {"id": "ref", "type": "image.reference", "properties": {"blob": photo}}
    await store.save(canvas.id, owner, 1, _graph(node), "", autosave=False)
    await store.share(canvas.id, reader, "read")
    await ResultStore(pg_pool).record(str(uuid.uuid4()), canvas.id, 2, owner, {})

    gone = await store.delete(canvas.id)

    assert gone.version == 2 and gone.deleted_at > canvas.updated_at
    assert await store.head(canvas.id) is None
    assert await store.list_canvases(reader, 10, None) == []
    assert not await store.can_read_blob(owner, photo)
    assert not await store.can_read_blob(reader, photo)
    for table in ("versions", "shares", "executions", "blob_refs"):
        left = await pg_pool.fetchval(
            f"SELECT count(*) FROM canvas.{table} WHERE canvas_id = $1", uuid.UUID(canvas.id)
        )
        assert left == 0, table


async def test_a_change_to_a_deleted_canvas_finds_it_gone(
    store: CanvasStore, pg_pool: asyncpg.Pool, owner: str
) -> None:
    """Each was allowed before the delete came between the check and the change."""
    results = ResultStore(pg_pool)
    canvas = await store.create(owner, "gone meanwhile")
    await store.delete(canvas.id)
    changes: list[Callable[[], Awaitable[object]]] = [
        lambda: store.save(canvas.id, owner, 1, graph_with("a"), "", autosave=False),
        lambda: store.rename(canvas.id, "too late"),
        lambda: store.share(canvas.id, "user-late", "read"),
        lambda: store.delete(canvas.id),
        lambda: results.record(str(uuid.uuid4()), canvas.id, 1, owner, {}),
        lambda: results.refer(canvas.id, [{"frame": uuid.uuid4().hex * 2}]),
    ]
    for change in changes:
        with pytest.raises(NotFound, match=canvas.id):
            await change()
