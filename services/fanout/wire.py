"""The live protocol as bytes: messages encoded once per format, frames, client messages read.

A message bound for many connections (an event, a presence change) is one ``Item`` whose
encodings are made the first time a connection of that format needs them and then shared. A
WebSocket frame is an array of items, written with its frame header so that identical frames
(a thousand viewers of one canvas) are built once per flush (``Frames``).
"""

from __future__ import annotations

import enum
import struct
from collections.abc import Sequence
from typing import Any, Final

import msgspec

from libs.live.protocol import (
    JSON_PROTOCOL,
    MSGPACK_PROTOCOL,
    ClientMessage,
    CloseCode,
    EventMessage,
    Resume,
    ServerMessage,
)
from libs.metrics import LIVE_ENCODES

__all__ = [
    "BadResume",
    "ClientError",
    "ControlItem",
    "EventItem",
    "Frames",
    "Item",
    "Wire",
    "frame_bytes",
    "read_client_message",
]


class Wire(enum.Enum):
    """How a connection's messages are written."""

    MSGPACK = "msgpack"  # WebSocket, binary frames
    JSON = "json"  # WebSocket, text frames
    SSE = "sse"  # Server-Sent Events: one SSE event per message

    @classmethod
    def of_subprotocol(cls, protocol: str) -> Wire:
        return {MSGPACK_PROTOCOL: cls.MSGPACK, JSON_PROTOCOL: cls.JSON}[protocol]


_json = msgspec.json.Encoder()
_msgpack = msgspec.msgpack.Encoder()


class Item:
    """One message as it is written in each format, each encoding made once."""

    __slots__ = ("_json", "_msgpack", "_sse")

    seq: int | None = None  # an event's stream sequence; None for other messages

    def __init__(self) -> None:
        self._json: bytes | None = None
        self._msgpack: bytes | None = None
        self._sse: bytes | None = None

    def encoded(self, wire: Wire) -> bytes:
        """The message as one element of a frame of ``wire``."""
        if wire is Wire.JSON:
            if self._json is None:
                self._json = self._encode_json()
            return self._json
        if wire is Wire.MSGPACK:
            if self._msgpack is None:
                self._msgpack = self._encode_msgpack()
            return self._msgpack
        if self._sse is None:
            self._sse = self._sse_lines() + b"data: " + self.encoded(Wire.JSON) + b"\n\n"
        return self._sse

    def _encode_json(self) -> bytes:
        raise NotImplementedError

    def _encode_msgpack(self) -> bytes:
        raise NotImplementedError

    def _sse_lines(self) -> bytes:
        raise NotImplementedError


class EventItem(Item):
    """An event of the stream on its way to every connection that takes it."""

    __slots__ = ("_body_json", "_fields", "seq", "topic", "type")

    def __init__(
        self, seq: int, topic: str, type_: str, body_json: bytes, fields: dict[str, Any]
    ) -> None:
        super().__init__()
        self.seq = seq
        self.topic = topic
        self.type = type_  # the SSE event name: printable ASCII, checked by relayed_event
        self._body_json = body_json
        self._fields = fields  # the event as plain data, for MessagePack

    def _encode_json(self) -> bytes:
        LIVE_ENCODES.labels("json").inc()
        assert self.seq is not None
        raw = msgspec.Raw(self._body_json)
        return _json.encode(EventMessage(seq=self.seq, topic=self.topic, event=raw))

    def _encode_msgpack(self) -> bytes:
        LIVE_ENCODES.labels("msgpack").inc()
        assert self.seq is not None
        raw = msgspec.Raw(_msgpack.encode(self._fields))
        return _msgpack.encode(EventMessage(seq=self.seq, topic=self.topic, event=raw))

    def _sse_lines(self) -> bytes:
        return f"id: {self.seq}\nevent: {self.type}\n".encode()


class ControlItem(Item):
    """Any other server message: to one connection (``hello``), or to many (``presence``)."""

    __slots__ = ("message",)

    def __init__(self, message: ServerMessage) -> None:
        super().__init__()
        self.message = message

    def _encode_json(self) -> bytes:
        return _json.encode(self.message)

    def _encode_msgpack(self) -> bytes:
        return _msgpack.encode(self.message)

    def _sse_lines(self) -> bytes:
        # No id: Last-Event-ID only ever names an event.
        tag = type(self.message).__struct_config__.tag
        return f"event: shotgraph.{tag}\n".encode()


# --- frames ------------------------------------------------------------------------------------

_OPCODE = {Wire.JSON: 0x1, Wire.MSGPACK: 0x2}  # text, binary


