"""Domain errors, and the one place that maps them onto HTTP problems and gRPC status codes.

Whether an error is worth retrying is a property of the error (``retryable``), as in
Temporal's SDK: a worker raises the error that says what happened, and the bus decides from
it whether the job runs again (``is_retryable``). An error of no class of ours (a bug, a lost
connection) is retried; so is ``Unavailable``; a bad request never is.

An error may carry ``extensions``: extra members of its problem document (RFC 9457), such as
the line of a model error. Across gRPC they travel as a ``google.rpc.ErrorInfo`` in the rich
status details, whose ``reason`` is the error's ``type_slug``, so a 422 survives the hop even
though gRPC has no code of its own for it.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

import grpc
from google.protobuf import any_pb2
from google.protobuf.message import DecodeError
from google.rpc import error_details_pb2, status_pb2

__all__ = [
    "STATUS_DETAILS_KEY",
    "Conflict",
    "Deferred",
    "Forbidden",
    "InvalidArgument",
    "JobCancelled",
    "MalformedMessage",
    "NewerVersion",
    "NotFound",
    "PayloadTooLarge",
    "PermanentError",
    "ShotgraphError",
    "TooManyRequests",
    "Unauthenticated",
    "Unavailable",
    "Unprocessable",
    "from_grpc_code",
    "from_status_details",
    "is_retryable",
    "status_details",
]

_DOMAIN = "shotgraph.dev"
STATUS_DETAILS_KEY = "grpc-status-details-bin"  # where gRPC carries a google.rpc.Status


class ShotgraphError(Exception):
    """Base of every error a caller may see. ``title`` is stable; ``detail`` explains this case."""

    status: int = 500
    grpc_code: grpc.StatusCode = grpc.StatusCode.INTERNAL
    title: str = "Internal error"
    type_slug: str = "internal"
    retryable: bool = True  # an internal error may be a passing one

    def __init__(
        self,
        detail: str = "",
        *,
        extensions: Mapping[str, Any] | None = None,
        retryable: bool | None = None,
    ) -> None:
        super().__init__(detail or self.title)
        self.detail = detail or self.title
        self.extensions = dict(extensions or {})  # JSON values: extra problem members
        if retryable is not None:  # this one case differs from its class
            self.retryable = retryable


class InvalidArgument(ShotgraphError):
    retryable = False
    status = 400
    grpc_code = grpc.StatusCode.INVALID_ARGUMENT
    title = "Invalid request"
    type_slug = "invalid-request"


class Unprocessable(ShotgraphError):
    """Well-formed, but its content cannot be processed: a model that does not render."""

    status = 422
    grpc_code = grpc.StatusCode.INVALID_ARGUMENT  # told apart from 400 by its ErrorInfo
    title = "Unprocessable content"
    type_slug = "unprocessable"
    retryable = False


class Unauthenticated(ShotgraphError):
    retryable = False
    status = 401
    grpc_code = grpc.StatusCode.UNAUTHENTICATED
    title = "Authentication required"
    type_slug = "unauthenticated"


class Forbidden(ShotgraphError):
    retryable = False
    status = 403
    grpc_code = grpc.StatusCode.PERMISSION_DENIED
    title = "Forbidden"
    type_slug = "forbidden"


class NotFound(ShotgraphError):
    retryable = False
    status = 404
    grpc_code = grpc.StatusCode.NOT_FOUND
    title = "Not found"
    type_slug = "not-found"


class Conflict(ShotgraphError):
    retryable = False
    status = 409
    grpc_code = grpc.StatusCode.ABORTED
    title = "Conflict"
    type_slug = "conflict"


class PayloadTooLarge(ShotgraphError):
    retryable = False
    status = 413
    grpc_code = grpc.StatusCode.RESOURCE_EXHAUSTED
    title = "Payload too large"
    type_slug = "payload-too-large"


class TooManyRequests(ShotgraphError):
    """Over a rate or concurrency limit; the caller may try again after ``retry_after`` seconds.
    gRPC's RESOURCE_EXHAUSTED from a backend means this too, unless its details say 413."""

    retryable = False
    status = 429
    grpc_code = grpc.StatusCode.RESOURCE_EXHAUSTED
    title = "Too many requests"
    type_slug = "too-many-requests"

    def __init__(
        self,
        detail: str = "",
        *,
        retry_after: float = 1.0,
        extensions: Mapping[str, Any] | None = None,
        retryable: bool | None = None,
    ) -> None:
        extensions = dict(extensions or {})
        if "retry_after" in extensions:  # as it crossed a gRPC hop
            retry_after = float(extensions["retry_after"])
        # Whole seconds, rounded up: Retry-After is an integer and a client that waits less
        # than the limiter's answer is refused again.
        self.retry_after = max(1, math.ceil(retry_after))
        extensions["retry_after"] = self.retry_after
        super().__init__(detail, extensions=extensions, retryable=retryable)


