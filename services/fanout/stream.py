"""One user's live events as Server-Sent Events, resumable from ``Last-Event-ID``.

Events come from the EVENTS stream (``events.user.<user_id>``); an event's SSE id is its stream
sequence, so a reconnecting browser asks for everything after the last id it saw.

An event is checked against its declared type and then relayed as it was written, never
re-encoded: one from a newer release (a newer schema version, or a type this release does not
know yet) reaches the browser with every field, and the browser ignores what it does not know.
A message that is not a user event (garbage, a type that belongs on another subject or cannot
name an SSE event, a payload with no JSON form or with a field named like the envelope's) is
logged with its subject and skipped: raised, it would end the stream, and the browser's
reconnect from the same id would meet it again.
"""

from __future__ import annotations

import asyncio
import re

import msgspec
from aiohttp import web
from aiohttp_sse import sse_response
from nats.js import JetStreamContext
from nats.js.api import ConsumerConfig, DeliverPolicy
from opentelemetry import propagate, trace
from opentelemetry.trace import SpanKind

from libs.bus import Envelope, Message
from libs.bus.events import USER_EVENTS
from libs.bus.messages import ENVELOPE_FIELDS, MESSAGE_TYPES
from libs.bus.subjects import user_events_subject
from libs.errors import InvalidArgument, MalformedMessage, NewerVersion
from libs.logs import get_logger
from libs.metrics import SSE_CONNECTIONS

__all__ = ["relayed_event", "resume_point", "stream_events"]

log = get_logger(__name__)
_tracer = trace.get_tracer(__name__)

_POLL_S = 1.0
_PING_S = 15.0
_USER_EVENTS = {kind.TYPE: kind for kind in USER_EVENTS}
# ASCII digits only: str.isdigit() also passes "²" (which int() refuses) and other scripts' digits.
_EVENT_ID = re.compile(r"[0-9]{1,19}")
# A type is the event's SSE name, so it must not break the line; printable ASCII as declared.
_EVENT_NAME = re.compile(r"[!-~]{1,200}")


def resume_point(request: web.Request) -> int | None:
    """The stream sequence to resume after, from the header browsers send or a query fallback."""
    raw = request.headers.get("Last-Event-ID") or request.query.get("last_event_id", "")
    if not raw:
        return None
    if not _EVENT_ID.fullmatch(raw):
        raise InvalidArgument("Last-Event-ID must be a non-negative integer event id")
    return int(raw)


def _consumer_config(after: int | None) -> ConsumerConfig:
    if after is None:
        return ConsumerConfig(deliver_policy=DeliverPolicy.NEW)
    return ConsumerConfig(deliver_policy=DeliverPolicy.BY_START_SEQUENCE, opt_start_seq=after + 1)


def relayed_event(subject: str, data: bytes) -> tuple[str, str] | None:
    """(type, JSON) of the event the browser gets for ``data``, or None for a message that is
    no user event. The JSON holds the envelope's fields beside the payload's, as written."""
    try:
        envelope = Envelope.decode(data)
        if not _EVENT_NAME.fullmatch(envelope.type):
            raise MalformedMessage(f"{envelope.type!r} cannot name an event")
        kind = _USER_EVENTS.get(envelope.type)
        if kind is None and envelope.type in MESSAGE_TYPES:
            raise MalformedMessage(f"a {envelope.type!r} message is no user event")
        too_new = None if kind is None else _too_new(envelope, kind)
        relayed = _as_json(envelope)
    except MalformedMessage as exc:
        log.error("nats.malformed", subject=subject, error=str(exc))
        return None
    # Relayed all the same: the browser ignores what it does not know.
    if kind is None:
        log.info("fanout.unknown_event_relayed", subject=subject, type=envelope.type)
    elif too_new is not None:
        log.info("fanout.newer_event_relayed", subject=subject, detail=str(too_new))
    return envelope.type, relayed


def _too_new(envelope: Envelope, kind: type[Message]) -> NewerVersion | None:
    """None when ``envelope`` reads as ``kind``; why not, when it is of a newer version that
    does not fit; MalformedMessage when it is of this version and does not fit."""
    try:
        envelope.open(kind)
    except NewerVersion as exc:
        return exc
    return None


def _as_json(envelope: Envelope) -> str:
    """The event as the browser gets it; MalformedMessage when its payload has no JSON form
    or names a field like the envelope's, which would stand in for the event's own."""
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
        return msgspec.json.encode(body).decode()
    except TypeError as exc:  # a MessagePack extension, or a map keyed by nil or a boolean
        raise MalformedMessage(f"{envelope.type} has no JSON form: {exc}") from exc


async def stream_events(
    request: web.Request,
    js: JetStreamContext,
    user_id: str,
    closing: asyncio.Event,
    revoked: asyncio.Event,
) -> web.StreamResponse:
    """Until the browser leaves, the service drains (``closing``) or the credential is
    ``revoked``: either ends the stream within one poll."""
    after = resume_point(request)
    subscription = await js.subscribe(
        user_events_subject(user_id),
        stream="EVENTS",
        ordered_consumer=True,
        config=_consumer_config(after),
    )
    SSE_CONNECTIONS.labels("fanout").inc()
    try:
        async with sse_response(
            request, headers={"X-Accel-Buffering": "no"}, ping_interval=_PING_S
        ) as sse:
            while sse.is_connected() and not closing.is_set() and not revoked.is_set():
                try:
                    msg = await subscription.next_msg(timeout=_POLL_S)
                except TimeoutError:  # nats.errors.TimeoutError or, from a busy server, the builtin
                    continue
                with _tracer.start_as_current_span(
                    "events deliver",
                    context=propagate.extract(msg.headers or {}),
                    kind=SpanKind.CONSUMER,
                    attributes={
                        "messaging.system": "nats",
                        "messaging.destination.name": msg.subject,
                    },
                ):
                    event = relayed_event(msg.subject, msg.data)
                    if event is not None:
                        kind, data = event
                        await sse.send(data, id=str(msg.metadata.sequence.stream), event=kind)
            return sse
    finally:
        SSE_CONNECTIONS.labels("fanout").dec()
        await subscription.unsubscribe()