def _ws_header(length: int, opcode: int) -> bytes:
    """A final, unmasked WebSocket frame header (RFC 6455 section 5.2): servers never mask."""
    first = 0x80 | opcode
    if length < 126:
        return struct.pack("!BB", first, length)
    if length < 1 << 16:
        return struct.pack("!BBH", first, 126, length)
    return struct.pack("!BBQ", first, 127, length)


def _msgpack_array_header(count: int) -> bytes:
    if count < 16:
        return bytes((0x90 | count,))
    if count < 1 << 16:
        return struct.pack("!BH", 0xDC, count)
    return struct.pack("!BI", 0xDD, count)


def frame_bytes(wire: Wire, items: Sequence[Item]) -> bytes:
    """What is written for ``items``: one WebSocket frame holding their array, or their SSE
    events."""
    if wire is Wire.SSE:
        return b"".join(item.encoded(wire) for item in items)
    if wire is Wire.JSON:
        payload = b"[" + b",".join(item.encoded(wire) for item in items) + b"]"
    else:
        payload = _msgpack_array_header(len(items)) + b"".join(item.encoded(wire) for item in items)
    return _ws_header(len(payload), _OPCODE[wire]) + payload


class Frames:
    """Frames of one flush, each built once for every connection whose items are the same
    (the same objects, in the same order)."""

    __slots__ = ("_built", "built", "reused")

    def __init__(self) -> None:
        self._built: dict[tuple[Wire, tuple[Item, ...]], bytes] = {}
        self.built = 0
        self.reused = 0

    def frame(self, wire: Wire, items: Sequence[Item]) -> bytes:
        key = (wire, tuple(items))  # Items hash by identity: shared events match, nothing else
        frame = self._built.get(key)
        if frame is None:
            frame = self._built[key] = frame_bytes(wire, items)
            self.built += 1
        else:
            self.reused += 1
        return frame


# --- client messages ---------------------------------------------------------------------------


class ClientError(Exception):
    """A client message that ends its connection with ``code``."""

    def __init__(self, code: CloseCode, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail


class BadResume(Exception):
    """A resume point that is no sequence of the stream: answered, and the connection stays."""

    def __init__(
        self, detail: str, topics: tuple[str, ...] = (), *, first_seq: int = 0, last_seq: int = 0
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.topics = topics  # what the resume asked for, subscribed all the same
        self.first_seq = first_seq  # what the stream holds, when that was looked at
        self.last_seq = last_seq


class _Typed(msgspec.Struct):
    type: str


class _LooseResume(msgspec.Struct):
    after: Any = None
    topics: list[str] = []


_CLIENT_TYPES: Final = frozenset(
    cls.__struct_config__.tag
    for cls in ClientMessage.__args__  # type: ignore[attr-defined]
)
_DECODERS: Final[dict[Wire, Any]] = {
    Wire.JSON: msgspec.json.Decoder(ClientMessage),
    Wire.MSGPACK: msgspec.msgpack.Decoder(ClientMessage),
}
_LOOSE: Final[dict[Wire, tuple[Any, Any]]] = {
    Wire.JSON: (msgspec.json.Decoder(_Typed), msgspec.json.Decoder(_LooseResume)),
    Wire.MSGPACK: (msgspec.msgpack.Decoder(_Typed), msgspec.msgpack.Decoder(_LooseResume)),
}


def read_client_message(wire: Wire, data: bytes | str) -> ClientMessage:
    """The client message in ``data``; ClientError (4000 malformed, 4001 unknown type) or,
    for a resume whose ``after`` is no integer, BadResume."""
    try:
        message: ClientMessage = _DECODERS[wire].decode(data)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise _why_not(wire, data, exc) from None
    return message


def _why_not(wire: Wire, data: bytes | str, exc: Exception) -> Exception:
    typed, loose = _LOOSE[wire]
    try:
        kind = typed.decode(data).type
    except (msgspec.DecodeError, msgspec.ValidationError):
        return ClientError(CloseCode.MALFORMED, f"not a client message: {exc}")
    if kind not in _CLIENT_TYPES:
        return ClientError(CloseCode.UNKNOWN_TYPE, f"unknown message type {kind[:64]!r}")
    if kind == Resume.__struct_config__.tag:
        try:
            resume = loose.decode(data)
            msgspec.convert({"type": kind, "topics": resume.topics, "after": 0}, Resume)
        except (msgspec.DecodeError, msgspec.ValidationError):
            pass  # the topics are wrong too: a malformed message
        else:
            return BadResume(f"after must be a sequence number: {exc}", tuple(resume.topics))
    return ClientError(CloseCode.MALFORMED, f"malformed {kind} message: {exc}")
