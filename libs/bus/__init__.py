"""The NATS bus: MessagePack envelopes, JetStream streams, traced publish and consume."""

from libs.bus.connection import connect
from libs.bus.consumer import Consumer, PermanentError
from libs.bus.envelope import Envelope, MalformedMessage
from libs.bus.publish import publish
from libs.bus.streams import ensure_streams

__all__ = [
    "Consumer",
    "Envelope",
    "MalformedMessage",
    "PermanentError",
    "connect",
    "ensure_streams",
    "publish",
]
