"""Access kept while a connection lives: a viewer who loses a canvas is unsubscribed as soon as
the canvas changes, any topic lost is found by the periodic check, and a check that cannot be
answered changes nothing."""

from __future__ import annotations

import uuid

from libs.bus import encode
from libs.bus.events import CanvasChanged
from libs.bus.subjects import canvas_changed_subject
from services.fanout.tests.conftest import Fanout, MakeFanout
from services.fanout.tests.samples import nodes, progress


async def test_a_viewer_whose_share_is_revoked_is_unsubscribed_when_the_canvas_changes(
    fanout: Fanout,
) -> None:
    owner, guest = await fanout.user(), await fanout.user()
    canvas = str(uuid.uuid4())
    topic = f"canvas:{canvas}"
    for user in (owner, guest):
        fanout.policy.allow(user.user_id, topic)
    clients = [
        await fanout.ws(user, first={"type": "subscribe", "topic": topic})
        for user in (owner, guest)
    ]
    for client in clients:
        await client.next_of("subscribed")

    fanout.policy.deny(guest.user_id, topic)
    change = CanvasChanged(canvas_id=canvas, version=2, stamp=1)
    await fanout.nc.publish(canvas_changed_subject(canvas), encode(change))

    lost = await clients[1].next_of("unsubscribed")
    assert lost == {"type": "unsubscribed", "topic": topic, "reason": "access_lost"}
    seq = await fanout.to_canvas(canvas, nodes(canvas))
    marker = await fanout.to_user(guest, progress(1))
    assert [e["seq"] for e in await clients[0].events_until(seq)] == [seq]
    assert [e["seq"] for e in await clients[1].events_until(marker)] == [marker]


async def test_a_topic_lost_is_found_by_the_periodic_check(make_fanout: MakeFanout) -> None:
    fanout = await make_fanout(fanout_recheck_s=0.2)
    alice = await fanout.user()
    batch = f"batch:{uuid.uuid4()}"
    fanout.policy.allow(alice.user_id, batch)
    client = await fanout.ws(alice, first={"type": "subscribe", "topic": batch})
    await client.next_of("subscribed")

    fanout.policy.deny(alice.user_id, batch)

    assert (await client.next_of("unsubscribed"))["reason"] == "access_lost"
    assert batch not in next(iter(fanout.live.hub.connections)).topics


async def test_a_check_that_cannot_be_answered_keeps_the_topic(make_fanout: MakeFanout) -> None:
    fanout = await make_fanout(fanout_recheck_s=0.1)
    alice = await fanout.user()
    canvas = str(uuid.uuid4())
    fanout.policy.allow(alice.user_id, f"canvas:{canvas}")
    client = await fanout.ws(alice, first={"type": "subscribe", "topic": f"canvas:{canvas}"})
    await client.next_of("subscribed")
    asked = len(fanout.policy.asked)

    fanout.policy.down = True
    await fanout.nc.publish(
        canvas_changed_subject(canvas), encode(CanvasChanged(canvas_id=canvas, version=2, stamp=1))
    )
    # Asked again (on the change, then by the periodic check), and refused an answer each time.
    await fanout.policy.asked_more_than(asked + 1)

    seq = await fanout.to_canvas(canvas, nodes(canvas))
    assert [(e["seq"], e["topic"]) for e in await client.events_until(seq)] == [
        (seq, f"canvas:{canvas}")
    ]
