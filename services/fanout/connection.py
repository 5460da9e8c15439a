"""One live connection as the hub sees it: who, which topics, and what waits to be written.

Kept small (``__slots__``, no task of its own): a process holds tens of thousands. What is
written goes straight to the socket's transport without waiting for it (``Sink``); the bytes
not yet sent are the connection's queue, bounded by the hub.
"""

from __future__ import annotations

import asyncio
import itertools
import os
from collections.abc import Callable
from typing import Protocol

from libs.identity import Credential, Identity
from libs.live.protocol import CloseCode
from services.fanout.wire import Item, Wire

__all__ = ["Connection", "Sink"]

# Connection ids: unique across processes and restarts, cheap to make.
_PREFIX = f"{os.getpid():x}-{os.urandom(3).hex()}-"
_numbers = itertools.count(1)


class Sink(Protocol):
    """Where a connection's frames go."""

    transport: str  # "websocket" or "sse": the metrics' label

    def buffered(self) -> int:
        """Bytes written but not yet taken by the socket."""

    def write(self, data: bytes) -> bool:
        """Write ``data`` without waiting; False when the peer is gone."""

    async def drain(self) -> None:
        """Wait until the socket has taken most of what was written."""

    def end(self, code: CloseCode | None) -> None:
        """End the connection (a WebSocket with ``code``) and wake its handler."""


class Connection:
    """A user's connection: its topics, its position in the stream, and its queue."""

    __slots__ = (
        "credential",
        "ended",
        "expiry",
        "held",
        "held_bytes",
        "id",
        "identity",
        "keys",
        "pending",
        "pending_bytes",
        "sink",
        "timer",
        "topics",
        "unwatch",
        "watermark",
        "wire",
    )

    def __init__(
        self, identity: Identity, credential: Credential | None, wire: Wire, sink: Sink
    ) -> None:
        self.id = f"{_PREFIX}{next(_numbers)}"
        self.identity = identity
        self.credential = credential  # checked again while the connection lives
        self.wire = wire
        self.sink = sink
        self.topics: dict[str, str] = {}  # topic name -> hub key
        self.keys: dict[str, int] = {}  # hub key -> how many of its topics use it
        self.watermark = 0  # the highest stream sequence queued: nothing at or below again
        self.pending: list[Item] = []
        self.pending_bytes = 0
        self.held: list[Item] | None = None  # live events held while the client replays
        self.held_bytes = 0
        self.ended: CloseCode | None = None
        self.timer: asyncio.TimerHandle | None = None  # the end of its wait for a first message
        self.expiry: asyncio.TimerHandle | None = None  # its credential's expiry
        self.unwatch: Callable[[], None] | None = None  # stops watching for a revocation

    @property
    def user_id(self) -> str:
        return self.identity.user_id

    def unsent(self) -> int:
        """Bytes queued for this connection that its client has not taken yet."""
        return self.pending_bytes + self.held_bytes + self.sink.buffered()

    def take(self) -> list[Item]:
        items, self.pending, self.pending_bytes = self.pending, [], 0
        return items
