"""Subject helpers: a batch's events land on its owner's feed and under the batch's own subject,
and a token that would route them elsewhere is refused."""

from __future__ import annotations

import uuid

import pytest
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError

from libs.bus.streams import ensure_streams
from libs.bus.subjects import (
    batch_events_subject,
    user_batch_events_subject,
    user_events_subject,
    user_feed_subjects,
)


def test_a_batch_event_goes_under_its_owner_and_its_batch() -> None:
    assert batch_events_subject("ada", "b-1") == "events.user.ada.batch.b-1"
    assert user_batch_events_subject("ada") == "events.user.ada.batch.*"
    assert user_feed_subjects("ada") == ("events.user.ada", "events.user.ada.>")


@pytest.mark.parametrize(
    ("owner", "batch"),
    [
        ("ada.bo", "b-1"),  # another user's feed
        ("ada", "b.1"),  # a subject under the batch
        ("*", "b-1"),
        ("ada", ">"),
        ("ada", ""),
        ("ada", "b 1"),
    ],
)
def test_a_token_that_would_route_elsewhere_is_refused(owner: str, batch: str) -> None:
    with pytest.raises(ValueError, match="cannot be a subject token"):
        batch_events_subject(owner, batch)


async def _subjects_found(js: JetStreamContext, filter_subject: str, after: int) -> list[str]:
    """The subjects of every message the EVENTS stream keeps on ``filter_subject`` after
    ``after``, oldest first."""
    found: list[str] = []
    seq = after + 1
    while True:
        try:
            kept = await js.get_msg("EVENTS", seq, subject=filter_subject, next=True)
        except NotFoundError:
            return found
        found.append(kept.subject or "")
        seq = (kept.seq or seq) + 1


async def test_the_feed_filters_find_a_users_own_events_and_their_batches(
    nats_js: JetStreamContext,
) -> None:
    await ensure_streams(nats_js)
    user, other, batch = (f"u-{uuid.uuid4().hex}" for _ in range(3))
    after = (await nats_js.stream_info("EVENTS")).state.last_seq
    published = [
        user_events_subject(user),
        batch_events_subject(user, batch),
        batch_events_subject(other, batch),  # another user's: on no filter of ``user``
    ]
    for subject in published:
        await nats_js.publish(subject, b"x")

    feed = [s for f in user_feed_subjects(user) for s in await _subjects_found(nats_js, f, after)]
    assert sorted(feed) == sorted(published[:2])
    assert await _subjects_found(nats_js, user_batch_events_subject(user), after) == [published[1]]
