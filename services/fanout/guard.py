"""Keeps what each open connection holds allowed while it lives.

A revoked credential ends its connections at once (``Live.attach`` watches for it) and an
expiring one at its expiry; beside that, every ``recheck_s`` each session's or key's credential
is resolved again (4401 when auth no longer knows it) and every topic's access asked again. A
canvas whose sharing may have changed (``canvas.changed.<id>``) has its viewers asked at once,
and everything is checked after a NATS reconnect (what was announced meanwhile went unheard).
Losing access unsubscribes with ``access_lost``. A check that cannot be answered now (a peer
down) changes nothing: the next one decides.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Iterable

from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

from libs.bus.connection import when_reconnected
from libs.bus.subjects import ALL_CANVAS_CHANGES
from libs.errors import ShotgraphError, Unauthenticated
from libs.identity import Credential
from libs.live.protocol import CloseCode
from libs.logs import get_logger
from services.fanout.connection import Connection
from services.fanout.live import Live
from services.fanout.topics import parse_topic

__all__ = ["Guard"]

log = get_logger(__name__)

_CONCURRENCY = 8  # checks in flight at once: auth and the owning services are shared


class Guard:
    def __init__(self, live: Live, nc: Client, *, recheck_s: float) -> None:
        self._live = live
        self._nc = nc
        self._recheck_s = recheck_s
        self._changed: set[str] = set()  # canvases to ask about at once
        self._wake = asyncio.Event()
        self._subscription: Subscription | None = None
        self._task: asyncio.Task[None] | None = None
        self._sweep_now = False
        self._forget_reconnects: Callable[[], None] | None = None

    async def start(self) -> None:
        self._subscription = await self._nc.subscribe(ALL_CANVAS_CHANGES, cb=self._canvas_changed)
        self._task = asyncio.create_task(self._run())
        self._forget_reconnects = when_reconnected(self._nc, self._reconnected)

    async def _reconnected(self) -> None:
        # Changes and revocations announced while NATS was away were not heard: check all.
        self._sweep_now = True
        self._wake.set()

    async def stop(self) -> None:
        if self._forget_reconnects is not None:
            self._forget_reconnects()
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        if self._subscription is not None:
            with contextlib.suppress(Exception):
                await self._subscription.unsubscribe()

    async def _canvas_changed(self, msg: Msg) -> None:
        canvas_id = msg.subject.rpartition(".")[2]
        if self._live.hub.subscribers(f"canvas:{canvas_id}"):
            self._changed.add(canvas_id)
            self._wake.set()

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        next_sweep = loop.time() + self._recheck_s
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), max(0.0, next_sweep - loop.time()))
            self._wake.clear()
            try:
                if self._changed:
                    changed, self._changed = self._changed, set()
                    await self.check_canvases(changed)
                if self._sweep_now or loop.time() >= next_sweep:
                    self._sweep_now = False
                    next_sweep = loop.time() + self._recheck_s
                    await self.sweep()
            except Exception:  # a bug here must not stop every later check
                log.exception("fanout.guard_failed")

    async def sweep(self) -> None:
        """Check every connection's credential, then every topic of every connection."""
        connections = tuple(self._live.hub.connections)
        await self.check_credentials(connections)
        topics = {(c.user_id, name) for c in connections for name in c.topics}
        await self._check_topics(topics, connections)

    async def check_canvases(self, canvas_ids: Iterable[str]) -> None:
        """Ask again whether each viewer of these canvases may still read them."""
        hub = self._live.hub
        viewers = {c for cid in canvas_ids for c in hub.subscribers(f"canvas:{cid}")}
        keys = {f"canvas:{cid}" for cid in canvas_ids}
        topics = {
            (c.user_id, name) for c in viewers for name, key in c.topics.items() if key in keys
        }
        await self._check_topics(topics, viewers)

    async def check_credentials(self, connections: Iterable[Connection]) -> None:
        """End the connections whose credential auth no longer accepts (4401). A stream token
        is not asked again: it opens one connection and expires in a minute; revoking the
        session or key behind it ends the connection."""
        by_credential: dict[Credential, list[Connection]] = {}
        for connection in connections:
            credential = connection.credential
            if credential is not None and credential.kind != "stream":
                by_credential.setdefault(credential, []).append(connection)

        async def check(credential: Credential) -> None:
            try:
                await self._live.identities.resolve(credential)
            except Unauthenticated:
                for connection in by_credential[credential]:
                    self._live.hub.end(connection, CloseCode.UNAUTHENTICATED)
            except ShotgraphError as exc:
                log.warning("fanout.credential_unknown", error=str(exc))

        await _bounded(check(c) for c in by_credential)

    async def _check_topics(
        self, topics: set[tuple[str, str]], connections: Iterable[Connection]
    ) -> None:
        lost: set[tuple[str, str]] = set()

        async def check(user_id: str, name: str) -> None:
            try:
                key = await self._live.access.key_of(user_id, parse_topic(name))
            except ShotgraphError as exc:
                log.warning("fanout.access_unknown", topic=name, error=str(exc))
                return
            if key is None:
                lost.add((user_id, name))

        await _bounded(check(user, name) for user, name in topics)
        if not lost:
            return
        for connection in connections:
            for name in [n for n in connection.topics if (connection.user_id, n) in lost]:
                log.info("fanout.access_lost", connection=connection.id, topic=name)
                await self._live.unsubscribe(connection, name, "access_lost")


async def _bounded(checks: Iterable[Awaitable[None]]) -> None:
    """Run ``checks`` with at most ``_CONCURRENCY`` in flight."""
    limit = asyncio.Semaphore(_CONCURRENCY)

    async def one(check: Awaitable[None]) -> None:
        async with limit:
            await check

    await asyncio.gather(*(one(c) for c in checks))
