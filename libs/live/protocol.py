"""The live connection's messages, typed: what fan-out and its clients say to each other.

``docs/live-events.md`` is the prose; this module is the contract both ends import. Each
message is a map whose ``type`` names it. Server frames hold a list of messages (all those of
one batching window); client frames hold one.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import IntEnum
from typing import Annotated, Any, Final, Literal

import msgspec

__all__ = [
    "CLIENT_MESSAGES",
    "CLOSE_CODES",
    "JSON_PROTOCOL",
    "MAX_CLIENT_MESSAGE_BYTES",
    "MAX_TOPICS",
    "MSGPACK_PROTOCOL",
    "PROTOCOLS",
    "SERVER_MESSAGES",
    "SSE_MESSAGES",
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


# What each close code means and what the client should do, as docs/live-events.md tables them.
CLOSE_CODES: Final[Mapping[CloseCode, tuple[str, str]]] = {
    CloseCode.NORMAL: ("closed on request", ""),
    CloseCode.MESSAGE_TOO_BIG: ("a client message over 4 KiB", "fix the client"),
    CloseCode.SERVER_ERROR: ("server error", "reconnect with backoff, resume"),
    CloseCode.DRAINING: (
        "the process is draining (after `reconnect`), or the gateway relaying it is"
        " restarting (no `reconnect` first)",
        "reconnect after `after_ms` (or with backoff), resume",
    ),
    CloseCode.MALFORMED: (
        "a malformed client message (not MessagePack/JSON, not a map, a field of the wrong type)",
        "fix the client",
    ),
    CloseCode.UNKNOWN_TYPE: ("an unknown client message type", "fix the client"),
    CloseCode.RESUME_NOT_FIRST: ("`resume` after other messages", "fix the client"),
    CloseCode.TOO_SLOW: (
        "too slow: the connection's queue went over its bound",
        "reconnect, resume",
    ),
    CloseCode.UNAUTHENTICATED: ("the credential was revoked or expired", "sign in again"),
}


class _Message(msgspec.Struct, tag_field="type", frozen=True, kw_only=True):
    pass


# Client → server.


class Subscribe(_Message, tag="subscribe", frozen=True):
    """Follow a topic: answered by ``subscribed`` or ``refused``."""

    topic: Topic


class Unsubscribe(_Message, tag="unsubscribe", frozen=True):
    """Stop following a topic: answered by ``unsubscribed``."""

    topic: Topic


class Resume(_Message, tag="resume", frozen=True):
    """The first message of a reconnecting client: its topics, and the last seq it saw."""

    after: Seq
    topics: Annotated[list[Topic], msgspec.Meta(max_length=MAX_TOPICS)] = []


class Ping(_Message, tag="ping", frozen=True):
    """Ask for a ``pong`` with the same ``id``."""

    id: Annotated[str, msgspec.Meta(max_length=64)] | int = 0


ClientMessage = Subscribe | Unsubscribe | Resume | Ping
CLIENT_MESSAGES: Final = (Subscribe, Unsubscribe, Resume, Ping)


# Server → client.


class Viewer(msgspec.Struct, frozen=True, kw_only=True):
    """A user viewing a canvas."""

    user_id: str
    user_name: str


class Hello(_Message, tag="hello", frozen=True):
    """The first message of every connection: who it is for, and its limits."""

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
    """A subscribe (or a resumed topic) was accepted; a canvas's comes with its viewers."""

    topic: Topic
    presence: list[Viewer] = []


class Refused(_Message, tag="refused", frozen=True):
    """A subscribe was refused; a topic that does not exist is refused as not allowed."""

    topic: str
    reason: Literal["invalid", "not_allowed", "too_many_topics"]
    detail: str = ""


class Unsubscribed(_Message, tag="unsubscribed", frozen=True):
    """A topic is no longer followed: on request, or because access to it was lost."""

    topic: Topic
    reason: Literal["requested", "access_lost"]


class Resumed(_Message, tag="resumed", frozen=True):
    """The replay after a resume is over: every event after ``after`` was sent, live from here."""

    after: Seq
    replayed: int


class Reset(_Message, tag="reset", frozen=True):
    """History no longer reaches back to ``after``: refetch state, then carry on live."""

    after: Seq
    first_seq: Seq
    last_seq: Seq
    reason: Literal["history_gone"] = "history_gone"


class PresenceMessage(_Message, tag="presence", frozen=True):
    """A user's first connection on a canvas joined, or their last one left; never replayed."""

    topic: Topic
    action: Literal["join", "leave"]
    user_id: str
    user_name: str


class Pong(_Message, tag="pong", frozen=True):
    """The answer to a ``ping``, with its ``id``."""

    id: str | int = 0


class ErrorMessage(_Message, tag="error", frozen=True):
    """A request that could not be done (a resume from a seq the stream never had); the
    connection stays."""

    code: Literal["bad_resume"]
    detail: str


class Reconnect(_Message, tag="reconnect", frozen=True):
    """The process is stopping: reconnect after ``after_ms``, then resume."""

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
# What an SSE stream carries: no pong (SSE has no ping) and no error (a bad resume is a 400).
SSE_MESSAGES: Final = tuple(m for m in SERVER_MESSAGES if m not in (Pong, ErrorMessage))
