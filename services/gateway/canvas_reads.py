"""Canvases as this gateway worker last answered them, served again while they are current.

``GET /v1/canvases/{id}`` is what the studio reads most. The canvas service raises a canvas's
stamp in Redis (``libs.cache.canvas_stamp_key``) before it answers any change to it (a save,
a share, a restore); the rate limiter reads that stamp in its one round trip to Redis
(``peek``). An answer kept here is served only while its stamp is the one just read, so a read
that follows a save's answer never gets the old canvas, on any worker, and one that follows a
share taken away is asked of the canvas service again. Without a stamp (Redis unreachable, the
limiter switched off) nothing is served from here.

Every worker also hears ``canvas.changed`` and forgets answers older than it: should the canvas
service fail to raise a stamp (Redis slow for a moment), the event still retires the old answer.

Answers are kept per user (they say what the user may do with the canvas) and bounded in bytes,
least recently used first out.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field

from aiohttp import web
from nats.aio.client import Client
from nats.aio.msg import Msg

from libs.bus import Envelope
from libs.bus.events import CanvasChanged
from libs.bus.subjects import ALL_CANVAS_CHANGES
from libs.cache import canvas_stamp_key
from libs.errors import ShotgraphError
from services.gateway.ratelimits import RATE_LIMIT

__all__ = ["CanvasReads", "Kept", "current_stamp", "stamp_to_check"]

_ROUTE = "/v1/canvases/{canvas_id}"
_MAX_ID = 64  # longer is no canvas id: nothing to look up


@dataclass(frozen=True)
class Kept:
    stamp: int  # the canvas's updated_at, in microseconds
    body: bytes
    etag: str
    # The body in each content coding sent so far (``compression.ENCODINGS``): made once.
    encodings: dict[str, bytes] = field(default_factory=dict, compare=False)


def stamp_to_check(request: web.Request) -> str | None:
    """For the rate limiter: the stamp key a canvas read needs, read in the same round trip."""
    resource = request.match_info.route.resource
    if request.method != "GET" or resource is None or resource.canonical != _ROUTE:
        return None
    canvas_id = request.match_info["canvas_id"]
    return canvas_stamp_key(canvas_id) if len(canvas_id) <= _MAX_ID else None


def current_stamp(request: web.Request) -> int | None:
    """The canvas's stamp as read for this request; None when it could not be."""
    decision = request.get(RATE_LIMIT)
    peeked = decision.peeked if decision is not None else None
    return int(peeked) if peeked is not None and peeked.isdigit() else None


class CanvasReads:
    def __init__(self, max_bytes: int = 32 << 20) -> None:
        self._max_bytes = max_bytes
        self._bytes = 0
        self._kept: OrderedDict[tuple[str, str], Kept] = OrderedDict()
        self._readers: dict[str, set[str]] = {}  # canvas id -> users with an answer kept

    async def listen(self, nc: Client) -> None:
        """Forget answers older than each ``canvas.changed`` this worker hears."""

        async def changed(msg: Msg) -> None:
            try:
                event = Envelope.decode(msg.data).open(CanvasChanged)
            except ShotgraphError:  # unreadable, or newer: forget the canvas altogether
                self.forget(msg.subject.rsplit(".", 1)[-1], older_than=None)
                return
            self.forget(event.canvas_id, older_than=event.stamp)

        await nc.subscribe(ALL_CANVAS_CHANGES, cb=changed)

    def forget(self, canvas_id: str, older_than: int | None) -> None:
        """Drop the canvas's answers older than ``older_than`` (None: all of them)."""
        for user_id in list(self._readers.get(canvas_id, ())):
            kept = self._kept.get((user_id, canvas_id))
            if kept is not None and (older_than is None or kept.stamp < older_than):
                self._drop((user_id, canvas_id))

    def _drop(self, key: tuple[str, str]) -> None:
        kept = self._kept.pop(key, None)
        if kept is None:
            return
        self._bytes -= len(kept.body)
        user_id, canvas_id = key
        readers = self._readers.get(canvas_id)
        if readers is not None:
            readers.discard(user_id)
            if not readers:
                del self._readers[canvas_id]

    def get(self, user_id: str, canvas_id: str, stamp: int) -> Kept | None:
        """The answer kept for this user and canvas if it is of ``stamp``, the current one."""
        kept = self._kept.get((user_id, canvas_id))
        if kept is None or kept.stamp != stamp:
            return None
        self._kept.move_to_end((user_id, canvas_id))
        return kept

    def put(self, user_id: str, canvas_id: str, kept: Kept, current: int) -> None:
        """Keep ``kept`` unless it is older than the ``current`` stamp read before it was
        asked for (then it is already out of date, and must not be served)."""
        if kept.stamp < current or len(kept.body) > self._max_bytes // 16:
            return
        self._drop((user_id, canvas_id))
        self._kept[(user_id, canvas_id)] = kept
        self._readers.setdefault(canvas_id, set()).add(user_id)
        self._bytes += len(kept.body)
        while self._bytes > self._max_bytes:
            self._drop(next(iter(self._kept)))
