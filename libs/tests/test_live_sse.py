"""The event stream parser against the WHATWG rules, fed whole and split at every byte."""

from __future__ import annotations

import pytest

from libs.live.sse import SseEvent, SseParser

STREAM = (
    "\ufeff: a comment, then an event in three data lines\r\n"
    "id: 7\r\n"
    "event: batch.progress\r\n"
    'data: {"a":\r\n'
    "data:1}\r\n"
    "data\r\n"
    "\r\n"
    "retry: 2500\r"  # a CR alone ends a line too
    "event: shotgraph.hello\r"
    "data: é and 漢\r"
    "\r"
    "id: 8\n"
    "event: ignored: has no data\n"
    "\n"
    "data: the id persists; the type does not\n"
    "unknown: field\n"
    "\n"
    "id: bad\x00id\n"
    "data: an id with NUL is ignored\n"
    "retry: 12x\n"
    "\n"
    "data: never dispatched without its blank line\n"
).encode()

EXPECTED = [
    SseEvent("batch.progress", '{"a":\n1}\n', "7", "7"),
    SseEvent("shotgraph.hello", "é and 漢", None, "7"),
    SseEvent("message", "the id persists; the type does not", None, "8"),
    SseEvent("message", "an id with NUL is ignored", None, "8"),
]


def test_a_stream_in_one_piece() -> None:
    parser = SseParser()
    assert parser.feed(STREAM) == EXPECTED
    assert parser.retry_ms == 2500  # "12x" is no number and leaves it
    assert parser.comments == 1
    assert parser.last_event_id == "8"


@pytest.mark.parametrize("size", [1, 2, 3, 5, 13])
def test_a_stream_split_anywhere_gives_the_same_events(size: int) -> None:
    """Split between CR and LF, inside a UTF-8 character, inside the BOM: all the same."""
    parser = SseParser()
    events = []
    for start in range(0, len(STREAM), size):
        events += parser.feed(STREAM[start : start + size])
    assert events == EXPECTED


def test_a_cr_then_lf_in_the_next_chunk_is_one_line_end() -> None:
    parser = SseParser()
    assert parser.feed(b"data: a\r") == []
    assert parser.feed(b"\n") == []  # the LF of CRLF, not a blank line
    assert parser.feed(b"\r\n") == [SseEvent("message", "a", None, "")]


def test_a_line_that_never_ends_is_refused() -> None:
    parser = SseParser(max_event_chars=100)
    with pytest.raises(ValueError, match="longer than 100"):
        parser.feed(b"data: " + b"x" * 200)


def test_an_event_that_never_ends_is_refused() -> None:
    parser = SseParser(max_event_chars=100)
    with pytest.raises(ValueError, match="more than 100"):
        parser.feed(b"data: 0123456789\n" * 20)
