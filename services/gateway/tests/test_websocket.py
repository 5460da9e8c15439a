"""``/v1/ws`` through the whole gateway to a real WebSocket peer standing in for fan-out: the
browser is upgraded only once the peer accepted, frames pass both ways unchanged, close codes
reach the other side, refusals arrive as problems before any upgrade, a cookie upgrade needs an
allowed Origin, and a revoked credential closes the socket."""

from __future__ import annotations

import asyncio
import base64
import os
import secrets
from contextlib import AsyncExitStack

import aiohttp
import pytest
from aiohttp import WSMsgType

from libs.live.protocol import JSON_PROTOCOL, MAX_CLIENT_MESSAGE_BYTES, MSGPACK_PROTOCOL
from libs.ports import free_port
from services.gateway.tests.conftest import (
    Auth,
    GatewayClient,
    MakeGateway,
    Person,
    sign_in,
)
from services.gateway.tests.live_peer import DROP, HELLO, LivePeer, close_request
from shotgraph.auth.v1 import auth_pb2, auth_pb2_grpc
from tests.in_process import downstream

PROTOCOLS = (JSON_PROTOCOL, MSGPACK_PROTOCOL)
WITHIN_S = 5


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def upgrade(**headers: str) -> dict[str, str]:
    """The headers of a WebSocket upgrade, sent by hand to read a refusal's body."""
    return {
        "Upgrade": "websocket",
        "Connection": "Upgrade",
        "Sec-WebSocket-Version": "13",
        "Sec-WebSocket-Key": base64.b64encode(os.urandom(16)).decode(),
        "Sec-WebSocket-Protocol": ", ".join(PROTOCOLS),
        **headers,
    }


async def opened(
    gateway: GatewayClient, headers: dict[str, str], *, compress: int = 0
) -> aiohttp.ClientWebSocketResponse[bool]:
    """A WebSocket through the gateway, its peer's first frame already read."""
    ws = await gateway.ws_connect("/v1/ws", protocols=PROTOCOLS, headers=headers, compress=compress)
    first = await ws.receive(timeout=WITHIN_S)
    assert (first.type, first.data) == (WSMsgType.BINARY, HELLO)
    return ws


async def test_frames_pass_both_ways_unchanged_in_the_peers_subprotocol(
    live_gateway: GatewayClient, live_peer: LivePeer, person: Person
) -> None:
    trace_id = secrets.token_hex(16)
    sent = {**bearer(person.key), "traceparent": f"00-{trace_id}-{secrets.token_hex(8)}-01"}
    ws = await opened(live_gateway, sent)
    # The browser offered JSON first; the peer speaks MessagePack only, and its choice stands.
    assert ws.protocol == MSGPACK_PROTOCOL
    frames = [
        (WSMsgType.TEXT, '{"type": "ping", "id": "Scène ✓"}'),
        (WSMsgType.BINARY, bytes(range(256))),
        (WSMsgType.TEXT, "x" * MAX_CLIENT_MESSAGE_BYTES),  # the largest allowed
        (WSMsgType.BINARY, b""),
    ]
    for kind, data in frames:
        if kind is WSMsgType.TEXT:
            await ws.send_str(str(data))
        else:
            await ws.send_bytes(bytes(data))  # type: ignore[arg-type]
        echoed = await ws.receive(timeout=WITHIN_S)
        assert (echoed.type, echoed.data) == (kind, data)
    assert live_peer.frames == [
        (kind, data.encode() if isinstance(data, str) else data) for kind, data in frames
    ]
    [seen] = live_peer.seen
    assert seen.headers["Authorization"] == sent["Authorization"]
    assert seen.headers["Sec-WebSocket-Protocol"] == ",".join(PROTOCOLS)
    assert seen.headers["traceparent"].split("-")[1] == trace_id, "one trace, continued upstream"
    assert "Sec-WebSocket-Extensions" not in seen.headers
    await ws.close()


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        (4008, "too slow: resume"),
        (4401, "the credential was revoked"),
        (1012, "draining"),
        (1000, ""),
        (4000, "é" * 61),  # 122 bytes of UTF-8: nearly the most a close frame holds
    ],
)
async def test_the_peers_close_code_reaches_the_browser(
    live_gateway: GatewayClient, person: Person, code: int, reason: str
) -> None:
    ws = await opened(live_gateway, bearer(person.key))
    await ws.send_str(close_request(code, reason))
    closing = await ws.receive(timeout=WITHIN_S)
    assert closing.type is WSMsgType.CLOSE
    assert closing.data == code
    assert closing.extra == reason
    assert ws.close_code == code


