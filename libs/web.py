"""The aiohttp applications every service starts from: the public one (problems, traces, request
ids, bounded JSON bodies) and the admin one (health, readiness, metrics) on a port of its own.

Errors leave as RFC 9457 ``application/problem+json``; every response carries ``X-Request-Id``.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from contextlib import AbstractContextManager
from typing import Any

import structlog
from aiohttp import web
from aiohttp.typedefs import Middleware
from opentelemetry import propagate, trace
from opentelemetry.trace import SpanKind, Status, StatusCode

from libs.errors import ShotgraphError, TooManyRequests, Unavailable
from libs.logs import get_logger
from libs.metrics import CONTENT_TYPE_LATEST, HTTP_DURATION, HTTP_REQUESTS, render_latest

__all__ = [
    "ADMIN_APP",
    "MAX_JSON_DEPTH",
    "DegradedNote",
    "ReadinessCheck",
    "create_app",
    "error_response",
    "nests_deeper_than",
    "parse_json",
    "problem_response",
    "read_json",
    "refuse_deep_json",
]

log = get_logger(__name__)
_tracer = trace.get_tracer(__name__)

ReadinessCheck = Callable[[], Awaitable[bool]]
DegradedNote = Callable[[], str]  # what works in a lesser mode now; "" when nothing does
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

PROBLEM_CONTENT_TYPE = "application/problem+json"
_READINESS_TIMEOUT_S = 1.0
_ADMIN_MAX_BODY_BYTES = 1024
# Deeper than any document of the API needs, and far below where a recursive decoder (json,
# protobuf's json_format and Struct) runs out of stack.
MAX_JSON_DEPTH = 64

# The admin app (health, readiness, metrics) that ``create_app`` builds beside the public one.
ADMIN_APP = web.AppKey("admin_app", web.Application)

_JSON_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_STEP = {ord("["): 1, ord("{"): 1, ord("]"): -1, ord("}"): -1}


def problem_response(
    status: int,
    title: str,
    detail: str,
    *,
    type_slug: str = "about:blank",
    instance: str = "",
    headers: Mapping[str, str] | None = None,
    **extra: Any,
) -> web.Response:
    """An RFC 9457 problem document."""
    body: dict[str, Any] = {
        "type": type_slug
        if type_slug == "about:blank"
        else f"https://shotgraph.dev/problems/{type_slug}",
        "title": title,
        "status": status,
        "detail": detail,
    }
    if instance:
        body["instance"] = instance
    body.update({key: value for key, value in extra.items() if key not in body})
    return web.Response(
        status=status,
        text=json.dumps(body),
        content_type=PROBLEM_CONTENT_TYPE,
        headers=headers,
    )


def nests_deeper_than(raw: bytes, levels: int) -> bool:
    """Whether the arrays and objects of the JSON text ``raw`` nest more than ``levels`` deep,
    found without a parser's recursion: brackets are counted once strings are taken out.

    Exact for valid JSON; for invalid JSON it agrees with a parser up to the first error, which
    is as far as a parser would go.
    """
    if raw.count(b"[") + raw.count(b"{") <= levels:
        return False
    brackets = _JSON_STRING.sub(b"", raw).translate(None, _NOT_BRACKETS)
    return max(itertools.accumulate(_STEP[b] for b in brackets), default=0) > levels


def parse_json(raw: bytes) -> Any:
    """JSON text as Python values, or InvalidArgument: malformed, not UTF-8, or too deep."""
    from libs.errors import InvalidArgument

    if nests_deeper_than(raw, MAX_JSON_DEPTH):
        raise InvalidArgument(f"body nests arrays and objects more than {MAX_JSON_DEPTH} deep")
    try:
        # From bytes, not text: json.loads detects UTF-8/16/32 itself, whatever charset is claimed.
        value = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise InvalidArgument(f"body is not valid JSON: {exc.msg} at line {exc.lineno}") from exc
    except UnicodeDecodeError as exc:
        raise InvalidArgument("body is not UTF-8") from exc
    # json.loads lets an escaped half of a surrogate pair through as a string no encoder (nor
    # protobuf) takes; only an escape can make one, so only such a body is walked.
    if _SURROGATE_ESCAPE.search(raw) and _has_lone_surrogate(value):
        raise InvalidArgument("body holds a lone UTF-16 surrogate (\\ud800-\\udfff), not text")
    return value


_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


def _has_lone_surrogate(value: Any) -> bool:
    if isinstance(value, str):
        try:
            value.encode()
        except UnicodeEncodeError:
            return True
        return False
    if isinstance(value, dict):
        return any(_has_lone_surrogate(k) or _has_lone_surrogate(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_lone_surrogate(item) for item in value)
    return False


# Bodies that are not JSON by their type (uploads) are left to their handlers.
_NOT_JSON_TYPES = ("multipart/", "application/octet-stream", "image/")


def refuse_deep_json() -> Middleware:
    """A body nested past ``MAX_JSON_DEPTH`` is a 400 on every route, before authentication or
    any handler: no route can forget the rule, and none answers otherwise for such a body."""

    @web.middleware
    async def refuse(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.body_exists and not request.content_type.startswith(_NOT_JSON_TYPES):
            from libs.errors import InvalidArgument

            if nests_deeper_than(await request.read(), MAX_JSON_DEPTH):
                raise InvalidArgument(
                    f"body nests arrays and objects more than {MAX_JSON_DEPTH} deep"
                )
        return await handler(request)

    return refuse


async def read_json(request: web.Request, *, optional: bool = False) -> dict[str, Any]:
    """The request body as a JSON object, or a 400 problem that says what is wrong with it;
    ``optional``: no body at all reads as ``{}``."""
    from libs.errors import InvalidArgument

    if optional and not request.body_exists:
        return {}
    body = parse_json(await request.read())
    if not isinstance(body, dict):
        raise InvalidArgument("body must be a JSON object")
    return body


def _route_of(request: web.Request) -> str:
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else "unmatched"


def _instance(request: web.Request) -> str:
    """The request's path as a URI reference (RFC 9457): percent-encoded, as it was sent."""
    return request.rel_url.raw_path


