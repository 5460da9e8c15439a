"""``/v1/ws``: what a client is told first, what it may ask, and every way a connection is
refused or ended: bad messages, limits, a foreign page, a revoked or expired credential, a
client too slow to read, and a process that drains."""

from __future__ import annotations

import asyncio
import json
import socket
import time
import uuid
from typing import Any

import aiohttp
import msgpack
import pytest
from google.protobuf.timestamp_pb2 import Timestamp

from libs.bus import Message
from libs.bus.events import BatchProgress, JobProgress
from libs.bus.states import BatchState, JobState
from libs.live.protocol import JSON_PROTOCOL, MAX_TOPICS, MSGPACK_PROTOCOL
from libs.web import PROBLEM_CONTENT_TYPE
from services.fanout.app import drain
from services.fanout.tests.clients import WsClient
from services.fanout.tests.conftest import Fanout, MakeFanout
from services.fanout.tests.samples import progress
from services.fanout.wire import Wire


async def test_hello_comes_first_and_says_how_the_connection_works(fanout: Fanout) -> None:
    alice = await fanout.user()
    ws = await fanout.client.ws_connect("/v1/ws", protocols=(JSON_PROTOCOL,), headers=alice.headers)
    client = WsClient(ws, Wire.JSON)
    fanout.opened.append(client)

    hello = await client.next()

    assert ws.protocol == JSON_PROTOCOL
    assert hello["type"] == "hello" and hello["user_id"] == alice.user_id
    assert hello["connection_id"] and hello["last_seq"] >= 0
    assert (hello["window_ms"], hello["max_client_message_bytes"], hello["max_topics"]) == (
        20,
        4096,
        MAX_TOPICS,
    )


async def test_a_ping_is_answered_with_its_id(fanout: Fanout) -> None:
    client = await fanout.ws(await fanout.user(), Wire.JSON)

    await client.send({"type": "ping", "id": 42})

    assert await client.next_of("pong") == {"type": "pong", "id": 42}


async def test_live_events_wait_for_the_first_message_a_short_while_only(
    make_fanout: MakeFanout,
) -> None:
    fanout = await make_fanout(fanout_first_message_wait_ms=100)
    alice = await fanout.user()
    client = await fanout.ws(alice, first=False)  # says nothing

    seq = await fanout.to_user(alice, progress(1))

    assert [e["seq"] for e in await client.events_until(seq)] == [seq]


# --- Bad client messages ---------------------------------------------------------------------

BAD_MESSAGES: list[tuple[str, Wire, str | bytes, int]] = [
    ("text that is not JSON", Wire.JSON, "{type: ping", 4000),
    ("a JSON array", Wire.JSON, "[1, 2]", 4000),
    ("a subscribe whose topic is a number", Wire.JSON, '{"type": "subscribe", "topic": 5}', 4000),
    ("a message without a type", Wire.JSON, '{"topic": "canvas:x"}', 4000),
    ("bytes that are not MessagePack", Wire.MSGPACK, b"\xc1\xc1\xc1", 4000),
    ("a MessagePack string", Wire.MSGPACK, msgpack.packb("ping"), 4000),
    ("an unknown type", Wire.JSON, '{"type": "shout", "text": "hi"}', 4001),
    ("an unknown MessagePack type", Wire.MSGPACK, msgpack.packb({"type": "shout"}), 4001),
    ("a message of 5000 bytes", Wire.JSON, json.dumps({"type": "ping", "id": "x" * 5000}), 1009),
]


@pytest.mark.parametrize(
    ("label", "wire", "data", "code"), BAD_MESSAGES, ids=[b[0] for b in BAD_MESSAGES]
)
async def test_a_bad_client_message_closes_with_its_code_and_spares_the_others(
    fanout: Fanout, label: str, wire: Wire, data: str | bytes, code: int
) -> None:
    alice = await fanout.user()
    bystander = await fanout.ws(alice)
    client = await fanout.ws(alice, wire)

    if isinstance(data, str):
        await client.ws.send_str(data)
    else:
        await client.ws.send_bytes(data)

    assert await client.closed() == code, label
    seq = await fanout.to_user(alice, progress(1))
    assert [e["seq"] for e in await bystander.events_until(seq)] == [seq]


async def test_a_resume_after_another_message_closes_with_4002(fanout: Fanout) -> None:
    client = await fanout.ws(await fanout.user())  # its first message was a ping

    await client.send({"type": "resume", "after": 1})

    assert await client.closed() == 4002


# --- Topics ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("label", "topic", "reason"),
    [
        ("a canvas the user may not read", f"canvas:{uuid.uuid4()}", "not_allowed"),
        ("a batch of someone else's", f"batch:{uuid.uuid4()}", "not_allowed"),
        ("a render that does not exist", f"render:{uuid.uuid4()}", "not_allowed"),
        ("a canvas id that is no UUID", "canvas:1; DROP TABLE", "invalid"),
        ("an unknown kind of topic", f"folder:{uuid.uuid4()}", "invalid"),
        ("the user's own feed", "user", "invalid"),
    ],
)
async def test_a_topic_the_user_cannot_have_is_refused_with_a_reason(
    fanout: Fanout, label: str, topic: str, reason: str
) -> None:
    client = await fanout.ws(await fanout.user(), first={"type": "subscribe", "topic": topic})

    refused = await client.next_of("refused")

    assert (refused["topic"], refused["reason"]) == (topic, reason), label
    assert not client.ended.is_set()


