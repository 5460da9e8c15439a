"""``POST /v1/$batch``: up to 20 API calls in one round trip, in the shape of Microsoft Graph's
JSON batching — ``{"requests": [{"id", "method", "url", "headers"?, "body"?, "dependsOn"?}]}``
answered by ``{"responses": [{"id", "status", "headers", "body"?}]}``, in the order asked.

Each sub-request is a real ``aiohttp`` request run through the application's own handler chain
(every middleware, then the router), so it is routed, authenticated, rate limited (one request
against every limit, beside the one the batch itself counts), scope-checked and CSRF-checked
exactly as if it had been sent alone. It carries the batch's credential and the headers the
edge judges a request by (``Authorization``, ``Cookie``, ``X-CSRF-Token``, ``Origin``,
``Sec-Fetch-Site``, ``Host``, ``X-Forwarded-*``) and may not name them itself: a batch can only
do what its sender could do with separate calls. A cookie batch therefore passes the CSRF check
twice with the same evidence — once as the batch, once per unsafe sub-request — which is sound
because the sub-requests' methods, urls and bodies sit inside a body that only this site's
pages could have sent.

Urls are relative to ``/v1`` as in Graph (``/canvases/42`` is ``/v1/canvases/42``). Bodies are
JSON values both ways; a non-JSON answer (a blob's bytes) comes back base64-encoded. A request
whose ``dependsOn`` request answered anything but 2xx gets 424 without running; independent
requests run concurrently, a few at a time.
"""

from __future__ import annotations

import asyncio
import base64
import graphlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from aiohttp import hdrs, web
from aiohttp.abc import AbstractStreamWriter
from aiohttp.http import RawRequestMessage
from aiohttp.streams import EMPTY_PAYLOAD, StreamReader
from multidict import CIMultiDict, CIMultiDictProxy
from opentelemetry import propagate
from yarl import URL

from libs.errors import InvalidArgument
from libs.web import PROBLEM_CONTENT_TYPE, read_json
from services.gateway.secret import SECRET

__all__ = ["BATCH_PATH", "MAX_REQUESTS", "Batching"]

BATCH_PATH: Final = "/v1/$batch"
MAX_REQUESTS: Final = 20
# Sub-requests of one batch in flight at once: a batch is a convenience for round trips, not a
# way to put twenty calls on the services at the same instant.
CONCURRENCY: Final = 4
MAX_ID_CHARS: Final = 64
MAX_HEADER_BYTES: Final = 8 << 10  # of one sub-request's own headers, names and values
METHODS: Final = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE"})

# What the edge judges a request by: taken from the batch, never from a sub-request.
INHERITED: Final = (
    hdrs.AUTHORIZATION,
    hdrs.COOKIE,
    "X-CSRF-Token",
    hdrs.ORIGIN,
    "Sec-Fetch-Site",
    hdrs.HOST,
    hdrs.FORWARDED,
    hdrs.X_FORWARDED_FOR,
    hdrs.X_FORWARDED_HOST,
    hdrs.X_FORWARDED_PROTO,
    hdrs.USER_AGENT,
)
# Set here (framing, tracing) or meaningless for a request that never crosses a connection.
_SET_HERE: Final = (
    hdrs.CONTENT_LENGTH,
    hdrs.TRANSFER_ENCODING,
    hdrs.CONTENT_ENCODING,
    hdrs.CONNECTION,
    hdrs.UPGRADE,
    hdrs.EXPECT,
    hdrs.ACCEPT_ENCODING,
    "Traceparent",
    "Tracestate",
    "X-Real-IP",
    "X-Request-Id",
)
_NOT_FROM_A_SUB_REQUEST: Final = frozenset(name.lower() for name in INHERITED + _SET_HERE)

# Answers that set cookies (a script must never read an HttpOnly cookie out of a batch's body)
# or stream: these are called alone.
NOT_BATCHABLE: Final = frozenset(
    {
        ("POST", "/v1/auth/login"),
        ("POST", "/v1/invites/accept"),
        ("POST", "/v1/auth/logout"),
        ("GET", "/v1/auth/session"),
        ("GET", "/v1/events"),
        ("GET", "/v1/ws"),
        ("POST", BATCH_PATH),
    }
)
_JSON_TYPES: Final = ("application/json", PROBLEM_CONTENT_TYPE)