def error_response(
    request: web.Request, exc: ShotgraphError, headers: Mapping[str, str] | None = None
) -> web.Response:
    """``exc`` as its problem document, with ``Retry-After`` when it says when to come back,
    and ``headers`` beside (a refusal's ``RateLimit``)."""
    sent = dict(headers or {})
    if isinstance(exc, Unavailable | TooManyRequests):
        sent["Retry-After"] = str(exc.retry_after)
    return problem_response(
        exc.status,
        exc.title,
        exc.detail,
        type_slug=exc.type_slug,
        instance=_instance(request),
        headers=sent or None,
        **exc.extensions,
    )


def _error_to_problem(request: web.Request, exc: Exception) -> web.Response:
    if isinstance(exc, ShotgraphError):
        return error_response(request, exc)
    if isinstance(exc, web.HTTPException):
        return problem_response(
            exc.status,
            exc.reason,
            exc.text or exc.reason,
            instance=_instance(request),
            headers={k: v for k, v in exc.headers.items() if k in ("Allow", "Retry-After")},
        )
    log.exception("http.unhandled", path=request.path)
    return problem_response(500, "Internal error", "unexpected error", instance=_instance(request))


async def _respond(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return _error_to_problem(request, exc)
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        return _error_to_problem(request, exc)


def _server_span(request: web.Request, route: str) -> AbstractContextManager[trace.Span]:
    return _tracer.start_as_current_span(
        f"{request.method} {route}",
        context=propagate.extract(request.headers),
        kind=SpanKind.SERVER,
        attributes={
            "http.request.method": request.method,
            "http.route": route,
            "url.path": request.path,
        },
    )


def _observe_middleware(service: str) -> Middleware:
    """Request id, SERVER span, RED metrics, and every error turned into a problem document."""

    @web.middleware
    async def observe(request: web.Request, handler: Handler) -> web.StreamResponse:
        request_id = request.headers.get("X-Request-Id", "")[:64] or uuid.uuid4().hex
        route = _route_of(request)
        started = time.perf_counter()
        structlog.contextvars.bind_contextvars(request_id=request_id)
        try:
            with _server_span(request, route) as span:
                response = await _respond(request, handler)
                if not response.prepared:
                    response.headers["X-Request-Id"] = request_id
                span.set_attribute("http.response.status_code", response.status)
                if response.status >= 500:
                    span.set_status(Status(StatusCode.ERROR))
        finally:
            structlog.contextvars.unbind_contextvars("request_id")
        HTTP_REQUESTS.labels(service, request.method, route, str(response.status)).inc()
        HTTP_DURATION.labels(service, request.method, route).observe(time.perf_counter() - started)
        return response

    return observe


@web.middleware
async def _problems(request: web.Request, handler: Handler) -> web.StreamResponse:
    """The admin app's errors as problem documents too, without spans or request metrics."""
    return await _respond(request, handler)


def _admin_app(
    service: str, checks: Mapping[str, ReadinessCheck], notes: Mapping[str, DegradedNote]
) -> web.Application:
    """``/healthz``, ``/readyz`` and ``/metrics``, for probes and scrapes on the admin port;
    ``notes`` (a feature working in a lesser mode) are listed in ``/readyz`` without failing it."""
    app = web.Application(middlewares=[_problems], client_max_size=_ADMIN_MAX_BODY_BYTES)

    async def healthz(_: web.Request) -> web.Response:
        return web.json_response({"status": "ok", "service": service})

    async def readyz(request: web.Request) -> web.Response:
        names = list(checks)
        results = await asyncio.gather(
            *(asyncio.wait_for(checks[n](), _READINESS_TIMEOUT_S) for n in names),
            return_exceptions=True,
        )
        failing = [n for n, ok in zip(names, results, strict=True) if ok is not True]
        if failing:
            return problem_response(
                503,
                "Not ready",
                f"dependencies unavailable: {', '.join(failing)}",
                type_slug="unavailable",
                instance=_instance(request),
                headers={"Retry-After": "5"},
                failing=failing,
            )
        body: dict[str, Any] = {"status": "ready", "service": service, "checked": names}
        if said := {name: text for name, note in notes.items() if (text := note())}:
            body["degraded"] = said
        return web.json_response(body)

    async def metrics(_: web.Request) -> web.Response:
        body = await asyncio.to_thread(render_latest)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics)
    return app


def create_app(
    service: str,
    *,
    max_body_bytes: int,
    readiness: Mapping[str, ReadinessCheck] | None = None,
    degraded: Mapping[str, DegradedNote] | None = None,
) -> web.Application:
    """A service's public HTTP face; add routes to it. Its admin app, which the runner serves on
    the admin port, is ``app[ADMIN_APP]``; ``readiness`` and ``degraded`` feed its ``/readyz``."""
    app = web.Application(
        middlewares=[_observe_middleware(service)], client_max_size=max_body_bytes
    )
    app[ADMIN_APP] = _admin_app(service, dict(readiness or {}), dict(degraded or {}))
    return app
