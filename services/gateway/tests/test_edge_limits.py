"""The limits of the gateway as ``app.build`` makes it, with the built-in policies: the 101st
anonymous request from one address is refused, a real second address is not, and an
over-limit request with a bad credential is a 429 before it is a 401."""

from __future__ import annotations

import time
import uuid
from contextlib import AsyncExitStack

import aiohttp
from redis.asyncio import Redis

from libs.devstack import DevStack
from services.gateway.tests.conftest import GatewayClient, MakeGateway

# The built-in address policy: a burst of 100, then one every 0.6 s.
BURST, INTERVAL_S = 100, 0.6


async def fresh_redis_url(stack: AsyncExitStack, devstack: DevStack) -> str:
    """A Redis database of this test's own, emptied: no other test's requests count."""
    url = devstack.redis_url.rsplit("/", 1)[0] + "/9"
    redis = Redis.from_url(url)
    stack.push_async_callback(redis.aclose)
    await redis.flushdb()
    return url


async def gateway_limited_to(
    stack: AsyncExitStack, devstack: DevStack, make_gateway: MakeGateway, burst: int
) -> GatewayClient:
    """The gateway on a Redis of its own, allowing each address ``burst`` requests a minute."""
    policy = f'{{"address": {{"limit": {burst}, "window_s": 60, "burst": {burst}}}}}'
    return await make_gateway(redis_url=await fresh_redis_url(stack, devstack), rate_limits=policy)


def client(stack: AsyncExitStack, source: str) -> aiohttp.ClientSession:
    session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(local_addr=(source, 0)))
    stack.push_async_callback(session.close)
    return session


async def test_the_101st_anonymous_request_is_refused_and_another_address_is_not(
    stack: AsyncExitStack, devstack: DevStack, make_gateway: MakeGateway
) -> None:
    gateway = await make_gateway(redis_url=await fresh_redis_url(stack, devstack), rate_limits="")
    url = str(gateway.make_url("/v1/canvases"))
    first, second = client(stack, "127.0.0.1"), client(stack, "127.0.0.2")
    started = time.monotonic()
    statuses, refusal = [], None
    for _ in range(150):
        async with first.get(url) as response:
            statuses.append(response.status)
            if response.status == 429 and refusal is None:
                refusal = (dict(response.headers), await response.json(content_type=None))
    elapsed = time.monotonic() - started
    admitted = statuses.count(401)  # anonymous: admitted by the limiter, then refused
    assert statuses[:BURST] == [401] * BURST
    # GCRA: after the burst, one more every interval of the time the loop took.
    assert BURST <= admitted <= BURST + int(elapsed / INTERVAL_S) + 1, (admitted, elapsed)
    assert statuses[admitted] == 429 and set(statuses[admitted:]) <= {401, 429}
    assert refusal is not None
    headers, body = refusal
    assert body["status"] == 429 and body["type"].endswith("/too-many-requests")
    assert int(headers["Retry-After"]) >= 1
    assert headers["RateLimit-Policy"] == '"address";q=100;w=60'
    assert headers["RateLimit"].startswith('"address";r=0;t=')

    async with second.get(url) as response:  # another source address, not a header
        assert response.status == 401
        assert response.headers["RateLimit"].startswith('"address";r=99;')


async def test_an_over_limit_request_with_a_bad_key_is_refused_as_over_the_limit(
    stack: AsyncExitStack, devstack: DevStack, make_gateway: MakeGateway
) -> None:
    gateway = await gateway_limited_to(stack, devstack, make_gateway, burst=2)
    bad = {"Authorization": f"Bearer sg_{uuid.uuid4().hex}{uuid.uuid4().hex[:11]}"}
    statuses = [(await gateway.get("/v1/canvases", headers=bad)).status for _ in range(3)]
    assert statuses == [401, 401, 429]


async def test_x_forwarded_for_from_an_untrusted_peer_is_ignored(
    stack: AsyncExitStack, devstack: DevStack, make_gateway: MakeGateway
) -> None:
    gateway = await gateway_limited_to(stack, devstack, make_gateway, burst=1)
    spoofed = [
        (await gateway.get("/v1/canvases", headers={"X-Forwarded-For": f"203.0.113.{n}"})).status
        for n in range(3)
    ]
    assert spoofed == [401, 429, 429], "one address, whatever the header claims"
