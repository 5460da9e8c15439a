"""The fan-out service on real peers: the dev stack's NATS (its EVENTS stream), the real auth
service issuing each test's users their keys, and the live endpoints served in-process.

Who may read which topic is the test's own policy (``Policy``): the services that answer it in
production (canvas, batch, render) are exercised by the end-to-end tests.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from nats.aio.client import Client
from nats.js import JetStreamContext

from libs.bus import Message, connect, encode, ensure_streams
from libs.bus.subjects import canvas_events_subject, user_events_subject
from libs.devstack import DevStack
from libs.errors import Unavailable
from libs.identity import Identities, listen_for_revocations
from libs.live.protocol import JSON_PROTOCOL, MSGPACK_PROTOCOL
from libs.web import create_app
from services.auth.tests.conftest import PASSWORD, serve_cheap_auth
from services.fanout.app import add_routes, open_live
from services.fanout.live import Live
from services.fanout.settings import FanoutSettings
from services.fanout.tests.clients import TIMEOUT_S, SseClient, WsClient
from services.fanout.topics import Topic
from services.fanout.wire import Wire
from shotgraph.auth.v1 import auth_pb2, auth_pb2_grpc
from tests.in_process import downstream

FanoutClient = TestClient[web.Request, web.Application]


@dataclass(frozen=True)
class User:
    user_id: str
    user_name: str
    key: str
    key_id: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}


@dataclass
class Accounts:
    """The test's auth service: users with a key each, and sessions."""

    auth: auth_pb2_grpc.AuthServiceStub
    address: str
    prefix: str = field(default_factory=lambda: f"fo{uuid.uuid4().hex[:10]}-")
    made: int = 0

    async def user(self, **key: Any) -> User:
        """A new user and an API key of theirs (``expires_at``... as CreateApiKey takes)."""
        self.made += 1
        name = f"{self.prefix}{self.made}"
        created = await self.auth.CreateApiKey(auth_pb2.CreateApiKeyRequest(user_name=name, **key))
        return User(created.user_id, name, created.key, created.key_id)

    async def session(self) -> tuple[str, str]:
        """(user id, session token) of a new user signed in with a password."""
        self.made += 1
        name = f"{self.prefix}{self.made}"
        await self.auth.CreateUser(auth_pb2.CreateUserRequest(user_name=name, password=PASSWORD))
        session = await self.auth.Login(auth_pb2.LoginRequest(user_name=name, password=PASSWORD))
        return session.identity.user_id, session.token

    async def revoke(self, user: User) -> None:
        await self.auth.RevokeApiKey(
            auth_pb2.RevokeApiKeyRequest(user_id=user.user_id, key_id=user.key_id)
        )


@pytest.fixture
async def accounts(
    stack: AsyncExitStack, pg_pool: asyncpg.Pool, devstack: DevStack
) -> AsyncIterator[Accounts]:
    """The real auth service (on Postgres, Redis and NATS, hashing cheaply)."""
    address = await serve_cheap_auth(stack, pg_pool, devstack)
    client = downstream(stack, "auth", address, auth_pb2_grpc.AuthServiceStub)
    accounts = Accounts(client.stub, address)
    yield accounts
    users = "(SELECT id FROM auth.users WHERE name LIKE $1 || '%')"
    for table in ("auth.api_keys", "auth.audit_events"):
        await pg_pool.execute(f"DELETE FROM {table} WHERE user_id IN {users}", accounts.prefix)
    await pg_pool.execute("DELETE FROM auth.users WHERE name LIKE $1 || '%'", accounts.prefix)


class Policy:
    """Who may read which topic, as the test says: ``allow(user, "canvas:<id>")``."""

    def __init__(self) -> None:
        self._keys: dict[tuple[str, str], str] = {}
        self.asked: list[tuple[str, str]] = []
        self.down = False  # True: every question fails as a peer that is down would
        self._asked = asyncio.Event()

    def allow(self, user_id: str, topic: str, key: str | None = None) -> None:
        """``user_id`` may read ``topic``, whose events travel under ``key`` (the topic's own
        name for a canvas or a batch; a render's batch for a render)."""
        self._keys[(user_id, topic.lower())] = key or topic.lower()

    def deny(self, user_id: str, topic: str) -> None:
        self._keys.pop((user_id, topic.lower()), None)

    async def asked_more_than(self, count: int) -> None:
        """Until more than ``count`` questions have been asked."""
        while len(self.asked) <= count:
            self._asked.clear()
            await asyncio.wait_for(self._asked.wait(), TIMEOUT_S)

    async def key_of(self, user_id: str, topic: Topic) -> str | None:
        name = f"{topic.kind.value}:{topic.id}"
        self.asked.append((user_id, name))
        self._asked.set()
        if self.down:
            raise Unavailable("the canvas service is down")
        return self._keys.get((user_id, name))


