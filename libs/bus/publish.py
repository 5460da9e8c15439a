"""Publishing with a PRODUCER span and the W3C trace context carried in NATS headers."""

from __future__ import annotations

import uuid

from nats.aio.client import Client
from nats.js import JetStreamContext
from opentelemetry import propagate, trace
from opentelemetry.trace import SpanKind

from libs.bus.envelope import encode
from libs.bus.messages import Message

__all__ = ["publish"]

_tracer = trace.get_tracer(__name__)


async def publish(
    bus: JetStreamContext | Client, subject: str, message: Message, *, msg_id: str | None = None
) -> None:
    """Publish ``message`` in its envelope; through JetStream the server acks it, and
    ``msg_id`` (``Nats-Msg-Id``) deduplicates a republish."""
    envelope_id = uuid.uuid4().hex
    with _tracer.start_as_current_span(
        f"{subject.split('.')[0]} publish",
        kind=SpanKind.PRODUCER,
        attributes={
            "messaging.system": "nats",
            "messaging.destination.name": subject,
            "messaging.message.id": msg_id or envelope_id,
            "messaging.message.type": message.TYPE,
        },
    ):
        headers: dict[str, str] = {}
        propagate.inject(headers)
        if msg_id:
            headers["Nats-Msg-Id"] = msg_id
        await bus.publish(subject, encode(message, message_id=envelope_id), headers=headers)
