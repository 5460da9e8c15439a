"""``/v1/events``: the browser's one SSE stream, relayed from the fanout service unbuffered.

The browser's ``EventSource`` cannot send a header, so a session cookie authenticates it (a
program sends its key). The stream ends within moments of its credential being revoked.
"""

from __future__ import annotations

import aiohttp
from aiohttp import web
from opentelemetry import propagate

from libs.errors import Unavailable
from libs.identity import Identities
from services.gateway.auth import IDENTITY

__all__ = ["EventsRelay"]

_FORWARDED = ("Authorization", "X-API-Key", "Last-Event-ID", "Accept")


class EventsRelay:
    def __init__(self, fanout_url: str, identities: Identities, session_cookie: str) -> None:
        self._fanout_url = fanout_url.rstrip("/")
        self._identities = identities
        self._session_cookie = session_cookie
        self._session: aiohttp.ClientSession | None = None

    def add_routes(self, app: web.Application) -> None:
        app.router.add_get("/v1/events", self.relay)
        app.on_cleanup.append(self._close)

    async def relay(self, request: web.Request) -> web.StreamResponse:
        if self._session is None:
            # No total timeout: the stream lives as long as the browser keeps it open.
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=None, connect=2, sock_read=60)
            )
        identity = request[IDENTITY]
        headers = {k: request.headers[k] for k in _FORWARDED if k in request.headers}
        if identity.credential_kind == "session":  # fanout checks the credential again
            token = request.cookies[self._session_cookie]
            headers["Cookie"] = f"{self._session_cookie}={token}"
        propagate.inject(headers)
        try:
            upstream = await self._session.get(
                f"{self._fanout_url}/v1/events", headers=headers, params=request.query
            )
        except aiohttp.ClientError as exc:
            raise Unavailable("live events are unavailable right now") from exc
        async with upstream:
            if upstream.status != 200 or upstream.content_type != "text/event-stream":
                # An error from fanout is already a problem document; pass it through as is.
                return web.Response(
                    status=upstream.status,
                    body=await upstream.read(),
                    content_type=upstream.content_type,
                    headers={k: v for k, v in upstream.headers.items() if k == "Retry-After"},
                )
            response = web.StreamResponse(
                headers={
                    "Content-Type": "text/event-stream",
                    "Cache-Control": "no-cache",
                    "X-Accel-Buffering": "no",
                }
            )
            await response.prepare(request)
            # Revoked: closing the upstream ends the loop below, and with it the stream.
            stop_watching = self._identities.on_revoked(identity, upstream.close)
            try:
                async for chunk in upstream.content.iter_any():
                    await response.write(chunk)
            except (aiohttp.ClientError, ConnectionResetError):
                pass  # either side went away; the browser reconnects with Last-Event-ID
            finally:
                stop_watching()
            return response

    async def _close(self, _: web.Application) -> None:
        if self._session is not None:
            await self._session.close()
