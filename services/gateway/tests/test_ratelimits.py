"""Rate limits at the edge, on a real aiohttp server and Redis, from real source addresses:
127.0.0.1 and 127.0.0.2 are two clients, not a header."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass
from ipaddress import ip_network
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from redis.asyncio import Redis

from libs.identity import Identity
from libs.ratelimit import DEFAULT_POLICIES, Limiter, Policies, load_policies
from libs.tests.test_ratelimit import RedisServer
from libs.web import ADMIN_APP, create_app
from services.gateway.auth import IDENTITY
from services.gateway.client_address import client_address
from services.gateway.ratelimits import add_rate_limit_headers, rate_limit

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
PROXY = "127.0.0.2"


@web.middleware
async def signed_in_by_header(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Stands in for authentication: ``X-Test-User`` names the caller."""
    if user := request.headers.get("X-Test-User"):
        request[IDENTITY] = Identity(user, user, credential_id=f"key-{user}")
    return await handler(request)


@dataclass
class Edge:
    url: str
    admin_url: str
    limiter: Limiter
    previews_may_finish: asyncio.Event
    preview_started: asyncio.Event
    # Set once a WebSocket's answer has left the rate limiter (its lease released).
    websocket_done: asyncio.Event

    def session(self, stack: AsyncExitStack, source: str = "127.0.0.1") -> aiohttp.ClientSession:
        connector = aiohttp.TCPConnector(local_addr=(source, 0))
        session = aiohttp.ClientSession(connector=connector)
        stack.push_async_callback(session.close)
        return session


