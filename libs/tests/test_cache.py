"""ReadCache on a real Redis, and on a port where nothing listens: a miss, never an error."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest

from libs.cache import ReadCache
from libs.ports import free_port


@pytest.fixture
async def cache(redis_url: str) -> AsyncIterator[ReadCache]:
    cache = ReadCache(redis_url, namespace=f"test-{uuid.uuid4().hex}:", ttl_s=30)
    yield cache
    await cache.close()


@pytest.fixture
async def cache_without_redis() -> AsyncIterator[ReadCache]:
    cache = ReadCache(f"redis://127.0.0.1:{free_port()}/0", namespace="down:")
    yield cache
    await cache.close()


async def test_set_get_delete_round_trip(cache: ReadCache) -> None:
    value = {"id": "c1", "name": "Shot 010", "tags": ["a", "b"], "version": 3}

    assert await cache.get("c1") is None
    await cache.set("c1", value)
    assert await cache.get("c1") == value
    await cache.delete("c1")
    assert await cache.get("c1") is None


async def test_namespaces_do_not_see_each_other(cache: ReadCache, redis_url: str) -> None:
    other = ReadCache(redis_url, namespace=f"other-{uuid.uuid4().hex}:")
    try:
        await cache.set("k", "mine")
        assert await other.get("k") is None
    finally:
        await other.close()


async def test_ping_answers(cache: ReadCache, cache_without_redis: ReadCache) -> None:
    assert await cache.ping()
    assert not await asyncio.wait_for(cache_without_redis.ping(), 2)


async def test_down_redis_is_a_quick_miss(cache_without_redis: ReadCache) -> None:
    assert await asyncio.wait_for(cache_without_redis.get("k"), 2) is None


async def test_down_redis_writes_do_not_raise(cache_without_redis: ReadCache) -> None:
    await asyncio.wait_for(cache_without_redis.set("k", {"v": 1}), 2)
    await asyncio.wait_for(cache_without_redis.delete("k"), 2)


async def test_stamped_entries_only_move_forward(cache: ReadCache) -> None:
    await cache.put_if_newer("c1", {"version": 2}, stamp=20)
    await cache.put_if_newer("c1", {"version": 1}, stamp=10)  # a slow writer, arriving late
    assert await cache.get("c1") == {"version": 2, "stamp": 20}
    await cache.delete_if_older("c1", stamp=20)  # the invalidation of the write it holds
    assert await cache.get("c1") == {"version": 2, "stamp": 20}
    await cache.delete_if_older("c1", stamp=30)  # a change it does not hold yet
    assert await cache.get("c1") is None
    await cache.put_if_newer("c1", {"version": 3}, stamp=30)
    assert await cache.get("c1") == {"version": 3, "stamp": 30}


async def test_stamped_operations_without_redis_are_no_ops(cache_without_redis: ReadCache) -> None:
    await cache_without_redis.put_if_newer("c1", {"version": 1}, stamp=1)
    await cache_without_redis.delete_if_older("c1", stamp=2)
    assert await cache_without_redis.get("c1") is None
