"""Downstream against a real gRPC server: deadlines the server sees, a breaker that opens only
for outages, client streams, and errors that come back as domain errors."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import grpc
import pytest

from libs.downstream import Downstream
from libs.errors import NotFound, Unavailable
from libs.ports import free_port
from libs.resilience import Breakers
from libs.rpc import create_server

SERVICE = "test.Peer"
DEFAULT_DEADLINE_S = 5.0


async def _remaining(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
    """How long the caller said it would wait, as the server sees it."""
    return str(context.time_remaining()).encode()


async def _missing(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
    raise NotFound(f"no {request.decode()}")


async def _hang(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
    await asyncio.Event().wait()  # never set: only the caller's deadline ends this
    raise AssertionError("unreachable")


async def _count(chunks: AsyncIterator[bytes], context: grpc.aio.ServicerContext) -> bytes:
    return str(sum([len(chunk) async for chunk in chunks])).encode()


class PeerStub:
    """What protoc would generate for the methods above."""

    def __init__(self, channel: grpc.aio.Channel) -> None:
        self.Remaining = channel.unary_unary(f"/{SERVICE}/Remaining")
        self.Missing = channel.unary_unary(f"/{SERVICE}/Missing")
        self.Hang = channel.unary_unary(f"/{SERVICE}/Hang")
        self.Count = channel.stream_unary(f"/{SERVICE}/Count")


async def serve(port: int) -> grpc.aio.Server:
    handlers = grpc.method_handlers_generic_handler(
        SERVICE,
        {
            "Remaining": grpc.unary_unary_rpc_method_handler(_remaining),
            "Missing": grpc.unary_unary_rpc_method_handler(_missing),
            "Hang": grpc.unary_unary_rpc_method_handler(_hang),
            "Count": grpc.stream_unary_rpc_method_handler(_count),
        },
    )
    server, _ = await create_server(
        "peer", port, [lambda s: s.add_generic_rpc_handlers((handlers,))]
    )
    return server


@pytest.fixture
async def open_peer() -> AsyncIterator[Callable[..., Downstream[PeerStub]]]:
    """Downstreams to ``127.0.0.1:<port>``, closed after the test."""
    opened: list[Downstream[PeerStub]] = []

    def open_peer(port: int, breakers: Breakers | None = None) -> Downstream[PeerStub]:
        peer = Downstream(
            "peer",
            f"127.0.0.1:{port}",
            PeerStub,
            deadline_s=DEFAULT_DEADLINE_S,
            breakers=breakers or Breakers(),
        )
        opened.append(peer)
        return peer

    yield open_peer
    for peer in opened:
        await peer.close()


@pytest.fixture
async def port() -> AsyncIterator[int]:
    """A port with the peer serving on it."""
    port = free_port()
    server = await serve(port)
    yield port
    await server.stop(None)


async def test_the_server_sees_the_default_deadline_or_the_calls_own(
    open_peer: Callable[..., Downstream[PeerStub]], port: int
) -> None:
    peer = open_peer(port)
    # The wire rounds a deadline up a little: within a second is what matters.
    default = float(await peer.call(peer.stub.Remaining, b""))
    assert default == pytest.approx(DEFAULT_DEADLINE_S, abs=1)
    own = float(await peer.call(peer.stub.Remaining, b"", deadline_s=60.0))
    assert own == pytest.approx(60, abs=1)


async def test_a_call_past_its_deadline_is_unavailable(
    open_peer: Callable[..., Downstream[PeerStub]], port: int
) -> None:
    peer = open_peer(port)
    with pytest.raises(Unavailable, match=r"upstream unavailable: Deadline Exceeded"):
        await peer.call(peer.stub.Hang, b"", deadline_s=0.2)


async def test_a_client_stream_goes_out_whole(
    open_peer: Callable[..., Downstream[PeerStub]], port: int
) -> None:
    peer = open_peer(port)

    async def chunks() -> AsyncIterator[bytes]:
        for size in (3, 64 << 10, 1):
            yield b"x" * size

    assert await peer.call(peer.stub.Count, chunks()) == str(3 + (64 << 10) + 1).encode()


async def test_answers_never_open_the_breaker(
    open_peer: Callable[..., Downstream[PeerStub]], port: int
) -> None:
    peer = open_peer(port, Breakers(threshold=2))
    for _ in range(5):
        with pytest.raises(NotFound, match="no render-42"):
            await peer.call(peer.stub.Missing, b"render-42")
    assert await peer.call(peer.stub.Remaining, b"")


async def test_outages_open_the_breaker_which_then_fails_fast(
    open_peer: Callable[..., Downstream[PeerStub]],
) -> None:
    port = free_port()  # nothing listens yet
    peer = open_peer(port, Breakers(threshold=2, ttl_s=30))
    for _ in range(2):
        with pytest.raises(Unavailable, match="upstream unavailable"):
            await peer.call(peer.stub.Remaining, b"")
    server = await serve(port)
    try:
        # The peer is back, but the open breaker does not ask it until its cool-down is over.
        with pytest.raises(Unavailable, match=r"peer is unavailable; retry shortly") as raised:
            await peer.call(peer.stub.Remaining, b"")
        assert raised.value.retry_after == 30
    finally:
        await server.stop(None)
