"""The platform's own live client against this fan-out, through a loopback proxy the test cuts
mid-stream: after it reconnects, each of a numbered series of events on its feed and two topics
arrives exactly once, in order."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator

import pytest

from libs.live.backoff import Backoff
from libs.live.client import ApiKey, LiveClient
from libs.live.protocol import EventMessage, Resumed, Subscribed
from services.fanout.tests.conftest import Fanout
from services.fanout.tests.samples import nodes, progress

TIMEOUT_S = 20.0


class Proxy:
    """A loopback TCP proxy to ``port`` whose open connections the test can cut."""

    def __init__(self, port: int) -> None:
        self._port = port
        self._pipes: set[asyncio.StreamWriter] = set()
        self._server: asyncio.Server | None = None
        self.port = 0

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self._port)
        self._pipes |= {writer, up_writer}
        await asyncio.gather(
            self._pipe(reader, up_writer), self._pipe(up_reader, writer), return_exceptions=True
        )

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(1024):  # small reads: a cut lands mid-frame
                writer.write(data)
                await writer.drain()
        finally:
            self._pipes.discard(writer)
            writer.transport.abort()

    def cut(self) -> None:
        """Drop every connection at once, without a close: a network gone."""
        for writer in list(self._pipes):
            writer.transport.abort()

    async def close(self) -> None:
        self.cut()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()


@pytest.fixture
async def proxy(fanout: Fanout) -> AsyncIterator[Proxy]:
    proxy = Proxy(fanout.client.port or 0)
    await proxy.start()
    yield proxy
    await proxy.close()


@pytest.mark.parametrize("transport", ["ws", "sse"])
async def test_a_client_cut_mid_stream_gets_every_event_once_in_order(
    fanout: Fanout, proxy: Proxy, transport: str
) -> None:
    alice = await fanout.user()
    canvas, batch = str(uuid.uuid4()), str(uuid.uuid4())
    topics = [f"canvas:{canvas}", f"batch:{batch}"]
    for topic in topics:
        fanout.policy.allow(alice.user_id, topic)
    client = LiveClient(
        f"http://127.0.0.1:{proxy.port}",
        auth=ApiKey(alice.key),
        transport="ws" if transport == "ws" else "sse",
        topics=topics,
        backoff=Backoff(initial_s=0.05, max_s=0.2),
    )
    published: list[int] = []

    async def publish(count: int) -> None:
        for number in range(count):
            kind = number % 3
            if kind == 0:
                seq = await fanout.to_user(alice, progress(number))
            elif kind == 1:
                seq = await fanout.to_canvas(canvas, nodes(canvas))
            else:
                seq = await fanout.to_batch(alice, batch, progress(number))
            published.append(seq)

    received: list[int] = []
    resumed = asyncio.Event()
    subscribed: set[str] = set()
    all_subscribed = asyncio.Event()

    async def read() -> None:
        async for message in client:
            if isinstance(message, EventMessage):
                received.append(message.seq)
                if published and received[-1] >= published[-1] and len(published) == 90:
                    return
            elif isinstance(message, Subscribed):
                subscribed.add(message.topic)
                if subscribed == set(topics):
                    all_subscribed.set()
            elif isinstance(message, Resumed):
                resumed.set()

    async with client:
        reading = asyncio.create_task(read())
        await asyncio.wait_for(all_subscribed.wait(), TIMEOUT_S)
        await publish(30)
        proxy.cut()  # mid-stream: some frames half sent, some events not yet
        await publish(30)
        await asyncio.wait_for(resumed.wait(), TIMEOUT_S)
        proxy.cut()
        await publish(30)
        try:
            await asyncio.wait_for(reading, TIMEOUT_S)
        finally:
            reading.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reading

    assert received == published
    assert client.stats.connects >= 2
