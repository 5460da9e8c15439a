"""The gateway's client of fan-out, which both live relays (``/v1/events``, ``/v1/ws``) use: one
upstream connection per live connection with no ceiling on how many, and what each carries up
(the credential as it was presented, the trace).

aiohttp's default connector holds at most 100 connections and makes the 101st wait for one
(then time out): with long-lived streams that is a ceiling of 100 open streams per worker. Here
the connector has no limit; the rate limiter's ``event_streams`` lease and fan-out's own caps
bound the connections instead.

A refusal from fan-out (a problem document: 401, 429, 503, ...) is raised as ``Refusal`` while
the upstream request is answered, before the relay commits to anything, so it reaches the
browser as the HTTP answer it is: for a WebSocket, before any upgrade.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from typing import Final

import aiohttp
from aiohttp import hdrs, web
from opentelemetry import propagate

from libs.identity import STREAM_TOKEN_QUERY
from libs.web import problem_response
from services.gateway.auth import PRESENTED

__all__ = ["FanOutLink", "Refusal"]

# A problem document is a few hundred bytes; a larger answer is not one, and is not read.
_MAX_REFUSAL_BYTES: Final = 64 << 10
_KEY_HEADERS: Final = (hdrs.AUTHORIZATION, "X-API-Key")
# Fan-out sends an SSE comment every 15 s: a minute of silence is a dead upstream.
_TIMEOUT: Final = aiohttp.ClientTimeout(total=None, connect=5, sock_connect=2, sock_read=60)


class Refusal(Exception):
    """Fan-out answered with an error instead of opening the connection."""

    def __init__(self, status: int, body: bytes, content_type: str, retry_after: str | None):
        super().__init__(f"fan-out answered {status}")
        self.status = status
        self.body = body
        self.content_type = content_type
        self.retry_after = retry_after

    def response(self, request: web.Request) -> web.Response:
        """The refusal as fan-out wrote it (with its ``Retry-After``)."""
        headers = {"Retry-After": self.retry_after} if self.retry_after else None
        if not self.body:  # too large to be a problem document, or none at all
            return problem_response(
                self.status,
                "Live events refused",
                f"the live event service answered {self.status}",
                type_slug="unavailable" if self.status >= 500 else "live-events-refused",
                instance=request.rel_url.raw_path,
                headers=headers,
            )
        return web.Response(
            status=self.status, body=self.body, content_type=self.content_type, headers=headers
        )


async def _raise_refusal(response: aiohttp.ClientResponse) -> None:
    """The session's ``raise_for_status``: every 4xx/5xx from fan-out, with its body."""
    if response.status < 400:
        return
    body = b""
    length = response.content_length
    if length is not None and length <= _MAX_REFUSAL_BYTES:
        body = await response.read()
    retry_after = response.headers.get(hdrs.RETRY_AFTER)
    response.release()
    raise Refusal(response.status, body, response.content_type, retry_after)


class FanOutLink:
    """The HTTP client of fan-out at ``base_url``; ``session_cookie`` is the name under which
    this gateway's browsers send their session."""

    def __init__(self, base_url: str, session_cookie: str) -> None:
        self._base_url = base_url.rstrip("/")
        self._session_cookie = session_cookie
        self._client: aiohttp.ClientSession | None = None

    def add_to(self, app: web.Application) -> None:
        app.cleanup_ctx.append(self._open)

    async def _open(self, _: web.Application) -> AsyncIterator[None]:
        connector = aiohttp.TCPConnector(limit=0, limit_per_host=0)
        self._client = aiohttp.ClientSession(
            connector=connector, timeout=_TIMEOUT, raise_for_status=_raise_refusal
        )
        try:
            yield
        finally:
            await self._client.close()

    @property
    def client(self) -> aiohttp.ClientSession:
        if self._client is None:
            raise RuntimeError("the fan-out link is open only while the app runs")
        return self._client

    def url(self, path: str) -> str:
        return f"{self._base_url}{path}"

    def headers(self, request: web.Request, forwarded: Iterable[str]) -> dict[str, str]:
        """The ``forwarded`` headers the browser sent, the credential it was authenticated
        with (fan-out checks it again), and the trace context, for the upstream request."""
        headers = {name: request.headers[name] for name in forwarded if name in request.headers}
        credential = request[PRESENTED]
        if credential.kind == "key":
            headers |= {k: request.headers[k] for k in _KEY_HEADERS if k in request.headers}
        elif credential.kind == "session":
            headers[hdrs.COOKIE] = f"{self._session_cookie}={credential.secret}"
        # Where the browser was and what it asked for: fan-out sees the gateway's connection
        # and its own host, and a cookie upgrade's Origin names the gateway's.
        headers[hdrs.X_FORWARDED_FOR] = request.remote or ""
        headers[hdrs.X_FORWARDED_HOST] = request.host
        headers[hdrs.X_FORWARDED_PROTO] = request.scheme
        # An event stream is sent as it is written; a coding would hold it back in a buffer.
        headers[hdrs.ACCEPT_ENCODING] = "identity"
        propagate.inject(headers)
        return headers

    def query(self, request: web.Request, forwarded: Iterable[str]) -> dict[str, str]:
        """The ``forwarded`` query parameters, and the stream token when it was the
        credential."""
        query = {name: request.query[name] for name in forwarded if name in request.query}
        credential = request[PRESENTED]
        if credential.kind == "stream":
            query[STREAM_TOKEN_QUERY] = credential.secret
        return query
