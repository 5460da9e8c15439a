"""The small envelope every bus message travels in, encoded as MessagePack.

``{"type", "schema_version", "id", "time", "payload"}``: the payload's type name and schema version
(see ``libs/bus/messages.py``), a unique id, the time it was sent, and the payload itself. The
payload is decoded only when a reader opens it as the type it expects, so a relay can pass on
a payload it has no type for without changing a byte of it.
"""

from __future__ import annotations

import builtins
import time
import uuid
from typing import Annotated, Any

import msgspec

from libs.bus.messages import Message, MessageT
from libs.errors import MalformedMessage, NewerVersion

__all__ = ["MAX_MESSAGE_BYTES", "Envelope", "encode"]

# NATS's default max_payload is 1 MiB; blobs travel through the object store, never in messages.
MAX_MESSAGE_BYTES = 1 << 20

_encoder = msgspec.msgpack.Encoder()


class _Outgoing(msgspec.Struct, frozen=True):
    type: str
    schema_version: int
    id: str
    time: float
    payload: Message


class Envelope(msgspec.Struct, frozen=True, kw_only=True):
    """A received message: who it is, and its payload still encoded."""

    type: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
    schema_version: Annotated[int, msgspec.Meta(ge=1)] = 1
    id: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
    time: float
    payload: msgspec.Raw

    @classmethod
    def decode(cls, data: bytes) -> Envelope:
        """The envelope of ``data``; MalformedMessage for anything that is not one."""
        try:
            envelope = _envelope_decoder.decode(data)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            raise MalformedMessage(f"not a message envelope: {exc}") from exc
        if not _is_map(envelope.payload):
            raise MalformedMessage("the envelope's payload is not a map")
        return envelope

    def open(self, kind: builtins.type[MessageT]) -> MessageT:
        """The payload as ``kind``, checked field by field.

        MalformedMessage when it is another type or does not fit; NewerVersion when a payload
        of a newer version than ``kind``'s does not fit, so it is left for a reader that knows
        that version instead of being dropped.
        """
        if self.type != kind.TYPE:
            raise MalformedMessage(f"a {self.type!r} message where {kind.TYPE!r} belongs")
        try:
            return msgspec.msgpack.decode(self.payload, type=kind)
        except msgspec.ValidationError as exc:
            if self.schema_version > kind.VERSION:
                raise NewerVersion(
                    f"{self.type} version {self.schema_version} does not fit"
                    f" version {kind.VERSION}: {exc}"
                ) from exc
            raise MalformedMessage(f"{self.type}: {exc}") from exc

    def fields(self) -> dict[str, Any]:
        """The payload as plain data, whatever its type: what a relay passes on.

        MalformedMessage when it is no map of named fields, so no message of any type.
        """
        try:
            return msgspec.msgpack.decode(self.payload, type=dict[str, Any])
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            raise MalformedMessage(f"{self.type}: the payload is no map of fields: {exc}") from exc


_envelope_decoder = msgspec.msgpack.Decoder(Envelope)


def _is_map(raw: msgspec.Raw) -> bool:
    """MessagePack maps start with 0x80-0x8f (fixmap), 0xde (map 16) or 0xdf (map 32)."""
    view = memoryview(raw)
    return len(view) > 0 and (0x80 <= view[0] <= 0x8F or view[0] in (0xDE, 0xDF))


def encode(
    message: Message, *, message_id: str | None = None, sent_at: float | None = None
) -> bytes:
    """``message`` in its envelope, ready to publish; ValueError if it exceeds the limit."""
    data = _encoder.encode(
        _Outgoing(
            type=message.TYPE,
            schema_version=message.VERSION,
            id=message_id or uuid.uuid4().hex,
            time=time.time() if sent_at is None else sent_at,
            payload=message,
        )
    )
    if len(data) > MAX_MESSAGE_BYTES:
        raise ValueError(f"message of {len(data)} bytes exceeds {MAX_MESSAGE_BYTES}")
    return data
