"""Domain errors cross a real gRPC hop whole: class, detail and problem extensions."""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc
import pytest

from libs.errors import (
    InvalidArgument,
    NotFound,
    ShotgraphError,
    Unprocessable,
    from_status_details,
)
from libs.ports import free_port
from libs.rpc import create_server, open_channel, raise_domain_error

METHOD = "/test.Errors/Raise"
ERRORS: dict[bytes, ShotgraphError] = {
    b"unprocessable": Unprocessable("syntax error in model.scad, line 3", extensions={"line": 3}),
    b"invalid": InvalidArgument("'size' must be a number"),
    b"missing": NotFound("no such render"),
}


def _raise(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
    raise ERRORS[request]


async def _handler(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
    return _raise(request, context)


@pytest.fixture
async def channel() -> AsyncIterator[grpc.aio.Channel]:
    port = free_port()
    handlers = grpc.method_handlers_generic_handler(
        "test.Errors", {"Raise": grpc.unary_unary_rpc_method_handler(_handler)}
    )
    server, _ = await create_server(
        "test", port, [lambda s: s.add_generic_rpc_handlers((handlers,))]
    )
    channel = open_channel(f"127.0.0.1:{port}", deadline_s=5)
    try:
        yield channel
    finally:
        await channel.close()
        await server.stop(None)


async def _call(channel: grpc.aio.Channel, which: bytes) -> ShotgraphError:
    call = channel.unary_unary(METHOD)
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await call(which)
    with pytest.raises(ShotgraphError) as raised:
        raise_domain_error(caught.value)
    return raised.value


async def test_a_422_with_its_line_survives_the_hop(channel: grpc.aio.Channel) -> None:
    error = await _call(channel, b"unprocessable")
    assert type(error) is Unprocessable and error.status == 422
    assert error.detail == "syntax error in model.scad, line 3"
    assert error.extensions == {"line": 3}


@pytest.mark.parametrize(("which", "kind"), [(b"invalid", InvalidArgument), (b"missing", NotFound)])
async def test_other_errors_keep_their_class(
    channel: grpc.aio.Channel, which: bytes, kind: type[ShotgraphError]
) -> None:
    error = await _call(channel, which)
    assert type(error) is kind and error.detail == ERRORS[which].detail
    assert error.extensions == {}


def test_unreadable_status_details_fall_back_to_the_code() -> None:
    error = from_status_details(grpc.StatusCode.INVALID_ARGUMENT, "bad", b"\xff\xff not a status")
    assert type(error) is InvalidArgument and error.detail == "bad"
