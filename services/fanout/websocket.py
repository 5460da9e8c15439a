"""``GET /v1/ws``: one user's live connection over a WebSocket (``docs/live-events.md``).

Frames go straight to the socket's transport (``WebSocketSink``): aiohttp's ``send_bytes``
waits for a slow peer, and the hub writes to every connection from one flush that must never
wait on one of them. What the peer has not taken is the connection's queue, bounded by the hub.
"""

from __future__ import annotations

import asyncio

from aiohttp import WSMsgType, web
from aiohttp.abc import AbstractStreamWriter

from libs.errors import InvalidArgument
from libs.live.protocol import (
    MAX_CLIENT_MESSAGE_BYTES,
    PROTOCOLS,
    CloseCode,
    ErrorMessage,
    Ping,
    Pong,
    Resume,
    Subscribe,
    Unsubscribe,
)
from libs.logs import get_logger
from services.fanout.connection import Connection
from services.fanout.live import Live
from services.fanout.wire import BadResume, ClientError, Wire, read_client_message

__all__ = ["WebSocketSink", "websocket"]

log = get_logger(__name__)

# How long a closing handshake may take before the socket is dropped: a peer that never reads
# never answers, and what was written for it is freed only when its socket goes.
_CLOSE_TIMEOUT_S = 5.0


class WebSocketSink:
    """A WebSocket's transport, written without waiting."""

    __slots__ = ("_closing", "_request", "_ws", "writer")

    transport = "websocket"

    def __init__(self, request: web.Request, ws: web.WebSocketResponse) -> None:
        self._request = request
        self._ws = ws
        self._closing: asyncio.Task[None] | None = None
        self.writer: AbstractStreamWriter | None = None  # once upgraded: for drain()

    def buffered(self) -> int:
        transport = self._request.transport
        return 0 if transport is None else transport.get_write_buffer_size()

    def write(self, data: bytes) -> bool:
        transport = self._request.transport
        if transport is None or transport.is_closing() or self._ws.closed:
            return False
        transport.write(data)  # whole frames only, so nothing aiohttp writes can interleave
        return True

    async def drain(self) -> None:
        if self.writer is not None and not self._ws.closed:
            await self.writer.drain()

    def end(self, code: CloseCode | None) -> None:
        if self._closing is None:
            self._closing = asyncio.get_running_loop().create_task(
                self._close(code or CloseCode.NORMAL)
            )

    async def _close(self, code: CloseCode) -> None:
        try:
            if self._ws.prepared:
                # drain=False: a peer that does not read would hold the close forever.
                await asyncio.wait_for(self._ws.close(code=code, drain=False), _CLOSE_TIMEOUT_S)
        except (TimeoutError, ConnectionError):
            pass  # the peer is gone or does not answer: the socket goes below
        except Exception as exc:
            log.warning("fanout.close_failed", error=repr(exc))
        finally:
            transport = self._request.transport
            if transport is not None and transport.get_write_buffer_size():
                # What it has not read yet (the close frame last) may still go; a peer that
                # never reads loses its socket, and the memory with it, a little later.
                asyncio.get_running_loop().call_later(_CLOSE_TIMEOUT_S, transport.abort)

    async def closed(self) -> None:
        """Until the close this sink started (if any) is over."""
        if self._closing is not None:
            await asyncio.shield(self._closing)


def _offered(request: web.Request) -> list[str]:
    header = ",".join(request.headers.getall("Sec-WebSocket-Protocol", []))
    return [p.strip() for p in header.split(",") if p.strip()]


async def websocket(live: Live, request: web.Request) -> web.StreamResponse:
    """Upgrade, say ``hello``, then serve the client's messages until either side ends."""
    hub = live.hub
    hub.check_open()  # 503 before anything is asked of auth
    protocol = next((p for p in _offered(request) if p in PROTOCOLS), None)
    if protocol is None:
        raise InvalidArgument(f"offer the subprotocol {' or '.join(PROTOCOLS)}")
    credential = await live.authenticate(request, upgrade=True)
    identity = await live.identities.resolve(credential)
    hub.admit(identity.user_id)
    ws = web.WebSocketResponse(
        protocols=(protocol,),
        compress=False,  # memory per connection, and every frame would be encoded again
        heartbeat=live.settings.fanout_heartbeat_s,
        max_msg_size=MAX_CLIENT_MESSAGE_BYTES,
        timeout=_CLOSE_TIMEOUT_S,
        decode_text=False,
    )
    sink = WebSocketSink(request, ws)
    connection = Connection(identity, credential, Wire.of_subprotocol(protocol), sink)
    live.attach(connection)  # before the upgrade: the user's cap counts it at once
    try:
        sink.writer = await ws.prepare(request)
        hub.send(connection, live.hello(connection))
        hub.flush_now(connection)
        wait_s = live.settings.fanout_first_message_wait_ms / 1000
        connection.timer = asyncio.get_running_loop().call_later(wait_s, hub.release, connection)
        await _serve(live, ws, connection)
    finally:
        await live.detach(connection)
        if not ws.closed and ws.prepared:
            sink.end(connection.ended or CloseCode.NORMAL)
        await sink.closed()
    return ws


async def _serve(live: Live, ws: web.WebSocketResponse, connection: Connection) -> None:
    hub = live.hub
    first = True
    async for frame in ws:
        if frame.type not in (WSMsgType.TEXT, WSMsgType.BINARY):
            break  # an error (1009 for a frame over the limit): aiohttp has closed it
        try:
            message = read_client_message(connection.wire, frame.data)
        except ClientError as exc:
            log.info("fanout.bad_client_message", code=int(exc.code), detail=exc.detail)
            hub.end(connection, exc.code)
            break
        except BadResume as exc:
            if not first:
                hub.end(connection, CloseCode.RESUME_NOT_FIRST)
                break
            first = False
            await _subscribe_all(live, connection, exc.topics)
            hub.send(connection, ErrorMessage(code="bad_resume", detail=exc.detail))
            hub.release(connection)
            continue
        if isinstance(message, Resume):
            if not first:
                hub.end(connection, CloseCode.RESUME_NOT_FIRST)
                break
            first = False
            await _resume(live, connection, message)
            continue
        if first:
            first = False
            hub.release(connection)  # no resume: the live events waiting go out now
        if isinstance(message, Subscribe):
            await live.subscribe(connection, message.topic)
        elif isinstance(message, Unsubscribe):
            await live.unsubscribe(connection, message.topic)
        elif isinstance(message, Ping):
            hub.send(connection, Pong(id=message.id))


async def _subscribe_all(live: Live, connection: Connection, topics: tuple[str, ...]) -> None:
    for topic in dict.fromkeys(topics):
        await live.subscribe(connection, topic)


async def _resume(live: Live, connection: Connection, message: Resume) -> None:
    hub = live.hub
    if connection.timer is not None:  # held until the replay is over, however long it takes
        connection.timer.cancel()
        connection.timer = None
    await _subscribe_all(live, connection, tuple(message.topics))
    try:
        await live.resume(connection, message.after)
    except Exception:
        log.exception("fanout.replay_failed", connection=connection.id)
        hub.end(connection, CloseCode.SERVER_ERROR)
    hub.flush_now(connection)
