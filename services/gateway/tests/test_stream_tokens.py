"""``POST /v1/events/tokens`` and ``?token=`` through the whole gateway on the real auth service:
a token opens the live connections (and only them) for a minute, in the name of the session or
key that asked, and dies with it."""

from __future__ import annotations

import asyncio
import hashlib
import time
from contextlib import AsyncExitStack

import pytest
from aiohttp import WSMsgType
from redis.asyncio import Redis

from libs.devstack import DevStack
from services.auth.tests.conftest import eventually
from services.gateway.csrf import CSRF_HEADER
from services.gateway.tests.conftest import Auth, GatewayClient, Person, sign_in
from services.gateway.tests.live_peer import HELLO, LivePeer
from shotgraph.auth.v1 import auth_pb2, auth_pb2_grpc
from tests.in_process import downstream

WITHIN_S = 5


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def token_for(gateway: GatewayClient, headers: dict[str, str]) -> str:
    response = await gateway.post("/v1/events/tokens", headers=headers)
    assert response.status == 200, await response.text()
    token: str = (await response.json())["token"]
    return token


async def test_a_key_gets_a_token_that_alone_opens_the_event_stream(
    live_gateway: GatewayClient, live_peer: LivePeer, person: Person
) -> None:
    before = time.time()
    response = await live_gateway.post(
        "/v1/events/tokens", headers={**bearer(person.key), "Accept-Encoding": "br, gzip"}
    )
    assert response.status == 200
    assert response.headers["Cache-Control"] == "no-store"
    assert "Content-Encoding" not in response.headers  # a secret is never compressed
    body = await response.json()
    assert set(body) == {"token", "expires_at"}
    assert int(before) + 59 <= body["expires_at"] <= time.time() + 60

    stream = await live_gateway.get(
        "/v1/events",
        params={"token": body["token"], "topics": "canvas:c-1", "last_event_id": "41"},
    )
    assert stream.status == 200
    assert stream.content_type == "text/event-stream"
    await stream.read()
    [seen] = live_peer.seen
    assert seen.query == {"token": body["token"], "topics": "canvas:c-1", "last_event_id": "41"}
    assert "Authorization" not in seen.headers and "Cookie" not in seen.headers


async def test_a_session_asks_with_its_csrf_token_and_its_token_opens_a_websocket(
    live_gateway: GatewayClient, live_peer: LivePeer, person: Person
) -> None:
    csrf = await sign_in(live_gateway, person)
    forged = await live_gateway.post("/v1/events/tokens")
    assert forged.status == 403
    assert CSRF_HEADER in (await forged.json())["detail"]
    token = await token_for(live_gateway, {CSRF_HEADER: csrf})

    # No Origin at all, and the session cookie still in the jar: the token is the credential,
    # and it is not one another site's page could have.
    ws = await live_gateway.ws_connect(f"/v1/ws?token={token}", protocols=("shotgraph.v1.json",))
    first = await ws.receive(timeout=WITHIN_S)
    assert (first.type, first.data) == (WSMsgType.BINARY, HELLO)
    [seen] = live_peer.seen
    assert seen.query == {"token": token}
    assert "Cookie" not in seen.headers
    await ws.close()


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/v1/auth/session"),
        ("GET", "/v1/keys"),
        ("GET", "/v1/canvases"),
        ("POST", "/v1/events/tokens"),
    ],
)
async def test_anywhere_else_a_token_is_no_credential(
    live_gateway: GatewayClient, person: Person, method: str, path: str
) -> None:
    token = await token_for(live_gateway, bearer(person.key))
    response = await live_gateway.request(method, path, params={"token": token})
    assert response.status == 401, await response.text()


async def test_a_token_past_its_minute_opens_nothing(
    live_gateway: GatewayClient,
    live_peer: LivePeer,
    person: Person,
    devstack: DevStack,
    stack: AsyncExitStack,
) -> None:
    token = await token_for(live_gateway, bearer(person.key))
    opened = await live_gateway.get("/v1/events", params={"token": token})
    assert opened.status == 200
    await opened.read()

    redis = Redis.from_url(devstack.redis_url)
    stack.push_async_callback(redis.aclose)
    kept = f"auth:stream-token:{hashlib.sha256(token.encode()).hexdigest()}"
    assert 0 < await redis.pttl(kept) <= 60_000
    await redis.pexpire(kept, 1)  # its minute, run out now

    async def gone() -> bool:
        return not await redis.exists(kept)

    await eventually(gone, "Redis let the token expire", within_s=WITHIN_S)

    # Verified again at each use: the success a moment ago was not kept.
    response = await live_gateway.get("/v1/events", params={"token": token})
    assert response.status == 401
    assert "unknown or expired" in (await response.json())["detail"]
    assert len(live_peer.seen) == 1


async def test_revoking_the_key_ends_what_its_token_opened_and_voids_the_token(
    stack: AsyncExitStack,
    live_gateway: GatewayClient,
    live_peer: LivePeer,
    auth: Auth,
    person: Person,
) -> None:
    token = await token_for(live_gateway, bearer(person.key))
    live_peer.release_streams.clear()  # the stream stays open until the revocation ends it
    stream = await live_gateway.get("/v1/events", params={"token": token})
    assert await stream.content.readuntil(b"\n\n") == (
        b'id: 1\nevent: batch.progress\ndata: {"n": 1}\n\n'
    )
    ws = await live_gateway.ws_connect(f"/v1/ws?token={token}", protocols=("shotgraph.v1.json",))
    assert (await ws.receive(timeout=WITHIN_S)).data == HELLO

    client = downstream(stack, "auth", auth.address, auth_pb2_grpc.AuthServiceStub)
    await client.call(
        client.stub.RevokeApiKey,
        auth_pb2.RevokeApiKeyRequest(user_id=person.user_id, key_id=person.key_id),
    )
    async with asyncio.timeout(WITHIN_S):
        assert await stream.content.read() == b""  # the stream ended, nothing more came
    closing = await ws.receive(timeout=WITHIN_S)
    assert (closing.type, closing.data) == (WSMsgType.CLOSE, 4401)

    response = await live_gateway.get("/v1/events", params={"token": token})
    assert response.status == 401
    assert "revoked or has expired" in (await response.json())["detail"]


async def test_asking_needs_the_read_scope_and_a_credential(
    stack: AsyncExitStack, live_gateway: GatewayClient, auth: Auth, person: Person
) -> None:
    client = downstream(stack, "auth", auth.address, auth_pb2_grpc.AuthServiceStub)
    write_only: auth_pb2.CreateApiKeyResponse = await client.call(
        client.stub.CreateApiKey,
        auth_pb2.CreateApiKeyRequest(user_id=person.user_id, scopes=["write"]),
    )
    refused = await live_gateway.post("/v1/events/tokens", headers=bearer(write_only.key))
    assert refused.status == 403
    assert "'read' scope" in (await refused.json())["detail"]
    anonymous = await live_gateway.post("/v1/events/tokens")
    assert anonymous.status == 401