async def test_more_topics_than_allowed_are_refused(fanout: Fanout) -> None:
    alice = await fanout.user()
    topics = [f"batch:{uuid.uuid4()}" for _ in range(MAX_TOPICS + 1)]
    for topic in topics:
        fanout.policy.allow(alice.user_id, topic)
    client = await fanout.ws(alice)

    for topic in topics:
        await client.send({"type": "subscribe", "topic": topic})
    replies = [await client.next() for _ in topics]

    assert [r["type"] for r in replies] == ["subscribed"] * MAX_TOPICS + ["refused"]
    assert replies[-1]["reason"] == "too_many_topics"


# --- Refused before the upgrade --------------------------------------------------------------


async def upgrade_refusal(
    fanout: Fanout, protocols: tuple[str, ...], headers: dict[str, str]
) -> tuple[int, dict[str, Any], dict[str, str]]:
    """The status, problem and headers of a refused upgrade."""
    response = await fanout.client.get(
        "/v1/ws",
        headers={
            "Connection": "Upgrade",
            "Upgrade": "websocket",
            "Sec-WebSocket-Version": "13",
            "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
            **({"Sec-WebSocket-Protocol": ", ".join(protocols)} if protocols else {}),
            **headers,
        },
    )
    assert response.content_type == PROBLEM_CONTENT_TYPE, await response.text()
    problem = await response.json(content_type=PROBLEM_CONTENT_TYPE)
    return response.status, problem, dict(response.headers)


@pytest.mark.parametrize("protocols", [(), ("graphql-ws", "v12.stomp")], ids=["none", "others"])
async def test_an_upgrade_without_a_subprotocol_of_ours_is_a_bad_request(
    fanout: Fanout, protocols: tuple[str, ...]
) -> None:
    alice = await fanout.user()

    status, problem, _ = await upgrade_refusal(fanout, protocols, alice.headers)

    assert status == 400 and MSGPACK_PROTOCOL in problem["detail"]


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer not-a-key"}],
    ids=["no credential", "an unknown key"],
)
async def test_an_upgrade_without_a_valid_credential_is_unauthenticated(
    fanout: Fanout, headers: dict[str, str]
) -> None:
    status, _, _ = await upgrade_refusal(fanout, (MSGPACK_PROTOCOL,), headers)

    assert status == 401


async def test_connections_over_the_users_cap_are_refused_with_429(
    make_fanout: MakeFanout,
) -> None:
    fanout = await make_fanout(fanout_max_connections_per_user=2)
    alice, bob = await fanout.user(), await fanout.user()
    await fanout.ws(alice)
    await fanout.sse(alice)

    status, problem, headers = await upgrade_refusal(fanout, (MSGPACK_PROTOCOL,), alice.headers)
    refused_stream = await fanout.client.get("/v1/events", headers=alice.headers)

    assert (status, refused_stream.status) == (429, 429)
    assert int(headers["Retry-After"]) > 0 and "2" in problem["detail"]
    await fanout.ws(bob)  # another user is not counted against alice


async def test_connections_over_the_process_cap_are_refused_with_503(
    make_fanout: MakeFanout,
) -> None:
    fanout = await make_fanout(fanout_max_connections=1)
    await fanout.ws(await fanout.user())

    status, _, headers = await upgrade_refusal(
        fanout, (MSGPACK_PROTOCOL,), (await fanout.user()).headers
    )

    assert status == 503 and int(headers["Retry-After"]) > 0


# --- The page that opens it ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("origin", "allowed"),
    [
        ("https://evil.example", False),
        ("https://studio.example.com", True),  # the allow-list
        (None, True),  # not a browser
        ("same", True),
        ("the gateway's", True),  # relayed: the browser saw the gateway's origin
        ("the gateway's over http", False),  # another scheme is another origin
    ],
    ids=["foreign", "allowed", "none", "same origin", "relayed", "relayed, other scheme"],
)
async def test_a_cookie_upgrade_is_taken_only_from_an_allowed_origin(
    make_fanout: MakeFanout, origin: str | None, allowed: bool
) -> None:
    fanout = await make_fanout(fanout_allowed_origins=("https://studio.example.com",))
    user_id, token = await fanout.accounts.session()
    headers = {"Cookie": f"shotgraph_session={token}"}
    if origin == "same":
        headers["Origin"] = f"http://{fanout.client.host}:{fanout.client.port}"
    elif origin is not None and origin.startswith("the gateway's"):
        scheme = "http" if origin.endswith("http") else "https"
        headers |= {
            "Origin": f"{scheme}://studio.shotgraph.test",
            "X-Forwarded-Host": "studio.shotgraph.test",
            "X-Forwarded-Proto": "https",
        }
    elif origin is not None:
        headers["Origin"] = origin

    if allowed:
        ws = await fanout.client.ws_connect(
            "/v1/ws", protocols=(MSGPACK_PROTOCOL,), headers=headers
        )
        client = WsClient(ws, Wire.MSGPACK)
        fanout.opened.append(client)
        assert (await client.next())["user_id"] == user_id
    else:
        status, problem, _ = await upgrade_refusal(fanout, (MSGPACK_PROTOCOL,), headers)
        assert status == 403, problem


