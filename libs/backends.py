"""Connections opened at start and closed on exit: NATS, Postgres and Redis (checked by
/readyz), and the other services a service calls."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AsyncExitStack
from pathlib import Path
from typing import TypeVar

import asyncpg
import grpc
from nats.aio.client import Client
from nats.js import JetStreamContext
from redis.asyncio import Redis

from libs.bus import connect, ensure_streams
from libs.cache import ReadCache
from libs.config import RpcClientSettings, Settings
from libs.db import create_pool, migrate
from libs.downstream import Downstream
from libs.resilience import Breakers, retry_until_ready
from libs.web import ReadinessCheck

__all__ = ["open_cache", "open_database", "open_downstream", "open_nats", "open_redis"]

Stub = TypeVar("Stub")


async def open_nats(
    settings: Settings, stack: AsyncExitStack
) -> tuple[Client, JetStreamContext, ReadinessCheck]:
    """Connect, declare the platform's streams, and drain the connection at exit."""
    nc = await retry_until_ready("nats", lambda: connect(settings.nats_url, settings.service))
    stack.push_async_callback(nc.drain)
    js = nc.jetstream(timeout=5)
    await ensure_streams(js)

    async def nats_ready() -> bool:
        return nc.is_connected

    return nc, js, nats_ready


async def open_database(
    settings: Settings, stack: AsyncExitStack, schema: str, migrations: Path
) -> tuple[asyncpg.Pool, ReadinessCheck]:
    """A pool on the service's own schema, migrated to the newest version before serving."""
    pool = await retry_until_ready("postgres", lambda: create_pool(settings.database_url))
    stack.push_async_callback(pool.close)
    await migrate(pool, schema, migrations)

    async def database_ready() -> bool:
        return await pool.fetchval("SELECT 1") == 1

    return pool, database_ready


def open_redis(
    settings: Settings, stack: AsyncExitStack, *, timeout_s: float = 0.25
) -> tuple[Redis, ReadinessCheck]:
    """A Redis client for state that is not a cache (sessions, rate limits): short timeouts, so
    an outage is noticed at once and the caller decides how to degrade. Connects lazily."""
    client = Redis.from_url(
        settings.redis_url,
        socket_timeout=timeout_s,
        socket_connect_timeout=timeout_s,
        health_check_interval=30,
    )
    stack.push_async_callback(client.aclose)

    async def redis_ready() -> bool:
        return bool(await client.ping())

    return client, redis_ready


def open_cache(
    settings: Settings, stack: AsyncExitStack, namespace: str, ttl_s: int = 60
) -> ReadCache:
    cache = ReadCache(settings.redis_url, namespace, ttl_s)
    stack.push_async_callback(cache.close)
    return cache


def open_downstream(
    settings: RpcClientSettings,
    stack: AsyncExitStack,
    name: str,
    address: str,
    stub: Callable[[grpc.aio.Channel], Stub],
    breakers: Breakers | None = None,
) -> Downstream[Stub]:
    """Another service to call, with the configured deadline; its channel closes at exit.
    Services called from one process share ``breakers`` (one breaker per peer within it)."""
    service = Downstream(
        name,
        address,
        stub,
        deadline_s=settings.grpc_deadline_s,
        breakers=breakers or Breakers(),
    )
    stack.push_async_callback(service.close)
    return service
