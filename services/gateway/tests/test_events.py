"""The SSE relay against a real HTTP peer standing in for fan-out: what the browser sent goes
up, what fan-out answers comes back byte for byte, and a fan-out that cannot be reached is a
problem the browser retries."""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import Mapping
from contextlib import AsyncExitStack
from dataclasses import dataclass, field

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from libs.identity import DEV_SESSION_COOKIE
from libs.ports import free_port
from libs.web import problem_response
from services.gateway.events import EventsRelay
from services.gateway.fanout_link import FanOutLink
from services.gateway.tests.conftest import Auth, GatewayClient, client_of, guarded_app
from services.gateway.tests.live_peer import LivePeer
from shotgraph.auth.v1 import auth_pb2_grpc
from tests.in_process import downstream

# An SSE stream as fan-out writes it, in the pieces it flushes: the relay must not join,
# split or re-encode anything (ids, comments, multi-line data, UTF-8 across a piece's end).
STREAM = (
    b": connected\n\n",
    b'id: 41\nevent: batch.progress\ndata: {"progress": 40}\n\n',
    b'id: 42\nevent: canvas.execution\ndata: {"name": "Sc\xc3',
    b'\xa8ne 1"}\ndata: second line\n\n',
    b"retry: 2000\n\n",
)


@dataclass
class FanOut:
    """A peer answering ``/v1/events`` as fan-out does; remembers what it was sent."""

    answer: str = "stream"  # or "unavailable", "unauthenticated"
    headers: list[Mapping[str, str]] = field(default_factory=list)
    queries: list[Mapping[str, str]] = field(default_factory=list)

    async def events(self, request: web.Request) -> web.StreamResponse:
        self.headers.append(dict(request.headers))
        self.queries.append(dict(request.query))
        if self.answer == "unavailable":
            return problem_response(
                503,
                "Service unavailable",
                "the event stream is unavailable",
                type_slug="unavailable",
                headers={"Retry-After": "7"},
            )
        if self.answer == "unauthenticated":
            return problem_response(
                401, "Authentication required", "API key is unknown", type_slug="unauthenticated"
            )
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        for piece in STREAM:
            await response.write(piece)
        return response


@pytest.fixture
def fanout() -> FanOut:
    return FanOut()


async def relay_to(stack: AsyncExitStack, auth: Auth, fanout_url: str) -> GatewayClient:
    """The gateway's relay, as the test's user (the key is sent unless a test sends another)."""
    app, identities = guarded_app(
        downstream(stack, "auth", auth.address, auth_pb2_grpc.AuthServiceStub)
    )
    link = FanOutLink(fanout_url, DEV_SESSION_COOKIE)
    link.add_to(app)
    EventsRelay(link, identities).add_routes(app)
    client = await client_of(stack, app)
    client.session.headers["Authorization"] = f"Bearer {auth.key}"
    return client


@pytest.fixture
async def http(stack: AsyncExitStack, auth: Auth, fanout: FanOut) -> GatewayClient:
    """The gateway's relay in front of the running peer."""
    peer = web.Application()
    peer.router.add_get("/v1/events", fanout.events)
    server = TestServer(peer)
    await stack.enter_async_context(server)
    return await relay_to(stack, auth, str(server.make_url("/")))


async def test_a_stream_passes_through_byte_for_byte(http: GatewayClient) -> None:
    response = await http.get("/v1/events")
    assert response.status == 200
    assert response.headers["Content-Type"] == "text/event-stream"
    assert response.headers["Cache-Control"] == "no-cache"
    assert response.headers["X-Accel-Buffering"] == "no", "no proxy may buffer it either"
    assert await response.read() == b"".join(STREAM)


