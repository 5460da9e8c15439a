"""The hub of one fan-out process: every event of the stream, routed in memory to the local
connections that take it, and written to each in one frame per batching window.

One consumer per process (``Feed``) feeds the hub in stream order. Each event is checked and
encoded once per format however many connections take it (``EventItem``); each connection's
queue is written as one frame, built once for all connections whose queue holds the same items.
The window bounds how often the hub writes, not how long a message waits: a message that comes
after a quiet window is written at once, and what comes within a window of the last write waits
for the window's end and shares its frame. So a connection gets at most one frame per window,
and a lone event pays no window at all. One span per event continues the trace of whoever
published it.

A connection whose unsent bytes (its queue and the socket's buffer) pass ``queue_bytes`` is
ended as too slow (4008): it reconnects and resumes, and its memory is freed.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Iterable
from dataclasses import dataclass

from nats.aio.msg import Msg
from opentelemetry import propagate, trace
from opentelemetry.trace import SpanKind

from libs.errors import TooManyRequests, Unavailable
from libs.live.protocol import CloseCode, Reconnect, ServerMessage
from libs.logs import get_logger
from libs.metrics import (
    LIVE_BYTES,
    LIVE_CONNECTIONS,
    LIVE_DISCONNECTS,
    LIVE_EVENTS,
    LIVE_FRAMES,
    LIVE_REFUSALS,
)
from services.fanout.connection import Connection
from services.fanout.events import relayed_event, route_of
from services.fanout.wire import ControlItem, EventItem, Frames, Item

__all__ = ["Hub", "Limits"]

log = get_logger(__name__)
_tracer = trace.get_tracer(__name__)

_SERVICE = "fanout"
_RETRY_AFTER_S = 5  # seconds; Unavailable says the same
_DISCONNECT_REASONS = {
    CloseCode.TOO_SLOW: "slow",
    CloseCode.UNAUTHENTICATED: "credential",
    CloseCode.DRAINING: "draining",
    CloseCode.MALFORMED: "protocol",
    CloseCode.UNKNOWN_TYPE: "protocol",
    CloseCode.RESUME_NOT_FIRST: "protocol",
    CloseCode.MESSAGE_TOO_BIG: "protocol",
    CloseCode.SERVER_ERROR: "error",
}


@dataclass(frozen=True)
class Limits:
    max_connections: int = 20_000
    max_connections_per_user: int = 8
    queue_bytes: int = 256 * 1024
    window_s: float = 0.05  # 0: each message is written at once


class Hub:
    """Local connections by the keys they take (``user:<id>``, ``canvas:<id>``,
    ``batch:<id>``), and the one flush that writes to them."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.connections: set[Connection] = set()
        self.draining = False
        self.last_seq = 0  # the last stream sequence routed (or where the feed started)
        self._per_user: dict[str, int] = {}
        self._subscribers: dict[str, set[Connection]] = {}
        self._dirty: dict[Connection, None] = {}  # written at the next flush, in this order
        self._flush_pending = False
        self._last_flush = -float("inf")  # the loop's time of the last flush
        self._all_gone = asyncio.Event()
        self._all_gone.set()
        self.frames_built = 0  # frames built, and frames reused for another connection
        self.frames_reused = 0

    # --- connections --------------------------------------------------------------------------

    def check_open(self) -> None:
        """503 (try another replica) while this process drains or is full."""
        if self.draining:
            LIVE_REFUSALS.labels("draining").inc()
            raise Unavailable("this process is draining: connect to another")
        if len(self.connections) >= self.limits.max_connections:
            LIVE_REFUSALS.labels("process_cap").inc()
            raise Unavailable("this process holds all the connections it may")

    def admit(self, user_id: str) -> None:
        """Refuse a connection before it opens: 503 while draining or full, 429 over the
        user's cap."""
        self.check_open()
        if self._per_user.get(user_id, 0) >= self.limits.max_connections_per_user:
            LIVE_REFUSALS.labels("user_cap").inc()
            raise TooManyRequests(
                f"at most {self.limits.max_connections_per_user} live connections per user",
                retry_after=_RETRY_AFTER_S,
            )

    def open(self, connection: Connection) -> None:
        """Take ``connection``: from now on it gets its user's events."""
        self.connections.add(connection)
        self._all_gone.clear()
        user = connection.user_id
        self._per_user[user] = self._per_user.get(user, 0) + 1
        self._add_key(connection, f"user:{user}")
        LIVE_CONNECTIONS.labels(_SERVICE, connection.sink.transport).inc()

    def close(self, connection: Connection) -> None:
        """Forget ``connection`` (its handler is done with it)."""
        if connection not in self.connections:
            return
        self.connections.discard(connection)
        for key in connection.keys:
            self._remove_key(connection, key)
        connection.keys.clear()
        connection.topics.clear()
        if connection.timer is not None:
            connection.timer.cancel()
        connection.pending, connection.pending_bytes = [], 0
        connection.held, connection.held_bytes = None, 0
        self._dirty.pop(connection, None)
        user = connection.user_id
        left = self._per_user[user] - 1
        if left:
            self._per_user[user] = left
        else:
            del self._per_user[user]
        LIVE_CONNECTIONS.labels(_SERVICE, connection.sink.transport).dec()
        if not self.connections:
            self._all_gone.set()

    def end(self, connection: Connection, code: CloseCode) -> None:
        """End ``connection`` with ``code``; what it still had queued is dropped."""
        if connection.ended is not None or connection not in self.connections:
            return
        connection.ended = code
        connection.pending, connection.pending_bytes = [], 0
        connection.held, connection.held_bytes = None, 0
        self._dirty.pop(connection, None)
        reason = _DISCONNECT_REASONS.get(code)
        if reason is not None:
            LIVE_DISCONNECTS.labels(reason).inc()
        connection.sink.end(code)

    async def idle(self) -> None:
        """Until no connection is open."""
        await self._all_gone.wait()

    def count_of(self, user_id: str) -> int:
        return self._per_user.get(user_id, 0)

    # --- topics -------------------------------------------------------------------------------

    def subscribe(self, connection: Connection, topic: str, key: str) -> None:
        """``connection`` takes the events under ``key`` as its topic ``topic``."""
        if topic in connection.topics or connection not in self.connections:
            return
        connection.topics[topic] = key
        self._add_key(connection, key)

    def unsubscribe(self, connection: Connection, topic: str) -> bool:
        """False when ``connection`` had no such topic."""
        key = connection.topics.pop(topic, None)
        if key is None:
            return False
        self._drop_key(connection, key)
        return True

    def subscribers(self, key: str) -> frozenset[Connection]:
        return frozenset(self._subscribers.get(key, ()))

    def _add_key(self, connection: Connection, key: str) -> None:
        uses = connection.keys.get(key, 0)
        connection.keys[key] = uses + 1
        if not uses:
            self._subscribers.setdefault(key, set()).add(connection)

    def _drop_key(self, connection: Connection, key: str) -> None:
        uses = connection.keys.get(key, 0) - 1
        if uses > 0:
            connection.keys[key] = uses
            return
        connection.keys.pop(key, None)
        self._remove_key(connection, key)

    def _remove_key(self, connection: Connection, key: str) -> None:
        subscribers = self._subscribers.get(key)
        if subscribers is not None:
            subscribers.discard(connection)
            if not subscribers:
                del self._subscribers[key]

    # --- what is sent -------------------------------------------------------------------------

    def deliver(self, msg: Msg) -> None:
        """Route one message of the stream (from ``Feed``, in stream order)."""
        seq = msg.metadata.sequence.stream
        self.last_seq = seq
        route = route_of(msg.subject)
        if route is None:
            return
        with _tracer.start_as_current_span(
            "events deliver",
            context=propagate.extract(msg.headers or {}),
            kind=SpanKind.CONSUMER,
            attributes={"messaging.system": "nats", "messaging.destination.name": msg.subject},
        ) as span:
            relayed = relayed_event(msg.subject, msg.data)
            if relayed is None:
                LIVE_EVENTS.labels("malformed").inc()
                return
            targets = self._targets(route.keys)
            span.set_attribute("shotgraph.live.connections", len(targets))
            if not targets:
                LIVE_EVENTS.labels("unheard").inc()
                return
            item = EventItem(seq, route.topic, relayed.type, relayed.json, relayed.fields)
            for connection in targets:
                self.offer(connection, item)
            LIVE_EVENTS.labels("routed").inc()

    def _targets(self, keys: Iterable[str]) -> set[Connection] | frozenset[Connection]:
        found: list[set[Connection]] = [s for k in keys if (s := self._subscribers.get(k))]
        if not found:
            return frozenset()
        if len(found) == 1:
            return found[0]
        return set().union(*found)  # one delivery to a connection that takes both

    def send(self, connection: Connection, message: ServerMessage) -> None:
        """Queue a message for one connection (a reply, ``hello``)."""
        self.offer(connection, ControlItem(message))

    def broadcast(self, key: str, message: ServerMessage) -> None:
        """Queue one message, encoded once per format, for every connection taking ``key``."""
        item = ControlItem(message)
        for connection in tuple(self._subscribers.get(key, ())):
            self.offer(connection, item)

    def offer(self, connection: Connection, item: Item, *, replayed: bool = False) -> None:
        """Queue ``item`` for ``connection``: an event at or below its watermark is dropped,
        a live one arriving while it replays is held; a queue over its bound ends it (too
        slow)."""
        if connection.ended is not None:
            return
        seq = item.seq
        if seq is not None and seq <= connection.watermark:
            return
        if connection.unsent() > self.limits.queue_bytes:
            log.info("fanout.too_slow", connection=connection.id, unsent=connection.unsent())
            self.end(connection, CloseCode.TOO_SLOW)
            return
        size = len(item.encoded(connection.wire))
        if seq is not None:
            if connection.held is not None and not replayed:
                connection.held.append(item)
                connection.held_bytes += size
                return
            connection.watermark = seq
        connection.pending.append(item)
        connection.pending_bytes += size
        if connection not in self._dirty:
            self._dirty[connection] = None
            self._schedule()

    def hold(self, connection: Connection) -> None:
        """Hold ``connection``'s live events (it is about to replay) until ``release``."""
        if connection.held is None:
            connection.held, connection.held_bytes = [], 0

    def release(self, connection: Connection) -> None:
        """Queue the live events held, after those replayed: the ones replayed are dropped by
        the watermark."""
        if connection.timer is not None:
            connection.timer.cancel()
            connection.timer = None
        held = connection.held
        if held is None:
            return
        connection.held, connection.held_bytes = None, 0
        for item in held:
            self.offer(connection, item)

    # --- writing ------------------------------------------------------------------------------

    def _schedule(self) -> None:
        if self._flush_pending:
            return
        self._flush_pending = True
        loop = asyncio.get_running_loop()
        wait = self._last_flush + self.limits.window_s - loop.time()
        if wait > 0:
            loop.call_later(wait, self._flush)
        else:
            loop.call_soon(self._flush)

    def _flush(self) -> None:
        """Write every connection's queue as one frame; identical frames are built once."""
        self._flush_pending = False
        self._last_flush = asyncio.get_running_loop().time()
        dirty, self._dirty = self._dirty, {}
        frames = Frames()
        written: dict[str, list[int]] = {}
        for connection in dirty:
            if connection.ended is None and connection.pending:
                self._write(connection, frames.frame(connection.wire, connection.take()), written)
        self.frames_built += frames.built
        self.frames_reused += frames.reused
        for transport, (count, size) in written.items():
            LIVE_FRAMES.labels(transport).inc(count)
            LIVE_BYTES.labels(transport).inc(size)

    def flush_now(self, connection: Connection) -> None:
        """Write ``connection``'s queue at once (a replay does not wait for the window)."""
        if connection.ended is None and connection.pending:
            self._dirty.pop(connection, None)
            written: dict[str, list[int]] = {}
            self._write(connection, Frames().frame(connection.wire, connection.take()), written)
            for transport, (count, size) in written.items():
                LIVE_FRAMES.labels(transport).inc(count)
                LIVE_BYTES.labels(transport).inc(size)

    def _write(self, connection: Connection, frame: bytes, written: dict[str, list[int]]) -> None:
        sink = connection.sink
        if not sink.write(frame):
            return  # the peer left; its handler closes the connection
        tally = written.setdefault(sink.transport, [0, 0])
        tally[0] += 1
        tally[1] += len(frame)

    # --- stopping -----------------------------------------------------------------------------

    async def drain(self, jitter_ms: int, timeout_s: float) -> None:
        """Tell every connection to reconnect elsewhere after a jittered delay, end it, and
        wait (at most ``timeout_s``) until every handler is done. New connections get 503."""
        self.draining = True
        for connection in tuple(self.connections):
            if connection.ended is None:
                self.release(connection)
                after_ms = round(random.uniform(0, jitter_ms))
                self.send(connection, Reconnect(after_ms=after_ms))
                self.flush_now(connection)
                self.end(connection, CloseCode.DRAINING)
        try:
            await asyncio.wait_for(self.idle(), timeout_s)
        except TimeoutError:
            log.warning("fanout.drain_timeout", left=len(self.connections))
