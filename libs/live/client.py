"""A live connection to Shotgraph as a program holds one: WebSocket or SSE, kept open.

``LiveClient`` speaks the protocol of ``docs/live-events.md`` (types in ``libs.live.protocol``)
to a gateway or a fan-out replica. It keeps the highest ``seq`` it has received and the topics
it follows, and when a connection drops, or the server closes it with a code that says so, it
connects again after a backoff with full jitter and resumes from that ``seq``: nothing is
missed, and a ``Reset`` comes through when history no longer reaches back. It stops, raising
``AuthenticationFailed`` or ``ProtocolViolation``, when retrying cannot help::

    async with LiveClient(url, auth=ApiKey(key), topics=["canvas:..."]) as client:
        async for message in client:  # Hello, EventMessage, Subscribed, Reset, ...
            ...
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import random
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Final, Literal

import aiohttp
import msgspec
from yarl import URL

from libs.live.backoff import Backoff
from libs.live.protocol import (
    JSON_PROTOCOL,
    MSGPACK_PROTOCOL,
    SERVER_MESSAGES,
    ClientMessage,
    CloseCode,
    EventMessage,
    Hello,
    Ping,
    Reconnect,
    Refused,
    Reset,
    Resume,
    ServerMessage,
    Subscribe,
    Unsubscribe,
    Unsubscribed,
)
from libs.live.sse import SseEvent, SseParser
from libs.logs import get_logger

__all__ = [
    "ApiKey",
    "AuthenticationFailed",
    "Backoff",
    "ConnectionStats",
    "Credential",
    "LiveClient",
    "LiveError",
    "ProtocolViolation",
    "SessionCookie",
    "StreamTokens",
]

log = get_logger(__name__)

WS_PATH: Final = "/v1/ws"
SSE_PATH: Final = "/v1/events"
ABNORMAL_CLOSURE: Final = 1006  # no close frame: the connection was cut
_PROTOCOL_ERROR: Final = 1002  # what the client closes with when the server's frames are garbage
_NO_STATUS: Final = 1005
# Close codes after which connecting again cannot help: the credential, or the client is wrong.
_SIGN_IN: Final = frozenset({CloseCode.UNAUTHENTICATED})
_CLIENT_BUGS: Final = frozenset(
    {
        CloseCode.MESSAGE_TOO_BIG,
        CloseCode.MALFORMED,
        CloseCode.UNKNOWN_TYPE,
        CloseCode.RESUME_NOT_FIRST,
    }
)
_MAX_SERVER_FRAME: Final = 16 << 20  # one batching window of a busy connection
_HISTORY: Final = 64  # how many close codes and waits ``ConnectionStats`` keeps
DEFAULT_BACKOFF: Final = Backoff()


# Credentials.


@dataclass(frozen=True)
class ApiKey:
    """An API key, sent as ``Authorization: Bearer``."""

    key: str = field(repr=False)


@dataclass(frozen=True)
class SessionCookie:
    """A browser's session cookie; a WebSocket upgrade carrying it names an ``Origin``."""

    name: str
    value: str = field(repr=False)


@dataclass(frozen=True)
class StreamTokens:
    """Short-lived stream tokens (``POST /v1/events/tokens``), one asked for before each
    connection, since each opens one; sent as ``?token=``."""

    issue: Callable[[], Awaitable[str]]


Credential = ApiKey | SessionCookie | StreamTokens


# Errors: the connection stopped for good.


class LiveError(Exception):
    """The live connection stopped and will not be opened again; ``close_code`` (WebSocket)
    or ``status`` (HTTP, at connect) says why."""

    def __init__(
        self, message: str, *, close_code: int | None = None, status: int | None = None
    ) -> None:
        super().__init__(message)
        self.close_code = close_code
        self.status = status


class AuthenticationFailed(LiveError):
    """The credential was refused, revoked or expired (HTTP 401/403, close code 4401)."""


