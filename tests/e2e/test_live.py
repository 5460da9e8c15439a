"""Live connections on the real stack, through the Python client: nothing missed across cuts
mid-frame, a fan-out process killed or NATS restarted; collaborators on one canvas; hundreds of
connections through the gateway; and what the gateway refuses.

The numbered series are typed events published straight onto the EVENTS stream's subjects of
one user (the feed, a ``canvas:<id>`` and a ``batch:<id>`` of theirs), each number in a field
its type allows (a node's id, a job's key). The tests that kill a fan-out process and restart
NATS run on a platform of their own, with a second fan-out process to fail over to.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import random
import secrets
import signal
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

import aiohttp
import grpc
import nats
import pytest
from nats.js import JetStreamContext

from libs.bus import Message, publish
from libs.bus.events import BatchProgress, CanvasExecution, CanvasNodes, JobProgress, NodeResult
from libs.bus.states import BatchState, JobState, NodeState
from libs.bus.subjects import batch_events_subject, canvas_events_subject, user_events_subject
from libs.launcher import Platform, ServiceProcess
from libs.live.backoff import Backoff
from libs.live.client import ApiKey, Credential, LiveClient, SessionCookie, StreamTokens
from libs.live.protocol import (
    MSGPACK_PROTOCOL,
    EventMessage,
    Hello,
    PresenceMessage,
    Refused,
    Resumed,
    ServerMessage,
    Subscribed,
    Unsubscribed,
)
from shotgraph.auth.v1 import auth_pb2, auth_pb2_grpc
from tests.e2e.conftest import problem, running_platform
from tests.e2e.otlp import OtlpReceiver
from tests.e2e.tcp_proxy import TcpProxy
from tests.e2e.test_canvases import SET_PIECE, create, node, save
from tests.e2e.test_edge_identity import SESSION, Browser, cookie, create_user

pytestmark = pytest.mark.e2e

WAIT_S = 30.0
EXECUTE_S = 60.0  # a set piece rendered, on a loaded machine
CROWD_S = 60.0  # for all six hundred connections to open
# Cut again and again within a second: the clients must come back at once, not after seconds.
QUICK = Backoff(initial_s=0.05, max_s=0.5, healthy_s=0.5)
PER_USER_CAP = 8  # SHOTGRAPH_FANOUT_MAX_CONNECTIONS_PER_USER's default
FINAL_NODE = frozenset({"succeeded", "failed"})
MARK = "series-"
M = TypeVar("M", bound=ServerMessage)


# --- who and what -----------------------------------------------------------------------------


@dataclass
class Account:
    """A user of the platform with a key, and the gateway as them."""

    name: str
    user_id: str
    key: str
    http: aiohttp.ClientSession
    canvas_id: str = ""
    batch_id: str = ""

    @property
    def topics(self) -> list[str]:
        """A canvas and a batch of theirs."""
        return [f"canvas:{self.canvas_id}", f"batch:{self.batch_id}"]

    async def stream_token(self) -> str:
        response = await self.http.post("/v1/events/tokens")
        assert response.status == 200, await response.text()
        return str((await response.json())["token"])


class Accounts:
    """Users made for one test, each with a name of its own; their sessions closed after it."""

    def __init__(self) -> None:
        self._sessions: list[aiohttp.ClientSession] = []

    async def new(self, platform: Platform, *, topics: bool = False) -> Account:
        """A new user; with ``topics``, a canvas and a (running) batch of theirs too."""
        name = f"live-{secrets.token_hex(4)}"
        key = await asyncio.to_thread(platform.create_api_key, name)
        http = aiohttp.ClientSession(
            base_url=platform.gateway_url,
            headers={"Authorization": f"Bearer {key}"},
            timeout=aiohttp.ClientTimeout(total=WAIT_S),
        )
        self._sessions.append(http)
        who = await http.get("/v1/auth/session")
        assert who.status == 200, await who.text()
        account = Account(name, (await who.json())["identity"]["user_id"], key, http)
        if topics:
            account.canvas_id = (await create(http, "live"))["id"]
            cube = {"key": "cube", "function": "render.scad", "input": {"source": "cube(1);"}}
            batch = await http.post("/v1/batches", json={"jobs": [cube]})
            assert batch.status == 202, await batch.text()
            account.batch_id = (await batch.json())["id"]
        return account

    async def close(self) -> None:
        for http in self._sessions:
            await http.close()


@pytest.fixture
async def accounts() -> AsyncIterator[Accounts]:
    made = Accounts()
    yield made
    await made.close()


def numbered(topic: str, account: Account, number: int) -> tuple[str, Message]:
    """Event ``number`` of the series on ``topic``: its subject, and the event."""
    mark = f"{MARK}{number}"
    nodes = [NodeResult(node_id=mark, key="0" * 64, state=NodeState.RUNNING, progress=50)]
    if topic == "user":
        event: Message = CanvasExecution(canvas_id=account.canvas_id, version=1, nodes=nodes)
        return user_events_subject(account.user_id), event
    if topic.startswith("canvas:"):
        event = CanvasNodes(canvas_id=account.canvas_id, version=1, nodes=nodes)
        return canvas_events_subject(account.canvas_id), event
    job = JobProgress(
        job_id=str(uuid.uuid4()),
        key=mark,
        function="render.scad",
        state=JobState.RUNNING,
        progress=50,
    )
    event = BatchProgress(
        batch_id=account.batch_id,
        state=BatchState.RUNNING,
        total=1,
        counts={JobState.RUNNING: 1},
        jobs=[job],
    )
    return batch_events_subject(account.user_id, account.batch_id), event


def number_of(message: EventMessage) -> int | None:
    """The series number an event carries; None for an event of no series (the batch's own)."""
    event = message.event
    assert isinstance(event, dict)
    items = event.get("nodes") or event.get("jobs") or []
    mark = str(items[0].get("node_id") or items[0].get("key")) if items else ""
    return int(mark.removeprefix(MARK)) if mark.startswith(MARK) else None


@dataclass
class Series:
    """Numbered events on a user's feed, a canvas and a batch of theirs, published in turn."""

    js: JetStreamContext
    account: Account
    published: int = 0
    run: str = field(default_factory=lambda: uuid.uuid4().hex)

    @property
    def topics(self) -> list[str]:
        return ["user", *self.account.topics]

    async def publish(self, count: int) -> None:
        for _ in range(count):
            for topic in self.topics:
                subject, event = numbered(topic, self.account, self.published)
                # Deduplicated by JetStream should a publish ever be sent twice.
                msg_id = f"{self.run}-{topic}-{self.published}"
                await publish(self.js, subject, event, msg_id=msg_id)
            self.published += 1

    def whole(self) -> dict[str, list[int]]:
        """What every client must have received: each number once, in order, on each topic."""
        return {topic: list(range(self.published)) for topic in self.topics}


@asynccontextmanager
async def jetstream(platform: Platform) -> AsyncIterator[JetStreamContext]:
    """The platform's JetStream, as the test publishes to it."""
    assert platform.stack is not None
    nc = await nats.connect(platform.stack.nats_url)
    try:
        yield nc.jetstream(timeout=10)
    finally:
        await nc.close()


# --- what a client received -------------------------------------------------------------------


class Inbox:
    """Everything one live client receives, kept in order as it comes, to be waited on."""

    def __init__(self, client: LiveClient) -> None:
        self.client = client
        self.messages: list[ServerMessage] = []
        self._arrived = asyncio.Condition()
        self._reader: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Inbox:
        self.client.start()
        self._reader = asyncio.create_task(self._read())
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.client.aclose()
        assert self._reader is not None
        self._reader.cancel()
        await asyncio.gather(self._reader, return_exceptions=True)

    async def _read(self) -> None:
        try:
            async for message in self.client:
                async with self._arrived:
                    self.messages.append(message)
                    self._arrived.notify_all()
        finally:
            async with self._arrived:
                self._arrived.notify_all()

    async def until(self, done: Callable[[], bool], what: str, timeout_s: float = WAIT_S) -> None:
        """Until ``done()``; fails naming ``what`` at the deadline or when the client stops."""
        reader = self._reader
        assert reader is not None
        async with self._arrived:
            try:
                async with asyncio.timeout(timeout_s):
                    await self._arrived.wait_for(lambda: done() or reader.done())
            except TimeoutError:
                raise AssertionError(
                    f"{what}: not within {timeout_s} s; stats {self.client.stats},"
                    f" last messages {self.messages[-5:]}"
                ) from None
        if not done():
            error = None if reader.cancelled() else reader.exception()
            raise AssertionError(f"{what}: the client stopped ({error!r})")

    def of(self, kind: type[M]) -> list[M]:
        return [m for m in self.messages if isinstance(m, kind)]

    async def nth(self, kind: type[M], n: int = 1, timeout_s: float = WAIT_S) -> M:
        """The ``n``th message of ``kind`` (from 1), once it has come."""
        await self.until(lambda: len(self.of(kind)) >= n, f"{kind.__name__} #{n}", timeout_s)
        return self.of(kind)[n - 1]

    def numbers(self) -> dict[str, list[int]]:
        """The series numbers received, per topic, in the order they came."""
        found: dict[str, list[int]] = {}
        for message in self.of(EventMessage):
            number = number_of(message)
            if number is not None:
                found.setdefault(message.topic, []).append(number)
        return found

    async def subscribed(self, topics: list[str]) -> None:
        await self.until(
            lambda: {m.topic for m in self.of(Subscribed)} >= set(topics), f"subscribed {topics}"
        )

    async def received(self, series: Series) -> None:
        """Until the series' last number has come on every topic; then it must be whole."""
        last = series.published - 1
        await self.until(
            lambda: all(last in self.numbers().get(t, ()) for t in series.topics),
            f"number {last} on {series.topics}",
        )
        assert self.numbers() == series.whole()


def live(
    base_url: str,
    auth: Credential,
    transport: Literal["ws", "sse"] = "ws",
    topics: list[str] | None = None,
    **options: Any,
) -> Inbox:
    return Inbox(
        LiveClient(
            base_url, auth=auth, transport=transport, topics=topics or [], backoff=QUICK, **options
        )
    )


# --- 1. cut mid-frame, again and again --------------------------------------------------------

CUT_ROUNDS = 6


@pytest.mark.parametrize("transport", ["ws", "sse"])
async def test_each_number_arrives_once_in_order_though_cut_mid_frame_again_and_again(
    platform: Platform, accounts: Accounts, transport: Literal["ws", "sse"]
) -> None:
    account = await accounts.new(platform, topics=True)
    rng = random.Random(transport)
    async with (
        jetstream(platform) as js,
        TcpProxy(platform.services["gateway"].http_port) as proxy,
        live(proxy.url, ApiKey(account.key), transport, account.topics) as inbox,
    ):
        series = Series(js, account)
        await inbox.subscribed(account.topics)
        for _ in range(CUT_ROUNDS):
            resumed = len(inbox.of(Resumed))
            # Fewer bytes than any frame that carries an event: the cut falls inside one.
            cutting = proxy.cut_after(rng.randint(1, 40))
            await series.publish(3)
            cuts = await cutting
            assert cuts and all(cut.inside_a_read for cut in cuts), cuts
            await series.publish(2)  # while the client reconnects
            await inbox.nth(Resumed, resumed + 1)
        await series.publish(2)
        await inbox.received(series)
        assert inbox.client.stats.reconnects >= CUT_ROUNDS
        assert len(proxy.cuts) >= CUT_ROUNDS


# --- 2 and 3. a fan-out process killed, NATS restarted --------------------------------------


@pytest.fixture(scope="module")
def fragile(otlp: OtlpReceiver) -> Iterator[Platform]:
    """A platform of these tests' own, with a second fan-out process to fail over to."""
    with running_platform(otlp) as platform:
        platform.add_process("fanout-2", "services.fanout")
        yield platform


def kill(service: ServiceProcess) -> None:
    """SIGKILL for the whole process group: no drain, no goodbye."""
    assert service.process is not None
    os.killpg(service.process.pid, signal.SIGKILL)
    service.process.wait()


def fanouts(platform: Platform) -> list[ServiceProcess]:
    """The fan-out processes still running."""
    return [
        service
        for name, service in platform.services.items()
        if name.startswith("fanout") and service.process and service.process.poll() is None
    ]


async def test_nats_killed_and_restarted_mid_stream_every_connection_continues(
    fragile: Platform, accounts: Accounts
) -> None:
    account = await accounts.new(fragile, topics=True)
    stack = fragile.stack
    assert stack is not None
    fanout = fanouts(fragile)[0]
    auth = ApiKey(account.key)
    async with (
        live(fanout.url, auth, "ws", account.topics) as ws,
        live(fanout.url, auth, "sse", account.topics) as sse,
    ):
        inboxes = (ws, sse)
        for inbox in inboxes:
            await inbox.subscribed(account.topics)
        async with jetstream(fragile) as js:
            series = Series(js, account)
            await series.publish(3)
            for inbox in inboxes:
                await inbox.received(series)

        await asyncio.to_thread(stack.stop_server, "nats", kill=True)
        await asyncio.to_thread(stack.start_server, "nats")

        async with jetstream(fragile) as js:
            series.js = js
            await series.publish(3)  # at once: the fan-out may not have reconnected yet
            for inbox in inboxes:
                await inbox.received(series)
        for inbox in inboxes:
            assert inbox.client.stats.connects == 1, inbox.client.stats


async def test_clients_of_a_killed_fanout_resume_on_another_with_nothing_missed(
    fragile: Platform, accounts: Accounts
) -> None:
    account = await accounts.new(fragile, topics=True)
    first, second = fanouts(fragile)[:2]
    auth = ApiKey(account.key)
    async with (
        jetstream(fragile) as js,
        TcpProxy(first.http_port) as proxy,
        live(proxy.url, auth, "ws", account.topics) as ws,
        live(proxy.url, auth, "sse", account.topics) as sse,
    ):
        inboxes = (ws, sse)
        series = Series(js, account)
        for inbox in inboxes:
            await inbox.subscribed(account.topics)
        await series.publish(3)
        for inbox in inboxes:
            await inbox.received(series)

        proxy.switch(second.http_port)  # as a load balancer would once the first is gone
        await asyncio.to_thread(kill, first)
        await series.publish(3)  # while the clients find the other process
        for inbox in inboxes:
            await inbox.received(series)
            # A resume, not a fresh start: the replay brought what the kill cut off.
            await inbox.nth(Resumed)


# --- 4. collaborators on one canvas -----------------------------------------------------------


def node_progress(inbox: Inbox, topic: str, node_id: str) -> list[tuple[int, str]]:
    """(seq, state) of one node in the ``canvas.nodes`` events of ``topic``, up to its first
    final state."""
    found = []
    for message in inbox.of(EventMessage):
        event = message.event
        if message.topic == topic and isinstance(event, dict) and event["type"] == "canvas.nodes":
            for state in (n["state"] for n in event["nodes"] if n["node_id"] == node_id):
                found.append((message.seq, state))
                if state in FINAL_NODE:
                    return found
    return found


def node_done(inbox: Inbox, topic: str, node_id: str) -> Callable[[], bool]:
    return lambda: any(state in FINAL_NODE for _, state in node_progress(inbox, topic, node_id))


def presence(inbox: Inbox, action: str, user_id: str) -> bool:
    return any(m.action == action and m.user_id == user_id for m in inbox.of(PresenceMessage))


async def test_two_users_on_a_shared_canvas_see_progress_and_each_other(
    platform: Platform, accounts: Accounts
) -> None:
    owner = await accounts.new(platform)
    colleague = await accounts.new(platform)
    stranger = await accounts.new(platform)
    canvas_id = (await create(owner.http, "shared"))["id"]
    topic = f"canvas:{canvas_id}"
    scene = node(
        "yard", "scene", {"location": f"Yard {uuid.uuid4()}", "set_piece": {"source": SET_PIECE}}
    )
    assert (await save(owner.http, canvas_id, 1, {"nodes": [scene], "edges": []})).status == 201
    shares = f"/v1/canvases/{canvas_id}/shares"
    shared = await owner.http.post(shares, json={"user_id": colleague.user_id, "access": "read"})
    assert shared.status < 300, await shared.text()
    gateway = platform.gateway_url

    async with live(gateway, ApiKey(owner.key), "ws", [topic]) as mine:
        await mine.subscribed([topic])
        async with live(gateway, ApiKey(colleague.key), "sse", [topic]) as theirs:
            await theirs.subscribed([topic])
            snapshot = theirs.of(Subscribed)[-1].presence
            assert owner.user_id in {viewer.user_id for viewer in snapshot}, snapshot
            await mine.until(lambda: presence(mine, "join", colleague.user_id), "colleague joins")
            joined = next(m for m in mine.of(PresenceMessage) if m.user_id == colleague.user_id)
            assert joined.user_name == colleague.name

            async with live(gateway, ApiKey(stranger.key), "ws", [topic]) as outsider:
                await outsider.nth(Refused)
                assert [(r.topic, r.reason) for r in outsider.of(Refused)] == [
                    (topic, "not_allowed")
                ]
                assert not outsider.of(Subscribed)

            started = await owner.http.post(f"/v1/canvases/{canvas_id}/execute")
            assert started.status == 202, await started.text()
            for inbox in (mine, theirs):
                await inbox.until(node_done(inbox, topic, "yard"), "the node done", EXECUTE_S)
            seen = node_progress(mine, topic, "yard")
            assert seen == node_progress(theirs, topic, "yard")  # the same events, both of them
            assert len(seen) >= 2 and seen[-1][1] == "succeeded", seen  # progress, then done
        # The colleague closed the page: gone from the canvas at once.
        await mine.until(lambda: presence(mine, "leave", colleague.user_id), "colleague leaves")

        async with live(gateway, ApiKey(colleague.key), "ws", [topic]) as again:
            await again.subscribed([topic])
            revoked = await owner.http.post(
                shares, json={"user_id": colleague.user_id, "access": "none"}
            )
            assert revoked.status < 300, await revoked.text()
            await again.nth(Unsubscribed)
            assert [(u.topic, u.reason) for u in again.of(Unsubscribed)] == [(topic, "access_lost")]
            assert topic not in again.client.topics


# --- 5. hundreds at once through the gateway --------------------------------------------------

CROWD = 300


async def new_keys(platform: Platform, count: int) -> list[str]:
    """API keys of ``count`` new users, asked of auth at once."""
    async with grpc.aio.insecure_channel(
        f"127.0.0.1:{platform.services['auth'].grpc_port}"
    ) as channel:
        stub = auth_pb2_grpc.AuthServiceStub(channel)
        prefix = f"crowd-{secrets.token_hex(3)}"
        replies = await asyncio.gather(
            *(
                stub.CreateApiKey(
                    auth_pb2.CreateApiKeyRequest(user_name=f"{prefix}-{i}", key_name="dev"),
                    timeout=WAIT_S,
                )
                for i in range(count)
            )
        )
    return [reply.key for reply in replies]


async def test_three_hundred_sse_streams_and_three_hundred_websockets_are_all_accepted(
    platform: Platform,
) -> None:
    keys = await new_keys(platform, 2 * CROWD)
    transports: list[Literal["ws", "sse"]] = [
        "sse" if i < CROWD else "ws" for i in range(2 * CROWD)
    ]
    # One session for all, as a load generator: no pool ceiling on this side either. A slow
    # answer on a loaded machine is no refusal: each connection may take the whole deadline.
    async with (
        aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=0),
            timeout=aiohttp.ClientTimeout(total=None, sock_connect=CROWD_S),
        ) as session,
        contextlib.AsyncExitStack() as stack,
    ):
        crowd = [
            await stack.enter_async_context(
                live(
                    platform.gateway_url,
                    ApiKey(key),
                    transport,
                    session=session,
                    connect_timeout_s=CROWD_S,
                    idle_timeout_s=2 * CROWD_S,
                )
            )
            for key, transport in zip(keys, transports, strict=True)
        ]
        deadline = asyncio.get_running_loop().time() + CROWD_S
        for inbox in crowd:
            left = deadline - asyncio.get_running_loop().time()
            await inbox.nth(Hello, timeout_s=max(left, 0.1))
        # Each accepted at its first try, all open at once: none refused (503, 429), none cut.
        tries = [(i.client.stats.attempts, i.client.stats.connects) for i in crowd]
        assert tries == [(1, 1)] * len(crowd), {i.client.stats.last_error for i in crowd}
        assert len({i.of(Hello)[0].user_id for i in crowd}) == len(crowd)  # distinct users


