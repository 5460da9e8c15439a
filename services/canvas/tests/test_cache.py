"""Canvas reads through a real Redis, kept fresh by ``canvas.changed`` events on a real NATS."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import asyncpg
import nats
import pytest
from nats.aio.client import Client
from prometheus_client import REGISTRY

from libs.cache import ReadCache
from libs.db import migrate
from libs.devstack import DevStack
from services.canvas.app import MIGRATIONS
from services.canvas.cache import CanvasCache, stamp_of
from services.canvas.store import CanvasStore

GRAPH = {
    "nodes": [{"id": "a", "type": "character", "position": {"x": 0, "y": 0}, "properties": {}}],
    "edges": [],
}


@pytest.fixture
async def store(pg_pool: asyncpg.Pool) -> AsyncIterator[CanvasStore]:
    await migrate(pg_pool, "canvas", MIGRATIONS)
    yield CanvasStore(pg_pool)
    await pg_pool.execute("DELETE FROM canvas.canvases WHERE owner_id LIKE 'cache-test-%'")


@pytest.fixture
async def nc(devstack: DevStack) -> AsyncIterator[Client]:
    client = await nats.connect(devstack.nats_url, connect_timeout=5, max_reconnect_attempts=0)
    yield client
    await client.close()


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[ReadCache]:
    cache = ReadCache(redis_url, namespace=f"canvas-test-{uuid.uuid4().hex}", ttl_s=60)
    yield cache
    await cache.close()


def reads(result: str) -> float:
    return REGISTRY.get_sample_value("shotgraph_canvas_cache_reads_total", {"result": result}) or 0


async def until_gone(redis: ReadCache, key: str) -> None:
    """Wait for the subscriber to act on the event (bounded: the test fails, never hangs)."""
    async with asyncio.timeout(5):
        # The subscriber's only visible effect is in Redis: there is no event to wait on.
        while await redis.get(key) is not None:  # noqa: ASYNC110
            await asyncio.sleep(0.01)


async def test_a_read_after_a_save_finds_the_new_canvas_cached(
    store: CanvasStore, redis: ReadCache, nc: Client
) -> None:
    cache = CanvasCache(redis, store, nc)
    canvas = await store.create("cache-test-1", "written through")
    misses, hits = reads("miss"), reads("hit")
    assert (await cache.get(canvas.id)) is not None
    assert (await cache.get(canvas.id)) is not None
    assert (reads("miss") - misses, reads("hit") - hits) == (1, 1)

    await store.save(canvas.id, "cache-test-1", 1, GRAPH, "", autosave=False)
    await cache.changed(canvas.id)  # what every writer does after its commit
    found = await cache.get(canvas.id)
    assert found is not None and found[0].version == 2 and found[0].graph == GRAPH
    assert reads("hit") - hits == 2, "the new version came from Redis"


async def test_a_change_event_drops_what_another_replica_cached_before_it(
    store: CanvasStore, redis: ReadCache, nc: Client
) -> None:
    """A writer whose own cache write failed still publishes; every replica then forgets the
    old canvas, and the next read goes to Postgres."""
    replica = CanvasCache(redis, store, nc)
    subscription = await replica.subscribe()
    try:
        canvas = await store.create("cache-test-2", "invalidated")
        await replica.get(canvas.id)
        assert await redis.get(canvas.id) is not None

        await store.save(canvas.id, "cache-test-2", 1, GRAPH, "", autosave=False)
        head = await store.head(canvas.id)
        assert head is not None
        writer = CanvasCache(ReadCache("redis://127.0.0.1:1/0", "down"), store, nc)
        await writer.changed(canvas.id)  # Redis unreachable for it: only the event goes out
        await until_gone(redis, canvas.id)
        found = await replica.get(canvas.id)
        assert found is not None and found[0].version == 2

        # A slow reader that loaded version 1 before the save cannot put it back.
        await redis.put_if_newer(canvas.id, {"stale": True}, stamp_of(canvas.updated_at))
        assert (await redis.get(canvas.id) or {}).get("stale") is None
    finally:
        await subscription.unsubscribe()
