"""Finished renders, remembered by what determines them, so a repeat render is a lookup.

The key hashes the OpenSCAD version, the output format (and its revision, `REVISIONS`), the
parameter values (canonical JSON) and the source; the value points at the output blob.
Entries live in a JetStream KV bucket and expire after ``TTL_S``; the blobs themselves are
content-addressed and shared.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from dataclasses import asdict, dataclass
from typing import Any

from nats.js import JetStreamContext
from nats.js.api import KeyValueConfig
from nats.js.errors import KeyNotFoundError

from libs.bus.buckets import LazyBucket
from libs.logs import get_logger
from libs.metrics import RENDER_CACHE

__all__ = ["BUCKET", "REVISIONS", "CachedRender", "RenderCache", "cache_key", "engine_version"]

log = get_logger(__name__)

BUCKET = "render-cache"
TTL_S = 30 * 24 * 3600.0
# Bumped when what a format's bytes show changes while everything in its key stays the same,
# so entries made before are never served again. A format not named here is at revision 0,
# which adds nothing to its key: the keys made before revisions existed still hold.
REVISIONS = {
    "preview": 1,  # 1: drawn from the split programs, the innermost colour wins
}

_engine_version: str | None = None


async def engine_version() -> str:
    """``openscad --version`` (asked once per process): a new engine must not reuse old renders."""
    global _engine_version
    if _engine_version is None:
        process = await asyncio.create_subprocess_exec(
            "openscad",
            "--version",
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        output, _ = await process.communicate()
        _engine_version = output.decode(errors="replace").strip() or "unknown"
    return _engine_version


def cache_key(
    source: str,
    parameters: dict[str, Any],
    fmt: str,
    engine: str,
    *,
    view: dict[str, Any] | None = None,
) -> str:
    """What determines a render's bytes, hashed; ``view`` only for pictures."""
    document: dict[str, Any] = {
        "engine": engine,
        "format": fmt,
        "parameters": parameters,
        "source": source,
        "view": view,
    }
    if revision := REVISIONS.get(fmt, 0):
        document["revision"] = revision
    canonical = json.dumps(
        document,
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass(frozen=True)
class CachedRender:
    blob: str  # sha256 of the output in the blob store
    content_type: str
    seconds: float  # how long the original render took
    colours: tuple[str, ...] = ()  # the model's colours, "#rrggbbaa"


class RenderCache:
    def __init__(self, js: JetStreamContext) -> None:
        self._bucket = LazyBucket(js, KeyValueConfig(bucket=BUCKET, history=1, ttl=TTL_S))

    async def get(self, key: str, kind: str) -> CachedRender | None:
        """The render under ``key``; ``kind`` (the format, or "preview") labels the metric."""
        found = await self._lookup(key)
        RENDER_CACHE.labels(kind, "miss" if found is None else "hit").inc()
        return found

    async def _lookup(self, key: str) -> CachedRender | None:
        try:
            entry = await (await self._bucket.get()).get(key)
        except KeyNotFoundError:
            return None
        if not entry.value:
            return None
        try:
            fields = json.loads(entry.value)
            fields["colours"] = tuple(fields.get("colours", ()))
            return CachedRender(**fields)
        except (ValueError, TypeError) as exc:  # an entry from an incompatible release
            log.warning("render_cache.unreadable", key=key, error=str(exc))
            return None

    async def put(self, key: str, render: CachedRender) -> None:
        await (await self._bucket.get()).put(key, json.dumps(asdict(render)).encode())
