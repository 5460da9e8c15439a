"""The OpenAPI 3.1 document of the public API, assembled from ``operations``."""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Final

from libs.identity import SESSION_COOKIE, STREAM_TOKEN_QUERY
from libs.web import PROBLEM_CONTENT_TYPE
from services.gateway.access import SAFE_METHODS, STREAM_TOKEN_ROUTES, Access, access_of
from services.gateway.csrf import CSRF_HEADER
from services.gateway.openapi.operations import operations
from services.gateway.openapi.parts import (
    IF_NONE_MATCH,
    Operation,
    Reply,
    problem_reply,
    success_reply,
)
from services.gateway.openapi.protoschema import MessageSchemas

__all__ = ["document"]

_PROBLEM: Final = {
    "type": "object",
    "description": "RFC 9457 problem details; members beyond these may add to a particular case.",
    "properties": {
        "type": {"type": "string", "format": "uri-reference"},
        "title": {"type": "string"},
        "status": {"type": "integer", "minimum": 400, "maximum": 599},
        "detail": {"type": "string"},
        "instance": {"type": "string", "format": "uri-reference"},
    },
    "required": ["type", "title", "status", "detail"],
}

_HEADERS: Final[dict[str, dict[str, Any]]] = {
    "X-Request-Id": {"description": "This request's id, as the logs and traces know it."},
    "RateLimit": {
        "description": 'The tightest limit applied: `"<policy>";r=<remaining>;t=<seconds>`.'
    },
    "RateLimit-Policy": {"description": 'Every limit applied: `"<name>";q=<quota>;w=<window>`.'},
    "Retry-After": {"description": "Seconds to wait before trying again."},
    "ETag": {"description": "A strong entity tag of the body."},
    "Cache-Control": {"description": "How caches may keep the response."},
    "Location": {"description": "Where the resource made or followed lives."},
    "Content-Disposition": {"description": "Download under this file name."},
    "X-Render-Cache": {
        "description": "Whether the preview came from the cache.",
        "schema": {"type": "string", "enum": ["hit", "miss"]},
    },
}

_SECURITY_SCHEMES: Final = {
    "bearer": {"type": "http", "scheme": "bearer", "description": "An API key."},
    "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key", "description": "An API key."},
    "session": {
        "type": "apiKey",
        "in": "cookie",
        "name": SESSION_COOKIE,
        "description": "A browser's session (`POST /v1/auth/login`).",
    },
    "streamToken": {
        "type": "apiKey",
        "in": "query",
        "name": STREAM_TOKEN_QUERY,
        "description": "A stream token (`POST /v1/events/tokens`): live connections only.",
    },
    "csrf": {
        "type": "apiKey",
        "in": "header",
        "name": CSRF_HEADER,
        "description": "The session's CSRF token, sent back with every unsafe method.",
    },
}


def _security(op: Operation) -> list[dict[str, list[str]]]:
    """Who may call, from ``access.py``: the document and the authorizer read one table."""
    if not op.path.startswith("/v1/"):
        return []  # a signed image URL: the signature is the credential
    access = access_of(op.method, op.path)
    if access is Access.PUBLIC:
        return []
    # A key needs the scope; a session, its CSRF token on unsafe methods. Managing one's own
    # credentials takes a session, or a key with the admin scope.
    scope = ["admin"] if access is Access.ACCOUNT else [access.value]
    session: dict[str, list[str]] = {"session": [] if access is Access.ACCOUNT else scope}
    if op.method not in SAFE_METHODS:
        session["csrf"] = []
    schemes = [{"bearer": scope}, {"apiKey": scope}, session]
    if (op.method, op.path) in STREAM_TOKEN_ROUTES:
        schemes.append({"streamToken": []})
    return schemes


def _operation(op: Operation) -> dict[str, Any]:
    params = [p.as_dict() for p in op.params]
    replies = list(op.replies)
    if op.revalidated:  # protojson.revalidated_response
        cached = ("ETag", "Cache-Control")
        replies = [replace(r, headers=(*r.headers, *cached)) for r in replies]
        replies.append(Reply(304, "The client's copy is current.", headers=cached))
        params.append(IF_NONE_MATCH.as_dict())
    answer: dict[str, Any] = {
        "operationId": f"{op.method.lower()}{op.path}",
        "summary": op.summary,
        "tags": [op.tag],
        "security": _security(op),
        "parameters": params,
        "responses": {
            **{str(r.status): success_reply(r) for r in replies},
            **{str(status): problem_reply(status) for status in sorted(op.errors)},
        },
    }
    if op.body is not None:
        answer["requestBody"] = {
            "required": op.body_required,
            "content": {op.body_type: {"schema": op.body}},
        }
    return answer


def document() -> dict[str, Any]:
    """The whole document, made afresh (the gateway serialises it once, at start)."""
    messages = MessageSchemas()
    paths: dict[str, dict[str, Any]] = {}
    for op in operations(messages):
        paths.setdefault(op.path, {})[op.method.lower()] = _operation(op)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Shotgraph",
            "version": "1",
            "description": (
                "The public API of Shotgraph: canvases, batches, renders, images and live "
                f"events. Errors are RFC 9457 `{PROBLEM_CONTENT_TYPE}` documents."
            ),
        },
        "jsonSchemaDialect": "https://spec.openapis.org/oas/3.1/dialect/base",
        "paths": paths,
        "components": {
            "schemas": {"Problem": _PROBLEM, **messages.components},
            "headers": {
                name: {"schema": {"type": "string"}, **spec} for name, spec in _HEADERS.items()
            },
            "securitySchemes": _SECURITY_SCHEMES,
        },
    }
