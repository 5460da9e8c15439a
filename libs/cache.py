"""A read cache on Redis (aiocache) that degrades to a miss when Redis is slow or down."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlparse

from aiocache import RedisCache
from aiocache.serializers import JsonSerializer

from libs.logs import get_logger

__all__ = ["ReadCache"]

log = get_logger(__name__)

# A cache must never be the slow part: give up quickly and go to the source of truth.
_TIMEOUT_S = 0.25


class ReadCache:
    """Cache-aside helper: ``get`` returns None on a miss *or* an outage; writes are best effort."""

    def __init__(self, redis_url: str, namespace: str, ttl_s: int = 60) -> None:
        url = urlparse(redis_url)
        self._ttl = ttl_s
        self._cache = RedisCache(
            serializer=JsonSerializer(),
            endpoint=url.hostname or "127.0.0.1",
            port=url.port or 6379,
            db=int((url.path or "/0").lstrip("/") or 0),
            password=url.password,
            namespace=namespace,
            timeout=_TIMEOUT_S,
            create_connection_timeout=_TIMEOUT_S,
        )

    async def get(self, key: str) -> Any | None:
        try:
            return await self._cache.get(key)
        except Exception as exc:
            log.warning("cache.unavailable", op="get", error=str(exc))
            return None

    async def set(self, key: str, value: Any) -> None:
        try:
            await self._cache.set(key, value, ttl=self._ttl)
        except Exception as exc:
            log.warning("cache.unavailable", op="set", error=str(exc))

    async def delete(self, key: str) -> None:
        try:
            await self._cache.delete(key)
        except Exception as exc:
            log.warning("cache.unavailable", op="delete", error=str(exc))

    async def ping(self) -> bool:
        try:
            await self._cache.raw("ping")
            return True
        except Exception:
            return False

    async def close(self) -> None:
        await self._cache.close()