@dataclass(frozen=True)
class Part:
    """One request of a batch, as validated."""

    id: str
    method: str
    url: URL  # absolute path under /v1, with its query
    headers: Mapping[str, str]
    body: bytes | None
    depends_on: tuple[str, ...]


@dataclass(frozen=True)
class Answer:
    """What one request of a batch got."""

    id: str
    status: int
    headers: Mapping[str, str]
    body: Any = None
    secret: bool = False

    @property
    def succeeded(self) -> bool:
        return 200 <= self.status < 300

    def json(self) -> dict[str, Any]:
        answer: dict[str, Any] = {"id": self.id, "status": self.status, "headers": self.headers}
        if self.body is not None:
            answer["body"] = self.body
        return answer


class _NoStreaming(AbstractStreamWriter):
    """The writer of a sub-request: its answer is copied into the batch's body, so a handler
    that tries to write to the connection itself fails instead of corrupting the batch."""

    def _refuse(self) -> None:
        raise RuntimeError("a request inside a batch cannot stream its answer")

    async def write(self, chunk: bytes | bytearray | memoryview) -> None:
        self._refuse()

    async def write_eof(self, chunk: bytes = b"") -> None:
        self._refuse()

    async def drain(self) -> None:
        self._refuse()

    def enable_compression(self, encoding: str = "deflate", strategy: int | None = None) -> None:
        self._refuse()

    def enable_chunking(self) -> None:
        self._refuse()

    async def write_headers(self, status_line: str, headers: CIMultiDict[str]) -> None:
        self._refuse()


def _string(entry: Mapping[str, Any], field: str, where: str) -> str:
    value = entry.get(field)
    if not isinstance(value, str) or not value:
        raise InvalidArgument(f"{where}: '{field}' must be a non-empty string")
    return value


def _url(raw: str, where: str) -> URL:
    """``raw`` (relative to /v1, Graph style) as a path under /v1, or a 400."""
    if "\\" in raw or raw.startswith("//") or "#" in raw:
        raise InvalidArgument(f"{where}: 'url' must be a path under /v1, like '/canvases/42'")
    url = URL(raw)
    segments = url.raw_path.split("/")
    if url.absolute or url.scheme or ".." in segments or "." in segments:
        raise InvalidArgument(f"{where}: 'url' must be a path under /v1, like '/canvases/42'")
    return URL.build(
        path="/v1/" + url.raw_path.lstrip("/"), query_string=url.raw_query_string, encoded=True
    )


def _headers(entry: Mapping[str, Any], where: str) -> dict[str, str]:
    headers = entry.get("headers", {})
    if not isinstance(headers, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in headers.items()
    ):
        raise InvalidArgument(f"{where}: 'headers' must be an object of strings")
    if sum(len(k) + len(v) for k, v in headers.items()) > MAX_HEADER_BYTES:
        raise InvalidArgument(f"{where}: 'headers' exceed {MAX_HEADER_BYTES} bytes")
    for name, value in headers.items():
        if name.lower() in _NOT_FROM_A_SUB_REQUEST:
            raise InvalidArgument(f"{where}: the '{name}' header is the batch's, not a request's")
        if not name.isascii() or any(c in name + value for c in "\r\n\0"):
            raise InvalidArgument(f"{where}: header '{name[:40]}' is not a valid header")
    content_type = next((v for k, v in headers.items() if k.lower() == "content-type"), None)
    if content_type is not None and not content_type.startswith("application/json"):
        raise InvalidArgument(f"{where}: bodies in a batch are JSON; 'Content-Type' must say so")
    return headers


def _depends_on(entry: Mapping[str, Any], where: str) -> tuple[str, ...]:
    depends_on = entry.get("dependsOn", [])
    if not isinstance(depends_on, list) or not all(isinstance(d, str) for d in depends_on):
        raise InvalidArgument(f"{where}: 'dependsOn' must be a list of request ids")
    return tuple(depends_on)


