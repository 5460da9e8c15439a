"""The live client against a small real server that speaks the protocol, over real sockets.

``Stand`` below is an aiohttp server with ``/v1/ws`` and ``/v1/events`` that hands each
connection to the test, which plays the fan-out's part: it sends frames, closes with a code,
cuts the socket without a word, or refuses before the upgrade. The tests look at what the
client hands its caller and at what it sends back on the next connection.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import msgspec
import pytest
from aiohttp import web
from multidict import CIMultiDictProxy, MultiMapping

from libs.live.client import (
    ApiKey,
    AuthenticationFailed,
    Backoff,
    Credential,
    LiveClient,
    ProtocolViolation,
    SessionCookie,
    StreamTokens,
)
from libs.live.protocol import (
    JSON_PROTOCOL,
    MSGPACK_PROTOCOL,
    PROTOCOLS,
    ClientMessage,
    CloseCode,
    ErrorMessage,
    EventMessage,
    Hello,
    Ping,
    Pong,
    PresenceMessage,
    Reconnect,
    Refused,
    Reset,
    Resume,
    Resumed,
    ServerMessage,
    Subscribe,
    Subscribed,
    Unsubscribe,
    Unsubscribed,
    Viewer,
)

TIMEOUT_S = 5.0
KEY = ApiKey("sg_test_key")
FAST = Backoff(initial_s=0.01, max_s=0.05)


def hello(last_seq: int = 0) -> Hello:
    return Hello(connection_id="c1", user_id="ada", last_seq=last_seq, window_ms=50, heartbeat_s=20)


def event(seq: int, topic: str = "user") -> EventMessage:
    return EventMessage(
        seq=seq,
        topic=topic,
        event={"type": "batch.progress", "id": f"e{seq}", "time": 1.0, "schema_version": 2},
    )


@dataclass
class Opened:
    """One connection the stand accepted: what came with it, and the means to play it."""

    transport: str
    headers: CIMultiDictProxy[str]
    query: MultiMapping[str]
    at: float  # time.monotonic() when it came
    ws: web.WebSocketResponse | None = None
    stream: web.StreamResponse | None = None
    request: web.Request | None = None
    received: asyncio.Queue[ClientMessage] = field(default_factory=asyncio.Queue)
    frame_types: list[aiohttp.WSMsgType] = field(default_factory=list)
    client_closed: asyncio.Event = field(default_factory=asyncio.Event)
    finished: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def protocol(self) -> str:
        assert self.ws is not None
        return self.ws.ws_protocol or ""

    async def send(self, *messages: Any) -> None:
        """One frame (WebSocket) or one SSE event per message."""
        if self.ws is not None:
            if self.protocol == MSGPACK_PROTOCOL:
                await self.ws.send_bytes(msgspec.msgpack.encode(list(messages)))
            else:
                await self.ws.send_str(msgspec.json.encode(list(messages)).decode())
            return
        assert self.stream is not None
        for message in messages:
            await self.stream.write(sse_text(message).encode())

    async def receive(self) -> ClientMessage:
        async with asyncio.timeout(TIMEOUT_S):
            return await self.received.get()

    async def close(self, code: int = CloseCode.NORMAL, reason: str = "") -> None:
        if self.ws is not None:
            await self.ws.close(code=code, message=reason.encode())
        self.finished.set()

    def cut(self) -> None:
        """Drop the socket without a close frame, as a dead proxy or process would."""
        assert self.request is not None and self.request.transport is not None
        self.request.transport.abort()
        self.finished.set()


def sse_text(message: Any) -> str:
    data = msgspec.json.encode(message).decode()
    if isinstance(message, EventMessage):
        assert isinstance(message.event, dict)
        return f"id: {message.seq}\nevent: {message.event['type']}\ndata: {data}\n\n"
    if isinstance(message, str):
        return message  # raw stream text
    kind = msgspec.json.decode(data)["type"]
    return f"event: shotgraph.{kind}\ndata: {data}\n\n"


@dataclass
class Refusal:
    status: int
    headers: dict[str, str] = field(default_factory=dict)


class Stand:
    """A fan-out stand-in on a free port: each connection goes to the test to play."""

    def __init__(self) -> None:
        self.opened: asyncio.Queue[Opened] = asyncio.Queue()
        self.refusals: list[Refusal] = []
        self.attempts: list[float] = []  # when each connection came, refused ones too
        self.url = ""
        app = web.Application()
        app.router.add_get("/v1/ws", self._ws)
        app.router.add_get("/v1/events", self._sse)
        self._runner = web.AppRunner(app, shutdown_timeout=0.5)
        self._live: list[Opened] = []

    async def start(self) -> None:
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        host, port = self._runner.addresses[0][:2]
        self.url = f"http://{host}:{port}"

    async def stop(self) -> None:
        for opened in self._live:
            opened.finished.set()
        await self._runner.cleanup()

    async def next(self) -> Opened:
        """The next connection the stand accepts."""
        async with asyncio.timeout(TIMEOUT_S):
            return await self.opened.get()

    def _refusal(self) -> web.Response | None:
        self.attempts.append(time.monotonic())
        if not self.refusals:
            return None
        refusal = self.refusals.pop(0)
        body = {"type": "about:blank", "title": "refused", "status": refusal.status}
        return web.json_response(
            body,
            status=refusal.status,
            headers=refusal.headers,
            content_type="application/problem+json",
        )

    def _opened(self, request: web.Request, transport: str) -> Opened:
        opened = Opened(transport, request.headers, request.query, time.monotonic())
        opened.request = request
        self._live.append(opened)
        return opened

    async def _ws(self, request: web.Request) -> web.StreamResponse:
        refused = self._refusal()
        if refused is not None:
            return refused
        ws = web.WebSocketResponse(protocols=PROTOCOLS, autoping=True)
        await ws.prepare(request)
        opened = self._opened(request, "ws")
        opened.ws = ws
        decoder = msgspec.json.Decoder(ClientMessage)
        if ws.ws_protocol == MSGPACK_PROTOCOL:
            decoder = msgspec.msgpack.Decoder(ClientMessage)  # type: ignore[assignment]

        async def read() -> None:
            async for frame in ws:
                opened.frame_types.append(frame.type)
                opened.received.put_nowait(decoder.decode(frame.data))
            opened.client_closed.set()

        reading = asyncio.create_task(read())
        await self.opened.put(opened)
        finished = asyncio.create_task(opened.finished.wait())
        await asyncio.wait({reading, finished}, return_when=asyncio.FIRST_COMPLETED)
        finished.cancel()
        reading.cancel()
        return ws

    async def _sse(self, request: web.Request) -> web.StreamResponse:
        refused = self._refusal()
        if refused is not None:
            return refused
        stream = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await stream.prepare(request)
        opened = self._opened(request, "sse")
        opened.stream = stream
        await self.opened.put(opened)
        await opened.finished.wait()
        return stream


@pytest.fixture
async def stand() -> AsyncIterator[Stand]:
    served = Stand()
    await served.start()
    try:
        yield served
    finally:
        await served.stop()


@pytest.fixture
async def clients() -> AsyncIterator[AsyncExitStack]:
    async with AsyncExitStack() as stack:
        yield stack


async def take(client: LiveClient, count: int) -> list[ServerMessage]:
    """The next ``count`` messages the client hands on."""
    async with asyncio.timeout(TIMEOUT_S):
        return [await anext(client) for _ in range(count)]


async def ended_with(client: LiveClient) -> BaseException:
    """The error that stops the client, once every message before it has been read."""
    async with asyncio.timeout(TIMEOUT_S):
        try:
            async for _ in client:
                pass
        except Exception as exc:
            return exc
    raise AssertionError("the client ended without an error")


# Messages, both formats.

EVERY_SERVER_MESSAGE: list[ServerMessage] = [
    hello(last_seq=41),
    event(42, "canvas:c1"),
    Subscribed(topic="canvas:c1", presence=[Viewer(user_id="bo", user_name="Bo")]),
    Refused(topic="canvas:nope", reason="not_allowed", detail="no such canvas"),
    Unsubscribed(topic="batch:b1", reason="access_lost"),
    Resumed(after=41, replayed=1),
    Reset(after=3, first_seq=40, last_seq=42),
    PresenceMessage(topic="canvas:c1", action="join", user_id="bo", user_name="Bo"),
    Pong(id="p1"),
    ErrorMessage(code="bad_resume", detail="after is beyond the stream"),
    Reconnect(after_ms=60_000),
]


@pytest.mark.parametrize("protocol", ["msgpack", "json"])
async def test_every_server_message_arrives_typed_in_either_format(
    stand: Stand, clients: AsyncExitStack, protocol: Any
) -> None:
    client = await clients.enter_async_context(
        LiveClient(stand.url, auth=KEY, protocol=protocol, topics=["canvas:c1"], backoff=FAST)
    )
    opened = await stand.next()
    assert opened.protocol == (MSGPACK_PROTOCOL if protocol == "msgpack" else JSON_PROTOCOL)
    assert await opened.receive() == Subscribe(topic="canvas:c1")
    kind = aiohttp.WSMsgType.BINARY if protocol == "msgpack" else aiohttp.WSMsgType.TEXT
    assert opened.frame_types == [kind]
    # A message of a type from a newer server rides in the same frame and is skipped.
    future = {"type": "future", "x": 1}
    await opened.send(*EVERY_SERVER_MESSAGE[:5], future, *EVERY_SERVER_MESSAGE[5:])
    assert await take(client, len(EVERY_SERVER_MESSAGE)) == EVERY_SERVER_MESSAGE
    assert client.last_seq == 42
    assert client.topics == {"canvas:c1"}
    await client.ping("p2")
    assert await opened.receive() == Ping(id="p2")


@pytest.mark.parametrize(
    ("auth", "header", "value"),
    [
        (ApiKey("sg_k"), "Authorization", "Bearer sg_k"),
        (SessionCookie("sg_session", "s3cret"), "Cookie", "sg_session=s3cret"),
    ],
)
async def test_a_key_or_a_cookie_goes_in_its_header(
    stand: Stand, clients: AsyncExitStack, auth: Credential, header: str, value: str
) -> None:
    await clients.enter_async_context(LiveClient(stand.url, auth=auth))
    opened = await stand.next()
    assert opened.headers[header] == value
    # A cookie's upgrade names the studio's origin (the API's own), as a browser's would.
    expected_origin = stand.url if isinstance(auth, SessionCookie) else None
    assert opened.headers.get("Origin") == expected_origin
    assert "token" not in opened.query


@pytest.mark.parametrize("transport", ["ws", "sse"])
async def test_each_connection_gets_a_fresh_stream_token(
    stand: Stand, clients: AsyncExitStack, transport: Any
) -> None:
    issued: list[str] = []

    async def issue() -> str:
        issued.append(f"tok-{len(issued)}")
        return issued[-1]

    await clients.enter_async_context(
        LiveClient(stand.url, auth=StreamTokens(issue), transport=transport, backoff=FAST)
    )
    first = await stand.next()
    first.cut()
    second = await stand.next()
    assert [first.query["token"], second.query["token"]] == ["tok-0", "tok-1"] == issued
    assert "Authorization" not in second.headers


# Resuming.


async def test_a_cut_connection_resumes_after_the_last_seq_it_saw(
    stand: Stand, clients: AsyncExitStack
) -> None:
    client = await clients.enter_async_context(
        LiveClient(stand.url, auth=KEY, topics=["canvas:c1", "batch:b1"], backoff=FAST)
    )
    first = await stand.next()
    assert {await first.receive(), await first.receive()} == {
        Subscribe(topic="canvas:c1"),
        Subscribe(topic="batch:b1"),
    }
    await first.send(hello(last_seq=10))
    await take(client, 1)
    first.cut()  # before any event: it resumes from the stream as it was when it connected
    second = await stand.next()
    assert await second.receive() == Resume(after=10, topics=["batch:b1", "canvas:c1"])
    await second.send(hello(last_seq=10), event(11), event(12, "canvas:c1"))
    await second.send(event(13, "batch:b1"))
    assert [m.seq for m in await take(client, 4) if isinstance(m, EventMessage)] == [11, 12, 13]
    second.cut()
    third = await stand.next()
    assert await third.receive() == Resume(after=13, topics=["batch:b1", "canvas:c1"])
    assert client.stats.reconnects == 2
    assert list(client.stats.close_codes) == [1006, 1006]


async def test_resume_names_the_topics_followed_not_those_refused_or_taken_away(
    stand: Stand, clients: AsyncExitStack
) -> None:
    client = await clients.enter_async_context(
        LiveClient(stand.url, auth=KEY, topics=["canvas:c1"], backoff=FAST)
    )
    first = await stand.next()
    await first.receive()
    await first.send(hello(last_seq=5))
    for topic in ("batch:b1", "render:r1", "canvas:c2", "canvas:c3"):
        await client.subscribe(topic)
        assert await first.receive() == Subscribe(topic=topic)
    await client.unsubscribe("canvas:c3")
    assert await first.receive() == Unsubscribe(topic="canvas:c3")
    await first.send(
        Refused(topic="render:r1", reason="not_allowed"),
        Unsubscribed(topic="canvas:c2", reason="access_lost"),
        event(6),
    )
    await take(client, 4)
    assert client.topics == {"canvas:c1", "batch:b1"}
    await first.close(CloseCode.SERVER_ERROR)
    second = await stand.next()
    assert await second.receive() == Resume(after=6, topics=["batch:b1", "canvas:c1"])


async def test_too_slow_4008_reconnects_and_resumes(stand: Stand, clients: AsyncExitStack) -> None:
    client = await clients.enter_async_context(LiveClient(stand.url, auth=KEY, backoff=FAST))
    first = await stand.next()
    await first.send(hello(last_seq=0), event(1), event(2))
    await take(client, 3)
    await first.close(CloseCode.TOO_SLOW, "queue over its bound")
    second = await stand.next()
    assert await second.receive() == Resume(after=2, topics=[])
    await second.send(hello(last_seq=2), Resumed(after=2, replayed=0), event(3))
    assert (await take(client, 3))[1:] == [Resumed(after=2, replayed=0), event(3)]
    assert list(client.stats.close_codes) == [CloseCode.TOO_SLOW]


async def test_a_reset_is_handed_on_and_the_next_resume_starts_after_it(
    stand: Stand, clients: AsyncExitStack
) -> None:
    client = await clients.enter_async_context(LiveClient(stand.url, auth=KEY, backoff=FAST))
    first = await stand.next()
    await first.send(hello(last_seq=0), event(3))
    await take(client, 2)
    first.cut()
    second = await stand.next()
    assert await second.receive() == Resume(after=3, topics=[])
    reset = Reset(after=3, first_seq=900, last_seq=1000)
    await second.send(hello(last_seq=1000), reset)
    assert (await take(client, 2))[1] == reset
    second.cut()
    third = await stand.next()
    assert await third.receive() == Resume(after=1000, topics=[])


async def test_sse_resumes_with_last_event_id_and_its_topics_in_the_url(
    stand: Stand, clients: AsyncExitStack
) -> None:
    client = await clients.enter_async_context(
        LiveClient(stand.url, auth=KEY, transport="sse", topics=["canvas:c1"], backoff=FAST)
    )
    first = await stand.next()
    assert first.query["topics"] == "canvas:c1"
    assert "Last-Event-ID" not in first.headers
    assert first.headers["Accept"] == "text/event-stream"
    await first.send(hello(last_seq=4), Subscribed(topic="canvas:c1"))
    await first.send(": keep-alive\n\n", event(5), event(6, "canvas:c1"))
    messages = await take(client, 4)
    assert messages[2:] == [event(5), event(6, "canvas:c1")]
    await first.close()  # the stream ends, as a slow reader's does
    second = await stand.next()
    assert second.headers["Last-Event-ID"] == "6"
    assert second.query["topics"] == "canvas:c1"
    # An SSE stream's topics are in its URL: a new topic opens another stream, resuming.
    await second.send(event(7))
    await take(client, 1)
    await client.subscribe("batch:b1")
    third = await stand.next()
    assert third.headers["Last-Event-ID"] == "7"
    assert third.query["topics"] == "batch:b1,canvas:c1"
    assert client.stats.waits[-1] == 0.0


# When to come back.


def test_backoff_ceilings_double_up_to_the_cap() -> None:
    backoff = Backoff(initial_s=0.1, max_s=1.0)
    assert [backoff.ceiling(n) for n in range(6)] == pytest.approx([0.1, 0.2, 0.4, 0.8, 1, 1])
    assert backoff.ceiling(10_000) == 1.0


def test_backoff_waits_are_spread_over_their_ceiling() -> None:
    backoff, rng = Backoff(initial_s=0.1, max_s=1.0), random.Random(1)
    for attempt in (0, 3, 50):
        waits = [backoff.delay(attempt, rng) for _ in range(2000)]
        ceiling = backoff.ceiling(attempt)
        assert all(0 <= wait <= ceiling for wait in waits)
        # Full jitter: the whole range is used, not a band near the ceiling.
        assert min(waits) < 0.05 * ceiling and max(waits) > 0.95 * ceiling
        assert sum(waits) / len(waits) == pytest.approx(ceiling / 2, rel=0.1)


@pytest.mark.parametrize("bad", [{"initial_s": 0}, {"max_s": 0.01}, {"multiplier": 0.5}])
def test_a_backoff_that_cannot_work_is_refused(bad: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="backoff needs"):
        Backoff(**bad)


@pytest.mark.parametrize(("healthy_s", "after_health"), [(0.0, 0), (60.0, 3)])
async def test_failed_attempts_back_off_more_until_a_healthy_connection(
    stand: Stand, clients: AsyncExitStack, healthy_s: float, after_health: int
) -> None:
    backoff = Backoff(initial_s=0.01, max_s=0.03, healthy_s=healthy_s)
    stand.refusals = [Refusal(502), Refusal(502), Refusal(500)]
    client = await clients.enter_async_context(
        LiveClient(stand.url, auth=KEY, backoff=backoff, rng=random.Random(7))
    )
    opened = await stand.next()
    await opened.close(CloseCode.SERVER_ERROR)
    await stand.next()
    mirror = random.Random(7)
    # Three refusals: attempts 0, 1, 2; then the connection that opened (healthy or not).
    expected = [backoff.delay(n, mirror) for n in (0, 1, 2, after_health)]
    assert list(client.stats.waits) == expected
    assert expected[2] <= 0.03 and expected[3] <= backoff.ceiling(after_health)


async def test_a_reconnect_message_is_honoured_instead_of_the_backoff(
    stand: Stand, clients: AsyncExitStack
) -> None:
    slow = Backoff(initial_s=30, max_s=30)  # a backoff wait would outlast the test
    client = await clients.enter_async_context(LiveClient(stand.url, auth=KEY, backoff=slow))
    first = await stand.next()
    sent_at = time.monotonic()  # before: the client may read it before send() returns
    await first.send(hello(last_seq=0), event(1), Reconnect(after_ms=300))
    await take(client, 3)
    await first.close(CloseCode.DRAINING, "draining")
    second = await stand.next()
    assert second.at - sent_at >= 0.3
    assert await second.receive() == Resume(after=1, topics=[])


async def test_after_a_reconnect_message_the_client_comes_back_by_itself(
    stand: Stand, clients: AsyncExitStack
) -> None:
    client = await clients.enter_async_context(LiveClient(stand.url, auth=KEY, backoff=FAST))
    first = await stand.next()
    sent_at = time.monotonic()
    await first.send(hello(last_seq=0), Reconnect(after_ms=200))
    await take(client, 2)
    second = await stand.next()  # the server never closed the first: the client did
    assert second.at - sent_at >= 0.2
    async with asyncio.timeout(TIMEOUT_S):
        await first.client_closed.wait()
    assert await second.receive() == Resume(after=0, topics=[])


@pytest.mark.parametrize(("transport", "status"), [("ws", 503), ("sse", 429)])
async def test_a_full_server_is_tried_again_after_its_retry_after(
    stand: Stand, clients: AsyncExitStack, transport: Any, status: int
) -> None:
    stand.refusals = [Refusal(status, {"Retry-After": "1"})]
    slow = Backoff(initial_s=30, max_s=30)
    client = await clients.enter_async_context(
        LiveClient(stand.url, auth=KEY, transport=transport, backoff=slow)
    )
    await stand.next()
    refused_at, opened_at = stand.attempts
    assert 1.0 <= opened_at - refused_at < 3.0
    assert 1.0 <= client.stats.waits[0] <= 1.5


async def test_an_idle_connection_is_given_up_and_opened_again(
    stand: Stand, clients: AsyncExitStack
) -> None:
    client = await clients.enter_async_context(
        LiveClient(stand.url, auth=KEY, backoff=FAST, idle_timeout_s=0.2)
    )
    first = await stand.next()
    await first.send(hello())
    await stand.next()  # nothing came for 0.2 s, not even a ping
    assert client.stats.last_error == "nothing came for 0.2 s"


async def test_a_garbage_frame_is_the_servers_fault_and_the_client_comes_back(
    stand: Stand, clients: AsyncExitStack
) -> None:
    client = await clients.enter_async_context(LiveClient(stand.url, auth=KEY, backoff=FAST))
    first = await stand.next()
    assert first.ws is not None
    await first.ws.send_bytes(b"\xc1")
    await stand.next()
    assert list(client.stats.close_codes) == [1002]
    assert "no shotgraph.v1.msgpack list" in client.stats.last_error


# When to stop.


async def test_4401_stops_with_an_authentication_error(
    stand: Stand, clients: AsyncExitStack
) -> None:
    client = await clients.enter_async_context(LiveClient(stand.url, auth=KEY, backoff=FAST))
    first = await stand.next()
    await first.send(hello(), event(1))
    await first.close(CloseCode.UNAUTHENTICATED, "key revoked")
    async with asyncio.timeout(TIMEOUT_S):
        got = [await anext(client), await anext(client)]
    assert [type(m) for m in got] == [Hello, EventMessage], "what came before is handed on"
    error = await ended_with(client)
    assert isinstance(error, AuthenticationFailed)
    assert error.close_code == 4401 and "key revoked" in str(error)
    assert len(stand.attempts) == 1


@pytest.mark.parametrize(
    "code",
    [
        CloseCode.MALFORMED,
        CloseCode.UNKNOWN_TYPE,
        CloseCode.RESUME_NOT_FIRST,
        CloseCode.MESSAGE_TOO_BIG,
    ],
)
async def test_a_close_that_blames_the_client_stops_with_a_protocol_error(
    stand: Stand, clients: AsyncExitStack, code: CloseCode
) -> None:
    client = await clients.enter_async_context(LiveClient(stand.url, auth=KEY, backoff=FAST))
    await (await stand.next()).close(code)
    error = await ended_with(client)
    assert isinstance(error, ProtocolViolation) and error.close_code == code
    assert client.stats.attempts == 1


@pytest.mark.parametrize(
    ("transport", "status", "error"),
    [
        ("ws", 401, AuthenticationFailed),
        ("sse", 401, AuthenticationFailed),
        ("ws", 403, AuthenticationFailed),
        ("sse", 403, AuthenticationFailed),
        ("ws", 400, ProtocolViolation),
        ("sse", 400, ProtocolViolation),
    ],
)
async def test_a_refusal_at_connect_that_retrying_cannot_mend_stops(
    stand: Stand, clients: AsyncExitStack, transport: Any, status: int, error: type[Exception]
) -> None:
    stand.refusals = [Refusal(status)]
    client = await clients.enter_async_context(
        LiveClient(stand.url, auth=KEY, transport=transport, backoff=FAST)
    )
    stopped = await ended_with(client)
    assert isinstance(stopped, error) and getattr(stopped, "status", None) == status
    assert len(stand.attempts) == 1


async def test_a_closed_client_ends_its_iteration(stand: Stand) -> None:
    client = LiveClient(stand.url, auth=KEY)
    async with client:
        opened = await stand.next()
        await opened.send(hello())
        await take(client, 1)
    async with asyncio.timeout(TIMEOUT_S):
        await opened.client_closed.wait()
        remaining: Sequence[ServerMessage] = [m async for m in client]
    assert remaining == []
