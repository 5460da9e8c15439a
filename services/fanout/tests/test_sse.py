"""``/v1/events``: topics named in the URL, control messages as ``shotgraph.*`` events without an
id, and the requests refused before a stream opens."""

from __future__ import annotations

import uuid

import pytest

from libs.live.protocol import MAX_TOPICS
from libs.web import PROBLEM_CONTENT_TYPE
from services.fanout.tests.conftest import Fanout
from services.fanout.tests.samples import nodes, progress


async def test_a_stream_subscribes_the_topics_in_its_url(fanout: Fanout) -> None:
    alice = await fanout.user()
    canvas, forbidden = str(uuid.uuid4()), str(uuid.uuid4())
    fanout.policy.allow(alice.user_id, f"canvas:{canvas}")
    topics = f"canvas:{canvas},canvas:{forbidden}"

    source = await fanout.sse(alice, params={"topics": topics})
    subscribed, refused = await source.next_of("subscribed"), await source.next_of("refused")
    seq = await fanout.to_canvas(canvas, nodes(canvas))
    await fanout.to_canvas(forbidden, nodes(forbidden))
    mine = await fanout.to_user(alice, progress(1))

    assert (subscribed["sse_event"], subscribed["topic"], subscribed["sse_id"]) == (
        "shotgraph.subscribed",
        f"canvas:{canvas}",
        None,
    )
    assert (refused["sse_event"], refused["reason"]) == ("shotgraph.refused", "not_allowed")
    received = await source.events_until(mine)
    assert [(e["sse_id"], e["sse_event"], e["topic"]) for e in received] == [
        (seq, "canvas.nodes", f"canvas:{canvas}"),
        (mine, "batch.progress", "user"),
    ]


@pytest.mark.parametrize(
    ("label", "topics"),
    [
        ("a topic that is no topic", "canvas:not-a-uuid"),
        ("an unknown kind", f"folder:{uuid.uuid4()}"),
        ("too many topics", ",".join(f"batch:{uuid.uuid4()}" for _ in range(MAX_TOPICS + 1))),
    ],
)
async def test_a_bad_topic_list_is_a_bad_request(fanout: Fanout, label: str, topics: str) -> None:
    alice = await fanout.user()

    response = await fanout.client.get(
        "/v1/events", headers=alice.headers, params={"topics": topics}
    )

    assert response.status == 400, label
    assert response.content_type == PROBLEM_CONTENT_TYPE
    assert fanout.live.hub.count_of(alice.user_id) == 0


@pytest.mark.parametrize(
    "headers", [{}, {"X-API-Key": "not-a-key"}], ids=["no credential", "an unknown key"]
)
async def test_a_stream_without_a_valid_credential_is_unauthenticated(
    fanout: Fanout, headers: dict[str, str]
) -> None:
    response = await fanout.client.get("/v1/events", headers=headers)

    assert response.status == 401
    assert response.content_type == PROBLEM_CONTENT_TYPE


async def test_a_stream_opened_with_the_session_cookie_needs_no_origin_check(
    fanout: Fanout,
) -> None:
    """EventSource cannot be read across origins without CORS: only upgrades are checked."""
    user_id, token = await fanout.accounts.session()

    response = await fanout.client.get(
        "/v1/events",
        headers={"Cookie": f"shotgraph_session={token}", "Origin": "https://elsewhere.example"},
    )

    assert response.status == 200
    response.close()
    assert user_id