def parse_parts(body: Mapping[str, Any]) -> list[Part]:
    """The batch's requests, validated as a whole: ids unique, dependencies known and acyclic."""
    requests = body.get("requests")
    if not isinstance(requests, list) or not requests:
        raise InvalidArgument("'requests' must be a non-empty list")
    if len(requests) > MAX_REQUESTS:
        raise InvalidArgument(f"a batch holds at most {MAX_REQUESTS} requests, not {len(requests)}")
    parts: list[Part] = []
    for index, entry in enumerate(requests):
        where = f"requests[{index}]"
        if not isinstance(entry, dict):
            raise InvalidArgument(f"{where} must be an object")
        unknown = set(entry) - {"id", "method", "url", "headers", "body", "dependsOn"}
        if unknown:
            raise InvalidArgument(f"{where}: unknown fields {', '.join(sorted(unknown))}")
        part_id = _string(entry, "id", where)
        if len(part_id) > MAX_ID_CHARS:
            raise InvalidArgument(f"{where}: 'id' is longer than {MAX_ID_CHARS} characters")
        method = _string(entry, "method", where).upper()
        if method not in METHODS:
            raise InvalidArgument(f"{where}: 'method' must be one of {', '.join(sorted(METHODS))}")
        parts.append(
            Part(
                id=part_id,
                method=method,
                url=_url(_string(entry, "url", where), where),
                headers=_headers(entry, where),
                body=json.dumps(entry["body"]).encode() if "body" in entry else None,
                depends_on=_depends_on(entry, where),
            )
        )
    _check_dependencies(parts)
    return parts


def _check_dependencies(parts: list[Part]) -> None:
    ids = [part.id for part in parts]
    if len(set(ids)) != len(ids):
        twice = sorted({i for i in ids if ids.count(i) > 1})
        raise InvalidArgument(f"request ids must be unique; repeated: {', '.join(twice)}")
    for part in parts:
        unknown = [d for d in part.depends_on if d not in ids]
        if unknown:
            raise InvalidArgument(f"request '{part.id}' depends on unknown ids {unknown}")
    try:
        graphlib.TopologicalSorter({p.id: p.depends_on for p in parts}).prepare()
    except graphlib.CycleError as exc:
        raise InvalidArgument(f"'dependsOn' makes a cycle: {' -> '.join(exc.args[1])}") from exc


def _failed_dependency(part: Part, failed: Answer) -> Answer:
    detail = f"request '{failed.id}', which this one depends on, answered {failed.status}"
    return Answer(
        part.id,
        424,
        {hdrs.CONTENT_TYPE: PROBLEM_CONTENT_TYPE},
        {"type": "about:blank", "title": "Failed Dependency", "status": 424, "detail": detail},
    )


def _body_of(response: web.Response) -> Any:
    raw = response.body
    if not isinstance(raw, bytes | bytearray) or not raw:
        return None
    if response.content_type in _JSON_TYPES:
        return json.loads(raw)
    return base64.b64encode(raw).decode()


def _answer_of(part: Part, response: web.StreamResponse) -> Answer:
    if response.prepared or not isinstance(response, web.Response):
        raise RuntimeError(f"{part.method} {part.url.path} answered by streaming")
    headers: dict[str, str] = {}
    for name, value in response.headers.items():
        if name.lower() != "set-cookie":  # only refused routes set any; never to a script
            headers[name] = f"{headers[name]}, {value}" if name in headers else value
    return Answer(
        part.id, response.status, headers, _body_of(response), response.get(SECRET, False)
    )


