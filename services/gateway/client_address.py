"""Who is on the other end: ``X-Forwarded-For`` is believed only from a trusted proxy.

``aiohttp-remotes`` has no middleware that ignores the header from an untrusted peer
(``XForwardedStrict`` refuses the request, the others believe any peer), so the peer is
checked here and only a trusted one's header goes to ``XForwardedFiltered``, which takes the
right-most address that is not itself a trusted proxy. Afterwards ``request.remote`` is the
client's address for every middleware and handler.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from ipaddress import IPv4Network, IPv6Network, ip_address

from aiohttp import web
from aiohttp.typedefs import Middleware
from aiohttp_remotes import XForwardedFiltered

__all__ = ["client_address"]

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Network = IPv4Network | IPv6Network


def _peer(request: web.Request) -> str | None:
    """The TCP peer's address, whatever an earlier middleware made of ``request.remote``."""
    transport = request.transport
    peer = transport.get_extra_info("peername") if transport is not None else None
    return peer[0] if isinstance(peer, tuple) and peer else None


def client_address(*, trusted_proxies: Sequence[Network]) -> Middleware:
    """Set ``request.remote`` from ``X-Forwarded-For`` when the peer is a trusted proxy."""
    networks = tuple(trusted_proxies)
    forwarded = XForwardedFiltered(set(networks)) if networks else None

    @web.middleware
    async def from_trusted_proxy(request: web.Request, handler: Handler) -> web.StreamResponse:
        peer = _peer(request)
        if forwarded is None or peer is None:
            return await handler(request)
        try:
            address = ip_address(peer)
        except ValueError:
            return await handler(request)
        if not any(address in network for network in networks):
            return await handler(request)
        return await forwarded.middleware(request, handler)

    return from_trusted_proxy
