"""The gateway's kept canvas answers: served only at the current stamp, never kept when already
out of date, forgotten on an event, bounded in bytes."""

from __future__ import annotations

from services.gateway.canvas_reads import CanvasReads, Kept


def kept(stamp: int, size: int = 10) -> Kept:
    return Kept(stamp, b"x" * size, f"etag-{stamp}")


def test_an_answer_is_served_only_at_its_own_stamp() -> None:
    reads = CanvasReads()
    reads.put("ada", "c1", kept(5), current=5)
    assert reads.get("ada", "c1", 5) == kept(5)
    assert reads.get("ada", "c1", 6) is None, "the canvas changed since"
    assert reads.get("bob", "c1", 5) is None, "answers are per user"


def test_an_answer_older_than_the_stamp_read_before_it_is_not_kept() -> None:
    reads = CanvasReads()
    reads.put("ada", "c1", kept(4), current=5)
    assert reads.get("ada", "c1", 4) is None and reads.get("ada", "c1", 5) is None
    reads.put("ada", "c1", kept(6), current=5)  # saved meanwhile: newer than read, kept
    assert reads.get("ada", "c1", 6) == kept(6)


def test_an_event_forgets_older_answers_of_that_canvas_only() -> None:
    reads = CanvasReads()
    for user in ("ada", "bob"):
        reads.put(user, "c1", kept(5), current=5)
        reads.put(user, "c2", kept(5), current=5)
    reads.forget("c1", older_than=6)
    assert reads.get("ada", "c1", 5) is None and reads.get("bob", "c1", 5) is None
    assert reads.get("ada", "c2", 5) is not None
    reads.forget("c2", older_than=5)  # not older: stays
    assert reads.get("bob", "c2", 5) is not None
    reads.forget("c2", older_than=None)
    assert reads.get("bob", "c2", 5) is None


def test_the_least_recently_used_go_first_when_over_the_bound() -> None:
    reads = CanvasReads(max_bytes=16 * 100)
    for n in range(16):
        reads.put("ada", f"c{n}", kept(1, size=100), current=1)
    assert reads.get("ada", "c0", 1) is not None  # now the most recent
    reads.put("ada", "c16", kept(1, size=100), current=1)
    assert reads.get("ada", "c1", 1) is None, "the least recently used went"
    assert reads.get("ada", "c0", 1) is not None and reads.get("ada", "c16", 1) is not None
