"""The pieces an operation of the document is made of: parameters, bodies, responses."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from services.gateway.openapi.protoschema import JsonSchema, ref

__all__ = [
    "BINARY",
    "ERRORS",
    "IF_NONE_MATCH",
    "INTEGER_QUERY",
    "PAGE",
    "STRING",
    "Operation",
    "Param",
    "Reply",
    "obj",
    "problem_reply",
    "success_reply",
]

PROBLEM_TYPE: Final = "application/problem+json"
BINARY: Final[JsonSchema] = {"type": "string", "format": "binary"}
STRING: Final[JsonSchema] = {"type": "string"}

# What each problem status means on this API, as its response's description.
ERRORS: Final[dict[int, str]] = {
    400: "The request is malformed: bad JSON, a field of the wrong shape, a bad parameter.",
    401: "No credential, or one that is unknown, expired or revoked.",
    403: "The credential lacks the scope, the CSRF check failed, or the signature is wrong.",
    404: "No such resource, or one the caller may not see.",
    409: "The resource changed meanwhile (a newer version) or is not ready yet.",
    413: "The body is larger than this route accepts.",
    422: "Well-formed, but its content cannot be processed (a model that does not render).",
    429: "Over a rate limit; `Retry-After` says when to try again.",
    503: "A service behind the gateway is unavailable; `Retry-After` says when to try again.",
}


def obj(
    properties: dict[str, JsonSchema], *required: str, closed: bool = True, **extra: Any
) -> JsonSchema:
    """A JSON object schema; ``closed``: no other members."""
    schema: JsonSchema = {"type": "object", "properties": properties, **extra}
    if required:
        schema["required"] = list(required)
    if closed:
        schema["additionalProperties"] = False
    return schema


@dataclass(frozen=True)
class Param:
    name: str
    where: str  # "path", "query" or "header"
    schema: JsonSchema
    description: str
    required: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "in": self.where,
            "required": self.required or self.where == "path",
            "description": self.description,
            "schema": self.schema,
        }


INTEGER_QUERY: Final[JsonSchema] = {"type": "integer", "minimum": 0, "maximum": 999_999_999}
IF_NONE_MATCH: Final = Param("If-None-Match", "header", STRING, "An ETag the client holds.")
PAGE: Final = (
    Param("limit", "query", INTEGER_QUERY, "Page size; 0 or absent for the default."),
    Param("cursor", "query", STRING, "Where the page starts: the previous page's token."),
)


@dataclass(frozen=True)
class Reply:
    """A successful answer: its status, body (``None``: none) and media type."""

    status: int
    description: str
    schema: JsonSchema | None = None
    media_type: str = "application/json"
    headers: tuple[str, ...] = ()  # names of components/headers it carries


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    summary: str
    tag: str
    replies: tuple[Reply, ...]
    errors: frozenset[int]
    params: tuple[Param, ...] = ()
    body: JsonSchema | None = None
    body_type: str = "application/json"
    body_required: bool = True
    revalidated: bool = False  # strong ETag and 304 on If-None-Match


def problem_reply(status: int) -> dict[str, Any]:
    headers = {"X-Request-Id": {"$ref": "#/components/headers/X-Request-Id"}}
    if status in (429, 503):
        headers["Retry-After"] = {"$ref": "#/components/headers/Retry-After"}
    if status == 429:
        headers |= _RATE_LIMIT_HEADERS
    return {
        "description": ERRORS[status],
        "headers": headers,
        "content": {PROBLEM_TYPE: {"schema": ref("Problem")}},
    }


_RATE_LIMIT_HEADERS: Final = {
    "RateLimit": {"$ref": "#/components/headers/RateLimit"},
    "RateLimit-Policy": {"$ref": "#/components/headers/RateLimit-Policy"},
}


def success_reply(reply: Reply) -> dict[str, Any]:
    headers = {"X-Request-Id": {"$ref": "#/components/headers/X-Request-Id"}}
    headers |= _RATE_LIMIT_HEADERS
    headers |= {name: {"$ref": f"#/components/headers/{name}"} for name in reply.headers}
    answer: dict[str, Any] = {"description": reply.description, "headers": headers}
    if reply.schema is not None:
        answer["content"] = {reply.media_type: {"schema": reply.schema}}
    return answer