async def test_a_peer_that_drops_leaves_the_browser_a_1011_to_resume_after(
    live_gateway: GatewayClient, person: Person
) -> None:
    ws = await opened(live_gateway, bearer(person.key))
    await ws.send_str(DROP.decode())
    closing = await ws.receive(timeout=WITHIN_S)
    assert (closing.type, closing.data) == (WSMsgType.CLOSE, 1011)


@pytest.mark.parametrize("code", [1000, 1001, 3001, 4999])
async def test_the_browsers_close_code_reaches_the_peer(
    live_gateway: GatewayClient, live_peer: LivePeer, person: Person, code: int
) -> None:
    ws = await opened(live_gateway, bearer(person.key))
    await ws.close(code=code)
    async with asyncio.timeout(WITHIN_S):
        await live_peer.closed.wait()
    assert live_peer.closed_with == code


async def test_an_oversized_frame_closes_with_1009_and_never_reaches_the_peer(
    live_gateway: GatewayClient, live_peer: LivePeer, person: Person
) -> None:
    ws = await opened(live_gateway, bearer(person.key))
    await ws.send_str("x" * (MAX_CLIENT_MESSAGE_BYTES + 1))
    closing = await ws.receive(timeout=WITHIN_S)
    assert (closing.type, closing.data) == (WSMsgType.CLOSE, 1009)
    async with asyncio.timeout(WITHIN_S):
        await live_peer.closed.wait()  # the upstream end goes with the browser's
    assert live_peer.frames == []


@pytest.mark.parametrize(("status", "retry_after"), [(401, None), (429, None), (503, "7")])
async def test_a_refusal_from_the_peer_is_answered_as_it_is_before_any_upgrade(
    live_gateway: GatewayClient,
    live_peer: LivePeer,
    person: Person,
    status: int,
    retry_after: str | None,
) -> None:
    live_peer.refuse = status
    response = await live_gateway.get("/v1/ws", headers=upgrade(**bearer(person.key)))
    assert response.status == status
    assert response.content_type == "application/problem+json"
    assert response.headers.get("Retry-After") == retry_after
    assert "Upgrade" not in response.headers
    body = await response.json(content_type=None)
    assert body["type"] == "https://shotgraph.dev/problems/peer-refused"
    assert body["detail"] == f"the peer refuses with {status}"
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await live_gateway.ws_connect("/v1/ws", protocols=PROTOCOLS, headers=bearer(person.key))
    assert refused.value.status == status


async def test_an_unreachable_peer_is_a_503_to_retry(
    make_gateway: MakeGateway, person: Person
) -> None:
    gateway = await make_gateway(fanout_url=f"http://127.0.0.1:{free_port()}")
    response = await gateway.get("/v1/ws", headers=upgrade(**bearer(person.key)))
    assert response.status == 503
    assert int(response.headers["Retry-After"]) > 0
    assert (await response.json(content_type=None))["detail"] == (
        "live events are unavailable right now"
    )


async def test_a_get_that_is_no_upgrade_is_a_400(
    live_gateway: GatewayClient, live_peer: LivePeer, person: Person
) -> None:
    response = await live_gateway.get("/v1/ws", headers=bearer(person.key))
    assert response.status == 400
    assert "opens a WebSocket" in (await response.json(content_type=None))["detail"]
    assert live_peer.seen == []


async def test_no_credential_is_a_401_before_the_peer_hears_of_it(
    live_gateway: GatewayClient, live_peer: LivePeer
) -> None:
    response = await live_gateway.get("/v1/ws", headers=upgrade())
    assert response.status == 401
    assert live_peer.seen == []


