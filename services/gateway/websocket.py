"""``/v1/ws``: the browser's WebSocket, relayed to fan-out frame for frame.

The browser's connection is upgraded only once fan-out has accepted the upstream one, so a
refusal (a problem document: 401, 429, 503, ...) reaches the browser as the HTTP answer it is,
and the subprotocol the browser gets is the one fan-out chose among those it offered. Then
frames pass both ways as they are (text as text, binary as binary, never decoded), each side's
close code reaches the other, the gateway pings the browser itself, and a revoked credential
closes both ends with 4401. A slow browser holds the upstream back (each send waits for its
buffer to drain), so fan-out's own bound on a connection's queue applies through the relay.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Final

import aiohttp
from aiohttp import WSCloseCode, WSMsgType, hdrs, web

from libs.errors import InvalidArgument, Unavailable
from libs.identity import Identities
from libs.live.protocol import MAX_CLIENT_MESSAGE_BYTES, CloseCode
from services.gateway.auth import IDENTITY
from services.gateway.fanout_link import FanOutLink, Refusal

__all__ = ["WS_PATH", "WebSocketRelay"]

WS_PATH: Final = "/v1/ws"
MAX_PROTOCOLS: Final = 8  # offered subprotocols passed on; a browser offers one or two
_MAX_PROTOCOL_CHARS: Final = 64
# Fan-out's frames are one batching window's messages, bounded by its per-connection queue
# (256 KiB by default); this leaves room without letting a runaway frame take the worker.
_MAX_UPSTREAM_FRAME: Final = 16 << 20
_CLOSE_TIMEOUT_S: Final = 5.0
_HEADERS: Final = (hdrs.ORIGIN, hdrs.USER_AGENT)
# Codes an endpoint may not send in a close frame (RFC 6455 §7.4.1): they stand for "none given"
# and "the connection dropped". A browser that left without a code has left normally; an
# upstream that dropped is a server error the client recovers from by resuming.
_UNSENDABLE: Final = frozenset({1004, 1005, 1006, 1015})

_Close = tuple[int, bytes]


def _offered(request: web.Request) -> tuple[str, ...]:
    header = ",".join(request.headers.getall(hdrs.SEC_WEBSOCKET_PROTOCOL, ()))
    offered = tuple(p.strip() for p in header.split(",") if p.strip())
    if len(offered) > MAX_PROTOCOLS or any(len(p) > _MAX_PROTOCOL_CHARS for p in offered):
        raise InvalidArgument(f"offer at most {MAX_PROTOCOLS} WebSocket subprotocols")
    return offered


def _sendable(code: int | None, otherwise: int) -> int:
    if code is None or code in _UNSENDABLE or not 1000 <= code <= 4999:
        return otherwise
    return code


class WebSocketRelay:
    """``heartbeat_s``: how often the browser is pinged (and the upstream); a ping unanswered
    for half of it closes the connection."""

    def __init__(self, link: FanOutLink, identities: Identities, *, heartbeat_s: float) -> None:
        self._link = link
        self._identities = identities
        self._heartbeat_s = heartbeat_s
        self._open: set[Callable[[], None]] = set()

    def add_routes(self, app: web.Application) -> None:
        app.router.add_get(WS_PATH, self.relay)
        app.on_shutdown.append(self._restarting)

    async def relay(self, request: web.Request) -> web.StreamResponse:
        identity = request[IDENTITY]
        offered = _offered(request)
        if not web.WebSocketResponse(protocols=offered).can_prepare(request):
            raise InvalidArgument(f"GET {WS_PATH} opens a WebSocket: send an upgrade request")
        upstream = await self._connect(request, offered)
        if isinstance(upstream, web.Response):
            return upstream
        try:
            client = web.WebSocketResponse(
                protocols=(upstream.protocol,) if upstream.protocol else (),
                compress=False,  # per-connection memory, and it defeats fan-out's encode-once
                # Larger is closed with 1009. aiohttp refuses a frame of max_msg_size itself.
                max_msg_size=MAX_CLIENT_MESSAGE_BYTES + 1,
                heartbeat=self._heartbeat_s,
                timeout=_CLOSE_TIMEOUT_S,
                decode_text=False,
            )
            await client.prepare(request)
        except BaseException:
            await upstream.close(code=WSCloseCode.GOING_AWAY)
            raise
        ended = asyncio.Event()
        closing: list[_Close] = []

        def close_both(code: int, reason: bytes) -> None:
            if not closing:
                closing.append((code, reason))
            ended.set()

        def revoked() -> None:
            close_both(CloseCode.UNAUTHENTICATED, b"the credential was revoked")

        def restarting() -> None:
            close_both(WSCloseCode.SERVICE_RESTART, b"the gateway is restarting: reconnect")

        stop_watching = self._identities.on_revoked(identity, revoked)
        self._open.add(restarting)
        try:
            await _pipe(client, upstream, ended, closing)
        finally:
            self._open.discard(restarting)
            stop_watching()
        return client

    async def _connect(
        self, request: web.Request, offered: tuple[str, ...]
    ) -> aiohttp.ClientWebSocketResponse[bool] | web.Response:
        """The upstream WebSocket, or fan-out's refusal as the answer to give."""
        try:
            return await self._link.client.ws_connect(
                self._link.url(WS_PATH),
                protocols=offered,
                headers=self._link.headers(request, _HEADERS),
                params=self._link.query(request, ()),
                timeout=aiohttp.ClientWSTimeout(ws_receive=None, ws_close=_CLOSE_TIMEOUT_S),
                heartbeat=self._heartbeat_s,
                compress=0,
                max_msg_size=_MAX_UPSTREAM_FRAME,
                decode_text=False,
            )
        except Refusal as refusal:
            return refusal.response(request)
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise Unavailable("live events are unavailable right now") from exc

    async def _restarting(self, _: web.Application) -> None:
        for close in list(self._open):
            close()


