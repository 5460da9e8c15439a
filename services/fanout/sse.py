"""``GET /v1/events``: one user's live connection as Server-Sent Events, from the same hub.

Topics come in the URL (``?topics=canvas:<id>,batch:<id>``) and the resume point in
``Last-Event-ID`` (``EventSource`` sends it by itself) or ``?last_event_id=``. Each event is
``id: <seq>`` / ``event: <type>`` / ``data: <the JSON event message>``; every other message is
an SSE event named ``shotgraph.<type>`` without an id, so ``Last-Event-ID`` only names events.
"""

from __future__ import annotations

import asyncio
import re

from aiohttp import web
from aiohttp.abc import AbstractStreamWriter

from libs.errors import InvalidArgument
from libs.live.protocol import CloseCode
from services.fanout.connection import Connection
from services.fanout.feed import STREAM
from services.fanout.hub import Hub
from services.fanout.live import Live
from services.fanout.topics import parse_topics
from services.fanout.wire import Wire

__all__ = ["PING", "SseSink", "events", "keep_alive", "resume_point"]

PING = b": ping\n\n"  # a comment: keeps proxies from closing an idle stream
# ASCII digits only: str.isdigit() also passes "²" (which int() refuses) and other scripts' digits.
_EVENT_ID = re.compile(r"[0-9]{1,19}")


def resume_point(request: web.Request) -> int | None:
    """The stream sequence to resume after, from the header browsers send or a query fallback."""
    raw = request.headers.get("Last-Event-ID") or request.query.get("last_event_id", "")
    if not raw:
        return None
    if not _EVENT_ID.fullmatch(raw):
        raise InvalidArgument("Last-Event-ID must be a non-negative integer event id")
    return int(raw)


class SseSink:
    """An event stream's transport, written without waiting once its headers are out.

    The body is chunked (HTTP/1.1 without a length), so each write is framed as one chunk here;
    aiohttp writes the headers before and the last chunk after.
    """

    __slots__ = ("_chunked", "_ended", "_request", "writer")

    transport = "sse"

    def __init__(self, request: web.Request) -> None:
        self._request = request
        self._chunked = False
        self._ended: asyncio.Future[CloseCode | None] = asyncio.get_running_loop().create_future()
        self.writer: AbstractStreamWriter | None = None

    async def open(self, response: web.StreamResponse) -> None:
        """Send the headers (with a first comment, which makes aiohttp write them now)."""
        self.writer = await response.prepare(self._request)
        await response.write(PING)
        self._chunked = response.chunked or bool(getattr(self.writer, "chunked", False))

    def buffered(self) -> int:
        transport = self._request.transport
        return 0 if transport is None else transport.get_write_buffer_size()

    def write(self, data: bytes) -> bool:
        transport = self._request.transport
        if self.writer is None or transport is None or transport.is_closing():
            return False
        if self._chunked:
            transport.write(b"%x\r\n%b\r\n" % (len(data), data))
        else:
            transport.write(data)
        return True

    async def drain(self) -> None:
        if self.writer is not None:
            await self.writer.drain()

    def end(self, code: CloseCode | None) -> None:
        if code is CloseCode.TOO_SLOW:
            transport = self._request.transport
            if transport is not None:
                transport.abort()  # its unread events go with the socket; it resumes
        if not self._ended.done():
            self._ended.set_result(code)

    async def ended(self) -> None:
        await self._ended


async def events(live: Live, request: web.Request) -> web.StreamResponse:
    """Open the stream, say ``hello``, subscribe and resume, then relay until it ends."""
    hub = live.hub
    hub.check_open()
    credential = await live.authenticate(request, upgrade=False)
    topics = parse_topics(request.query.get("topics", ""))
    after = resume_point(request)
    identity = await live.identities.resolve(credential)
    if after is not None:
        last = (await live.js.stream_info(STREAM)).state.last_seq
        if after > last:
            raise InvalidArgument(
                f"Last-Event-ID {after} is beyond the stream's last sequence, {last}"
            )
    hub.admit(identity.user_id)
    response = web.StreamResponse(
        headers={
            "Content-Type": "text/event-stream",
            "Cache-Control": "no-cache",
            "X-Accel-Buffering": "no",  # proxies pass each event on at once
        }
    )
    sink = SseSink(request)
    connection = Connection(identity, credential, Wire.SSE, sink)
    live.attach(connection)
    try:
        await sink.open(response)
        hub.send(connection, live.hello(connection))
        for topic in topics:
            await live.subscribe(connection, topic.name)
        if after is None:
            hub.release(connection)
        else:
            await live.resume(connection, after)
        hub.flush_now(connection)
        await sink.ended()
    finally:
        await live.detach(connection)
    return response


async def keep_alive(hub: Hub, period_s: float) -> None:
    """A comment on every open stream each ``period_s``, so no proxy thinks it idle."""
    while True:
        await asyncio.sleep(period_s)
        for connection in tuple(hub.connections):
            if connection.ended is None and isinstance(connection.sink, SseSink):
                connection.sink.write(PING)
