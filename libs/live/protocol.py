"""The live connection's messages, typed: what fan-out and its clients say to each other.

``docs/live-events.md`` is the prose; this module is the contract both ends import. Each
message is a map whose ``type`` names it. Server frames hold a list of messages (all those of
one batching window); client frames hold one.
"""

from __future__ import annotations

from enum import IntEnum
from typing import Annotated, Any, Final, Literal

import msgspec

__all__ = [
    "CLIENT_MESSAGES",
    "JSON_PROTOCOL",
    "MAX_CLIENT_MESSAGE_BYTES",
    "MAX_TOPICS",
    "MSGPACK_PROTOCOL",
    "PROTOCOLS",
    "SERVER_MESSAGES",
    "ClientMessage",
    "CloseCode",
    "ErrorMessage",
    "EventMessage",
    "Hello",
    "Ping",
    "Pong",
    "PresenceMessage",
    "Reconnect",
    "Refused",
    "Reset",
    "Resume",
    "Resumed",
    "ServerMessage",
    "Subscribe",
    "Subscribed",
    "Unsubscribe",
    "Unsubscribed",
    "Viewer",
]

MSGPACK_PROTOCOL: Final = "shotgraph.v1.msgpack"
JSON_PROTOCOL: Final = "shotgraph.v1.json"
PROTOCOLS: Final = (MSGPACK_PROTOCOL, JSON_PROTOCOL)

MAX_CLIENT_MESSAGE_BYTES: Final = 4096
MAX_TOPICS: Final = 50

# "user", "canvas:<id>", "batch:<id>", "render:<id>"; checked further by fan-out.
Topic = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
Seq = Annotated[int, msgspec.Meta(ge=0, le=2**63 - 1)]


class CloseCode(IntEnum):
    """WebSocket close codes and what the client should do about each."""

    NORMAL = 1000
    MESSAGE_TOO_BIG = 1009
    SERVER_ERROR = 1011  # reconnect with backoff, resume
    DRAINING = 1012  # after a ``reconnect`` message: reconnect after its delay, resume
    MALFORMED = 4000  # not MessagePack/JSON, not a map, or a field of the wrong type
    UNKNOWN_TYPE = 4001
    RESUME_NOT_FIRST = 4002
    TOO_SLOW = 4008  # the connection's queue went over its bound: reconnect, resume
    UNAUTHENTICATED = 4401  # the credential was revoked or expired: sign in again


class _Message(msgspec.Struct, tag_field="type", frozen=True, kw_only=True):
    pass


# Client → server.


class Subscribe(_Message, tag="subscribe", frozen=True):
    topic: Topic


class Unsubscribe(_Message, tag="unsubscribe", frozen=True):
    topic: Topic


class Resume(_Message, tag="resume", frozen=True):
    """The first message of a reconnecting client: its topics, and the last seq it saw."""

    after: Seq
    topics: Annotated[list[Topic], msgspec.Meta(max_length=MAX_TOPICS)] = []


class Ping(_Message, tag="ping", frozen=True):
    id: Annotated[str, msgspec.Meta(max_length=64)] | int = 0


ClientMessage = Subscribe | Unsubscribe | Resume | Ping
CLIENT_MESSAGES: Final = (Subscribe, Unsubscribe, Resume, Ping)


# Server → client.


class Viewer(msgspec.Struct, frozen=True, kw_only=True):
    user_id: str
    user_name: str


class Hello(_Message, tag="hello", frozen=True):
    connection_id: str
    user_id: str
    last_seq: Seq  # the stream's last sequence when the connection opened
    window_ms: int
    heartbeat_s: float
    max_client_message_bytes: int = MAX_CLIENT_MESSAGE_BYTES
    max_topics: int = MAX_TOPICS


class EventMessage(_Message, tag="event", frozen=True):
    """One event of the stream. ``event`` is the event as published: ``type``, ``id``,
    ``time``, ``schema_version`` and its payload's fields. Fan-out encodes it once per format
    (``msgspec.Raw``); a client reads it as a map."""

    seq: Seq
    topic: Topic
    event: dict[str, Any] | msgspec.Raw


class Subscribed(_Message, tag="subscribed", frozen=True):
    topic: Topic
    presence: list[Viewer] = []


class Refused(_Message, tag="refused", frozen=True):
    topic: str
    reason: Literal["invalid", "not_allowed", "too_many_topics"]
    detail: str = ""


class Unsubscribed(_Message, tag="unsubscribed", frozen=True):
    topic: Topic
    reason: Literal["requested", "access_lost"]


class Resumed(_Message, tag="resumed", frozen=True):
    after: Seq
    replayed: int


class Reset(_Message, tag="reset", frozen=True):
    """History no longer reaches back to ``after``: refetch state, then carry on live."""

    after: Seq
    first_seq: Seq
    last_seq: Seq
    reason: Literal["history_gone"] = "history_gone"


class PresenceMessage(_Message, tag="presence", frozen=True):
    topic: Topic
    action: Literal["join", "leave"]
    user_id: str
    user_name: str


class Pong(_Message, tag="pong", frozen=True):
    id: str | int = 0


class ErrorMessage(_Message, tag="error", frozen=True):
    code: Literal["bad_resume"]
    detail: str


class Reconnect(_Message, tag="reconnect", frozen=True):
    after_ms: int
    reason: Literal["draining"] = "draining"


ServerMessage = (
    Hello
    | EventMessage
    | Subscribed
    | Refused
    | Unsubscribed
    | Resumed
    | Reset
    | PresenceMessage
    | Pong
    | ErrorMessage
    | Reconnect
)
SERVER_MESSAGES: Final = (
    Hello,
    EventMessage,
    Subscribed,
    Refused,
    Unsubscribed,
    Resumed,
    Reset,
    PresenceMessage,
    Pong,
    ErrorMessage,
    Reconnect,
)