@dataclass
class Fanout:
    """The live endpoints of one fan-out process, and what a test does around them."""

    client: FanoutClient
    live: Live
    js: JetStreamContext
    nc: Client
    accounts: Accounts
    policy: Policy
    opened: list[WsClient | SseClient] = field(default_factory=list)

    async def user(self, **key: Any) -> User:
        return await self.accounts.user(**key)

    async def ws(
        self,
        user: User | None = None,
        wire: Wire = Wire.MSGPACK,
        *,
        headers: Mapping[str, str] | None = None,
        first: dict[str, Any] | bool | None = None,
    ) -> WsClient:
        """An open WebSocket of ``user`` whose ``hello`` has come; ``first`` is sent at once
        (a ping unless given, nothing if False: live events wait for a first message)."""
        protocol = MSGPACK_PROTOCOL if wire is Wire.MSGPACK else JSON_PROTOCOL
        sent = {**(user.headers if user else {}), **(headers or {})}
        ws = await self.client.ws_connect("/v1/ws", protocols=(protocol,), headers=sent)
        client = WsClient(ws, wire)
        self.opened.append(client)
        hello = await client.next()
        assert hello["type"] == "hello", hello
        if first is False:
            return client
        await client.send(first if isinstance(first, dict) else {"type": "ping", "id": "first"})
        if first is None:
            assert (await client.next_of("pong"))["id"] == "first"
        return client

    async def sse(
        self,
        user: User,
        *,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> SseClient:
        """An open event stream of ``user`` whose ``hello`` has come."""
        response = await self.client.get(
            "/v1/events", params=params, headers={**user.headers, **(headers or {})}
        )
        assert response.status == 200, await response.text()
        assert response.content_type == "text/event-stream"
        client = SseClient(response)
        self.opened.append(client)
        hello = await client.next()
        assert hello["sse_event"] == "shotgraph.hello", hello
        return client

    async def publish(
        self, subject: str, message: Message | bytes, headers: dict[str, str] | None = None
    ) -> int:
        """Publish as services do; the event's stream sequence."""
        data = message if isinstance(message, bytes) else encode(message)
        ack = await self.js.publish(subject, data, headers=headers)
        return ack.seq

    async def to_user(self, user: User | str, message: Message | bytes) -> int:
        user_id = user if isinstance(user, str) else user.user_id
        return await self.publish(user_events_subject(user_id), message)

    async def to_canvas(self, canvas_id: str, message: Message | bytes) -> int:
        return await self.publish(canvas_events_subject(canvas_id), message)

    async def to_batch(self, user: User, batch_id: str, message: Message | bytes) -> int:
        return await self.publish(f"{user_events_subject(user.user_id)}.batch.{batch_id}", message)


MakeFanout = Callable[..., Awaitable[Fanout]]

# Quick settings for tests: a short window, and live events that wait little for a first
# message (the helpers send one at once).
TEST_SETTINGS = {"fanout_window_ms": 20, "fanout_first_message_wait_ms": 200}


@pytest.fixture
async def make_fanout(
    stack: AsyncExitStack, devstack: DevStack, accounts: Accounts
) -> AsyncIterator[MakeFanout]:
    """``await make_fanout(fanout_window_ms=0, ...)``: a fan-out process's endpoints with
    those settings, on its own NATS connection (reconnecting, as the service's)."""
    made: list[Fanout] = []

    async def make(
        *,
        js: JetStreamContext | None = None,
        nats_url: str = "",
        presence: bool = True,
        **settings: Any,
    ) -> Fanout:
        nc = await connect(nats_url or devstack.nats_url, "fanout-test")
        stack.push_async_callback(nc.close)
        real_js = nc.jetstream(timeout=5)
        await ensure_streams(real_js)
        identities = Identities(
            downstream(stack, "auth", accounts.address, auth_pb2_grpc.AuthServiceStub)
        )
        await listen_for_revocations(nc, identities)
        policy = Policy()
        parsed = FanoutSettings(**{**TEST_SETTINGS, **settings})
        inner = AsyncExitStack()
        stack.push_async_callback(inner.aclose)
        live = await open_live(
            inner,
            nc,
            js or real_js,
            parsed,
            identities,
            policy,
            presence=presence,
            feed_heartbeat_s=0.5,
        )
        app = create_app("fanout", max_body_bytes=1024)
        add_routes(app, live)
        client: FanoutClient = TestClient(TestServer(app))
        await client.start_server()
        fanout = Fanout(client, live, real_js, nc, accounts, policy)
        made.append(fanout)
        return fanout

    yield make
    for fanout in made:
        for opened in fanout.opened:
            await opened.close()
        await fanout.client.close()


@pytest.fixture
async def fanout(make_fanout: MakeFanout) -> Fanout:
    return await make_fanout()
