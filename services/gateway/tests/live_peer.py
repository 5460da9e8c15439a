"""A small real HTTP server standing in for fan-out behind the gateway's live relays: it answers
``/v1/events`` with an event stream and ``/v1/ws`` with a WebSocket that speaks first, echoes
what it is sent, and closes with the code a client asks for; it remembers what reached it.

It knows nothing of fan-out's internals: only the wire (``docs/live-events.md``)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from dataclasses import dataclass, field

from aiohttp import WSMsgType, web
from aiohttp.test_utils import TestServer

from libs.live.protocol import MSGPACK_PROTOCOL
from libs.web import problem_response

__all__ = ["DROP", "HELLO", "LivePeer", "Seen", "close_request"]

# What the peer's WebSocket says first: a binary frame, as a msgpack connection's would be.
HELLO = b"\x91\x82\xa4type\xa5hello\xa7user_id\xa3ada"


# A text frame asking the peer to drop the connection without closing it.
DROP = b'{"drop": true}'


def close_request(code: int, reason: str = "") -> str:
    """A text frame asking the peer to close with ``code``."""
    return json.dumps({"close": code, "reason": reason})


@dataclass(frozen=True)
class Seen:
    """One request that reached the peer."""

    path: str
    headers: Mapping[str, str]
    query: Mapping[str, str]


@dataclass
class LivePeer:
    # Set: every request is answered with this problem status (and Retry-After for 503).
    refuse: int | None = None
    seen: list[Seen] = field(default_factory=list)
    # SSE: each stream sends its first event, then waits for this before it ends.
    release_streams: asyncio.Event = field(default_factory=asyncio.Event)
    streams_open: int = 0
    # WebSocket: the frames received (type, bytes) and how the gateway closed the socket.
    frames: list[tuple[WSMsgType, bytes]] = field(default_factory=list)
    closed_with: int | None = None
    closed: asyncio.Event = field(default_factory=asyncio.Event)
    url: str = ""

    async def start(self) -> TestServer:
        app = web.Application()
        app.router.add_get("/v1/events", self.events)
        app.router.add_get("/v1/ws", self.websocket)
        server = TestServer(app, host="127.0.0.1")
        await server.start_server()
        self.url = str(server.make_url("/"))
        return server

    def _refusal(self) -> web.Response | None:
        if self.refuse is None:
            return None
        return problem_response(
            self.refuse,
            "Refused by the peer",
            f"the peer refuses with {self.refuse}",
            type_slug="peer-refused",
            headers={"Retry-After": "7"} if self.refuse == 503 else None,
        )

    def _remember(self, request: web.Request) -> None:
        self.seen.append(Seen(request.path, dict(request.headers), dict(request.query)))

    async def events(self, request: web.Request) -> web.StreamResponse:
        self._remember(request)
        if (refusal := self._refusal()) is not None:
            return refusal
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        self.streams_open += 1
        try:
            await response.write(b'id: 1\nevent: batch.progress\ndata: {"n": 1}\n\n')
            await self.release_streams.wait()
            await response.write(b": bye\n\n")
        finally:
            self.streams_open -= 1
        return response

    async def websocket(self, request: web.Request) -> web.StreamResponse:
        self._remember(request)
        if (refusal := self._refusal()) is not None:
            return refusal
        ws = web.WebSocketResponse(protocols=(MSGPACK_PROTOCOL,), decode_text=False)
        await ws.prepare(request)
        await ws.send_bytes(HELLO)
        async for message in ws:
            data: bytes = message.data
            self.frames.append((message.type, data))
            if message.type is WSMsgType.TEXT and data.startswith(b'{"close"'):
                asked = json.loads(data)
                await ws.close(code=asked["close"], message=asked["reason"].encode())
                break
            if message.type is WSMsgType.TEXT and data == DROP:
                assert request.transport is not None
                request.transport.abort()  # gone without a close frame, as a killed process
                break
            await ws.send_frame(data, message.type)  # echoed as it came
        self.closed_with = ws.close_code
        self.closed.set()
        return ws