async def test_what_the_browser_sent_goes_up(
    http: GatewayClient, fanout: FanOut, span_exporter: InMemorySpanExporter
) -> None:
    trace_id = secrets.token_hex(16)
    sent = {
        "Authorization": http.session.headers["Authorization"],
        "Last-Event-ID": "41",
        "Accept": "text/event-stream",
        "traceparent": f"00-{trace_id}-{secrets.token_hex(8)}-01",
        "Cookie": "session=not-for-fanout",
    }
    response = await http.get("/v1/events", headers=sent, params={"topics": "canvas:c-1"})
    await response.read()
    [received] = fanout.headers
    for name in ("Authorization", "Last-Event-ID", "Accept"):
        assert received[name] == sent[name]
    assert received["traceparent"].split("-")[1] == trace_id, "one trace, continued upstream"
    assert "Cookie" not in received, "only what fan-out needs is forwarded"
    assert fanout.queries == [{"topics": "canvas:c-1"}]


async def test_the_other_key_header_goes_up_too(
    http: GatewayClient, fanout: FanOut, auth: Auth
) -> None:
    del http.session.headers["Authorization"]
    await (await http.get("/v1/events", headers={"X-API-Key": auth.key})).read()
    assert fanout.headers[0]["X-API-Key"] == auth.key


@pytest.mark.parametrize(
    ("answer", "status", "retry_after"),
    [("unavailable", 503, "7"), ("unauthenticated", 401, None)],
)
async def test_a_fanout_problem_passes_through_as_it_is(
    http: GatewayClient, fanout: FanOut, answer: str, status: int, retry_after: str | None
) -> None:
    fanout.answer = answer
    response = await http.get("/v1/events")
    assert response.status == status
    assert response.content_type == "application/problem+json"
    assert response.headers.get("Retry-After") == retry_after
    body = json.loads(await response.read())
    assert body["status"] == status
    assert body["type"] == f"https://shotgraph.dev/problems/{answer}"


async def test_a_fanout_that_cannot_be_reached_is_a_503_to_retry(
    stack: AsyncExitStack, auth: Auth
) -> None:
    http = await relay_to(stack, auth, f"http://127.0.0.1:{free_port()}")
    response = await http.get("/v1/events")
    assert response.status == 503
    assert int(response.headers["Retry-After"]) > 0
    body = json.loads(await response.read())
    assert body["type"] == "https://shotgraph.dev/problems/unavailable"
    assert body["detail"] == "live events are unavailable right now"


STREAMS = 300


async def test_three_hundred_streams_are_open_at_once_through_the_whole_gateway(
    live_gateway: GatewayClient, live_peer: LivePeer, auth: Auth
) -> None:
    """aiohttp's default connector held 100 upstream connections: the 101st waited, then
    failed as a 503. Every stream here stays open until all have their first event."""
    live_peer.release_streams.clear()
    url = live_gateway.make_url("/v1/events")
    # The browsers' side has no ceiling either: 300 browsers, not one client's pool.
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as browsers:

        async def stream() -> tuple[int, bytes, aiohttp.ClientResponse]:
            response = await browsers.get(url, headers={"Authorization": f"Bearer {auth.key}"})
            first = await response.content.readuntil(b"\n\n") if response.status == 200 else b""
            return response.status, first, response

        async with asyncio.timeout(60):
            opened = await asyncio.gather(*(stream() for _ in range(STREAMS)))
        assert [status for status, _, _ in opened] == [200] * STREAMS
        assert {first for _, first, _ in opened} == {
            b'id: 1\nevent: batch.progress\ndata: {"n": 1}\n\n'
        }
        assert live_peer.streams_open == STREAMS  # all of them at once, none ended yet
        live_peer.release_streams.set()
        async with asyncio.timeout(30):
            rests = await asyncio.gather(*(response.read() for _, _, response in opened))
        assert set(rests) == {b": bye\n\n"}


async def test_the_relayed_stream_is_never_compressed_on_either_hop(
    live_gateway: GatewayClient, live_peer: LivePeer, auth: Auth
) -> None:
    response = await live_gateway.get(
        "/v1/events",
        headers={"Authorization": f"Bearer {auth.key}", "Accept-Encoding": "br, gzip"},
        auto_decompress=False,
    )
    assert response.status == 200
    assert "Content-Encoding" not in response.headers
    assert (await response.read()).startswith(b"id: 1\n")
    assert live_peer.seen[0].headers["Accept-Encoding"] == "identity"