# --- 6. what the gateway refuses --------------------------------------------------------------


def upgrade(**headers: str) -> dict[str, str]:
    """The headers of a WebSocket upgrade request offering the MessagePack subprotocol."""
    return {
        "Connection": "Upgrade",
        "Upgrade": "websocket",
        "Sec-WebSocket-Version": "13",
        "Sec-WebSocket-Key": base64.b64encode(os.urandom(16)).decode(),
        "Sec-WebSocket-Protocol": MSGPACK_PROTOCOL,
        **headers,
    }


async def test_a_cookie_upgrade_from_a_foreign_origin_is_refused(platform: Platform) -> None:
    async with aiohttp.ClientSession(
        base_url=platform.gateway_url, cookie_jar=aiohttp.CookieJar(unsafe=True)
    ) as http:
        browser = Browser(http, platform.gateway_url)
        await browser.login(*create_user(platform))
        session = cookie(browser, SESSION)
    foreign = upgrade(Origin="https://elsewhere.example", Cookie=f"{SESSION}={session}")
    async with aiohttp.ClientSession(base_url=platform.gateway_url) as http:
        await problem(await http.get("/v1/ws", headers=foreign), 403)
    # The same cookie from the studio's own page opens the connection.
    async with live(platform.gateway_url, SessionCookie(SESSION, session)) as studio:
        await studio.nth(Hello)


