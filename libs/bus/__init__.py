"""The NATS bus: typed messages in MessagePack envelopes, subjects, streams, traced publish and
consume.

Where each thing is: ``messages`` (the ``Message`` base and the rules for changing one),
``states`` (job, batch and node states), ``work`` (jobs, reports, functions), ``events`` (what
users and replicas are told), ``subjects`` (every subject name), ``channels`` (which subject
carries which message, who sends and who reads it: the AsyncAPI document's source).
"""

from libs.bus.connection import connect
from libs.bus.consumer import Consumer, Delivery
from libs.bus.envelope import Envelope, encode
from libs.bus.messages import Message
from libs.bus.publish import publish
from libs.bus.streams import ensure_streams

__all__ = [
    "Consumer",
    "Delivery",
    "Envelope",
    "Message",
    "connect",
    "encode",
    "ensure_streams",
    "publish",
]