class ProtocolViolation(LiveError):
    """The server says the client is at fault (close codes 4000, 4001, 4002, 1009; HTTP 400
    and other 4xx at connect), or it does not speak the protocol: a bug, not to be retried."""


@dataclass
class ConnectionStats:
    """What the client went through, for tests and load tests to look at."""

    attempts: int = 0  # connections tried
    connects: int = 0  # connections opened (the upgrade or the stream's 200)
    close_codes: deque[int] = field(default_factory=lambda: deque(maxlen=_HISTORY))
    waits: deque[float] = field(default_factory=lambda: deque(maxlen=_HISTORY))
    last_error: str = ""  # why the last connection that failed failed

    @property
    def reconnects(self) -> int:
        return max(0, self.connects - 1)


@dataclass(frozen=True)
class _Ended:
    """How one connection ended, when connecting again may help."""

    code: int | None = None  # the WebSocket close code; None for SSE
    healthy: bool = False  # it lived long enough to start the backoff over
    after_s: float | None = None  # the server said when to come back (reconnect, Retry-After)
    now: bool = False  # the client ended it to connect again at once (SSE topics changed)


@dataclass(frozen=True)
class _Codec:
    """How one subprotocol's server frames are read."""

    frame: Callable[[bytes], list[ServerMessage]]
    raw_frame: Callable[[bytes], list[msgspec.Raw]]
    message: Callable[[msgspec.Raw], ServerMessage]
    map: Callable[[msgspec.Raw], dict[str, Any]]


_CODECS: Final = {
    MSGPACK_PROTOCOL: _Codec(
        msgspec.msgpack.Decoder(list[ServerMessage]).decode,
        msgspec.msgpack.Decoder(list[msgspec.Raw]).decode,
        msgspec.msgpack.Decoder(ServerMessage).decode,
        msgspec.msgpack.Decoder(dict[str, Any]).decode,
    ),
    JSON_PROTOCOL: _Codec(
        msgspec.json.Decoder(list[ServerMessage]).decode,
        msgspec.json.Decoder(list[msgspec.Raw]).decode,
        msgspec.json.Decoder(ServerMessage).decode,
        msgspec.json.Decoder(dict[str, Any]).decode,
    ),
}
_SERVER_TYPES: Final = frozenset(kind.__struct_config__.tag for kind in SERVER_MESSAGES)


class _ServerFault(Exception):
    """The server sent what no server of this protocol sends: connect again (maybe elsewhere)."""


def _decode_frame(protocol: str, data: bytes | str) -> list[ServerMessage]:
    """One server frame's messages. A message of a type this client does not know (a newer
    server's) is skipped, as readers skip what they do not know; a frame that is no list is
    the server's fault."""
    payload = data.encode() if isinstance(data, str) else data
    codec = _CODECS[protocol]
    try:
        return codec.frame(payload)
    except msgspec.ValidationError:
        pass
    except msgspec.DecodeError as exc:
        raise _ServerFault(f"a server frame that is no {protocol} list: {exc}") from exc
    messages = []
    try:
        raws = codec.raw_frame(payload)
    except msgspec.ValidationError as exc:
        raise _ServerFault(f"a server frame that is no list: {exc}") from exc
    for raw in raws:
        try:
            messages.append(codec.message(raw))
        except msgspec.ValidationError as exc:
            try:
                kind = codec.map(raw).get("type")
            except msgspec.MsgspecError:
                raise _ServerFault(f"a server message that is no map: {exc}") from exc
            if kind in _SERVER_TYPES:
                raise _ServerFault(f"a malformed {kind!r} message: {exc}") from exc
            log.debug("live.unknown_message_skipped", type=kind)
    return messages


