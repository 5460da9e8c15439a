"""Events routed by the hub: a user's own, a canvas's to its subscribers, a batch's once, over
WebSocket (MessagePack and JSON) and SSE, each encoded once per format."""

from __future__ import annotations

import uuid

import pytest

from services.fanout.tests.conftest import Fanout
from services.fanout.tests.samples import progress
from services.fanout.wire import Wire


@pytest.mark.parametrize("wire", [Wire.MSGPACK, Wire.JSON])
async def test_a_user_gets_their_own_events_in_order_and_no_one_elses(
    fanout: Fanout, wire: Wire
) -> None:
    alice, bob = await fanout.user(), await fanout.user()
    client = await fanout.ws(alice, wire)
    sent = []
    for done in range(3):
        await fanout.to_user(bob, progress(done))
        event = progress(done)
        sent.append((await fanout.to_user(alice, event), event.batch_id))

    received = await client.events_until(sent[-1][0])

    assert [(e["seq"], e["topic"], e["event"]["batch_id"]) for e in received] == [
        (seq, "user", batch) for seq, batch in sent
    ]
    assert all(e["event"]["type"] == "batch.progress" for e in received)
