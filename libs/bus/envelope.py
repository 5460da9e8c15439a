"""The small envelope every bus message travels in, encoded as MessagePack."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import msgpack

__all__ = ["MAX_MESSAGE_BYTES", "Envelope", "MalformedMessage"]

# NATS's default max_payload is 1 MiB; blobs travel through the object store, never in messages.
MAX_MESSAGE_BYTES = 1 << 20


class MalformedMessage(ValueError):
    """The bytes are not a Shotgraph envelope; redelivering them would never help."""


@dataclass(frozen=True)
class Envelope:
    type: str
    payload: dict[str, Any]
    id: str = field(default_factory=lambda: uuid.uuid4().hex)
    time: float = field(default_factory=time.time)

    def encode(self) -> bytes:
        data = msgpack.packb(
            {"type": self.type, "id": self.id, "time": self.time, "payload": self.payload},
            use_bin_type=True,
        )
        if len(data) > MAX_MESSAGE_BYTES:
            raise ValueError(f"message of {len(data)} bytes exceeds {MAX_MESSAGE_BYTES}")
        return data

    @classmethod
    def decode(cls, data: bytes) -> Envelope:
        try:
            raw = msgpack.unpackb(data, raw=False, strict_map_key=True)
        except Exception as exc:  # msgpack raises several unrelated types for garbage
            raise MalformedMessage(f"not MessagePack: {exc}") from exc
        if not isinstance(raw, dict):
            raise MalformedMessage("envelope is not a map")
        kind, ident, when, payload = (raw.get(k) for k in ("type", "id", "time", "payload"))
        if not isinstance(kind, str) or not kind:
            raise MalformedMessage("envelope has no type")
        if not isinstance(ident, str) or not isinstance(when, int | float):
            raise MalformedMessage("envelope has no id or time")
        if not isinstance(payload, dict):
            raise MalformedMessage("envelope payload is not a map")
        return cls(type=kind, payload=payload, id=ident, time=float(when))