async def start_edge(
    stack: AsyncExitStack, redis_url: str, policies: Policies = DEFAULT_POLICIES
) -> Edge:
    redis = Redis.from_url(redis_url)
    stack.push_async_callback(redis.aclose)
    limiter = Limiter(redis, namespace=f"test-{uuid.uuid4().hex}:")
    stack.push_async_callback(limiter.close)
    finish, started = asyncio.Event(), asyncio.Event()
    app = create_app(
        "gateway", max_body_bytes=1 << 20, degraded={"ratelimit": limiter.readiness_note}
    )
    websocket_done = asyncio.Event()

    @web.middleware
    async def note_websocket_done(request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            return await handler(request)
        finally:
            if request.path == "/v1/ws":
                websocket_done.set()

    app.middlewares.append(note_websocket_done)  # outside the limiter: after its release
    app.middlewares.append(client_address(trusted_proxies=[ip_network(f"{PROXY}/32")]))
    app.middlewares.append(signed_in_by_header)
    app.middlewares.append(rate_limit(limiter, policies))
    app.on_response_prepare.append(add_rate_limit_headers)

    async def remote(request: web.Request) -> web.Response:
        return web.json_response({"remote": request.remote})

    async def preview(_: web.Request) -> web.Response:
        started.set()
        await finish.wait()
        return web.json_response({})

    async def events(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        await response.write(b": hello\n\n")
        return response

    app.router.add_get("/v1/remote", remote)
    app.router.add_get("/elsewhere", remote)
    app.router.add_post("/v1/render/preview", preview)

    async def websocket(request: web.Request) -> web.StreamResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        async for _ in ws:  # open until the client closes it
            pass
        return ws

    app.router.add_get("/v1/events", events)
    app.router.add_get("/v1/ws", websocket)
    servers = [TestServer(app, host="127.0.0.1"), TestServer(app[ADMIN_APP], host="127.0.0.1")]
    for server in servers:
        await server.start_server()
        stack.push_async_callback(server.close)
    public, admin = (str(server.make_url("")) for server in servers)
    return Edge(public, admin, limiter, finish, started, websocket_done)


@pytest.fixture
async def edge(stack: AsyncExitStack, redis_url: str) -> Edge:
    return await start_edge(stack, redis_url)


async def test_the_101st_anonymous_request_is_refused_and_another_address_is_not(
    edge: Edge, stack: AsyncExitStack
) -> None:
    first, second = edge.session(stack), edge.session(stack, "127.0.0.2")
    answers: list[tuple[int, dict[str, str], bytes]] = []
    started = time.monotonic()
    for _ in range(150):
        async with first.get(f"{edge.url}/v1/remote") as response:
            answers.append((response.status, dict(response.headers), await response.read()))
        if len(answers) == 101:
            by_the_101st = time.monotonic() - started
    elapsed = time.monotonic() - started
    statuses = [status for status, _, _ in answers]
    # GCRA with T = 0.6 s: 100 at once, then one more per 0.6 s of the arrival times.
    assert statuses[:100] == [200] * 100
    if by_the_101st < 0.6:  # it arrived before the first had earned a successor
        assert statuses[100] == 429
    assert 100 <= statuses.count(200) <= 100 + int(elapsed / 0.6)

    _, admitted_headers, _ = answers[0]
    assert admitted_headers["RateLimit-Policy"] == '"address";q=100;w=60'
    assert admitted_headers["RateLimit"] == '"address";r=99;t=1'
    _, headers, body = answers[statuses.index(429)]
    assert headers["Content-Type"].startswith("application/problem+json")
    assert headers["Retry-After"] == "1"
    assert headers["RateLimit-Policy"] == '"address";q=100;w=60'
    assert headers["RateLimit"] == '"address";r=0;t=1'
    problem = json.loads(body)
    assert problem["status"] == 429 and problem["limit"] == "address"
    assert problem["type"] == "https://shotgraph.dev/problems/too-many-requests"

    async with second.get(f"{edge.url}/v1/remote") as response:
        assert response.status == 200
        assert response.headers["RateLimit"] == '"address";r=99;t=1'
        assert (await response.json())["remote"] == "127.0.0.2"


async def test_paths_outside_the_api_are_not_limited(edge: Edge, stack: AsyncExitStack) -> None:
    session = edge.session(stack)
    async with session.get(f"{edge.url}/elsewhere") as response:
        assert response.status == 200 and "RateLimit" not in response.headers


async def test_x_forwarded_for_is_believed_only_from_a_trusted_proxy(
    edge: Edge, stack: AsyncExitStack
) -> None:
    spoofed = {"X-Forwarded-For": "203.0.113.9"}
    async with edge.session(stack).get(f"{edge.url}/v1/remote", headers=spoofed) as response:
        assert (await response.json())["remote"] == "127.0.0.1"
    proxied = {"X-Forwarded-For": "198.51.100.7, 203.0.113.9"}
    proxy = edge.session(stack, PROXY)
    async with proxy.get(f"{edge.url}/v1/remote", headers=proxied) as response:
        assert (await response.json())["remote"] == "203.0.113.9"


async def test_a_signed_in_caller_is_limited_per_user_and_key_too(
    stack: AsyncExitStack, redis_url: str
) -> None:
    policies = load_policies(
        '{"plans": {"standard": {"user": {"limit": 3, "window_s": 60, "burst": 3}}}}'
    )
    edge = await start_edge(stack, redis_url, policies)
    session, user = edge.session(stack), {"X-Test-User": "ada"}
    statuses = []
    for _ in range(4):
        async with session.get(f"{edge.url}/v1/remote", headers=user) as response:
            statuses.append(response.status)
            policy, limit = response.headers["RateLimit-Policy"], response.headers["RateLimit"]
    assert statuses == [200, 200, 200, 429]
    assert policy == '"address";q=100;w=60, "user";q=3;w=60, "key";q=120;w=60'
    assert limit.startswith('"user";r=0;t=')
    async with session.get(f"{edge.url}/v1/remote", headers={"X-Test-User": "bob"}) as response:
        assert response.status == 200  # another user from the same address


async def test_previews_in_flight_are_capped_per_user(
    stack: AsyncExitStack, redis_url: str
) -> None:
    policies = load_policies('{"plans": {"standard": {"concurrency": {"previews": 1}}}}')
    edge = await start_edge(stack, redis_url, policies)
    session, user = edge.session(stack), {"X-Test-User": "ada"}
    url = f"{edge.url}/v1/render/preview"
    held = asyncio.create_task(session.post(url, headers=user))
    await asyncio.wait_for(edge.preview_started.wait(), 10)
    async with session.post(url, headers=user) as refused:
        assert refused.status == 429
        assert (await refused.json())["limit"] == "concurrency.previews"
    assert refused.headers["RateLimit"] == '"concurrency.previews";r=0;t=1'
    edge.previews_may_finish.set()
    async with await held as response:
        assert response.status == 200
    await edge.limiter.close()  # the release, fired after the answer, has landed
    async with session.post(url, headers=user) as again:
        assert again.status == 200


async def test_an_event_stream_carries_the_headers(edge: Edge, stack: AsyncExitStack) -> None:
    session = edge.session(stack)
    user = {"X-Test-User": "ada"}
    async with session.get(f"{edge.url}/v1/events", headers=user) as response:
        assert response.status == 200
        assert response.headers["RateLimit-Policy"].endswith('"concurrency.event_streams";q=5')


async def test_an_open_websocket_holds_an_event_stream_place_until_it_closes(
    stack: AsyncExitStack, redis_url: str
) -> None:
    policies = load_policies('{"plans": {"standard": {"concurrency": {"event_streams": 1}}}}')
    edge = await start_edge(stack, redis_url, policies)
    session, user = edge.session(stack), {"X-Test-User": "ada"}
    url = f"{edge.url}/v1/ws"
    first = await session.ws_connect(url, headers=user)
    for refused_url in (url, f"{edge.url}/v1/events"):  # one cap for SSE and WebSocket
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await session.ws_connect(refused_url, headers=user)
        assert refused.value.status == 429
        assert refused.value.headers is not None
        assert refused.value.headers["RateLimit"] == '"concurrency.event_streams";r=0;t=1'
    edge.websocket_done.clear()  # the refusals went through it too
    await first.close()
    async with asyncio.timeout(5):
        await edge.websocket_done.wait()
    await edge.limiter.close()  # the release, fired as the answer left, has landed
    again = await session.ws_connect(url, headers=user)
    await again.close()


async def test_with_redis_stopped_the_edge_limits_per_process_and_says_so(
    stack: AsyncExitStack, tmp_path: Path
) -> None:
    server = RedisServer(tmp_path)
    server.start()
    stack.callback(server.stop)
    edge = await start_edge(stack, server.url)
    session = edge.session(stack)
    server.stop()
    statuses = []
    for _ in range(101):
        async with session.get(f"{edge.url}/v1/remote") as response:
            statuses.append(response.status)
    assert statuses[:100] == [200] * 100 and statuses[100] == 429  # one worker: the whole limit
    async with session.get(f"{edge.admin_url}/readyz") as response:
        assert response.status == 200
        body = await response.json()
    assert "per process" in body["degraded"]["ratelimit"]
