"""What fan-out relays: a message of the EVENTS stream checked against its declared type and
passed on as it was written, and the topic its subject gives it.

An event is relayed as written, never re-encoded from its type: one from a newer release (a
newer schema version, or a type this release does not know yet) reaches the client with every
field, and the client ignores what it does not know. A message that is no event of its subject
(garbage, a type that belongs on another subject or cannot name an SSE event, a payload with no
JSON form or with a field named like the envelope's) is logged with its subject and skipped:
raised, it would stop the hub, and a client resuming from before it would meet it again.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import msgspec

from libs.bus import Envelope, Message
from libs.bus.events import CANVAS_EVENTS, USER_EVENTS
from libs.bus.messages import ENVELOPE_FIELDS, MESSAGE_TYPES
from libs.errors import MalformedMessage, NewerVersion
from libs.logs import get_logger

__all__ = ["Relayed", "Route", "relayed_event", "route_of"]

log = get_logger(__name__)

_USER_EVENTS = {kind.TYPE: kind for kind in USER_EVENTS}
_CANVAS_EVENTS = {kind.TYPE: kind for kind in CANVAS_EVENTS}
# A type is the event's SSE name, so it must not break the line; printable ASCII as declared.
_EVENT_NAME = re.compile(r"[!-~]{1,200}")
_json = msgspec.json.Encoder()


@dataclass(frozen=True, slots=True)
class Route:
    """Who takes the events of one subject: the hub's keys, and the topic the client sees.

    ``events.user.<uid>`` goes to the user's own feed (topic ``user``);
    ``events.user.<uid>.batch.<bid>`` to the feed and to ``batch:<bid>`` (topic ``batch:<bid>``);
    ``events.canvas.<cid>`` to ``canvas:<cid>``.
    """

    keys: tuple[str, ...]
    topic: str


def route_of(subject: str) -> Route | None:
    """The route of an EVENTS subject; None for a subject no client takes."""
    tokens = subject.split(".")
    if len(tokens) >= 3 and tokens[0] == "events":
        if tokens[1] == "user":
            feed = f"user:{tokens[2]}"
            if len(tokens) == 5 and tokens[3] == "batch":
                batch = f"batch:{tokens[4]}"
                return Route((feed, batch), batch)
            return Route((feed,), "user")
        if tokens[1] == "canvas" and len(tokens) == 3:
            canvas = f"canvas:{tokens[2]}"
            return Route((canvas,), canvas)
    return None


@dataclass(frozen=True, slots=True)
class Relayed:
    """An event as clients get it: the envelope's fields beside the payload's, as written."""

    type: str
    json: bytes  # encoded once here: a field with no JSON form makes the event malformed
    fields: dict[str, Any]


def relayed_event(subject: str, data: bytes) -> Relayed | None:
    """The event clients get for ``data`` on ``subject``, or None for a message that is no
    event of that subject (logged)."""
    known = _CANVAS_EVENTS if subject.startswith("events.canvas.") else _USER_EVENTS
    what = "canvas event" if known is _CANVAS_EVENTS else "user event"
    try:
        envelope = Envelope.decode(data)
        if not _EVENT_NAME.fullmatch(envelope.type):
            raise MalformedMessage(f"{envelope.type!r} cannot name an event")
        kind = known.get(envelope.type)
        if kind is None and envelope.type in MESSAGE_TYPES:
            raise MalformedMessage(f"a {envelope.type!r} message is no {what}")
        too_new = None if kind is None else _too_new(envelope, kind)
        relayed = _relayed(envelope)
    except MalformedMessage as exc:
        log.error("nats.malformed", subject=subject, error=str(exc))
        return None
    # Relayed all the same: the client ignores what it does not know.
    if kind is None:
        log.info("fanout.unknown_event_relayed", subject=subject, type=envelope.type)
    elif too_new is not None:
        log.info("fanout.newer_event_relayed", subject=subject, detail=str(too_new))
    return relayed


def _too_new(envelope: Envelope, kind: type[Message]) -> NewerVersion | None:
    """None when ``envelope`` reads as ``kind``; why not, when it is of a newer version that
    does not fit; MalformedMessage when it is of this version and does not fit."""
    try:
        envelope.open(kind)
    except NewerVersion as exc:
        return exc
    return None


def _relayed(envelope: Envelope) -> Relayed:
    """MalformedMessage when the payload has no JSON form or names a field like the
    envelope's, which would stand in for the event's own."""
    fields = envelope.fields()
    clashing = ENVELOPE_FIELDS & fields.keys()
    if clashing:
        raise MalformedMessage(
            f"{envelope.type} has fields named like the envelope's: {sorted(clashing)}"
        )
    body = {
        "type": envelope.type,
        "id": envelope.id,
        "time": envelope.time,
        "schema_version": envelope.schema_version,
        **fields,
    }
    try:
        encoded = _json.encode(body)
    except TypeError as exc:  # a MessagePack extension, or a map keyed by nil or a boolean
        raise MalformedMessage(f"{envelope.type} has no JSON form: {exc}") from exc
    return Relayed(envelope.type, encoded, body)
