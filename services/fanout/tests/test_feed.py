"""The hub's one consumer survives what happens to it: deleted under it, or NATS killed and
restarted (a server of this test's own), the hub starts again after the last event it routed
and its connections miss nothing."""

from __future__ import annotations

import asyncio
import signal
import sys
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

import nats
import pytest

from libs.bus import encode, ensure_streams
from libs.ports import free_port
from services.fanout.feed import STREAM
from services.fanout.tests.conftest import Fanout, MakeFanout
from services.fanout.tests.samples import progress

START_TIMEOUT_S = 15.0


async def test_the_hub_makes_a_new_consumer_when_its_own_is_deleted(fanout: Fanout) -> None:
    alice = await fanout.user()
    client = await fanout.ws(alice)
    feed = fanout.live.feed
    assert feed is not None and feed.consumer is not None
    first = await fanout.to_user(alice, progress(0))
    await client.events_until(first)
    lost = feed.consumer

    await fanout.js.delete_consumer(STREAM, lost)
    meanwhile = [await fanout.to_user(alice, progress(done)) for done in range(1, 4)]

    received = await client.events_until(meanwhile[-1])
    assert [e["seq"] for e in received] == meanwhile
    assert feed.recreated >= 1 and feed.consumer != lost
    names = [info.name for info in await fanout.js.consumers_info(STREAM)]
    assert lost not in names and feed.consumer in names


class NatsServer:
    """A JetStream server of the test's own, which the test kills and starts again."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.port = free_port()
        self.url = f"nats://127.0.0.1:{self.port}"
        self.process: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        binary = Path(sys.executable).parent / "nats-server"
        self.process = await asyncio.create_subprocess_exec(
            *(str(binary), "-js", "-a", "127.0.0.1", "-p", str(self.port), "-sd", str(self.root)),
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        deadline = asyncio.get_running_loop().time() + START_TIMEOUT_S
        while True:  # no event tells when a process listens: its port is tried
            try:
                _, writer = await asyncio.open_connection("127.0.0.1", self.port)
            except OSError:
                if asyncio.get_running_loop().time() > deadline:
                    pytest.fail("nats-server did not start")
                await asyncio.sleep(0.05)
            else:
                writer.close()
                return

    async def kill(self) -> None:
        assert self.process is not None
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGKILL)
            await self.process.wait()


@pytest.fixture
async def own_nats() -> AsyncIterator[NatsServer]:
    """Asked for before the fan-out, so it stops after the fan-out's connection closes."""
    with tempfile.TemporaryDirectory(prefix="fanout-nats-") as root:
        server = NatsServer(Path(root))
        await server.start()
        try:
            yield server
        finally:
            await server.kill()


async def test_connections_miss_nothing_when_nats_is_killed_and_restarted(
    own_nats: NatsServer, make_fanout: MakeFanout
) -> None:
    fanout = await make_fanout(nats_url=own_nats.url)
    alice = await fanout.user()
    client = await fanout.ws(alice)
    before = await fanout.to_user(alice, progress(0))
    await client.events_until(before)

    await own_nats.kill()
    await own_nats.start()
    # Published as soon as the server is back, before the hub may have reconnected.
    publisher = await nats.connect(own_nats.url)
    try:
        js = publisher.jetstream(timeout=5)
        await ensure_streams(js)
        after = [
            (await js.publish(f"events.user.{alice.user_id}", encode(progress(done)))).seq
            for done in range(1, 4)
        ]
    finally:
        await publisher.close()

    received = await client.events_until(after[-1])
    assert [e["seq"] for e in received] == after
