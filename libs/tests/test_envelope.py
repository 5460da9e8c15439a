"""The MessagePack envelope: what goes in comes out; anything else is MalformedMessage."""

from __future__ import annotations

import msgpack
import pytest

from libs.bus.envelope import MAX_MESSAGE_BYTES, Envelope, MalformedMessage


def test_round_trip_keeps_every_field() -> None:
    sent = Envelope(
        type="job.result", payload={"job": "j1", "n": 3, "blob": b"\x00\xff", "x": None}
    )
    received = Envelope.decode(sent.encode())
    assert received == sent


def test_new_envelopes_get_distinct_ids() -> None:
    assert Envelope("t", {}).id != Envelope("t", {}).id


def _packed(value: object) -> bytes:
    return msgpack.packb(value, use_bin_type=True)


GOOD = {"type": "t", "id": "abc", "time": 1.5, "payload": {}}


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
        ("map without payload", _packed({k: v for k, v in GOOD.items() if k != "payload"})),
        ("map without id", _packed({k: v for k, v in GOOD.items() if k != "id"})),
        ("map with text time", _packed({**GOOD, "time": "noon"})),
        ("payload is a list", _packed({**GOOD, "payload": [1, 2]})),
        ("payload is a string", _packed({**GOOD, "payload": "x"})),
        ("map with integer keys", _packed({1: "t"})),
    ],
)
def test_decode_rejects(label: str, data: bytes) -> None:
    with pytest.raises(MalformedMessage):
        Envelope.decode(data)


def test_decode_accepts_integer_time() -> None:
    assert Envelope.decode(_packed({**GOOD, "time": 7})).time == 7.0


def test_encode_refuses_a_message_over_the_limit() -> None:
    big = Envelope(type="t", payload={"data": b"x" * MAX_MESSAGE_BYTES})
    with pytest.raises(ValueError, match="exceeds") as caught:
        big.encode()
    assert not isinstance(caught.value, MalformedMessage)


def test_encode_accepts_a_message_just_under_the_limit() -> None:
    overhead = len(Envelope(type="t", payload={"data": b""}).encode())
    # A bin payload grows a 5-byte header once it passes 64 KiB, instead of the empty one's 2.
    fitting = Envelope(type="t", payload={"data": b"x" * (MAX_MESSAGE_BYTES - overhead - 3)})
    assert len(fitting.encode()) == MAX_MESSAGE_BYTES