async def test_compression_is_never_agreed(live_gateway: GatewayClient, person: Person) -> None:
    ws = await opened(live_gateway, bearer(person.key), compress=15)
    assert ws.compress == 0  # the browser offered permessage-deflate; it was not taken
    response = await live_gateway.get(
        "/v1/ws",
        headers=upgrade(
            **bearer(person.key),
            **{"Sec-WebSocket-Extensions": "permessage-deflate", "Accept-Encoding": "br, gzip"},
        ),
    )
    assert response.status == 101
    assert "Sec-WebSocket-Extensions" not in response.headers
    assert "Content-Encoding" not in response.headers
    response.close()
    await ws.close()


# --- where a cookie may open a WebSocket ---------------------------------------------------


async def test_a_cookie_upgrade_from_a_foreign_origin_is_refused_before_the_peer_hears_of_it(
    live_gateway: GatewayClient, live_peer: LivePeer, person: Person
) -> None:
    await sign_in(live_gateway, person)
    for origin in ("https://evil.example", "null", None):
        headers = upgrade() if origin is None else upgrade(Origin=origin)
        response = await live_gateway.get("/v1/ws", headers=headers)
        assert response.status == 403, origin
        assert response.content_type == "application/problem+json"
        assert "may not be opened from" in (await response.json())["detail"]
    assert live_peer.seen == []


async def test_a_cookie_upgrade_from_this_site_passes_with_its_cookie(
    live_gateway: GatewayClient, live_peer: LivePeer, person: Person
) -> None:
    await sign_in(live_gateway, person)
    own = str(live_gateway.make_url("")).rstrip("/")
    ws = await opened(live_gateway, {"Origin": own})
    [seen] = live_peer.seen
    assert seen.headers["Origin"] == own
    assert f"http://{seen.headers['X-Forwarded-Host']}" == own  # what the Origin was checked by
    assert seen.headers["X-Forwarded-Proto"] == "http"
    assert seen.headers["X-Forwarded-For"] == "127.0.0.1"
    assert seen.headers["Cookie"].startswith("shotgraph_session=")
    assert "Authorization" not in seen.headers
    await ws.close()


async def test_a_cookie_upgrade_from_an_allowed_origin_passes(
    make_gateway: MakeGateway, live_peer: LivePeer, person: Person
) -> None:
    gateway = await make_gateway(
        fanout_url=live_peer.url, cors_origins="https://studio.example.com"
    )
    await sign_in(gateway, person)
    ws = await opened(gateway, {"Origin": "https://studio.example.com"})
    await ws.close()


async def test_a_key_needs_no_origin(
    live_gateway: GatewayClient, live_peer: LivePeer, person: Person
) -> None:
    ws = await opened(live_gateway, bearer(person.key))
    assert "Origin" not in live_peer.seen[0].headers
    await ws.close()


# --- revocation ----------------------------------------------------------------------------


async def test_revoking_the_key_closes_the_socket_with_4401(
    stack: AsyncExitStack,
    live_gateway: GatewayClient,
    live_peer: LivePeer,
    auth: Auth,
    person: Person,
) -> None:
    ws = await opened(live_gateway, bearer(person.key))
    client = downstream(stack, "auth", auth.address, auth_pb2_grpc.AuthServiceStub)
    await client.call(
        client.stub.RevokeApiKey,
        auth_pb2.RevokeApiKeyRequest(user_id=person.user_id, key_id=person.key_id),
    )
    closing = await ws.receive(timeout=WITHIN_S)
    assert (closing.type, closing.data) == (WSMsgType.CLOSE, 4401)
    async with asyncio.timeout(WITHIN_S):
        await live_peer.closed.wait()
    assert live_peer.closed_with == 4401


async def test_a_gateway_shutting_down_tells_its_sockets_to_reconnect(
    live_gateway: GatewayClient, live_peer: LivePeer, person: Person
) -> None:
    ws = await opened(live_gateway, bearer(person.key))
    assert live_gateway.app is not None
    await live_gateway.app.shutdown()  # what SIGTERM starts
    closing = await ws.receive(timeout=WITHIN_S)
    assert (closing.type, closing.data) == (WSMsgType.CLOSE, 1012)
    async with asyncio.timeout(WITHIN_S):
        await live_peer.closed.wait()
    assert live_peer.closed_with == 1012
