"""A read cache on Redis (aiocache) that degrades to a miss when Redis is slow or down."""

from __future__ import annotations

import json
from typing import Any, Final
from urllib.parse import urlparse

from aiocache import RedisCache
from aiocache.serializers import JsonSerializer

from libs.logs import get_logger

__all__ = ["ReadCache", "canvas_stamp_key"]

log = get_logger(__name__)

# A cache must never be the slow part: give up quickly and go to the source of truth.
_TIMEOUT_S = 0.25

# Stamped entries (see ``put_if_newer``): a write or a delete applies only if it is newer than
# what is cached, so writers and invalidations racing each other never leave a stale entry.
_PUT_IF_NEWER: Final = """
local cached = redis.call('GET', KEYS[1])
if cached then
  local ok, entry = pcall(cjson.decode, cached)
  if ok and type(entry) == 'table' and tonumber(entry['stamp'] or 0) >= tonumber(ARGV[2]) then
    return 0
  end
end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[3])
return 1
"""
_DELETE_IF_OLDER: Final = """
local cached = redis.call('GET', KEYS[1])
if not cached then return 0 end
local ok, entry = pcall(cjson.decode, cached)
if ok and type(entry) == 'table' and tonumber(entry['stamp'] or 0) >= tonumber(ARGV[1]) then
  return 0
end
redis.call('DEL', KEYS[1])
return 1
"""


# A stamp others may read: raised, never lowered, so a slow writer cannot bring back an older one.
_RAISE_STAMP: Final = """
local held = tonumber(redis.call('GET', KEYS[1]) or '0')
if held >= tonumber(ARGV[1]) then return 0 end
redis.call('SET', KEYS[1], ARGV[1])
return 1
"""


def canvas_stamp_key(canvas_id: str) -> str:
    """Where the canvas service keeps the stamp (``updated_at`` in microseconds) of a canvas's
    newest state: written before a change is answered, so whoever reads it after a save's
    answer sees the save. The gateway checks its copies of canvases against it."""
    return f"stamp:canvas:{canvas_id}"


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

    async def put_if_newer(self, key: str, value: dict[str, Any], stamp: int) -> None:
        """Cache ``value`` (stored with ``stamp``) unless an entry as new or newer is there."""
        entry = json.dumps({**value, "stamp": stamp})
        await self._script(_PUT_IF_NEWER, key, entry, stamp, self._ttl)

    async def delete_if_older(self, key: str, stamp: int) -> None:
        """Drop the entry unless it is at least as new as ``stamp``."""
        await self._script(_DELETE_IF_OLDER, key, stamp)

    async def raise_stamp(self, key: str, stamp: int) -> None:
        """Set the stamp at ``key`` (a name shared with other services, not one of this
        cache's namespace) to ``stamp`` unless it is already as new."""
        try:
            await self._cache.raw("eval", _RAISE_STAMP, 1, key, stamp)
        except Exception as exc:
            log.warning("cache.unavailable", op="stamp", error=str(exc))

    async def _script(self, script: str, key: str, *args: Any) -> None:
        try:
            await self._cache.raw("eval", script, 1, self._cache.build_key(key), *args)
        except Exception as exc:
            log.warning("cache.unavailable", op="script", error=str(exc))

    async def ping(self) -> bool:
        try:
            await self._cache.raw("ping")
            return True
        except Exception:
            return False

    async def close(self) -> None:
        await self._cache.close()
