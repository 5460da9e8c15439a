"""Rate limits at the edge: every ``/v1/`` and ``/images/`` request, before it is authorized.

It runs after authentication has had its look, so a signed-in caller is limited per user and
per key as well as per address, and a request whose credential failed is still limited by its
address: over the limit, it gets 429 before it ever learns the credential was bad.

Answers carry the IETF headers (draft-ietf-httpapi-ratelimit-headers, structured fields):
``RateLimit-Policy`` lists each limit applied, ``RateLimit`` reports the tightest of them.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence

from aiohttp import web
from aiohttp.typedefs import Middleware

from libs.errors import InvalidArgument, TooManyRequests
from libs.ratelimit import Check, Decision, Lease, Limiter, Policies
from libs.web import error_response, parse_json
from services.gateway.auth import IDENTITY

__all__ = ["RATE_LIMIT", "ROUTE_BUDGETS", "add_rate_limit_headers", "rate_limit"]

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

RATE_LIMIT = web.RequestKey("rate_limit", Decision)
_POLICY_NAMES = web.RequestKey("rate_limit_policies", str)

LIMITED_PREFIXES = ("/v1/", "/images/")

# The expensive routes and the budget of the plan each draws on.
ROUTE_BUDGETS = {
    ("POST", "/v1/render/preview"): "previews",
    ("POST", "/v1/renders"): "renders",
    ("POST", "/v1/blobs"): "uploads",
    ("POST", "/v1/images/urls"): "url_signing",
    ("POST", "/v1/batches"): "jobs",
    ("POST", "/v1/canvases/{canvas_id}/execute"): "jobs",
}
# Work that holds a place while it runs, by the kind of cap it counts against.
HELD_WHILE_ANSWERING = {
    ("POST", "/v1/render/preview"): "previews",
    ("GET", "/v1/events"): "event_streams",
    ("GET", "/v1/ws"): "event_streams",  # one lease per open connection, SSE or WebSocket
}
SUBMIT_BATCH = ("POST", "/v1/batches")
# A body larger than this is not read here to count jobs or see its priority: it costs 1 and
# counts as not urgent (the handler still reads and validates it in full).
PEEK_MAX_BYTES = 64 << 10


def _structured(checks: Sequence[Check], leases: Sequence[Lease]) -> str:
    parts = [f'"{c.name}";q={c.rate.burst};w={math.ceil(c.rate.window_s)}' for c in checks]
    parts += [f'"{lease.name}";q={lease.cap}' for lease in leases]
    return ", ".join(parts)


def _headers(decision: Decision, policies: str) -> dict[str, str]:
    """``RateLimit-Policy`` for every limit applied and ``RateLimit`` for the tightest."""
    reset = math.ceil(decision.retry_after_s if not decision.allowed else decision.reset_s)
    return {
        "RateLimit-Policy": policies,
        "RateLimit": f'"{decision.limit}";r={decision.remaining};t={reset}',
    }


async def _peek_json(request: web.Request) -> dict[str, object]:
    """A small JSON body, or {} for anything else: the handler reports what is wrong with it."""
    length = request.content_length
    if length is None or length > PEEK_MAX_BYTES or not request.can_read_body:
        return {}
    try:
        body = parse_json(await request.read())  # read() keeps the bytes for the handler
    except InvalidArgument:
        return {}
    return body if isinstance(body, dict) else {}


async def _what_to_check(
    request: web.Request, policies: Policies
) -> tuple[list[Check], list[Lease], list[Lease]]:
    """The checks and leases this request needs: leases held while it is answered, and leases
    that outlive the answer (an urgent batch runs long after its submission is answered)."""
    checks = [Check("address", request.remote or "unknown", policies.address)]
    identity = request.get(IDENTITY)
    if identity is None:
        return checks, [], []
    plan = policies.plan(identity.plan)
    checks.append(Check("user", identity.user_id, plan.user))
    if identity.key_id:
        checks.append(Check("key", identity.key_id, plan.key))
    resource = request.match_info.route.resource
    route = (request.method, resource.canonical if resource is not None else "")

    def lease(kind: str) -> Lease | None:
        if kind not in plan.concurrency:
            return None
        ttl = policies.lease_ttl_s.get(kind, 60.0)
        return Lease(kind, identity.user_id, plan.concurrency[kind], ttl)

    held = [lease(HELD_WHILE_ANSWERING[route])] if route in HELD_WHILE_ANSWERING else []
    kept: list[Lease | None] = []
    cost = 1
    if route == SUBMIT_BATCH:
        body = await _peek_json(request)
        jobs = body.get("jobs")
        cost = max(1, len(jobs)) if isinstance(jobs, list) else 1
        if body.get("priority") == "urgent":
            kept.append(lease("urgent_batches"))
    budget = ROUTE_BUDGETS.get(route)
    if budget is not None and budget in plan.routes:
        checks.append(Check(f"route.{budget}", identity.user_id, plan.routes[budget], cost))
    return checks, [x for x in held if x], [x for x in kept if x]


@contextlib.asynccontextmanager
async def _renewing(
    limiter: Limiter, decision: Decision, leases: list[Lease]
) -> AsyncIterator[None]:
    """Keep the leases alive while the answer lasts (an event stream lasts hours)."""
    if not leases:
        yield
        return

    async def renew() -> None:
        every = min(lease.ttl_s for lease in leases) / 3
        while True:
            await asyncio.sleep(every)
            for lease in leases:
                await limiter.renew(decision, lease)

    task = asyncio.create_task(renew())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


Peek = Callable[[web.Request], str | None]


def rate_limit(limiter: Limiter, policies: Policies, peek: Peek | None = None) -> Middleware:
    """Admit or refuse each API request on every limit that applies to it, in one decision.
    ``peek`` names a key whose value a request's handler needs (a stamp to check a cached
    answer against): it is read in the same round trip, and the handler finds it on
    ``request[RATE_LIMIT].peeked``."""

    @web.middleware
    async def limit(request: web.Request, handler: Handler) -> web.StreamResponse:
        if not request.path.startswith(LIMITED_PREFIXES):
            return await handler(request)
        checks, held, kept = await _what_to_check(request, policies)
        decision = await limiter.acquire(
            checks, held + kept, peek(request) if peek is not None else None
        )
        names = _structured(checks, held + kept)
        headers = _headers(decision, names)
        if not decision.allowed:
            error = TooManyRequests(
                f"over the {decision.limit} limit; try again later",
                retry_after=decision.retry_after_s,
                extensions={"limit": decision.limit},
            )
            return error_response(request, error, headers)
        # A response the handler prepares itself (an event stream) gets them on the way out.
        request[RATE_LIMIT] = decision
        request[_POLICY_NAMES] = names
        succeeded = False
        try:
            async with _renewing(limiter, decision, held):
                response = await handler(request)
            succeeded = response.status < 400
        finally:
            limiter.release(decision, held)
            if not succeeded:  # a refused submission holds no place
                limiter.release(decision, kept)
        if not response.prepared:
            response.headers.update(headers)
        return response

    return limit


async def add_rate_limit_headers(request: web.Request, response: web.StreamResponse) -> None:
    """``on_response_prepare``: the headers for responses prepared inside a handler."""
    decision = request.get(RATE_LIMIT)
    if decision is not None and "RateLimit" not in response.headers:
        response.headers.update(_headers(decision, request[_POLICY_NAMES]))
