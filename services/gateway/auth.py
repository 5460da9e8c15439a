"""Every ``/v1`` request presents an API key; the verified identity rides on the request."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web
from aiohttp.typedefs import Middleware

from libs.identity import Identity, KeyVerifier, presented_key

__all__ = ["IDENTITY", "require_api_key"]

IDENTITY = web.RequestKey("identity", Identity)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def require_api_key(*, verifier: KeyVerifier) -> Middleware:
    """Reject unauthenticated API calls before any handler or downstream service sees them."""

    @web.middleware
    async def authenticate(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path.startswith("/v1/") and request.match_info.route.resource is not None:
            request[IDENTITY] = await verifier.verify(presented_key(request))
        return await handler(request)

    return authenticate
