"""The protocol's bytes on their own: frames as RFC 6455 and the protocol say, items encoded
once per format, identical frames built once, and each client message read or refused."""

from __future__ import annotations

import json
import struct

import msgpack
import msgspec
import pytest
from prometheus_client import REGISTRY

from libs.live.protocol import CloseCode, Hello, Ping, Pong, Resume, Subscribe, Unsubscribe
from services.fanout.wire import (
    BadResume,
    ClientError,
    ControlItem,
    EventItem,
    Frames,
    Wire,
    frame_bytes,
    read_client_message,
)


def event(seq: int, text: str = "hi") -> EventItem:
    fields = {
        "type": "studio.note",
        "id": f"e-{seq}",
        "time": 1.5,
        "schema_version": 1,
        "text": text,
    }
    return EventItem(seq, "user", "studio.note", msgspec.json.encode(fields), fields)


def ws_payload(frame: bytes) -> tuple[int, bytes]:
    """(opcode, payload) of one unmasked, final server frame."""
    first, second = frame[0], frame[1]
    assert first & 0x80 and not second & 0x80, "final and unmasked"
    length, start = second & 0x7F, 2
    if length == 126:
        (length,), start = struct.unpack("!H", frame[2:4]), 4
    elif length == 127:
        (length,), start = struct.unpack("!Q", frame[2:10]), 10
    payload = frame[start:]
    assert len(payload) == length
    return first & 0x0F, payload


@pytest.mark.parametrize("size", [10, 125, 126, 65_535, 65_536, 300_000])
def test_a_frame_holds_its_items_as_an_array_whatever_its_length(size: int) -> None:
    items = [event(1, "x" * size), ControlItem(Pong(id=3))]

    text_op, text = ws_payload(frame_bytes(Wire.JSON, items))
    binary_op, binary = ws_payload(frame_bytes(Wire.MSGPACK, items))

    assert (text_op, binary_op) == (0x1, 0x2)
    assert json.loads(text) == msgpack.unpackb(binary)
    decoded = json.loads(text)
    assert [m["type"] for m in decoded] == ["event", "pong"]
    assert decoded[0]["event"]["text"] == "x" * size and decoded[0]["seq"] == 1


@pytest.mark.parametrize("count", [1, 15, 16, 70_000])
def test_a_msgpack_frame_counts_its_items_right(count: int) -> None:
    item = ControlItem(Pong(id=1))
    _, payload = ws_payload(frame_bytes(Wire.MSGPACK, [item] * count))

    assert len(msgpack.unpackb(payload)) == count


def test_an_event_is_an_sse_event_with_its_sequence_and_a_control_message_is_not() -> None:
    item = event(7)
    hello = ControlItem(
        Hello(connection_id="c", user_id="u", last_seq=7, window_ms=50, heartbeat_s=20)
    )

    assert (
        item.encoded(Wire.SSE)
        == b"id: 7\nevent: studio.note\ndata: " + item.encoded(Wire.JSON) + b"\n\n"
    )
    assert hello.encoded(Wire.SSE).startswith(b"event: shotgraph.hello\ndata: {")
    assert b"\nid:" not in hello.encoded(Wire.SSE)


def encodes(wire: str) -> float:
    return REGISTRY.get_sample_value("shotgraph_live_event_encodes_total", {"format": wire}) or 0


def test_an_item_is_encoded_once_per_format() -> None:
    item = event(3)
    before = encodes("json"), encodes("msgpack")

    for _ in range(3):
        assert item.encoded(Wire.JSON) is item.encoded(Wire.JSON)
        item.encoded(Wire.MSGPACK)
        item.encoded(Wire.SSE)

    assert (encodes("json") - before[0], encodes("msgpack") - before[1]) == (1, 1)


def test_identical_item_lists_share_one_frame_and_others_do_not() -> None:
    shared, other = [event(1), event(2)], [event(1)]
    frames = Frames()

    first = frames.frame(Wire.MSGPACK, shared)
    again = frames.frame(Wire.MSGPACK, list(shared))
    as_json = frames.frame(Wire.JSON, shared)
    different = frames.frame(Wire.MSGPACK, other)

    assert again is first and as_json != first and different != first
    assert (frames.built, frames.reused) == (3, 1)


@pytest.mark.parametrize("wire", [Wire.JSON, Wire.MSGPACK])
@pytest.mark.parametrize(
    ("sent", "read"),
    [
        ({"type": "subscribe", "topic": "canvas:x"}, Subscribe(topic="canvas:x")),
        ({"type": "unsubscribe", "topic": "batch:y"}, Unsubscribe(topic="batch:y")),
        ({"type": "resume", "after": 12, "topics": ["a"]}, Resume(after=12, topics=["a"])),
        ({"type": "ping", "id": "p-1"}, Ping(id="p-1")),
        ({"type": "ping", "id": 5, "extra": True}, Ping(id=5)),  # unknown fields are ignored
    ],
)
def test_each_client_message_is_read(wire: Wire, sent: dict[str, object], read: object) -> None:
    data = json.dumps(sent).encode() if wire is Wire.JSON else msgpack.packb(sent)

    assert read_client_message(wire, data) == read


@pytest.mark.parametrize(
    ("label", "data", "code"),
    [
        ("not JSON", b"{nope", CloseCode.MALFORMED),
        ("a number", b"5", CloseCode.MALFORMED),
        ("no type", b'{"topic": "x"}', CloseCode.MALFORMED),
        ("a type that is a number", b'{"type": 5}', CloseCode.MALFORMED),
        (
            "a topic too long",
            json.dumps({"type": "subscribe", "topic": "x" * 201}).encode(),
            CloseCode.MALFORMED,
        ),
        (
            "resume topics that are numbers",
            b'{"type": "resume", "after": 1, "topics": [1]}',
            CloseCode.MALFORMED,
        ),
        ("an unknown type", b'{"type": "shout"}', CloseCode.UNKNOWN_TYPE),
    ],
)
def test_a_bad_client_message_names_its_close_code(
    label: str, data: bytes, code: CloseCode
) -> None:
    with pytest.raises(ClientError) as refused:
        read_client_message(Wire.JSON, data)

    assert refused.value.code == code, label


@pytest.mark.parametrize("after", ['"ten"', "-1", "1.5", "null", str(2**63)])
def test_a_resume_from_no_sequence_is_a_bad_resume_keeping_its_topics(after: str) -> None:
    data = f'{{"type": "resume", "after": {after}, "topics": ["canvas:a"]}}'.encode()

    with pytest.raises(BadResume) as bad:
        read_client_message(Wire.JSON, data)

    assert bad.value.topics == ("canvas:a",)
