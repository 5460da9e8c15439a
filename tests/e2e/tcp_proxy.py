"""A loopback TCP proxy a test controls: where it forwards, and when it cuts.

Closing a browser's network does not end its WebSockets in a test (loopback never fails), so
the live tests put this proxy between their clients and the server and cut the connections
themselves: ``cut_after(n)`` lets every open connection pass ``n`` more bytes from the server,
then resets both sides. With ``n`` smaller than a frame, the client gets half a frame and then
a reset, as when a network drops mid-write. ``switch`` sends new connections elsewhere (another
replica), as a load balancer would after one died.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
from collections.abc import Awaitable
from dataclasses import dataclass, field
from typing import Final

__all__ = ["Cut", "TcpProxy"]

_CHUNK: Final = 64 * 1024
# SO_LINGER on, timeout 0: close() sends a reset, not a FIN after the data.
_RESET: Final = struct.pack("ii", 1, 0)


@dataclass(frozen=True)
class Cut:
    """Where one connection was cut: ``passed`` bytes of a read of ``read`` bytes from the
    server reached the client."""

    passed: int
    read: int

    @property
    def inside_a_read(self) -> bool:
        """The client got part of what the server wrote at once, not a whole write."""
        return 0 < self.passed < self.read


@dataclass(eq=False)
class _Link:
    """One client's connection and the proxy's connection upstream for it."""

    client: asyncio.StreamWriter
    upstream: asyncio.StreamWriter
    budget: int | None = None  # server bytes still to pass before the cut
    cut: asyncio.Future[Cut] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )

    def reset(self) -> None:
        _reset(self.client)
        _reset(self.upstream)


def _reset(writer: asyncio.StreamWriter) -> None:
    """Drop the connection with a reset, as a network that failed would leave it."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _RESET)
    writer.transport.abort()


class TcpProxy:
    """Listens on a free loopback port and forwards each connection to ``upstream_port``."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.cuts: list[Cut] = []
        self._links: set[_Link] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._server: asyncio.Server | None = None

    async def __aenter__(self) -> TcpProxy:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        for link in tuple(self._links):
            link.reset()
        for task in tuple(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._server.wait_closed()

    @property
    def port(self) -> int:
        assert self._server is not None
        return int(self._server.sockets[0].getsockname()[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def open(self) -> int:
        """Connections open through the proxy now."""
        return len(self._links)

    def switch(self, upstream_port: int) -> None:
        """Forward connections opened from now on to ``upstream_port``."""
        self.upstream_port = upstream_port

    def cut_after(self, nbytes: int, timeout_s: float = 20.0) -> Awaitable[list[Cut]]:
        """Let each connection open now pass ``nbytes`` more bytes from the server, then reset
        it. Armed at once; what it returns is done when every one of them is cut (one that
        ended by itself first is not counted)."""
        if nbytes < 1:
            raise ValueError("cut after at least one byte")
        links = [link for link in self._links if link.budget is None]
        if not links:
            raise AssertionError("no connection is open through the proxy to cut")
        for link in links:
            link.budget = nbytes
        return self._cut([link.cut for link in links], timeout_s)

    @staticmethod
    async def _cut(cuts: list[asyncio.Future[Cut]], timeout_s: float) -> list[Cut]:
        async with asyncio.timeout(timeout_s):
            done = await asyncio.gather(*cuts, return_exceptions=True)
        return [cut for cut in done if isinstance(cut, Cut)]

    # --- forwarding ---------------------------------------------------------------------------

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        except OSError:  # nobody listens there (a replica just died): as a refused connect
            _reset(writer)
            return
        link = _Link(writer, up_writer)
        self._links.add(link)
        pumps = [
            asyncio.create_task(self._to_server(link, reader)),
            asyncio.create_task(self._to_client(link, up_reader)),
        ]
        self._tasks.update(pumps)
        try:
            await asyncio.wait(pumps, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for pump in pumps:
                pump.cancel()
            await asyncio.gather(*pumps, return_exceptions=True)
            self._tasks.difference_update(pumps)
            self._links.discard(link)
            if not link.cut.done():
                link.cut.set_exception(ConnectionError("the connection ended before its cut"))
                link.cut.exception()  # retrieved: nobody may be waiting for it
            for side in (link.client, link.upstream):
                side.close()

    async def _to_server(self, link: _Link, reader: asyncio.StreamReader) -> None:
        with contextlib.suppress(ConnectionError):
            while chunk := await reader.read(_CHUNK):
                link.upstream.write(chunk)
                await link.upstream.drain()

    async def _to_client(self, link: _Link, reader: asyncio.StreamReader) -> None:
        with contextlib.suppress(ConnectionError):
            while chunk := await reader.read(_CHUNK):
                budget = link.budget
                if budget is not None and budget <= len(chunk):
                    await self._pass_then_reset(link, chunk[:budget], len(chunk))
                    return
                if budget is not None:
                    link.budget = budget - len(chunk)
                link.client.write(chunk)
                await link.client.drain()

    async def _pass_then_reset(self, link: _Link, part: bytes, read: int) -> None:
        link.client.write(part)
        # The part must reach the client before the reset, which throws away what is unsent.
        link.client.transport.set_write_buffer_limits(high=0)
        await link.client.drain()
        link.reset()
        cut = Cut(len(part), read)
        self.cuts.append(cut)
        link.cut.set_result(cut)
