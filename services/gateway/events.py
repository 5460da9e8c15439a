"""``/v1/events``: the browser's SSE stream, relayed from fan-out unbuffered.

The browser's ``EventSource`` cannot send a header, so a session cookie or a stream token
(``?token=``) authenticates it (a program sends its key). What picks the stream's content goes
up as it came (``?topics=``, ``?last_event_id=``, ``Last-Event-ID``); the stream ends within
moments of its credential being revoked.
"""

from __future__ import annotations

from typing import Final

import aiohttp
from aiohttp import hdrs, web

from libs.errors import Unavailable
from libs.identity import Identities
from services.gateway.auth import IDENTITY
from services.gateway.fanout_link import FanOutLink, Refusal

__all__ = ["EVENTS_PATH", "EventsRelay"]

EVENTS_PATH: Final = "/v1/events"
_HEADERS: Final = ("Last-Event-ID", hdrs.ACCEPT)
_QUERY: Final = ("topics", "last_event_id")


class EventsRelay:
    def __init__(self, link: FanOutLink, identities: Identities) -> None:
        self._link = link
        self._identities = identities

    def add_routes(self, app: web.Application) -> None:
        app.router.add_get(EVENTS_PATH, self.relay)

    async def relay(self, request: web.Request) -> web.StreamResponse:
        identity = request[IDENTITY]
        try:
            upstream = await self._link.client.get(
                self._link.url(EVENTS_PATH),
                headers=self._link.headers(request, _HEADERS),
                params=self._link.query(request, _QUERY),
            )
        except Refusal as refusal:  # already a problem document: passed through as it is
            return refusal.response(request)
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise Unavailable("live events are unavailable right now") from exc
        async with upstream:
            if upstream.status != 200 or upstream.content_type != "text/event-stream":
                raise Unavailable("live events are unavailable right now")
            response = web.StreamResponse(
                headers={
                    hdrs.CONTENT_TYPE: "text/event-stream",
                    hdrs.CACHE_CONTROL: "no-cache",
                    "X-Accel-Buffering": "no",
                }
            )
            await response.prepare(request)
            # Revoked: closing the upstream ends the loop below, and with it the stream.
            stop_watching = self._identities.on_revoked(identity, upstream.close)
            try:
                async for chunk in upstream.content.iter_any():
                    await response.write(chunk)
            except (aiohttp.ClientError, ConnectionResetError, TimeoutError):
                pass  # either side went away; the browser reconnects with Last-Event-ID
            finally:
                stop_watching()
            return response
