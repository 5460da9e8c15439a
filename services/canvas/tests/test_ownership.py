"""Renaming, sharing and deleting a canvas through the CanvasService gRPC API: who may do each,
the names it takes, and what a delete leaves behind — nothing to read, caches told (a
tombstone no slow reader can overwrite, the stamp raised, ``canvas.changed`` announced) and
the batches of its running executions cancelled.

The servicer runs on a gRPC server of the platform's own, on the dev stack's Postgres (the
service's own migrations; each test's users are its own), Redis (a namespace of its own) and
NATS; the batch service runs in this process where a test executes.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from datetime import UTC
from typing import Any

import asyncpg
import nats
import pytest
from google.protobuf.struct_pb2 import Struct
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from redis.asyncio import Redis

from libs.bus import Envelope
from libs.bus.events import CanvasChanged
from libs.bus.subjects import canvas_changed_subject
from libs.cache import ReadCache, canvas_stamp_key
from libs.db import migrate
from libs.devstack import DevStack
from libs.downstream import Downstream
from libs.errors import Forbidden, InvalidArgument, NotFound
from libs.ports import free_port
from libs.rpc import struct
from services.canvas.app import MIGRATIONS
from services.canvas.cache import CanvasCache, stamp_of
from services.canvas.execution import Executions
from services.canvas.handlers import CanvasServicer
from services.canvas.results import ResultStore
from services.canvas.store import CanvasStore
from services.canvas.tests.test_compile import REFERENCE, graph_of, storyboard
from shotgraph.batch.v1 import batch_pb2, batch_pb2_grpc
from shotgraph.canvas.v1 import canvas_pb2, canvas_pb2_grpc
from tests.in_process import BatchClient, BatchService, downstream, serve

CanvasClient = Downstream[canvas_pb2_grpc.CanvasServiceStub]


@dataclass
class Canvases:
    """The canvas service of one test, and what it stands on."""

    client: CanvasClient
    cache: ReadCache
    redis: Redis
    nc: Client
    users: list[str] = field(default_factory=list)

    def user(self) -> str:
        self.users.append(f"user-{uuid.uuid4().hex}")
        return self.users[-1]

    async def create(self, owner: str, name: str = "Episode 1") -> canvas_pb2.Canvas:
        request = canvas_pb2.CreateCanvasRequest(owner_id=owner, name=name)
        made: canvas_pb2.Canvas = await self.client.call(self.client.stub.CreateCanvas, request)
        return made

    async def get(self, user: str, canvas_id: str) -> canvas_pb2.Canvas:
        request = canvas_pb2.GetCanvasRequest(owner_id=user, canvas_id=canvas_id)
        found: canvas_pb2.Canvas = await self.client.call(self.client.stub.GetCanvas, request)
        return found

    async def rename(self, user: str, canvas_id: str, name: str) -> canvas_pb2.Canvas:
        request = canvas_pb2.RenameCanvasRequest(user_id=user, canvas_id=canvas_id, name=name)
        renamed: canvas_pb2.Canvas = await self.client.call(self.client.stub.RenameCanvas, request)
        return renamed

    async def share(self, owner: str, canvas_id: str, user: str, access: str) -> None:
        request = canvas_pb2.ShareCanvasRequest(
            owner_id=owner, canvas_id=canvas_id, user_id=user, access=access
        )
        await self.client.call(self.client.stub.ShareCanvas, request)

    async def shares(self, user: str, canvas_id: str) -> list[tuple[str, str]]:
        request = canvas_pb2.ListSharesRequest(user_id=user, canvas_id=canvas_id)
        listed: canvas_pb2.ListSharesResponse = await self.client.call(
            self.client.stub.ListShares, request
        )
        return [(s.user_id, s.access) for s in listed.shares]

    async def save(self, user: str, canvas_id: str, graph: dict[str, Any]) -> None:
        request = canvas_pb2.SaveCanvasRequest(
            user_id=user, canvas_id=canvas_id, base_version=1, graph=_struct(graph)
        )
        await self.client.call(self.client.stub.SaveCanvas, request)

    async def readable_blob(self, user: str, sha256: str) -> bool:
        request = canvas_pb2.CanReadBlobRequest(user_id=user, sha256=sha256)
        reply = await self.client.call(self.client.stub.CanReadBlob, request)
        return bool(reply.readable)

    async def delete(self, user: str, canvas_id: str) -> None:
        request = canvas_pb2.DeleteCanvasRequest(user_id=user, canvas_id=canvas_id)
        await self.client.call(self.client.stub.DeleteCanvas, request)


MakeCanvases = Callable[..., Awaitable[Canvases]]


@pytest.fixture
async def make_canvases(
    stack: AsyncExitStack, pg_pool: asyncpg.Pool, devstack: DevStack
) -> AsyncIterator[MakeCanvases]:
    """``await make_canvases(batch=None)``: the service, calling ``batch`` (by default, an
    address where nothing listens: no test without one executes)."""
    await migrate(pg_pool, "canvas", MIGRATIONS)
    made: list[Canvases] = []

    async def make(batch: BatchClient | None = None) -> Canvases:
        nc = await nats.connect(devstack.nats_url, connect_timeout=5, max_reconnect_attempts=0)
        stack.push_async_callback(nc.close)
        cache = ReadCache(devstack.redis_url, namespace=f"canvas-test-{uuid.uuid4().hex}")
        stack.push_async_callback(cache.close)
        redis = Redis.from_url(devstack.redis_url)
        stack.push_async_callback(redis.aclose)
        if batch is None:
            nowhere = f"127.0.0.1:{free_port()}"
            batch = downstream(stack, "batch", nowhere, batch_pb2_grpc.BatchServiceStub)
        store = CanvasStore(pg_pool)
        executions = Executions(ResultStore(pg_pool), batch, nc.jetstream())
        servicer = CanvasServicer(store, CanvasCache(cache, store, nc), executions)
        address = await serve(
            stack,
            lambda server: canvas_pb2_grpc.add_CanvasServiceServicer_to_server(servicer, server),
        )
        client = downstream(stack, "canvas", address, canvas_pb2_grpc.CanvasServiceStub)
        made.append(Canvases(client, cache, redis, nc))
        return made[-1]

    yield make
    users = [user for canvases in made for user in canvases.users]
    await pg_pool.execute("DELETE FROM canvas.canvases WHERE owner_id = ANY($1)", users)


@pytest.fixture
async def canvases(make_canvases: MakeCanvases) -> Canvases:
    return await make_canvases()


# --- rename -----------------------------------------------------------------------------------


async def test_the_owner_and_a_writer_rename_a_reader_may_not_and_others_find_nothing(
    canvases: Canvases,
) -> None:
    owner, writer, reader, stranger = (canvases.user() for _ in range(4))
    canvas = await canvases.create(owner)
    await canvases.share(owner, canvas.id, writer, "write")
    await canvases.share(owner, canvas.id, reader, "read")

    renamed = await canvases.rename(owner, canvas.id, "  Episode 2 \t")
    assert (renamed.name, renamed.access, renamed.version) == ("Episode 2", "owner", 1)
    assert renamed.graph == canvas.graph, "the canvas as GetCanvas answers it"
    by_writer = await canvases.rename(writer, canvas.id, "Episode 3")
    assert (by_writer.name, by_writer.access) == ("Episode 3", "write")
    assert (await canvases.get(reader, canvas.id)).name == "Episode 3", "read through the cache"
    with pytest.raises(Forbidden, match="to read, not to change"):
        await canvases.rename(reader, canvas.id, "Episode 4")
    with pytest.raises(NotFound):
        await canvases.rename(stranger, canvas.id, "Episode 4")
    assert (await canvases.get(owner, canvas.id)).name == "Episode 3"


@pytest.mark.parametrize(
    ("name", "rule"),
    [
        ("", "1-200 characters"),
        (" \t ", "1-200 characters"),
        ("x" * 201, "1-200 characters"),
        ("Episode\n2", "control characters"),
        ("Episode\x002", "control characters"),
        ("Episode\x852", "control characters"),  # NEL, a C1 control
    ],
)
async def test_a_name_is_held_to_the_same_rules_at_create_and_rename(
    canvases: Canvases, name: str, rule: str
) -> None:
    owner = canvases.user()
    canvas = await canvases.create(owner, "Episode 1")
    with pytest.raises(InvalidArgument, match=rule):
        await canvases.rename(owner, canvas.id, name)
    with pytest.raises(InvalidArgument, match=rule):
        await canvases.create(owner, name)
    assert (await canvases.get(owner, canvas.id)).name == "Episode 1"


# --- shares -----------------------------------------------------------------------------------


async def test_only_the_owner_lists_shares_oldest_first(canvases: Canvases) -> None:
    owner, writer, reader, stranger = (canvases.user() for _ in range(4))
    canvas = await canvases.create(owner)
    assert await canvases.shares(owner, canvas.id) == []
    await canvases.share(owner, canvas.id, writer, "write")
    await canvases.share(owner, canvas.id, reader, "read")

    assert await canvases.shares(owner, canvas.id) == [(writer, "write"), (reader, "read")]
    with pytest.raises(Forbidden, match="only the canvas's owner"):
        await canvases.shares(writer, canvas.id)
    with pytest.raises(NotFound):
        await canvases.shares(stranger, canvas.id)
    with pytest.raises(InvalidArgument, match="its owner has every access"):
        await canvases.share(owner, canvas.id, owner, "read")


# --- delete -----------------------------------------------------------------------------------


async def test_only_the_owner_deletes_and_then_nobody_reads_it(canvases: Canvases) -> None:
    owner, writer, stranger = (canvases.user() for _ in range(3))
    canvas = await canvases.create(owner)
    await canvases.share(owner, canvas.id, writer, "write")
    await canvases.save(writer, canvas.id, storyboard())  # its character's reference: a blob
    await canvases.get(writer, canvas.id)  # cached, as an open canvas is
    assert await canvases.readable_blob(writer, REFERENCE)

    with pytest.raises(Forbidden, match="only the canvas's owner deletes it"):
        await canvases.delete(writer, canvas.id)
    with pytest.raises(NotFound):
        await canvases.delete(stranger, canvas.id)
    await canvases.get(writer, canvas.id)  # still there

    await canvases.delete(owner, canvas.id)
    for user in (owner, writer):
        with pytest.raises(NotFound):
            await canvases.get(user, canvas.id)
        listed = await canvases.client.call(
            canvases.client.stub.ListCanvases, canvas_pb2.ListCanvasesRequest(owner_id=user)
        )
        assert canvas.id not in {c.id for c in listed.canvases}
    with pytest.raises(NotFound):
        await canvases.delete(owner, canvas.id)
    with pytest.raises(NotFound):
        await canvases.rename(writer, canvas.id, "too late")
    for user in (owner, writer):
        assert not await canvases.readable_blob(user, REFERENCE)


async def test_a_delete_leaves_a_tombstone_raises_the_stamp_and_is_announced(
    canvases: Canvases,
) -> None:
    owner = canvases.user()
    canvas = await canvases.create(owner)
    before = stamp_of(canvas.updated_at.ToDatetime(tzinfo=UTC))
    announced: asyncio.Queue[CanvasChanged] = asyncio.Queue()

    async def heard(msg: Msg) -> None:
        await announced.put(Envelope.decode(msg.data).open(CanvasChanged))

    await canvases.nc.subscribe(canvas_changed_subject(canvas.id), cb=heard)
    await canvases.nc.flush()

    await canvases.delete(owner, canvas.id)

    async with asyncio.timeout(5):
        event = await announced.get()
    assert (event.canvas_id, event.version) == (canvas.id, 1)
    assert event.stamp > before
    assert await canvases.redis.get(canvas_stamp_key(canvas.id)) == str(event.stamp).encode()
    assert (await canvases.cache.get(canvas.id) or {}).get("deleted") is True
    # A reader that loaded the canvas just before the delete cannot put it back.
    await canvases.cache.put_if_newer(canvas.id, {"canvas": "as it was"}, event.stamp - 1)
    assert (await canvases.cache.get(canvas.id) or {}).get("deleted") is True
    with pytest.raises(NotFound):
        await canvases.get(owner, canvas.id)


async def test_deleting_a_canvas_cancels_its_running_execution(
    make_canvases: MakeCanvases, batch_service: BatchService, pg_pool: asyncpg.Pool
) -> None:
    canvases = await make_canvases(batch_service.client)
    owner = canvases.user()
    canvas = await canvases.create(owner)
    # A shot of its own, so its key is too: its frame is not cached from another test.
    await canvases.save(owner, canvas.id, storyboard(name=f"Enter {uuid.uuid4().hex[:8]}"))
    execute = canvas_pb2.ExecuteCanvasRequest(user_id=owner, canvas_id=canvas.id)
    started = await canvases.client.call(canvases.client.stub.ExecuteCanvas, execute)
    assert started.batch_id
    try:
        await canvases.delete(owner, canvas.id)

        asked = batch_pb2.GetBatchRequest(owner_id=owner, batch_id=started.batch_id)
        batch = await batch_service.client.call(batch_service.client.stub.GetBatch, asked)
        assert batch.state == "cancelled"
    finally:
        await pg_pool.execute("DELETE FROM batch.batches WHERE owner_id = $1", owner)


def _struct(value: dict[str, Any]) -> Struct:
    made = struct(value)
    assert made is not None
    return made


async def test_an_execute_that_loses_a_race_with_the_delete_cancels_what_it_submitted(
    batch_service: BatchService, pg_pool: asyncpg.Pool, nats_js: JetStreamContext
) -> None:
    """Execute checked access, then the owner deleted the canvas before its batch was
    recorded: the batch is cancelled and Execute answers that the canvas is gone."""
    store, owner = CanvasStore(pg_pool), f"user-{uuid.uuid4().hex}"
    canvas = await store.create(owner, "raced")
    await store.delete(canvas.id)
    runs = Executions(ResultStore(pg_pool), batch_service.client, nats_js)
    graph = graph_of(storyboard(name=f"Enter {uuid.uuid4().hex[:8]}"))
    try:
        with pytest.raises(NotFound, match=canvas.id):
            await runs.execute(canvas.id, 1, owner, graph)

        asked = batch_pb2.ListBatchesRequest(owner_id=owner)
        listed = await batch_service.client.call(batch_service.client.stub.ListBatches, asked)
        assert [b.state for b in listed.batches] == ["cancelled"]
    finally:
        await pg_pool.execute("DELETE FROM batch.batches WHERE owner_id = $1", owner)


async def test_an_editor_opening_a_canvas_gets_its_problems_only_when_it_asks(
    canvases: Canvases,
) -> None:
    owner = canvases.user()
    canvas = await canvases.create(owner)
    unfinished = {
        "nodes": [{"id": "s", "type": "shot", "position": {"x": 0, "y": 0}, "properties": {}}],
        "edges": [],
    }
    await canvases.save(owner, canvas.id, unfinished)

    plain = await canvases.get(owner, canvas.id)
    asked: canvas_pb2.Canvas = await canvases.client.call(
        canvases.client.stub.GetCanvas,
        canvas_pb2.GetCanvasRequest(owner_id=owner, canvas_id=canvas.id, with_problems=True),
    )
    validated: canvas_pb2.ValidateGraphResponse = await canvases.client.call(
        canvases.client.stub.ValidateGraph,
        canvas_pb2.ValidateGraphRequest(graph=_struct(unfinished)),
    )

    assert list(plain.problems) == []
    assert list(asked.problems) == list(validated.problems)
    kinds = {problem["kind"] for problem in asked.problems}
    assert {"required_property", "missing_connection"} <= kinds