async def test_more_connections_than_the_users_cap_are_refused_with_429(
    platform: Platform, accounts: Accounts
) -> None:
    account = await accounts.new(platform)
    auth = ApiKey(account.key)
    async with contextlib.AsyncExitStack() as stack:
        for _ in range(PER_USER_CAP):
            inbox = await stack.enter_async_context(live(platform.gateway_url, auth))
            await inbox.nth(Hello)
        bearer = {"Authorization": f"Bearer {account.key}"}
        async with aiohttp.ClientSession(base_url=platform.gateway_url) as http:
            for refused in (
                await http.get("/v1/ws", headers=upgrade(**bearer)),
                await http.get("/v1/events", headers={"Accept": "text/event-stream", **bearer}),
            ):
                body = await problem(refused, 429)
                assert int(refused.headers["Retry-After"]) > 0, body


async def test_a_stream_token_opens_live_connections_and_nothing_else(
    platform: Platform, accounts: Accounts
) -> None:
    account = await accounts.new(platform)
    tokens = StreamTokens(account.stream_token)
    transports: tuple[Literal["ws", "sse"], ...] = ("ws", "sse")
    for transport in transports:
        async with live(platform.gateway_url, tokens, transport) as inbox:
            assert (await inbox.nth(Hello)).user_id == account.user_id
    token = await account.stream_token()
    async with aiohttp.ClientSession(base_url=platform.gateway_url) as anonymous:
        for elsewhere in ("/v1/canvases", "/v1/auth/session", "/v1/batches"):
            await problem(await anonymous.get(elsewhere, params={"token": token}), 401)
        await problem(
            await anonymous.get("/v1/ws", params={"token": "st_forged"}, headers=upgrade()), 401
        )