async def test_a_key_upgrade_from_any_origin_is_taken(fanout: Fanout) -> None:
    """A page cannot set the Authorization header: a key is no hijacking risk."""
    alice = await fanout.user()

    client = await fanout.ws(alice, headers={"Origin": "https://elsewhere.example"})

    assert not client.ended.is_set()


# --- Credentials while the connection lives --------------------------------------------------


async def test_revoking_the_key_closes_its_connections_with_4401(fanout: Fanout) -> None:
    alice = await fanout.user()
    client = await fanout.ws(alice)
    source = await fanout.sse(alice)

    await fanout.accounts.revoke(alice)

    assert await client.closed() == 4401
    await source.closed()


async def test_a_key_that_expires_closes_its_connection_with_4401_then(fanout: Fanout) -> None:
    expires = Timestamp()
    expires.FromNanoseconds(time.time_ns() + 1_500_000_000)
    alice = await fanout.user(expires_at=expires)
    client = await fanout.ws(alice)

    assert await client.closed() == 4401
    assert time.time() >= expires.ToSeconds() - 0.1


# --- Too slow --------------------------------------------------------------------------------


def big_progress(size: int) -> Message:
    """A progress event carrying ``size`` bytes of output."""
    job = JobProgress(
        job_id=str(uuid.uuid4()),
        key="node/render",
        function="render.scad",
        state=JobState.RUNNING,
        progress=50,
        output={"log": "x" * size},
    )
    return BatchProgress(
        batch_id=str(uuid.uuid4()),
        state=BatchState.RUNNING,
        total=1,
        counts={JobState.RUNNING: 1},
        jobs=[job],
    )


def small_receive_buffer(addr_info: Any) -> socket.socket:
    family, kind, proto, _, _ = addr_info
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    return sock


async def test_a_client_that_never_reads_is_closed_with_4008_within_its_bound(
    make_fanout: MakeFanout,
) -> None:
    queue_bytes = 1 << 20
    fanout = await make_fanout(fanout_queue_bytes=queue_bytes, fanout_window_ms=0)
    alice = await fanout.user()
    bystander = await fanout.ws(alice)
    connector = aiohttp.TCPConnector(socket_factory=small_receive_buffer)
    async with aiohttp.ClientSession(connector=connector) as session:
        ws = await session.ws_connect(
            fanout.client.make_url("/v1/ws"), protocols=(MSGPACK_PROTOCOL,), headers=alice.headers
        )
        await ws.send_bytes(msgpack.packb({"type": "ping", "id": 1}))  # and reads nothing
        [slow] = [
            c for c in fanout.live.hub.connections if c.id != bystander.seen[0]["connection_id"]
        ]
        event_bytes = 128 * 1024
        for _ in range(160):  # 20 MiB at most: more than every buffer on the way holds
            await fanout.to_user(alice, big_progress(event_bytes))
            if slow.ended is not None:
                break
        marker = await fanout.to_user(alice, progress(1))
        await bystander.events_until(marker)  # the hub has seen every event before it

        assert slow.ended == 4008
        # What waits for the socket never grew past the bound and the one event over it.
        assert slow.sink.buffered() <= queue_bytes + event_bytes + 4096
        assert slow not in fanout.live.hub.connections or slow.pending == []
        reader = WsClient(ws, Wire.MSGPACK)  # reads at last: the close code comes after
        assert await reader.closed() == 4008


# --- Draining --------------------------------------------------------------------------------


async def test_a_draining_process_tells_each_client_to_reconnect_then_closes_with_1012(
    make_fanout: MakeFanout,
) -> None:
    fanout = await make_fanout(fanout_drain_jitter_ms=2_000)
    alice = await fanout.user()
    clients = [await fanout.ws(alice, wire) for wire in (Wire.MSGPACK, Wire.JSON)]
    source = await fanout.sse(alice)

    draining = asyncio.create_task(drain(fanout.live))
    reconnects = [await c.next_of("reconnect") for c in clients]
    status, _, headers = await upgrade_refusal(fanout, (MSGPACK_PROTOCOL,), alice.headers)
    refused_stream = await fanout.client.get("/v1/events", headers=alice.headers)

    assert [await c.closed() for c in clients] == [1012, 1012]
    assert all(0 <= r["after_ms"] <= 2_000 and r["reason"] == "draining" for r in reconnects)
    told = await source.next_of("reconnect")
    assert told["sse_event"] == "shotgraph.reconnect" and 0 <= told["after_ms"] <= 2_000
    await source.closed()
    assert (status, refused_stream.status) == (503, 503) and int(headers["Retry-After"]) > 0
    await asyncio.wait_for(draining, 10)
    assert not fanout.live.hub.connections