def _sse_message(event: SseEvent) -> ServerMessage | None:
    """The message an SSE event carries: an event (named for the event's type, ``id`` its
    seq) or a control message (``shotgraph.<type>``)."""
    try:
        value = msgspec.json.decode(event.data)
    except msgspec.DecodeError as exc:
        raise _ServerFault(f"SSE data that is no JSON: {exc}") from exc
    if not isinstance(value, dict):
        raise _ServerFault(f"SSE data that is no object: {event.data[:80]!r}")
    control = event.type.startswith("shotgraph.")
    if control:
        value.setdefault("type", event.type.removeprefix("shotgraph."))
    elif "seq" not in value and event.id is not None and event.id.isdigit():
        # The bare event, its seq in the SSE id: what fan-out's first release sent.
        value = {"type": "event", "seq": int(event.id), "topic": "user", "event": value}
    try:
        return msgspec.convert(value, ServerMessage)
    except msgspec.ValidationError as exc:
        if value.get("type") in _SERVER_TYPES:
            raise _ServerFault(f"a malformed SSE {event.type!r}: {exc}") from exc
        log.debug("live.unknown_message_skipped", type=value.get("type"))
        return None


def _retry_after(headers: Mapping[str, str]) -> float | None:
    """``Retry-After`` in seconds: delta-seconds or an HTTP date."""
    value = headers.get("Retry-After", "").strip()
    if value.isdigit():
        return float(value)
    with contextlib.suppress(TypeError, ValueError):
        return max(0.0, email.utils.parsedate_to_datetime(value).timestamp() - time.time())
    return None


