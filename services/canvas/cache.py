"""Canvas reads through Redis, kept fresh by ``canvas.changed`` events.

An entry is a canvas with its newest graph and its shares, stamped with the canvas's
``updated_at``; a deleted canvas's entry is a tombstone stamped with the moment it went, so a
reader that loaded the canvas just before cannot put it back. Whoever changes a canvas writes
the new entry through, raises the canvas's shared stamp (``libs.cache.canvas_stamp_key``: the
gateway checks its own copies against it), and then publishes ``canvas.changed.<id>`` with the
stamp; every replica's subscriber drops entries older than it. All are conditional on the
stamp (``ReadCache.put_if_newer``), so a slow writer can never put back an older canvas, and a
reader right after a save already finds the new one.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

from libs.bus import Envelope, publish
from libs.bus.events import CanvasChanged
from libs.bus.subjects import ALL_CANVAS_CHANGES, canvas_changed_subject
from libs.cache import ReadCache, canvas_stamp_key
from libs.errors import MalformedMessage, NewerVersion
from libs.logs import get_logger
from libs.metrics import CANVAS_CACHE
from services.canvas.store import CanvasRecord, CanvasStore, Deleted

__all__ = ["CachedCanvas", "CanvasCache"]

log = get_logger(__name__)

# One replica's worker per event is enough: the cache is shared.
_QUEUE_GROUP: Final = "canvas-cache"

CachedCanvas = tuple[CanvasRecord, dict[str, str]]  # the canvas as its owner sees it, shares
_DELETED: Final = "deleted"  # the member that makes an entry a tombstone


_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)


def stamp_of(moment: datetime) -> int:
    """A canvas's ``updated_at`` as the cache's ordering stamp: microseconds, exactly (the
    gateway computes the same number from the Timestamp it is sent)."""
    return (moment - _EPOCH) // timedelta(microseconds=1)


class CanvasCache:
    def __init__(self, cache: ReadCache, store: CanvasStore, nc: Client) -> None:
        self._cache = cache
        self._store = store
        self._nc = nc

    async def get(self, canvas_id: str) -> CachedCanvas | None:
        """The canvas from Redis, or else from Postgres (and then cached)."""
        cached = await self._cache.get(canvas_id)
        if isinstance(cached, dict) and cached.get(_DELETED) is True:
            CANVAS_CACHE.labels("hit").inc()
            return None
        if cached is not None:
            try:
                entry = _decode(cached)
            except (KeyError, TypeError, ValueError):
                log.warning("canvas.cache_entry_unreadable", canvas_id=canvas_id)
            else:
                CANVAS_CACHE.labels("hit").inc()
                return entry
        CANVAS_CACHE.labels("miss").inc()
        return await self.refresh(canvas_id)

    async def refresh(self, canvas_id: str) -> CachedCanvas | None:
        """Read the canvas from Postgres and cache it, unless a newer entry is cached."""
        head = await self._store.head(canvas_id)
        if head is not None:
            record, shares = head
            stamp = stamp_of(record.updated_at)
            await self._cache.put_if_newer(canvas_id, _encode(record, shares), stamp)
            await self._cache.raise_stamp(canvas_stamp_key(canvas_id), stamp)
        return head

    async def changed(self, canvas_id: str) -> None:
        """After a change is committed: cache the new canvas, and tell every replica."""
        head = await self.refresh(canvas_id)
        if head is None:
            return
        record = head[0]
        await self._announce(
            CanvasChanged(
                canvas_id=canvas_id, version=record.version, stamp=stamp_of(record.updated_at)
            )
        )

    async def deleted(self, canvas_id: str, gone: Deleted) -> None:
        """After a delete is committed: a tombstone in place of the entry, the stamp raised
        (the gateway's kept answers stop being served), and every replica and every open
        connection on the canvas told (fan-out asks its viewers' access again)."""
        stamp = stamp_of(gone.deleted_at)
        await self._cache.put_if_newer(canvas_id, {_DELETED: True}, stamp)
        await self._cache.raise_stamp(canvas_stamp_key(canvas_id), stamp)
        await self._announce(CanvasChanged(canvas_id=canvas_id, version=gone.version, stamp=stamp))

    async def _announce(self, event: CanvasChanged) -> None:
        try:
            await publish(self._nc, canvas_changed_subject(event.canvas_id), event)
        except Exception as exc:  # the entry written through is already the new one
            log.warning("canvas.changed_not_published", canvas_id=event.canvas_id, error=repr(exc))

    async def subscribe(self) -> Subscription:
        """Drop cached canvases older than each ``canvas.changed`` event."""
        return await self._nc.subscribe(ALL_CANVAS_CHANGES, queue=_QUEUE_GROUP, cb=self._on_changed)

    async def _on_changed(self, msg: Msg) -> None:
        try:
            event = Envelope.decode(msg.data).open(CanvasChanged)
        except NewerVersion as exc:
            # A newer release's word that this canvas changed, in a shape this one cannot
            # read: the subject names the canvas, and dropping its entry is always safe.
            log.warning("nats.newer_version", subject=msg.subject, error=str(exc))
            await self._cache.delete(msg.subject.rsplit(".", 1)[-1])
            return
        except MalformedMessage as exc:
            log.error("nats.malformed", subject=msg.subject, error=str(exc))
            return
        await self._cache.delete_if_older(event.canvas_id, event.stamp)


def _encode(record: CanvasRecord, shares: dict[str, str]) -> dict[str, Any]:
    fields = asdict(record)
    fields["created_at"] = record.created_at.isoformat()
    fields["updated_at"] = record.updated_at.isoformat()
    return {"canvas": fields, "shares": shares}


def _decode(entry: dict[str, Any]) -> CachedCanvas:
    fields = dict(entry["canvas"])
    fields["created_at"] = datetime.fromisoformat(fields["created_at"])
    fields["updated_at"] = datetime.fromisoformat(fields["updated_at"])
    return CanvasRecord(**fields), dict(entry["shares"])