class Batching:
    """The ``$batch`` route of ``app``; ``max_body_bytes`` bounds each sub-request's body as
    it bounds every request's."""

    def __init__(self, max_body_bytes: int) -> None:
        self._max_body_bytes = max_body_bytes

    def add_routes(self, app: web.Application) -> None:
        app.router.add_post(BATCH_PATH, self.batch)

    async def batch(self, request: web.Request) -> web.Response:
        parts = parse_parts(await read_json(request))
        subs = {part.id: self._sub_request(request, part) for part in parts}
        for part in parts:
            await self._check_batchable(request.app, part, subs[part.id])
        answers = await self._run(request.app, parts, subs)
        ordered = [answers[part.id] for part in parts]
        response = web.json_response(
            {"responses": [answer.json() for answer in ordered]},
            headers={hdrs.CACHE_CONTROL: "no-store"},
        )
        if any(answer.secret for answer in ordered):
            response[SECRET] = True  # a key or token inside: never compressed, never stored
        return response

    async def _check_batchable(self, app: web.Application, part: Part, sub: web.Request) -> None:
        # Resolved as the router will, so no spelling of the path ('/%24batch') slips past.
        match = await app.router.resolve(sub)
        resource = match.route.resource
        if resource is not None and (part.method, resource.canonical) in NOT_BATCHABLE:
            raise InvalidArgument(
                f"request '{part.id}': {part.method} {resource.canonical} cannot be batched; "
                "call it alone"
            )

    def _sub_request(self, outer: web.Request, part: Part) -> web.Request:
        """``part`` as a request on the batch's connection, with the batch's credential."""
        headers: CIMultiDict[str] = CIMultiDict(part.headers)
        for name in INHERITED:
            for value in outer.headers.getall(name, ()):
                headers.add(name, value)
        propagate.inject(headers)  # its span is a child of the batch's
        payload = EMPTY_PAYLOAD
        if part.body is not None:
            headers.setdefault(hdrs.CONTENT_TYPE, "application/json")
            headers[hdrs.CONTENT_LENGTH] = str(len(part.body))
            loop = asyncio.get_running_loop()
            # A buffer larger than the body: feeding it never pauses the batch's connection.
            payload = StreamReader(outer.protocol, 2 * len(part.body) + 1, loop=loop)
            payload.feed_data(part.body)
            payload.feed_eof()
        message = RawRequestMessage(
            method=part.method,
            path=str(part.url),
            version=outer.version,
            headers=CIMultiDictProxy(headers),
            raw_headers=tuple((k.encode(), v.encode()) for k, v in headers.items()),
            should_close=False,
            compression=None,
            upgrade=False,
            chunked=False,
            url=part.url,
        )
        return web.Request(
            message,
            payload,
            outer.protocol,
            _NoStreaming(),
            outer.task,
            asyncio.get_running_loop(),
            client_max_size=self._max_body_bytes,
        )

    async def _run(
        self, app: web.Application, parts: list[Part], subs: Mapping[str, web.Request]
    ) -> dict[str, Answer]:
        """Each part once its dependencies have answered, at most CONCURRENCY at a time."""
        by_id = {part.id: part for part in parts}
        sorter = graphlib.TopologicalSorter({p.id: p.depends_on for p in parts})
        sorter.prepare()
        answers: dict[str, Answer] = {}
        finished: asyncio.Queue[str] = asyncio.Queue()
        slots = asyncio.Semaphore(CONCURRENCY)

        async def run(part: Part) -> None:
            try:
                failed = next(
                    (answers[d] for d in part.depends_on if not answers[d].succeeded), None
                )
                if failed is not None:
                    answers[part.id] = _failed_dependency(part, failed)
                    return
                async with slots:
                    answers[part.id] = await _dispatch(app, part, subs[part.id])
            finally:
                finished.put_nowait(part.id)

        async with asyncio.TaskGroup() as tasks:
            while sorter.is_active():
                for ready in sorter.get_ready():
                    tasks.create_task(run(by_id[ready]))
                sorter.done(await finished.get())
        return answers


async def _dispatch(app: web.Application, part: Part, sub: web.Request) -> Answer:
    try:
        # What the server itself calls for each request: routing, then every middleware.
        response = await app._handle(sub)
    except web.HTTPException as exc:  # a redirect, which the server would have sent
        return Answer(part.id, exc.status, dict(exc.headers))
    return _answer_of(part, response)
