"""The MessagePack envelope: a typed payload goes in and comes out; anything else is refused
with MalformedMessage, and a newer version that does not fit with NewerVersion."""

from __future__ import annotations

import msgpack
import pytest

from libs.bus import Envelope, Message, encode
from libs.bus.envelope import MAX_MESSAGE_BYTES
from libs.errors import MalformedMessage, NewerVersion, is_retryable


class Note(Message, kw_only=True, frozen=True):
    TYPE = "test.envelope.note"

    text: str
    count: int = 0
    data: bytes = b""


class Other(Message, kw_only=True, frozen=True):
    TYPE = "test.envelope.other"

    text: str


def test_round_trip_keeps_every_field() -> None:
    sent = Note(text="j1", count=3, data=b"\x00\xff")
    envelope = Envelope.decode(encode(sent, message_id="m1", sent_at=12.5))
    assert (envelope.type, envelope.schema_version, envelope.id, envelope.time) == (
        "test.envelope.note",
        1,
        "m1",
        12.5,
    )
    assert envelope.open(Note) == sent


def test_new_envelopes_get_distinct_ids() -> None:
    first, second = (Envelope.decode(encode(Note(text="x"))) for _ in range(2))
    assert first.id != second.id


def _packed(value: object) -> bytes:
    return msgpack.packb(value, use_bin_type=True)


GOOD = {"type": "test.envelope.note", "id": "abc", "time": 1.5, "payload": {"text": "hi"}}


@pytest.mark.parametrize(
    ("label", "data"),
    [
        ("garbage bytes", b"\x00garbage"),
        ("truncated map", _packed(GOOD)[:-3]),
        ("empty bytes", b""),
        ("msgpack list", _packed(["t", "abc", 1.5, {}])),
        ("msgpack string", _packed("hello")),
        ("map without type", _packed({k: v for k, v in GOOD.items() if k != "type"})),
        ("map with empty type", _packed({**GOOD, "type": ""})),
        ("map with a type of 300 characters", _packed({**GOOD, "type": "t" * 300})),
        ("map without payload", _packed({k: v for k, v in GOOD.items() if k != "payload"})),
        ("map without id", _packed({k: v for k, v in GOOD.items() if k != "id"})),
        ("map with text time", _packed({**GOOD, "time": "noon"})),
        ("map with schema version 0", _packed({**GOOD, "schema_version": 0})),
        ("payload is a list", _packed({**GOOD, "payload": [1, 2]})),
        ("payload is a string", _packed({**GOOD, "payload": "x"})),
        ("payload is nil", _packed({**GOOD, "payload": None})),
        ("map with integer keys", _packed({1: "t"})),
    ],
)
def test_decode_rejects(label: str, data: bytes) -> None:
    with pytest.raises(MalformedMessage):
        Envelope.decode(data)


def test_decode_accepts_integer_time_and_an_envelope_without_schema_version() -> None:
    envelope = Envelope.decode(_packed({**GOOD, "time": 7}))
    assert envelope.time == 7.0 and envelope.schema_version == 1
    assert envelope.open(Note) == Note(text="hi")


@pytest.mark.parametrize(
    ("label", "payload"),
    [
        ("a required field missing", {"count": 1}),
        ("a field of the wrong type", {"text": "hi", "count": "three"}),
        ("a nil where a string belongs", {"text": None}),
    ],
)
def test_a_payload_that_does_not_fit_its_type_is_malformed(
    label: str, payload: dict[str, object]
) -> None:
    envelope = Envelope.decode(_packed({**GOOD, "payload": payload}))
    with pytest.raises(MalformedMessage, match=r"test\.envelope\.note"):
        envelope.open(Note)


def test_a_message_of_another_type_is_malformed_where_one_type_belongs() -> None:
    envelope = Envelope.decode(encode(Other(text="x")))
    with pytest.raises(MalformedMessage, match=r"'test\.envelope\.other' message where"):
        envelope.open(Note)


def test_unknown_fields_are_ignored_by_readers() -> None:
    envelope = Envelope.decode(_packed({**GOOD, "payload": {"text": "hi", "colour": "red"}}))
    assert envelope.open(Note) == Note(text="hi")
    assert envelope.fields() == {"text": "hi", "colour": "red"}  # a relay keeps them


def test_a_newer_version_reads_when_it_fits() -> None:
    newer = {**GOOD, "schema_version": 2, "payload": {"text": "hi", "since": "v2"}}
    assert Envelope.decode(_packed(newer)).open(Note) == Note(text="hi")


def test_a_newer_version_that_does_not_fit_is_left_for_a_newer_reader() -> None:
    newer = {**GOOD, "schema_version": 2, "payload": {"text": {"rich": True}}}
    with pytest.raises(NewerVersion) as raised:
        Envelope.decode(_packed(newer)).open(Note)
    assert is_retryable(raised.value)  # retried, never dropped
    assert not is_retryable(MalformedMessage("x"))


def test_encode_refuses_a_message_over_the_limit() -> None:
    with pytest.raises(ValueError, match="exceeds") as caught:
        encode(Note(text="t", data=b"x" * MAX_MESSAGE_BYTES))
    assert not isinstance(caught.value, MalformedMessage)


def test_encode_accepts_a_message_just_under_the_limit() -> None:
    overhead = len(encode(Note(text="t"), message_id="m"))
    # A bin field grows a 5-byte header once it passes 64 KiB, instead of the empty one's 2.
    fitting = Note(text="t", data=b"x" * (MAX_MESSAGE_BYTES - overhead - 3))
    assert len(encode(fitting, message_id="m")) == MAX_MESSAGE_BYTES


def test_a_type_name_is_declared_once() -> None:
    with pytest.raises(TypeError, match="declared twice"):

        class Again(Message, kw_only=True, frozen=True):
            TYPE = "test.envelope.note"


def test_a_payload_field_cannot_be_named_like_an_envelope_field() -> None:
    with pytest.raises(TypeError, match="named like the envelope"):

        class Clash(Message, kw_only=True, frozen=True):
            TYPE = "test.envelope.clash"

            schema_version: int
