"""Presence on the real NATS: each ``Presence`` here stands for one fan-out process with its own
connection, and every test has its own bucket (short TTL) and canvas."""

from __future__ import annotations

import asyncio
import functools
import sys
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path

import msgspec
import nats
import pytest
from nats.aio.client import Client
from nats.js import JetStreamContext
from nats.js.errors import NoKeysError

from libs.bus.connection import connect, when_reconnected
from libs.devstack import DevStack
from libs.errors import InvalidArgument
from libs.live.protocol import Viewer
from libs.ports import free_port
from services.fanout.presence import Presence, PresenceChange, open_presence, presence_key

TTL_S = 1.0  # the server's least for expiry markers
HEARTBEAT_S = 0.25
WITHIN_S = 5.0


def viewer(name: str) -> Viewer:
    return Viewer(user_id=str(uuid.uuid4()), user_name=name)


class Changes:
    """What one process's ``on_change`` was told, as (action, canvas id, user name)."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str, str]] = []
        self._arrived = asyncio.Event()

    def __call__(self, change: PresenceChange) -> None:
        self.seen.append((change.action, change.canvas_id, change.viewer.user_name))
        self._arrived.set()

    async def until(self, *expected: tuple[str, str, str], within_s: float = WITHIN_S) -> None:
        async with asyncio.timeout(within_s):
            while not all(change in self.seen for change in expected):
                self._arrived.clear()
                await self._arrived.wait()

    def about(self, name: str) -> list[str]:
        return [action for action, _, user_name in self.seen if user_name == name]


class Process:
    def __init__(self, nc: Client, presence: Presence, changes: Changes) -> None:
        self.nc = nc
        self.presence = presence
        self.changes = changes

    async def die(self) -> None:
        """Gone without a word: no leave, no delete, the connection dropped."""
        await self.nc.close()
        await self.presence.stop()


@asynccontextmanager
async def process(
    nc: Client, bucket: str, *, ttl_s: float = TTL_S, heartbeat_s: float = HEARTBEAT_S
) -> AsyncIterator[Process]:
    kv = await nc.jetstream(timeout=5).key_value(bucket)
    changes = Changes()
    presence = Presence(kv, changes, ttl_s=ttl_s, heartbeat_s=heartbeat_s)
    await presence.start()
    try:
        yield Process(nc, presence, changes)
    finally:
        await presence.stop()
        await nc.close()


@pytest.fixture
async def bucket(nats_js: JetStreamContext) -> AsyncIterator[str]:
    name = f"presence-{uuid.uuid4().hex[:12]}"
    await open_presence(nats_js, bucket=name, ttl_s=TTL_S)
    yield name
    await nats_js.delete_key_value(name)


@pytest.fixture
async def processes(devstack: DevStack, bucket: str) -> AsyncIterator[list[Process]]:
    """Two fan-out processes on one bucket, each with its own connection."""
    async with AsyncExitStack() as stack:
        started = []
        for _ in range(2):
            nc = await nats.connect(devstack.nats_url, max_reconnect_attempts=0)
            started.append(await stack.enter_async_context(process(nc, bucket)))
        yield started


@pytest.fixture
def canvas() -> str:
    return str(uuid.uuid4())


async def test_two_processes_see_each_others_viewers(processes: list[Process], canvas: str) -> None:
    a, b = processes
    alice, bob = viewer("Alice"), viewer("Bob")
    await a.presence.join(canvas, bob, "a1")
    await b.presence.join(canvas, alice, "b1")
    for p in (a, b):
        await p.changes.until(("join", canvas, "Alice"), ("join", canvas, "Bob"))
        assert p.presence.viewers(canvas) == [alice, bob]  # by name, on every process
    assert a.presence.viewers(str(uuid.uuid4())) == []


async def test_join_is_told_once_per_user_and_leave_after_their_last_connection(
    processes: list[Process], canvas: str, nats_js: JetStreamContext, bucket: str
) -> None:
    a, b = processes
    alice = viewer("Alice")
    await a.presence.join(canvas, alice, "a1")
    await a.presence.join(canvas, alice, "a2")
    await b.presence.join(canvas, alice, "b1")
    # Let both heartbeats re-put alice's keys at least twice, then mark the point with a
    # join of someone else: each watch delivers in order, so what it says was seen before.
    await puts_seen(nats_js, bucket, presence_key(canvas, alice.user_id, "a1"), 3)
    await puts_seen(nats_js, bucket, presence_key(canvas, alice.user_id, "b1"), 3)
    await a.presence.join(canvas, viewer("Mark 1"), "a3")
    for p in (a, b):
        await p.changes.until(("join", canvas, "Mark 1"))
        assert p.changes.about("Alice") == ["join"]

    await a.presence.leave(canvas, alice.user_id, "a1")
    await b.presence.leave(canvas, alice.user_id, "b1")
    await b.presence.join(canvas, viewer("Mark 2"), "b2")
    for p in (a, b):
        await p.changes.until(("join", canvas, "Mark 2"))
        assert p.changes.about("Alice") == ["join"]
        assert alice in p.presence.viewers(canvas)

    await a.presence.leave(canvas, alice.user_id, "a2")
    for p in (a, b):
        await p.changes.until(("leave", canvas, "Alice"))
        assert p.changes.about("Alice") == ["join", "leave"]
        assert [v.user_name for v in p.presence.viewers(canvas)] == ["Mark 1", "Mark 2"]


async def test_a_process_that_dies_is_left_after_the_ttl(
    processes: list[Process], canvas: str, nats_js: JetStreamContext, bucket: str
) -> None:
    a, b = processes
    bob, alice = viewer("Bob"), viewer("Alice")
    await b.presence.join(canvas, bob, "b1")
    joined = await (await nats_js.key_value(bucket)).get(presence_key(canvas, bob.user_id, "b1"))
    await a.presence.join(canvas, alice, "a1")
    await b.changes.until(("join", canvas, "Alice"))

    loop = asyncio.get_running_loop()
    died_at = loop.time()
    await a.die()
    await b.changes.until(("leave", canvas, "Alice"), within_s=TTL_S + WITHIN_S)
    # Her last heartbeat may have come up to one interval before the end.
    assert loop.time() - died_at >= TTL_S - HEARTBEAT_S
    # Bob joined before her, so his first put is older than hers: only his heartbeat kept him.
    assert b.presence.viewers(canvas) == [bob]
    assert b.changes.about("Bob") == ["join"]
    kept = await (await nats_js.key_value(bucket)).get(presence_key(canvas, bob.user_id, "b1"))
    assert kept.revision is not None and joined.revision is not None
    assert kept.revision > joined.revision


async def test_a_process_that_starts_later_loads_who_is_there(
    processes: list[Process], canvas: str, devstack: DevStack, bucket: str
) -> None:
    a, _ = processes
    alice, bob = viewer("Alice"), viewer("Bob")
    await a.presence.join(canvas, alice, "a1")
    await a.presence.join(canvas, alice, "a2")
    await a.presence.join(canvas, bob, "a3")
    await a.changes.until(("join", canvas, "Alice"), ("join", canvas, "Bob"))

    nc = await nats.connect(devstack.nats_url, max_reconnect_attempts=0)
    async with process(nc, bucket) as late:
        assert late.presence.viewers(canvas) == [alice, bob]
        assert sorted(late.changes.seen) == [("join", canvas, "Alice"), ("join", canvas, "Bob")]


BAD_IDS = ["", "a.b", "a*", ">", "a b", "é", "x" * 129, "a\nb"]


@pytest.mark.parametrize("bad", BAD_IDS)
@pytest.mark.parametrize("where", ["canvas", "user", "connection"])
async def test_an_id_that_is_no_key_token_is_refused(
    nats_js: JetStreamContext, bucket: str, where: str, bad: str
) -> None:
    kv = await nats_js.key_value(bucket)
    presence = Presence(kv, Changes(), ttl_s=TTL_S, heartbeat_s=HEARTBEAT_S)
    ids = {"canvas": "c1", "user": "u1", "connection": "k1"} | {where: bad}
    with pytest.raises(InvalidArgument, match=f"{where} id"):
        await presence.join(
            ids["canvas"], Viewer(user_id=ids["user"], user_name="U"), ids["connection"]
        )
    with pytest.raises(InvalidArgument, match=f"{where} id"):
        await presence.leave(ids["canvas"], ids["user"], ids["connection"])
    with pytest.raises(NoKeysError):
        await kv.keys()  # nothing was written


async def test_foreign_keys_and_values_in_the_bucket_are_ignored(
    processes: list[Process], canvas: str, nats_js: JetStreamContext, bucket: str
) -> None:
    a, _ = processes
    kv = await nats_js.key_value(bucket)
    alice = viewer("Alice")
    await kv.put(f"{canvas}.two-tokens", msgspec.msgpack.encode(alice))
    await kv.put(presence_key(canvas, alice.user_id, "k1"), b"\xc1 not msgpack")
    await kv.put(presence_key(canvas, "someone-else", "k2"), msgspec.msgpack.encode(alice))
    await a.presence.join(canvas, viewer("Mark"), "a1")
    await a.changes.until(("join", canvas, "Mark"))
    assert a.changes.about("Alice") == []
    assert [v.user_name for v in a.presence.viewers(canvas)] == ["Mark"]


def test_a_heartbeat_must_come_within_the_ttl() -> None:
    with pytest.raises(ValueError, match="heartbeat_s"):
        Presence(None, Changes(), ttl_s=10.0, heartbeat_s=10.0)  # type: ignore[arg-type]


async def puts_seen(js: JetStreamContext, bucket: str, key: str, count: int) -> None:
    """Wait until ``key`` has been put ``count`` times (its current value counts as one)."""
    watcher = await (await js.key_value(bucket)).watch(key)
    try:
        seen = 0
        async with asyncio.timeout(WITHIN_S):
            while seen < count:
                entry = await watcher.updates(timeout=WITHIN_S)
                if entry is not None and entry.operation is None:
                    seen += 1
    finally:
        await watcher.stop()


# A NATS restart needs a server of the test's own.


class OwnNats:
    def __init__(self, store: Path) -> None:
        self.port = free_port()
        self.url = f"nats://127.0.0.1:{self.port}"
        self._store = store
        self._server: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        binary = Path(sys.executable).parent / "nats-server"
        self._server = await asyncio.create_subprocess_exec(
            *(str(binary), "-js", "-a", "127.0.0.1", "-p", str(self.port), "-sd", str(self._store)),
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        async with asyncio.timeout(WITHIN_S):  # an outside process: nothing to wait on but its port
            while True:
                try:
                    _, writer = await asyncio.open_connection("127.0.0.1", self.port)
                except OSError:
                    await asyncio.sleep(0.05)
                    continue
                writer.close()
                await writer.wait_closed()
                return

    async def stop(self) -> None:
        if self._server is not None:
            self._server.terminate()
            async with asyncio.timeout(10):
                await self._server.wait()
            self._server = None


@pytest.fixture
async def own_nats(tmp_path: Path) -> AsyncIterator[OwnNats]:
    server = OwnNats(tmp_path / "nats")
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


async def test_after_a_nats_restart_only_the_differences_are_told(
    own_nats: OwnNats, canvas: str
) -> None:
    # A longer TTL than elsewhere: the keys outlive the outage, so nobody seems to leave.
    ttl_s, heartbeat_s = 5.0, 1.0
    reconnected = {name: asyncio.Event() for name in "ab"}
    clients = {}
    for name, event in reconnected.items():
        clients[name] = await connect(own_nats.url, f"presence-{name}")
        when_reconnected(clients[name], functools.partial(_set, event))
    await open_presence(clients["a"].jetstream(), bucket="presence", ttl_s=ttl_s)
    zed, xavier, yolanda = viewer("Zed"), viewer("Xavier"), viewer("Yolanda")
    async with (
        process(clients["a"], "presence", ttl_s=ttl_s, heartbeat_s=heartbeat_s) as a,
        process(clients["b"], "presence", ttl_s=ttl_s, heartbeat_s=heartbeat_s) as b,
    ):
        await b.presence.join(canvas, zed, "b1")
        await b.presence.join(canvas, xavier, "b2")
        await a.changes.until(("join", canvas, "Zed"), ("join", canvas, "Xavier"))

        await own_nats.stop()
        await own_nats.start()
        async with asyncio.timeout(WITHIN_S):
            for event in reconnected.values():
                await event.wait()
        await b.presence.leave(canvas, xavier.user_id, "b2")
        await b.presence.join(canvas, yolanda, "b3")
        # Within less than the time nats-py's own ordered consumer takes to notice a lost
        # consumer (two missed idle heartbeats of 5 s): the watch was made anew.
        for p in (a, b):
            await p.changes.until(("leave", canvas, "Xavier"), ("join", canvas, "Yolanda"))
        assert sorted(a.changes.seen[:2]) == [("join", canvas, "Xavier"), ("join", canvas, "Zed")]
        assert a.changes.seen[2:] == [("leave", canvas, "Xavier"), ("join", canvas, "Yolanda")]
        assert a.presence.viewers(canvas) == b.presence.viewers(canvas) == [yolanda, zed]


async def _set(event: asyncio.Event) -> None:
    event.set()