class Unavailable(ShotgraphError):
    """A dependency is down or too slow; the caller should retry after ``retry_after`` seconds."""

    status = 503
    grpc_code = grpc.StatusCode.UNAVAILABLE
    title = "Service unavailable"
    type_slug = "unavailable"
    retry_after = 5
    retryable = True


class MalformedMessage(InvalidArgument):
    """Bytes on the bus that are not a message of the type their subject carries."""

    title = "Malformed message"


class NewerVersion(ShotgraphError):
    """A message written by a newer release, in a shape this one cannot read: left for a
    replica that can (retried), never dropped."""

    title = "Message from a newer release"
    retryable = True


class PermanentError(Unprocessable):
    """The work can never succeed as asked (a workflow the backend refuses, a model that does
    not render): fail the job now instead of retrying it."""


class JobCancelled(ShotgraphError):
    """The job's batch was cancelled; the worker stops between steps."""

    status = 409
    grpc_code = grpc.StatusCode.CANCELLED
    title = "Cancelled"
    type_slug = "cancelled"
    retryable = False


class Deferred(Unavailable):
    """Not now: put the job back in the queue for ``delay_s`` without spending an attempt
    (a backend is known to be down)."""

    def __init__(self, reason: str, delay_s: float) -> None:
        super().__init__(reason)
        self.delay_s = delay_s
        self.retry_after = max(1, round(delay_s))


def is_retryable(exc: BaseException) -> bool:
    """Whether doing the same work again may succeed: the error says, else assume it may."""
    return exc.retryable if isinstance(exc, ShotgraphError) else True


_BY_GRPC_CODE: dict[grpc.StatusCode, type[ShotgraphError]] = {
    grpc.StatusCode.INVALID_ARGUMENT: InvalidArgument,
    grpc.StatusCode.UNAUTHENTICATED: Unauthenticated,
    grpc.StatusCode.NOT_FOUND: NotFound,
    grpc.StatusCode.PERMISSION_DENIED: Forbidden,
    grpc.StatusCode.ABORTED: Conflict,
    grpc.StatusCode.ALREADY_EXISTS: Conflict,
    grpc.StatusCode.RESOURCE_EXHAUSTED: TooManyRequests,
    grpc.StatusCode.UNAVAILABLE: Unavailable,
    grpc.StatusCode.DEADLINE_EXCEEDED: Unavailable,
}


_BY_SLUG: dict[str, type[ShotgraphError]] = {
    cls.type_slug: cls
    for cls in (
        InvalidArgument,
        Unprocessable,
        Unauthenticated,
        Forbidden,
        NotFound,
        Conflict,
        PayloadTooLarge,
        TooManyRequests,
    )
}


def from_grpc_code(code: grpc.StatusCode, detail: str) -> ShotgraphError:
    """Turn a downstream gRPC failure back into the domain error it stands for."""
    return _BY_GRPC_CODE.get(code, ShotgraphError)(detail)


def status_details(exc: ShotgraphError) -> bytes:
    """The rich status (``grpc-status-details-bin``) that lets ``exc`` cross a gRPC hop whole."""
    info = error_details_pb2.ErrorInfo(
        reason=exc.type_slug,
        domain=_DOMAIN,
        metadata={key: json.dumps(value) for key, value in exc.extensions.items()},
    )
    detail = any_pb2.Any()
    detail.Pack(info)
    status = status_pb2.Status(code=exc.grpc_code.value[0], message=exc.detail, details=[detail])
    return status.SerializeToString()


def from_status_details(code: grpc.StatusCode, detail: str, raw: bytes) -> ShotgraphError:
    """The domain error behind a rich status; falls back to the status code alone."""
    status = status_pb2.Status()
    try:
        status.ParseFromString(raw)
    except DecodeError:
        return from_grpc_code(code, detail)
    for packed in status.details:
        info = error_details_pb2.ErrorInfo()
        if packed.Unpack(info) and info.domain == _DOMAIN and info.reason in _BY_SLUG:
            try:
                extensions = {key: json.loads(value) for key, value in info.metadata.items()}
            except ValueError:
                extensions = {}
            return _BY_SLUG[info.reason](detail, extensions=extensions)
    return from_grpc_code(code, detail)
