"""gRPC servers and clients: tracing, RED metrics, domain-error mapping, deadlines, health."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Iterable
from datetime import datetime
from typing import Any, NoReturn

import asyncpg
import grpc
from google.protobuf.struct_pb2 import Struct
from google.protobuf.timestamp_pb2 import Timestamp
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_health.v1.health import aio as health_aio
from opentelemetry.instrumentation.grpc import aio_client_interceptors, aio_server_interceptor

from libs.errors import (
    STATUS_DETAILS_KEY,
    ShotgraphError,
    Unavailable,
    from_grpc_code,
    from_status_details,
    status_details,
)
from libs.logs import get_logger
from libs.metrics import GRPC_DURATION, GRPC_REQUESTS

__all__ = [
    "Registrar",
    "create_server",
    "is_outage",
    "open_channel",
    "raise_domain_error",
    "struct",
    "timestamp",
]

log = get_logger(__name__)

Registrar = Callable[[grpc.aio.Server], None]

# Bounded message sizes: uploads stream in chunks, nothing else is large.
MAX_MESSAGE_BYTES = 4 << 20
# A store or bus that cannot be reached is an outage the caller may retry, not a bug.
_OUTAGES = (OSError, TimeoutError, asyncpg.PostgresConnectionError, asyncpg.InterfaceError)
_UNAVAILABLE_CODES = frozenset({grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED})


class _ObservedService(grpc.aio.ServerInterceptor):
    """RED metrics per method, and domain errors turned into their status codes in one place."""

    def __init__(self, service: str) -> None:
        self._service = service

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(details)
        if handler is None:
            return handler
        method = details.method.rsplit("/", 1)[-1]
        if handler.unary_unary:
            return grpc.unary_unary_rpc_method_handler(
                self._observe(handler.unary_unary, method),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        if handler.stream_unary:
            return grpc.stream_unary_rpc_method_handler(
                self._observe(handler.stream_unary, method),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        return handler  # server-streaming calls (health Watch) pass through untouched

    def _observe(self, behavior: Callable[..., Any], method: str) -> Callable[..., Any]:
        async def observed(request: Any, context: grpc.aio.ServicerContext) -> Any:
            started = time.perf_counter()
            code = grpc.StatusCode.OK
            try:
                return await behavior(request, context)
            except ShotgraphError as exc:
                code = exc.grpc_code
                await context.abort(
                    code, exc.detail, trailing_metadata=((STATUS_DETAILS_KEY, status_details(exc)),)
                )
            except grpc.aio.AbortError:
                code = context.code() or grpc.StatusCode.UNKNOWN
                raise
            except _OUTAGES as exc:
                code = grpc.StatusCode.UNAVAILABLE
                log.warning("grpc.dependency_unavailable", method=method, error=repr(exc))
                await context.abort(code, "a dependency is unavailable")
            except Exception:
                code = grpc.StatusCode.INTERNAL
                log.exception("grpc.unhandled", method=method)
                await context.abort(code, "internal error")
            finally:
                GRPC_REQUESTS.labels(self._service, method, code.name).inc()
                GRPC_DURATION.labels(self._service, method).observe(time.perf_counter() - started)

        return observed


async def create_server(
    service: str, port: int, registrars: Iterable[Registrar]
) -> tuple[grpc.aio.Server, health_aio.HealthServicer]:
    """A started server on ``port`` (SO_REUSEPORT, so worker processes share it) with health."""
    server = grpc.aio.server(
        interceptors=[aio_server_interceptor(), _ObservedService(service)],
        options=[
            ("grpc.so_reuseport", 1),
            ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
            ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
            # Fixed 64 KiB receive windows per stream. BDP probing grows them on a fast link
            # until a client stream (an upload) parks megabytes here ahead of its handler:
            # fifty 10 MB uploads at once grew the image service by 270 MB with it, 108
            # without (50 x 1 MB: 104 and 88). Calls stay within one cluster network.
            ("grpc.http2.bdp_probe", 0),
        ],
    )
    health = health_aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health, server)
    for register in registrars:
        register(server)
    server.add_insecure_port(f"[::]:{port}")
    await server.start()
    await health.set("", health_pb2.HealthCheckResponse.SERVING)
    return server, health


class _UnaryDeadline(grpc.aio.UnaryUnaryClientInterceptor):
    def __init__(self, seconds: float) -> None:
        self._seconds = seconds

    async def intercept_unary_unary(self, continuation: Any, details: Any, request: Any) -> Any:
        if details.timeout is None:
            details = details._replace(timeout=self._seconds)
        return await continuation(details, request)


class _StreamDeadline(grpc.aio.StreamUnaryClientInterceptor):
    def __init__(self, seconds: float) -> None:
        self._seconds = seconds

    async def intercept_stream_unary(
        self, continuation: Any, details: Any, request_iterator: Any
    ) -> Any:
        if details.timeout is None:
            details = details._replace(timeout=self._seconds)
        return await continuation(details, request_iterator)


def open_channel(address: str, deadline_s: float) -> grpc.aio.Channel:
    """A traced channel where every call without its own timeout gets ``deadline_s``."""
    return grpc.aio.insecure_channel(
        address,
        interceptors=[
            *aio_client_interceptors(),
            _UnaryDeadline(deadline_s),
            _StreamDeadline(deadline_s),
        ],
        options=[
            ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
            ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
            ("grpc.keepalive_time_ms", 30_000),
            # Fail fast while a peer is down instead of waiting out the default reconnect backoff.
            ("grpc.initial_reconnect_backoff_ms", 200),
            ("grpc.max_reconnect_backoff_ms", 2_000),
        ],
    )


def raise_domain_error(exc: grpc.aio.AioRpcError) -> NoReturn:
    code = exc.code()
    detail = exc.details() or code.name
    if code in _UNAVAILABLE_CODES:
        raise Unavailable(f"upstream unavailable: {detail}") from exc
    for key, value in exc.trailing_metadata() or ():
        if key == STATUS_DETAILS_KEY and isinstance(value, bytes):
            raise from_status_details(code, detail, value) from exc
    raise from_grpc_code(code, detail) from exc


def is_outage(exc: BaseException) -> bool:
    """Only outages count against a circuit breaker; NOT_FOUND and friends are answers."""
    return isinstance(exc, grpc.aio.AioRpcError) and exc.code() in _UNAVAILABLE_CODES


def timestamp(moment: datetime) -> Timestamp:
    """A protobuf Timestamp for a timezone-aware datetime."""
    stamp = Timestamp()
    stamp.FromDatetime(moment)
    return stamp


def struct(value: dict[str, Any] | None) -> Struct | None:
    """A protobuf Struct for a JSON object (None stays unset)."""
    if value is None:
        return None
    message = Struct()
    message.update(value)
    return message