class LiveClient:
    """One live connection, opened again whenever it drops, until closed.

    ``base_url`` is where a gateway or a fan-out replica listens (scheme, host and port).
    ``transport`` is ``"ws"`` (``/v1/ws``) or ``"sse"`` (``/v1/events``); ``protocol`` the
    WebSocket subprotocol. Over SSE the topics are fixed per connection, so ``subscribe`` and
    ``unsubscribe`` open a new one that resumes where the old one stopped. Many clients (a load
    test) may share one ``session``; it should have no total timeout.
    """

    def __init__(
        self,
        base_url: str | URL,
        *,
        auth: Credential,
        transport: Literal["ws", "sse"] = "ws",
        protocol: Literal["msgpack", "json"] = "msgpack",
        topics: Iterable[str] = (),
        backoff: Backoff = DEFAULT_BACKOFF,
        origin: str | None = None,
        connect_timeout_s: float = 10.0,
        idle_timeout_s: float = 60.0,
        max_queued: int = 1024,
        rng: random.Random | None = None,
        session: aiohttp.ClientSession | None = None,
    ) -> None:
        self._base = URL(base_url)
        self._auth = auth
        self.transport = transport
        self.protocol = MSGPACK_PROTOCOL if protocol == "msgpack" else JSON_PROTOCOL
        self._topics: set[str] = set(topics)
        self.backoff = backoff
        # A browser's upgrade comes from the studio, served on the same origin as the API.
        self._origin = origin or (
            str(self._base.origin()) if isinstance(auth, SessionCookie) else None
        )
        self._connect_timeout_s = connect_timeout_s
        self._idle_timeout_s = idle_timeout_s
        self._rng = rng or random.Random()
        self._session = session
        self._own_session = session is None
        # Bounded: a caller that stops reading stops the reading of the socket, and the
        # server then treats this client as the slow reader it is.
        self._messages: asyncio.Queue[ServerMessage] = asyncio.Queue(max_queued)
        self._runner: asyncio.Task[None] | None = None
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._interrupt = asyncio.Event()
        self._reconnect_at: float | None = None
        self._reconnect_timer: asyncio.TimerHandle | None = None
        self._opened_at: float | None = None
        self.last_seq: int | None = None
        self.hello: Hello | None = None
        self.stats = ConnectionStats()

    @property
    def topics(self) -> frozenset[str]:
        """The topics followed: asked for, and neither refused nor taken away."""
        return frozenset(self._topics)

    # Lifecycle.

    async def __aenter__(self) -> LiveClient:
        self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    def start(self) -> None:
        """Start connecting, in the background; messages then come from iterating."""
        if self._runner is None:
            if self._session is None:
                # No total timeout: the connection is meant to stay open.
                self._session = aiohttp.ClientSession(
                    timeout=aiohttp.ClientTimeout(total=None, sock_connect=self._connect_timeout_s)
                )
            self._runner = asyncio.create_task(self._run(), name="live-client")

    async def aclose(self) -> None:
        """Close the connection for good."""
        if self._runner is not None:
            self._runner.cancel()
            with contextlib.suppress(asyncio.CancelledError, LiveError):
                await self._runner
        if self._own_session and self._session is not None:
            await self._session.close()

    def __aiter__(self) -> LiveClient:
        return self

    async def __anext__(self) -> ServerMessage:
        """The next message; raises the ``LiveError`` that stopped the client, and ends when
        it was closed."""
        if self._runner is None:
            raise RuntimeError("the client was not started: use `async with`")
        while not self._messages.empty() or not self._runner.done():
            if not self._messages.empty():
                return self._messages.get_nowait()
            getting = asyncio.ensure_future(self._messages.get())
            try:
                await asyncio.wait({getting, self._runner}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                if not getting.done():
                    getting.cancel()  # the queue keeps an item a cancelled get() was woken for
            if getting.done() and not getting.cancelled():
                return getting.result()
        if self._runner.cancelled():
            raise StopAsyncIteration
        error = self._runner.exception()
        if error is not None:
            raise error
        raise StopAsyncIteration

    # Requests.

    async def subscribe(self, topic: str) -> None:
        """Follow ``topic`` from now on; the answer (``Subscribed`` or ``Refused``) comes as a
        message."""
        self._topics.add(topic)
        await self._topics_changed(Subscribe(topic=topic))

    async def unsubscribe(self, topic: str) -> None:
        self._topics.discard(topic)
        await self._topics_changed(Unsubscribe(topic=topic))

    async def ping(self, id: str | int = 0) -> None:
        """Ask the server for a ``Pong`` (WebSocket only; not sent while disconnected)."""
        if self.transport != "ws":
            raise ValueError("ping is a WebSocket message")
        await self._send(Ping(id=id))

    async def _topics_changed(self, message: ClientMessage) -> None:
        if self.transport == "ws":
            await self._send(message)  # while disconnected, the next resume carries them
        elif self._runner is not None:
            self._interrupt.set()  # an SSE stream's topics are in its URL: open another

    async def _send(self, message: ClientMessage) -> None:
        if self._ws is not None:
            await self._send_on(self._ws, message)

    async def _send_on(self, ws: aiohttp.ClientWebSocketResponse, message: ClientMessage) -> None:
        if ws.closed:
            return
        # A send that fails finds the connection gone; its reader notices and reconnects.
        with contextlib.suppress(ConnectionError, aiohttp.ClientError):
            if self.protocol == MSGPACK_PROTOCOL:
                await ws.send_bytes(msgspec.msgpack.encode(message))
            else:
                await ws.send_str(msgspec.json.encode(message).decode())

    # The connection, again and again.

    async def _run(self) -> None:
        attempt = 0
        while True:
            self.stats.attempts += 1
            try:
                ended = await self._connection()
            except (TimeoutError, OSError, aiohttp.ClientError, _ServerFault) as exc:
                self.stats.last_error = repr(exc)
                ended = _Ended(code=ABNORMAL_CLOSURE if self.transport == "ws" else None)
            if ended.code is not None:
                self.stats.close_codes.append(ended.code)
            if ended.healthy:
                attempt = 0
            if ended.now:
                wait = 0.0
            elif ended.after_s is not None:
                wait = ended.after_s
            else:
                wait = self.backoff.delay(attempt, self._rng)
                attempt += 1
            self.stats.waits.append(wait)
            await asyncio.sleep(wait)

    async def _connection(self) -> _Ended:
        """One connection, from its opening to its end; an interrupt (SSE topics changed, the
        time a ``reconnect`` named came) ends it from outside."""
        self._interrupt.clear()
        self._reconnect_at = self._opened_at = None
        reading = asyncio.create_task(
            self._read_ws() if self.transport == "ws" else self._read_sse()
        )
        interrupted = asyncio.create_task(self._interrupt.wait())
        try:
            await asyncio.wait({reading, interrupted}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            interrupted.cancel()
            if self._reconnect_timer is not None:
                self._reconnect_timer.cancel()
                self._reconnect_timer = None
            if not reading.done():
                reading.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await reading
        if not reading.cancelled():
            return reading.result()
        return _Ended(code=CloseCode.NORMAL if self.transport == "ws" else None, now=True)

    def _healthy(self) -> bool:
        return (
            self._opened_at is not None
            and time.monotonic() - self._opened_at >= self.backoff.healthy_s
        )

    def _after_reconnect(self) -> float | None:
        """What is left of the delay a ``reconnect`` message asked for, if one came."""
        if self._reconnect_at is None:
            return None
        return max(0.0, self._reconnect_at - time.monotonic())

    async def _credentials(self) -> tuple[dict[str, str], dict[str, str]]:
        """The headers and query parameters that authenticate one connection."""
        auth = self._auth
        if isinstance(auth, ApiKey):
            return {"Authorization": f"Bearer {auth.key}"}, {}
        if isinstance(auth, SessionCookie):
            return {"Cookie": f"{auth.name}={auth.value}"}, {}
        return {}, {"token": await auth.issue()}

    def _refused(self, status: int, headers: Mapping[str, str], detail: str) -> _Ended:
        """An answer other than the connection: stop, or say when to try again."""
        said = f"{status}{': ' + detail if detail else ''}"
        if status in (401, 403):
            raise AuthenticationFailed(f"the server refused the credential ({said})", status=status)
        if status in (429, 503):
            after = _retry_after(headers)
            return _Ended(after_s=None if after is None else Backoff.spread(after, self._rng))
        if 400 <= status < 500:
            raise ProtocolViolation(f"the server refused the connection ({said})", status=status)
        return _Ended()

    def _closed(self, code: int, reason: str) -> _Ended:
        if code in _SIGN_IN:
            raise AuthenticationFailed(
                f"the server closed the connection ({code} {reason})", close_code=code
            )
        if code in _CLIENT_BUGS:
            raise ProtocolViolation(
                f"the server closed the connection ({code} {reason})", close_code=code
            )
        after = self._after_reconnect() if code == CloseCode.DRAINING else None
        return _Ended(code=code, healthy=self._healthy(), after_s=after)

    async def _deliver(self, message: ServerMessage) -> None:
        """Hand ``message`` on, then note what it changes; in that order, so a connection cut
        while the caller is behind never counts a message the caller did not get."""
        await self._messages.put(message)
        if isinstance(message, EventMessage):
            if self.last_seq is None or message.seq > self.last_seq:
                self.last_seq = message.seq
        elif isinstance(message, Hello):
            self.hello = message
            if self.last_seq is None:
                # A new client resumes from the stream as it was at its first connection, so
                # a cut before its first event still loses nothing.
                self.last_seq = message.last_seq
        elif isinstance(message, Reset):
            # The caller refetches state as of now: resuming from before it again would only
            # bring the same reset.
            self.last_seq = max(self.last_seq or 0, message.last_seq)
        elif isinstance(message, Refused | Unsubscribed):
            self._topics.discard(message.topic)
        elif isinstance(message, Reconnect):
            # Come back when it says, whether or not the server has closed by then.
            delay_s = message.after_ms / 1000
            self._reconnect_at = time.monotonic() + delay_s
            if self._reconnect_timer is not None:
                self._reconnect_timer.cancel()
            self._reconnect_timer = asyncio.get_running_loop().call_later(
                delay_s, self._interrupt.set
            )

    # WebSocket.

    async def _read_ws(self) -> _Ended:
        assert self._session is not None
        headers, query = await self._credentials()
        url = self._base.with_path(WS_PATH).with_query(query)
        try:
            async with asyncio.timeout(self._connect_timeout_s):
                ws = await self._session.ws_connect(
                    url,
                    protocols=(self.protocol,),
                    headers=headers,
                    origin=self._origin,
                    autoping=True,
                    compress=0,
                    max_msg_size=_MAX_SERVER_FRAME,
                    timeout=aiohttp.ClientWSTimeout(ws_receive=None, ws_close=5.0),
                )
        except aiohttp.WSServerHandshakeError as exc:
            return self._refused(exc.status, exc.headers or {}, "")
        try:
            if ws.protocol != self.protocol:
                raise ProtocolViolation(f"the server did not choose {self.protocol}")
            self.stats.connects += 1
            self._opened_at = time.monotonic()
            await self._open(ws)
            return await self._receive(ws)
        finally:
            self._ws = None
            await ws.close()

    async def _open(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        """The first messages: a resume where there is a seq to resume from, else subscribes."""
        sent = set(self._topics)
        first: list[ClientMessage]
        if self.last_seq is not None:
            first = [Resume(after=self.last_seq, topics=sorted(sent))]
        else:
            first = [Subscribe(topic=topic) for topic in sorted(sent)]
        for message in first:
            await self._send_on(ws, message)
        # From here on, subscribe() sends by itself: nothing it sends can precede the resume.
        self._ws = ws
        for topic in sorted(self._topics - sent):  # asked for while those went out
            await self._send_on(ws, Subscribe(topic=topic))
        for topic in sorted(sent - self._topics):  # and given up meanwhile
            await self._send_on(ws, Unsubscribe(topic=topic))

    async def _receive(self, ws: aiohttp.ClientWebSocketResponse) -> _Ended:
        while True:
            try:
                message = await ws.receive(timeout=self._idle_timeout_s)
            except TimeoutError:
                self.stats.last_error = f"nothing came for {self._idle_timeout_s} s"
                return _Ended(code=ABNORMAL_CLOSURE, healthy=self._healthy())
            if message.type in (aiohttp.WSMsgType.BINARY, aiohttp.WSMsgType.TEXT):
                try:
                    frame = _decode_frame(self.protocol, message.data)
                except _ServerFault as exc:
                    self.stats.last_error = str(exc)
                    log.warning("live.bad_server_frame", error=str(exc))
                    await ws.close(code=_PROTOCOL_ERROR)
                    return _Ended(code=_PROTOCOL_ERROR)
                for item in frame:
                    await self._deliver(item)
            elif message.type == aiohttp.WSMsgType.CLOSE:
                code = message.data if isinstance(message.data, int) else _NO_STATUS
                return self._closed(code, message.extra or "")
            else:  # CLOSED, ERROR: the connection went without a close frame
                return self._closed(ABNORMAL_CLOSURE, "")

    # Server-Sent Events.

    async def _read_sse(self) -> _Ended:
        assert self._session is not None
        headers, query = await self._credentials()
        headers |= {"Accept": "text/event-stream", "Cache-Control": "no-cache"}
        if self.last_seq is not None:
            headers["Last-Event-ID"] = str(self.last_seq)
        if self._topics:
            query["topics"] = ",".join(sorted(self._topics))
        timeout = aiohttp.ClientTimeout(
            total=None, sock_connect=self._connect_timeout_s, sock_read=self._idle_timeout_s
        )
        url = self._base.with_path(SSE_PATH).with_query(query)
        async with self._session.get(url, headers=headers, timeout=timeout) as response:
            if response.status != 200:
                detail = (await response.content.read(4096)).decode(errors="replace")
                return self._refused(response.status, response.headers, detail)
            if response.content_type != "text/event-stream":
                raise ProtocolViolation(f"an event stream answered as {response.content_type}")
            self.stats.connects += 1
            self._opened_at = time.monotonic()
            parser = SseParser()
            async for chunk in response.content.iter_any():
                try:
                    events = parser.feed(chunk)
                except ValueError as exc:
                    raise _ServerFault(str(exc)) from exc
                for event in events:
                    message = _sse_message(event)
                    if message is not None:
                        await self._deliver(message)
        # The server ended the stream (a slow reader's, a draining process's): come back.
        return _Ended(healthy=self._healthy(), after_s=self._after_reconnect())
