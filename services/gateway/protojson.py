"""JSON bodies as gRPC requests, gRPC replies as JSON responses, and the small query-string
parsing the API shares."""

from __future__ import annotations

import hashlib
import json
from typing import Any, TypeVar

from aiohttp import web
from google.protobuf import json_format
from google.protobuf.message import Message

from libs.errors import InvalidArgument
from libs.web import MAX_JSON_DEPTH

__all__ = [
    "etagged_body",
    "known_fields",
    "message_from_json",
    "message_json",
    "message_response",
    "query_int",
    "revalidated",
    "revalidated_response",
]

M = TypeVar("M", bound=Message)


def message_from_json(body: dict[str, Any], message: M, what: str) -> M:
    """``body`` (from ``read_json``) into ``message``; a field of the wrong shape, or nesting
    past the limit every JSON body has, is a 400 naming ``what`` was expected."""
    try:
        return json_format.ParseDict(body, message, max_recursion_depth=MAX_JSON_DEPTH)
    except json_format.ParseError as exc:
        raise InvalidArgument(f"not {what}: {exc}") from exc


def message_response(message: Message, status: int = 200) -> web.Response:
    return web.json_response(message_json(message), status=status)


def revalidated_response(request: web.Request, message: Message) -> web.Response:
    """``message`` with a strong ETag (a hash of the body), or 304 when the client has it.

    The content is private and changes (a canvas, a version list): caches must revalidate
    every time, and a revalidation that matches costs no body.
    """
    return revalidated(request, *etagged_body(message))


def etagged_body(message: Message) -> tuple[bytes, str]:
    """``message`` as compact JSON, and a strong ETag of it."""
    body = json.dumps(message_json(message), separators=(",", ":"), sort_keys=True).encode()
    return body, hashlib.sha256(body).hexdigest()[:32]


def revalidated(request: web.Request, body: bytes, etag: str) -> web.Response:
    """``body`` with its ETag, or 304 when the client already has it."""
    headers = {"ETag": f'"{etag}"', "Cache-Control": "private, no-cache"}
    if any(tag.value in (etag, "*") for tag in request.if_none_match or ()):
        return web.Response(status=304, headers=headers)
    return web.Response(body=body, content_type="application/json", headers=headers)


def message_json(message: Message) -> dict[str, Any]:
    return json_format.MessageToDict(
        message, preserving_proto_field_name=True, always_print_fields_with_no_presence=True
    )


def known_fields(body: dict[str, Any], fields: set[str]) -> None:
    """400 when a JSON body has members the request does not take: a misspelt field is an
    error, not silently ignored."""
    unknown = sorted(set(body) - fields)
    if unknown:
        shown = ", ".join(unknown)[:200]
        raise InvalidArgument(f"unknown fields {shown}; this request takes {sorted(fields)}")


def query_int(request: web.Request, name: str) -> int:
    raw = request.query.get(name, "0")
    if not raw.isdigit() or len(raw) > 9:
        raise InvalidArgument(f"query parameter {name!r} must be a non-negative integer")
    return int(raw)
