"""Who is calling and whether they may: the two middlewares around the rate limiter.

``authenticate`` resolves the presented credential (a session cookie, an API key, or on the live
connections' routes a stream token) and puts the identity on the request, or remembers why it
failed; the rate limiter runs next, so an over-limit request is refused with 429 whether or not
its credential was good. ``authorize`` then raises that failure, checks the route's scope
(``access.py``) and, for a cookie request that changes state, CSRF (``csrf.py``); a WebSocket
upgrade that a cookie authenticates must come from an allowed ``Origin``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

from aiohttp import hdrs, web
from aiohttp.typedefs import Middleware

from libs.errors import Forbidden, ShotgraphError, Unauthenticated
from libs.identity import Credential, Identities, Identity, presented_credential
from services.gateway.access import SAFE_METHODS, STREAM_TOKEN_ROUTES, Access, access_of
from services.gateway.csrf import CsrfGuard

__all__ = [
    "AUTH_FAILURE",
    "IDENTITY",
    "PRESENTED",
    "authenticate",
    "authorize",
    "guarded",
    "is_websocket_upgrade",
]

IDENTITY = web.RequestKey("identity", Identity)
AUTH_FAILURE = web.RequestKey("auth_failure", ShotgraphError)
# What the caller proved it with: a stream token's identity is its session's or key's, but only
# a cookie is sent by the browser on its own (and so needs the CSRF and Origin checks).
PRESENTED = web.RequestKey("presented", Credential)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def guarded(request: web.Request) -> bool:
    """Whether the request is an API call (every ``/v1`` route): static files and signed image
    URLs carry no credential of a person."""
    return request.path.startswith("/v1/") and request.match_info.route.resource is not None


def authenticate(*, identities: Identities, cookie_names: Sequence[str]) -> Middleware:
    @web.middleware
    async def resolve(request: web.Request, handler: Handler) -> web.StreamResponse:
        if guarded(request):
            resource = request.match_info.route.resource
            assert resource is not None
            live = (request.method, resource.canonical) in STREAM_TOKEN_ROUTES
            credential = presented_credential(request, cookie_names, stream_token=live)
            if credential is not None:
                request[PRESENTED] = credential
                try:
                    request[IDENTITY] = await identities.resolve(credential)
                except Unauthenticated as exc:
                    request[AUTH_FAILURE] = exc
        return await handler(request)

    return resolve


def authorize(*, csrf: CsrfGuard) -> Middleware:
    @web.middleware
    async def check(request: web.Request, handler: Handler) -> web.StreamResponse:
        if guarded(request):
            resource = request.match_info.route.resource
            assert resource is not None
            access = access_of(request.method, resource.canonical)
            if access is Access.PUBLIC:
                if request.method not in SAFE_METHODS:
                    csrf.check_origin(request)  # no signing in from another site's form
            else:
                identity = _identity(request)
                _check_scope(identity, access)
                by_cookie = _presented(request) == "session"
                if by_cookie and request.method not in SAFE_METHODS:
                    csrf.check(request, identity.credential_id)
                if by_cookie and is_websocket_upgrade(request):
                    csrf.check_upgrade_origin(request)
        return await handler(request)

    return check


def is_websocket_upgrade(request: web.Request) -> bool:
    """Whether the request asks to become a WebSocket (RFC 6455 §4.1)."""
    return (
        request.headers.get(hdrs.UPGRADE, "").lower() == "websocket"
        and "upgrade" in request.headers.get(hdrs.CONNECTION, "").lower()
    )


def _presented(request: web.Request) -> str:
    credential = request.get(PRESENTED)
    return credential.kind if credential is not None else ""


def _identity(request: web.Request) -> Identity:
    failure = request.get(AUTH_FAILURE)
    if failure is not None:
        raise failure
    identity = request.get(IDENTITY)
    if identity is None:
        raise Unauthenticated(
            "sign in (POST /v1/auth/login), or send an API key as 'Authorization: Bearer <key>'"
        )
    return identity


def _check_scope(identity: Identity, access: Access) -> None:
    if access is Access.ACCOUNT:
        if identity.credential_kind != "session" and "admin" not in identity.scopes:
            raise Forbidden("managing credentials needs a signed-in session or an admin key")
        return
    if access.value not in identity.scopes:
        what = "this API key" if identity.credential_kind == "key" else "this account"
        raise Forbidden(f"{what} lacks the '{access.value}' scope this route needs")
