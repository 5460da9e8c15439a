"""One NATS connection per process, reconnecting forever with the events logged."""

from __future__ import annotations

import weakref
from collections.abc import Awaitable, Callable

import nats
from nats.aio.client import Client

from libs.logs import get_logger

__all__ = ["connect", "when_reconnected"]

log = get_logger(__name__)

_RECONNECTED: weakref.WeakKeyDictionary[Client, list[Callable[[], Awaitable[None]]]] = (
    weakref.WeakKeyDictionary()
)


def when_reconnected(nc: Client, callback: Callable[[], Awaitable[None]]) -> Callable[[], None]:
    """Run ``callback`` each time ``nc`` (made by ``connect``) reconnects: what core NATS
    delivered meanwhile is lost, and a subscriber may have to catch up.

    Returns a function that stops it, for a subscriber that ends before its connection does.
    """
    callbacks = _RECONNECTED.setdefault(nc, [])
    callbacks.append(callback)

    def forget() -> None:
        if callback in callbacks:
            callbacks.remove(callback)

    return forget


async def connect(url: str, name: str) -> Client:
    """Connect with unlimited reconnects: a NATS restart must not take a service down with it."""

    async def on_error(exc: Exception) -> None:
        log.warning("nats.error", error=str(exc))

    async def on_disconnected() -> None:
        log.warning("nats.disconnected")

    client: Client | None = None

    async def on_reconnected() -> None:
        log.info("nats.reconnected")
        # A copy: a callback may forget itself (or another) while the others run.
        for callback in list(_RECONNECTED.get(client, ())) if client is not None else ():
            await callback()

    client = await nats.connect(
        servers=[url],
        name=name,
        max_reconnect_attempts=-1,
        reconnect_time_wait=0.5,
        connect_timeout=5,
        error_cb=on_error,
        disconnected_cb=on_disconnected,
        reconnected_cb=on_reconnected,
    )
    return client
