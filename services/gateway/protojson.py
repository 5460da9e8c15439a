"""gRPC replies as JSON responses, and the small query-string parsing the API shares."""

from __future__ import annotations

from aiohttp import web
from google.protobuf import json_format
from google.protobuf.message import Message

from libs.errors import InvalidArgument

__all__ = ["message_response", "query_int"]


def message_response(message: Message, status: int = 200) -> web.Response:
    body = json_format.MessageToDict(
        message, preserving_proto_field_name=True, always_print_fields_with_no_presence=True
    )
    return web.json_response(body, status=status)


def query_int(request: web.Request, name: str) -> int:
    raw = request.query.get(name, "0")
    if not raw.isdigit() or len(raw) > 9:
        raise InvalidArgument(f"query parameter {name!r} must be a non-negative integer")
    return int(raw)
