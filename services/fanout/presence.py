"""Who views which canvas, shared by every fan-out process through one NATS KV bucket.

Each open viewing is a key ``<canvas_id>.<user_id>.<connection_id>`` whose value is the
``Viewer`` (MessagePack). The process holding the connection re-puts its keys every
``heartbeat_s``; the bucket's TTL removes the keys of a process that died, and the server then
writes a delete marker (``Nats-Marker-Reason: MaxAge``) that every watcher sees. Each process
watches the whole bucket once and keeps canvas → user → connections in memory, so ``join`` and
``leave`` are told once per user, whichever process holds their connections.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable, Coroutine
from contextlib import suppress
from dataclasses import dataclass
from typing import Any, Final, Literal

import msgspec
import nats.errors
from nats.aio.client import Client
from nats.js import JetStreamContext
from nats.js.api import KeyValueConfig
from nats.js.errors import BadRequestError
from nats.js.kv import KeyValue
from tenacity import AsyncRetrying, retry_if_exception_type, wait_exponential_jitter

from libs.bus.connection import when_reconnected
from libs.errors import InvalidArgument
from libs.live.protocol import Viewer
from libs.logs import get_logger

__all__ = ["PRESENCE_BUCKET", "Presence", "PresenceChange", "open_presence", "presence_key"]

log = get_logger(__name__)

PRESENCE_BUCKET: Final = "presence"
# A key token: what a KV key allows, less its separator, so a key always splits in three.
_TOKEN = re.compile(r"[-_=A-Za-z0-9]{1,128}")
# Re-puts in flight at once: a heartbeat of thousands of keys costs a few round trips.
_PUTS_AT_ONCE = 128
_STREAM_CONFIG_DIFFERS = 10058  # JetStream: "stream name already in use with a different ..."
_NATS_TROUBLE = (nats.errors.Error, TimeoutError)

_encode = msgspec.msgpack.Encoder().encode
_decode = msgspec.msgpack.Decoder(Viewer).decode


@dataclass(frozen=True)
class PresenceChange:
    """A user's first connection on a canvas appeared (``join``) or their last one went."""

    canvas_id: str
    action: Literal["join", "leave"]
    viewer: Viewer


async def open_presence(
    js: JetStreamContext, *, bucket: str = PRESENCE_BUCKET, ttl_s: float = 30.0
) -> KeyValue:
    """The presence bucket, created if missing: keys live ``ttl_s`` unless re-put, and their
    expiry leaves a marker (kept as long) that watchers see as a purge."""
    config = KeyValueConfig(bucket=bucket, history=1, ttl=ttl_s, limit_marker_ttl=ttl_s)
    try:
        return await js.create_key_value(config)  # idempotent with the same configuration
    except BadRequestError as exc:
        if exc.err_code != _STREAM_CONFIG_DIFFERS:
            raise
        raise RuntimeError(
            f"the KV bucket {bucket!r} exists with another TTL or without expiry markers;"
            f" delete it (nats kv del {bucket}) and restart fan-out"
        ) from exc


def presence_key(canvas_id: str, user_id: str, connection_id: str) -> str:
    """The bucket key of one viewing; ``InvalidArgument`` for an id that is no safe token."""
    for what, value in (
        ("canvas id", canvas_id),
        ("user id", user_id),
        ("connection id", connection_id),
    ):
        if not _TOKEN.fullmatch(value):
            raise InvalidArgument(
                f"{what} {value!r} cannot be a presence key: 1 to 128 of A-Z a-z 0-9 - _ ="
            )
    return f"{canvas_id}.{user_id}.{connection_id}"


@dataclass
class _Viewing:
    """One user on one canvas as this process sees it: who, and through which connections."""

    viewer: Viewer
    connections: set[str]


# canvas id → user id → their viewing.
_View = dict[str, dict[str, _Viewing]]


