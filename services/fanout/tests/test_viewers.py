"""Presence on a canvas topic: two users on one shared canvas see each other arrive and go, and
each subscription comes with who is there; a third without access sees nothing of it."""

from __future__ import annotations

import uuid

from services.fanout.tests.conftest import Fanout
from services.fanout.tests.samples import nodes


async def test_viewers_of_a_shared_canvas_see_each_other_come_and_go(fanout: Fanout) -> None:
    ada, bo, cy = await fanout.user(), await fanout.user(), await fanout.user()
    canvas = str(uuid.uuid4())
    topic = f"canvas:{canvas}"
    for user in (ada, bo):
        fanout.policy.allow(user.user_id, topic)
    ada_ws = await fanout.ws(ada, first={"type": "subscribe", "topic": topic})
    await ada_ws.next_of("subscribed")

    bo_stream = await fanout.sse(bo, params={"topics": topic})
    snapshot = await bo_stream.next_of("subscribed")
    cy_ws = await fanout.ws(cy, first={"type": "subscribe", "topic": topic})

    assert {v["user_id"] for v in snapshot["presence"]} == {ada.user_id, bo.user_id}
    while (joined := await ada_ws.next_of("presence"))["user_id"] != bo.user_id:
        pass  # ada's own join may come first
    assert (joined["topic"], joined["action"], joined["user_name"]) == (topic, "join", bo.user_name)
    assert (await cy_ws.next_of("refused"))["reason"] == "not_allowed"

    await bo_stream.close()

    left = await ada_ws.next_of("presence")
    assert (left["action"], left["user_id"]) == ("leave", bo.user_id)
    seq = await fanout.to_canvas(canvas, nodes(canvas))
    assert [e["seq"] for e in await ada_ws.events_until(seq)] == [seq]
    assert all(m["type"] != "presence" for m in cy_ws.seen)
