"""What every gateway response says to the browser about itself: the security headers, no
caching of a credentialed JSON answer, and CORS for the configured origins only.

The headers are added by ``on_response_prepare``, so they reach every response, the problem
documents of errors and the 404s of unknown paths included. CORS is ``aiohttp-cors``'s, over
every route, set up once the routes are in place.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Final

import aiohttp_cors
from aiohttp import hdrs, web
from aiohttp.typedefs import Middleware

__all__ = [
    "CONTENT_SECURITY_POLICY",
    "SECURITY_HEADERS",
    "allow_origins",
    "answer_preflights",
    "secure_headers",
]

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

# The web studio lives with this: no inline script or style, no eval; blob: and data: only for
# what it draws itself (thumbnails, meshes, canvases) and its workers.
CONTENT_SECURITY_POLICY: Final = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data: blob:",
        "connect-src 'self'",
        "font-src 'self'",
        "worker-src 'self' blob:",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
        "upgrade-insecure-requests",
    )
)
PERMISSIONS_POLICY: Final = ", ".join(
    f"{feature}=()"
    for feature in (
        "camera",
        "microphone",
        "geolocation",
        "payment",
        "usb",
        "interest-cohort",
        "browsing-topics",
    )
)
SECURITY_HEADERS: Final = {
    "Strict-Transport-Security": "max-age=63072000; includeSubDomains",
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "strict-origin-when-cross-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Permissions-Policy": PERMISSIONS_POLICY,
    # aiohttp would name itself and its version (and Python's): a map for an attacker.
    "Server": "shotgraph",
}
_JSON_TYPES: Final = frozenset({"application/json", "application/problem+json"})
_CREDENTIALS: Final = (hdrs.AUTHORIZATION, "X-API-Key", hdrs.COOKIE)

CORS_METHODS: Final = ("GET", "POST", "PUT", "PATCH", "DELETE")
CORS_REQUEST_HEADERS: Final = ("Authorization", "Content-Type", "X-CSRF-Token", "Last-Event-ID")
CORS_EXPOSED_HEADERS: Final = (
    "Retry-After",
    "RateLimit",
    "RateLimit-Policy",
    "ETag",
    "X-Request-Id",
)


def secure_headers(app: web.Application) -> None:
    """Give every response of ``app`` the security headers, and ``no-store`` to JSON answered
    to a request that carried credentials (a shared cache or the browser's disk must not keep
    one user's data), unless the handler chose its own caching."""

    async def add(request: web.Request, response: web.StreamResponse) -> None:
        response.headers.update(SECURITY_HEADERS)
        if (
            response.content_type in _JSON_TYPES
            and hdrs.CACHE_CONTROL not in response.headers
            and any(name in request.headers for name in _CREDENTIALS)
        ):
            response.headers[hdrs.CACHE_CONTROL] = "no-store"

    app.on_response_prepare.append(add)


def allow_origins(app: web.Application, origins: Sequence[str]) -> None:
    """CORS for ``origins`` (with credentials) on every route of ``app``; call it once every
    route is added. No origins: no CORS headers for anyone, and no preflight routes."""
    if not origins:
        return
    options = aiohttp_cors.ResourceOptions(
        allow_credentials=True,
        allow_methods=CORS_METHODS,
        allow_headers=CORS_REQUEST_HEADERS,
        expose_headers=CORS_EXPOSED_HEADERS,
    )
    cors = aiohttp_cors.setup(app, defaults=dict.fromkeys(origins, options))
    for route in list(app.router.routes()):
        if route.method != hdrs.METH_HEAD:  # aiohttp adds HEAD beside GET; CORS covers both
            cors.add(route)


def answer_preflights() -> Middleware:
    """A CORS preflight goes straight to its answer, past authentication: by the Fetch standard
    a preflight never carries credentials, and it reaches no handler of the API."""

    @web.middleware
    async def preflight(request: web.Request, handler: Handler) -> web.StreamResponse:
        if (
            request.method == hdrs.METH_OPTIONS
            and hdrs.ORIGIN in request.headers
            and hdrs.ACCESS_CONTROL_REQUEST_METHOD in request.headers
            and request.match_info.http_exception is None
        ):
            return await request.match_info.handler(request)
        return await handler(request)

    return preflight