class Presence:
    """This process's share of presence: the keys of its own connections, kept alive by one
    heartbeat task, and everyone's viewers, kept by one watch over the whole bucket."""

    def __init__(
        self,
        kv: KeyValue,
        on_change: Callable[[PresenceChange], None],
        *,
        ttl_s: float = 30.0,
        heartbeat_s: float = 10.0,
    ) -> None:
        # ``ttl_s`` is the bucket's (``open_presence``): a key must be re-put well within it.
        if not 0 < heartbeat_s < ttl_s:
            raise ValueError(
                f"heartbeat_s ({heartbeat_s}) must be above 0 and below ttl_s ({ttl_s})"
            )
        self._kv = kv
        self._on_change = on_change
        self._heartbeat_s = heartbeat_s
        self._held: dict[str, bytes] = {}  # this process's keys → their values
        self._view: _View = {}
        self._watcher: KeyValue.KeyWatcher | None = None
        self._following: asyncio.Task[None] | None = None
        self._beating: asyncio.Task[None] | None = None
        self._beat_now = asyncio.Event()
        self._forget_reconnects: Callable[[], None] | None = None

    @property
    def _nc(self) -> Client:
        # nats-py offers no public way from a bucket to its connection; the reconnect hook and
        # the heartbeat's "connected?" check need it.
        return self._kv._js._nc

    async def start(self) -> None:
        """Load who views what (``join`` for each), then follow changes and beat."""
        watcher = await self._rebuild()
        self._following = _task(self._follow(watcher), "presence-watch")
        self._beating = _task(self._beat(), "presence-heartbeat")
        self._forget_reconnects = when_reconnected(self._nc, self._reconnected)

    async def stop(self) -> None:
        """Stop watching and beating. Held keys are not deleted: they expire after the TTL,
        so a draining process's viewers who reconnect elsewhere at once never seem to leave."""
        if self._forget_reconnects is not None:
            self._forget_reconnects()
        for task in (self._following, self._beating):
            if task is not None:
                task.cancel()
                with suppress(asyncio.CancelledError):
                    await task
        await self._stop_watcher()

    async def join(self, canvas_id: str, viewer: Viewer, connection_id: str) -> None:
        """Announce one connection viewing a canvas; kept alive until ``leave``.

        A NATS failure is logged, not raised: the next heartbeat puts the key again.
        """
        key = presence_key(canvas_id, viewer.user_id, connection_id)
        value = _encode(viewer)
        self._held[key] = value
        try:
            await self._kv.put(key, value)
        except _NATS_TROUBLE as exc:
            log.warning("presence.join_failed", key=key, error=repr(exc))

    async def leave(self, canvas_id: str, user_id: str, connection_id: str) -> None:
        """Withdraw one connection; a NATS failure is logged and the key expires instead."""
        key = presence_key(canvas_id, user_id, connection_id)
        if self._held.pop(key, None) is None:
            return
        try:
            await self._kv.delete(key)
        except _NATS_TROUBLE as exc:
            log.warning("presence.leave_failed", key=key, error=repr(exc))

    def viewers(self, canvas_id: str) -> list[Viewer]:
        """Who views the canvas now: each user once, by name (then id), the same on every
        process."""
        users = self._view.get(canvas_id, {})
        return sorted(
            (viewing.viewer for viewing in users.values()),
            key=lambda viewer: (viewer.user_name.casefold(), viewer.user_id),
        )

    # The watch.

    async def _rebuild(self) -> KeyValue.KeyWatcher:
        """Watch the bucket anew, and tell only what differs from what was known."""
        watcher = await self._kv.watchall()
        self._watcher = watcher
        view: _View = {}
        async for entry in watcher:
            if entry is None:  # the bucket's current keys have all arrived
                break
            _apply(view, entry, lambda _: None)
        old, self._view = self._view, view
        for canvas_id, users in old.items():
            for user_id, viewing in users.items():
                if user_id not in view.get(canvas_id, {}):
                    self._tell(PresenceChange(canvas_id, "leave", viewing.viewer))
        for canvas_id, users in view.items():
            for user_id, viewing in users.items():
                if user_id not in old.get(canvas_id, {}):
                    self._tell(PresenceChange(canvas_id, "join", viewing.viewer))
        return watcher

    async def _follow(self, watcher: KeyValue.KeyWatcher | None) -> None:
        if watcher is None:  # after a reconnect: rebuild until NATS answers again
            async for attempt in AsyncRetrying(
                wait=wait_exponential_jitter(multiplier=0.1, max=2.0),
                retry=retry_if_exception_type(_NATS_TROUBLE),
                before_sleep=lambda state: log.warning(
                    "presence.rewatch_failed", attempt=state.attempt_number
                ),
            ):
                with attempt:
                    watcher = await self._rebuild()
        assert watcher is not None
        async for entry in watcher:
            if entry is not None:
                _apply(self._view, entry, self._tell)

    async def _reconnected(self) -> None:
        # What the watch's consumer had while the connection was down may be lost, and after a
        # NATS restart the consumer itself: watch anew and tell only the differences.
        if self._following is not None:
            self._following.cancel()
            with suppress(asyncio.CancelledError):
                await self._following
        await self._stop_watcher()
        self._following = _task(self._follow(None), "presence-watch")
        self._beat_now.set()  # our keys may have expired while we were away

    async def _stop_watcher(self) -> None:
        watcher, self._watcher = self._watcher, None
        if watcher is not None:
            with suppress(*_NATS_TROUBLE):  # a closed connection took the consumer with it
                await watcher.stop()

    def _tell(self, change: PresenceChange) -> None:
        try:
            self._on_change(change)
        except Exception:  # one subscriber's failure must not end the watch for all
            log.exception("presence.on_change_failed", canvas_id=change.canvas_id)

    # The heartbeat.

    async def _beat(self) -> None:
        while True:
            with suppress(TimeoutError):
                await asyncio.wait_for(self._beat_now.wait(), self._heartbeat_s)
            self._beat_now.clear()
            if self._nc.is_connected:  # else each put would wait out its timeout
                await self._refresh()

    async def _refresh(self) -> None:
        keys = list(self._held)
        errors: list[BaseException] = []
        for start in range(0, len(keys), _PUTS_AT_ONCE):
            chunk = keys[start : start + _PUTS_AT_ONCE]
            results = await asyncio.gather(*map(self._reput, chunk), return_exceptions=True)
            errors += (result for result in results if isinstance(result, BaseException))
        if errors:  # the keys stay held: the next beat tries them again
            log.warning(
                "presence.heartbeat_failed",
                failed=len(errors),
                keys=len(keys),
                error=repr(errors[0]),
            )

    async def _reput(self, key: str) -> None:
        # Checked in the same step that queues the put: a leave that came first has removed the
        # key, and one that comes later queues its delete after this put, so none resurrects.
        value = self._held.get(key)
        if value is not None:
            await self._kv.put(key, value)


