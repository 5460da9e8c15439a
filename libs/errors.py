"""Domain errors, and the one place that maps them onto HTTP problems and gRPC status codes."""

from __future__ import annotations

import grpc

__all__ = [
    "Conflict",
    "InvalidArgument",
    "NotFound",
    "PayloadTooLarge",
    "ShotgraphError",
    "Unauthenticated",
    "Unavailable",
    "from_grpc_code",
]


class ShotgraphError(Exception):
    """Base of every error a caller may see. ``title`` is stable; ``detail`` explains this case."""

    status: int = 500
    grpc_code: grpc.StatusCode = grpc.StatusCode.INTERNAL
    title: str = "Internal error"
    type_slug: str = "internal"

    def __init__(self, detail: str = "") -> None:
        super().__init__(detail or self.title)
        self.detail = detail or self.title


class InvalidArgument(ShotgraphError):
    status = 400
    grpc_code = grpc.StatusCode.INVALID_ARGUMENT
    title = "Invalid request"
    type_slug = "invalid-request"


class Unauthenticated(ShotgraphError):
    status = 401
    grpc_code = grpc.StatusCode.UNAUTHENTICATED
    title = "Authentication required"
    type_slug = "unauthenticated"


class NotFound(ShotgraphError):
    status = 404
    grpc_code = grpc.StatusCode.NOT_FOUND
    title = "Not found"
    type_slug = "not-found"


class Conflict(ShotgraphError):
    status = 409
    grpc_code = grpc.StatusCode.ABORTED
    title = "Conflict"
    type_slug = "conflict"


class PayloadTooLarge(ShotgraphError):
    status = 413
    grpc_code = grpc.StatusCode.RESOURCE_EXHAUSTED
    title = "Payload too large"
    type_slug = "payload-too-large"


class Unavailable(ShotgraphError):
    """A dependency is down or too slow; the caller should retry after ``retry_after`` seconds."""

    status = 503
    grpc_code = grpc.StatusCode.UNAVAILABLE
    title = "Service unavailable"
    type_slug = "unavailable"
    retry_after = 5


_BY_GRPC_CODE: dict[grpc.StatusCode, type[ShotgraphError]] = {
    grpc.StatusCode.INVALID_ARGUMENT: InvalidArgument,
    grpc.StatusCode.UNAUTHENTICATED: Unauthenticated,
    grpc.StatusCode.NOT_FOUND: NotFound,
    grpc.StatusCode.ABORTED: Conflict,
    grpc.StatusCode.ALREADY_EXISTS: Conflict,
    grpc.StatusCode.RESOURCE_EXHAUSTED: PayloadTooLarge,
    grpc.StatusCode.UNAVAILABLE: Unavailable,
    grpc.StatusCode.DEADLINE_EXCEEDED: Unavailable,
}


def from_grpc_code(code: grpc.StatusCode, detail: str) -> ShotgraphError:
    """Turn a downstream gRPC failure back into the domain error it stands for."""
    return _BY_GRPC_CODE.get(code, ShotgraphError)(detail)