async def _pipe(
    client: web.WebSocketResponse[bool],
    upstream: aiohttp.ClientWebSocketResponse[bool],
    ended: asyncio.Event,
    closing: list[_Close],
) -> None:
    """Frames both ways until one side closes (its code goes to the other) or ``ended`` is set
    (``closing`` holds the code both get)."""
    up = asyncio.create_task(_client_to_upstream(client, upstream))
    down = asyncio.create_task(_upstream_to_client(upstream, client))
    stop = asyncio.create_task(ended.wait())
    try:
        await asyncio.wait((up, down, stop), return_when=asyncio.FIRST_COMPLETED)
        if closing:
            code, reason = closing[0]
            await asyncio.gather(
                client.close(code=code, message=reason),
                upstream.close(code=code, message=reason),
            )
        elif down.done():  # fan-out closed: the browser gets its code and reason
            code, reason = down.result()
            await client.close(code=_sendable(code, WSCloseCode.INTERNAL_ERROR), message=reason)
        else:  # the browser closed (or sent an oversized frame): fan-out hears it left
            code, reason = _close_of(up, WSCloseCode.GOING_AWAY)
            await upstream.close(code=_sendable(code, WSCloseCode.OK), message=reason)
        # Each side's close has broken the other loop's receive: let both finish.
        await asyncio.wait((up, down), timeout=_CLOSE_TIMEOUT_S)
    finally:
        for task in (up, down, stop):
            task.cancel()
        await asyncio.gather(up, down, stop, return_exceptions=True)
        # What is still open after a cancellation (the browser's connection was lost) or a
        # side that went quiet: closed with what is known of why.
        if not upstream.closed:
            code, reason = _close_of(up, WSCloseCode.GOING_AWAY)
            await upstream.close(code=_sendable(code, WSCloseCode.OK), message=reason)
        if not client.closed:
            code, reason = _close_of(down, WSCloseCode.INTERNAL_ERROR)
            await client.close(code=_sendable(code, WSCloseCode.INTERNAL_ERROR), message=reason)


def _close_of(side: asyncio.Task[_Close], unknown: WSCloseCode) -> _Close:
    """How one side ended (its close code and reason), or ``unknown`` when that is not known:
    1001 for a browser that just went, 1011 (resume elsewhere) for fan-out."""
    if side.done() and not side.cancelled() and side.exception() is None:
        return side.result()
    return unknown, b""


async def _client_to_upstream(
    client: web.WebSocketResponse[bool], upstream: aiohttp.ClientWebSocketResponse[bool]
) -> _Close:
    """The browser's frames to fan-out; returns the browser's close code and reason."""
    while True:
        message = await client.receive()
        if message.type is WSMsgType.TEXT or message.type is WSMsgType.BINARY:
            try:
                await upstream.send_frame(_bytes(message.data), message.type)
            except (aiohttp.ClientError, ConnectionError):
                return WSCloseCode.OK, b""  # fan-out went: the other loop says how
            continue
        if message.type is WSMsgType.CLOSE:
            return message.data, _reason(message.extra)
        if message.type is WSMsgType.ERROR:
            return WSCloseCode.OK, b""  # aiohttp has closed the browser (1009, a bad frame)
        return client.close_code or WSCloseCode.OK, b""


async def _upstream_to_client(
    upstream: aiohttp.ClientWebSocketResponse[bool], client: web.WebSocketResponse[bool]
) -> _Close:
    """Fan-out's frames to the browser; returns fan-out's close code and reason."""
    while True:
        message = await upstream.receive()
        if message.type is WSMsgType.TEXT or message.type is WSMsgType.BINARY:
            try:
                await client.send_frame(_bytes(message.data), message.type)
            except ConnectionError:
                return WSCloseCode.OK, b""  # the browser went: the other loop says how
            continue
        if message.type is WSMsgType.CLOSE:
            return message.data, _reason(message.extra)
        # Dropped without a close frame, or a heartbeat unanswered: a server error.
        return upstream.close_code or WSCloseCode.ABNORMAL_CLOSURE, b""


def _bytes(data: object) -> bytes:
    assert isinstance(data, bytes | bytearray)  # decode_text=False: text stays bytes
    return bytes(data)


def _reason(extra: object) -> bytes:
    """A close frame's reason, cut to the 123 bytes a frame holds, on a character's end."""
    raw = extra.encode() if isinstance(extra, str) else extra
    if not isinstance(raw, bytes) or not raw:
        return b""
    return raw[:123].decode(errors="ignore").encode()