def _task(work: Coroutine[Any, Any, None], name: str) -> asyncio.Task[None]:
    """A background task whose crash is logged when it happens, not when it is awaited."""

    def crashed(task: asyncio.Task[None]) -> None:
        if not task.cancelled() and task.exception() is not None:
            log.error("presence.task_failed", task=name, error=repr(task.exception()))

    task = asyncio.create_task(work, name=name)
    task.add_done_callback(crashed)
    return task


def _apply(view: _View, entry: KeyValue.Entry, tell: Callable[[PresenceChange], None]) -> None:
    """One watched change into ``view``, telling a user's first arrival and last departure."""
    parts = entry.key.split(".")
    if len(parts) != 3:
        log.warning("presence.bad_key", key=entry.key)
        return
    canvas_id, user_id, connection_id = parts
    users = view.get(canvas_id, {})
    viewing = users.get(user_id)
    if entry.operation is not None:  # deleted, purged, or expired (the server's marker)
        if viewing is None or connection_id not in viewing.connections:
            return
        viewing.connections.remove(connection_id)
        if not viewing.connections:
            del users[user_id]
            if not users:
                del view[canvas_id]
            tell(PresenceChange(canvas_id, "leave", viewing.viewer))
        return
    if viewing is not None and connection_id in viewing.connections:
        return  # a heartbeat
    try:
        viewer: Viewer | None = _decode(entry.value or b"")
    except msgspec.DecodeError:
        viewer = None
    if viewer is None or viewer.user_id != user_id:
        log.warning("presence.bad_value", key=entry.key)
    elif viewing is not None:
        viewing.connections.add(connection_id)
    else:
        view.setdefault(canvas_id, {})[user_id] = _Viewing(viewer, {connection_id})
        tell(PresenceChange(canvas_id, "join", viewer))
