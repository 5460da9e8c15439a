"""Another service this one calls over gRPC: one typed way, with a deadline and a breaker.

Every call goes out on a channel that gives it a deadline (``libs.rpc.open_channel``), through
the peer's circuit breaker (``libs.resilience.Breakers``), which fails fast while the peer is
down, and a failure comes back as the domain error it stands for (``raise_domain_error``): a
NOT_FOUND two hops away is still a 404, an outage a 503 to retry.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Generic, TypeVar

import grpc

from libs.resilience import Breakers
from libs.rpc import open_channel, raise_domain_error

__all__ = ["Downstream"]

Stub = TypeVar("Stub")
Reply = TypeVar("Reply")


class Downstream(Generic[Stub]):
    """``name``'s stub on its own channel; ``call`` one of its methods, never the stub directly.

    ``deadline_s`` bounds every call that names no deadline of its own.
    """

    def __init__(
        self,
        name: str,
        address: str,
        stub: Callable[[grpc.aio.Channel], Stub],
        *,
        deadline_s: float,
        breakers: Breakers,
    ) -> None:
        self.name = name
        self._channel = open_channel(address, deadline_s)
        self.stub = stub(self._channel)
        self._breakers = breakers

    async def call(
        self,
        method: Callable[..., Awaitable[Reply]],
        request: Any,
        *,
        deadline_s: float | None = None,
    ) -> Reply:
        """``method`` of ``self.stub`` with ``request`` (an iterator of them for a client
        stream); its failures surface as domain errors, an open breaker as Unavailable.

        ``deadline_s`` replaces the default for this call; the server sees it too (a render
        preview cuts OpenSCAD's clock to fit), which an asyncio timeout could not do.
        """
        try:
            return await self._breakers.call(self.name, lambda: method(request, timeout=deadline_s))
        except grpc.aio.AioRpcError as exc:
            raise_domain_error(exc)

    async def close(self) -> None:
        await self._channel.close()
