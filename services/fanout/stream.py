"""One user's live events as Server-Sent Events, resumable from ``Last-Event-ID``.

Events come from the EVENTS stream (``events.user.<user_id>``); an event's SSE id is its stream
sequence, so a reconnecting browser asks for everything after the last id it saw.
"""

from __future__ import annotations

import asyncio
import json

from aiohttp import web
from aiohttp_sse import sse_response
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import ConsumerConfig, DeliverPolicy
from opentelemetry import propagate, trace
from opentelemetry.trace import SpanKind

from libs.bus import Envelope, MalformedMessage
from libs.errors import InvalidArgument
from libs.logs import get_logger
from libs.metrics import SSE_CONNECTIONS

__all__ = ["resume_point", "stream_events"]

log = get_logger(__name__)
_tracer = trace.get_tracer(__name__)

_POLL_S = 1.0
_PING_S = 15.0


def resume_point(request: web.Request) -> int | None:
    """The stream sequence to resume after, from the header browsers send or a query fallback."""
    raw = request.headers.get("Last-Event-ID") or request.query.get("last_event_id", "")
    if not raw:
        return None
    if not raw.isdigit() or len(raw) > 19:
        raise InvalidArgument("Last-Event-ID must be a non-negative integer event id")
    return int(raw)


def _consumer_config(after: int | None) -> ConsumerConfig:
    if after is None:
        return ConsumerConfig(deliver_policy=DeliverPolicy.NEW)
    return ConsumerConfig(deliver_policy=DeliverPolicy.BY_START_SEQUENCE, opt_start_seq=after + 1)


def _sse_data(msg: Msg) -> tuple[str, str, str] | None:
    try:
        envelope = Envelope.decode(msg.data)
    except MalformedMessage as exc:
        log.error("fanout.malformed_event", subject=msg.subject, error=str(exc))
        return None
    body = {"type": envelope.type, "id": envelope.id, "time": envelope.time, **envelope.payload}
    return str(msg.metadata.sequence.stream), envelope.type, json.dumps(body)


async def stream_events(
    request: web.Request, js: JetStreamContext, user_id: str, closing: asyncio.Event
) -> web.StreamResponse:
    after = resume_point(request)
    subscription = await js.subscribe(
        f"events.user.{user_id}",
        stream="EVENTS",
        ordered_consumer=True,
        config=_consumer_config(after),
    )
    SSE_CONNECTIONS.labels("fanout").inc()
    try:
        async with sse_response(
            request, headers={"X-Accel-Buffering": "no"}, ping_interval=_PING_S
        ) as sse:
            while sse.is_connected() and not closing.is_set():
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
                    event = _sse_data(msg)
                    if event is not None:
                        event_id, kind, data = event
                        await sse.send(data, id=event_id, event=kind)
            return sse
    finally:
        SSE_CONNECTIONS.labels("fanout").dec()
        await subscription.unsubscribe()
