"""Events routed by the hub: a user's own, a canvas's to its subscribers, a batch's once, over
WebSocket (MessagePack and JSON) and SSE, each encoded once per format."""

from __future__ import annotations

import secrets
import uuid

import pytest
import structlog
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from prometheus_client import REGISTRY

from libs.bus import encode
from libs.bus.events import BatchProgress
from libs.bus.subjects import user_events_subject
from services.fanout.tests.clients import SseClient, WsClient
from services.fanout.tests.conftest import Fanout, MakeFanout
from services.fanout.tests.samples import (
    NOT_USER_EVENTS,
    envelope,
    nodes,
    progress,
    progress_fields,
)
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


async def test_an_event_stream_gets_the_users_events_with_their_sequences_as_ids(
    fanout: Fanout,
) -> None:
    alice = await fanout.user()
    source = await fanout.sse(alice)
    seqs = [await fanout.to_user(alice, progress(done)) for done in range(2)]

    received = await source.events_until(seqs[-1])

    assert [(e["sse_id"], e["sse_event"], e["seq"]) for e in received] == [
        (seq, "batch.progress", seq) for seq in seqs
    ]
    assert all(e["type"] == "event" and e["topic"] == "user" for e in received)


async def test_a_canvas_topic_brings_the_canvas_events_until_unsubscribed(fanout: Fanout) -> None:
    alice = await fanout.user()
    canvas, other = str(uuid.uuid4()), str(uuid.uuid4())
    fanout.policy.allow(alice.user_id, f"canvas:{canvas}")
    fanout.policy.allow(alice.user_id, f"canvas:{other}")
    client = await fanout.ws(alice, first={"type": "subscribe", "topic": f"canvas:{canvas}"})
    assert await client.next_of("subscribed") == {
        "type": "subscribed",
        "topic": f"canvas:{canvas}",
        "presence": [{"user_id": alice.user_id, "user_name": alice.user_name}],
    }

    await fanout.to_canvas(other, nodes(other))  # a canvas it did not subscribe to
    seq = await fanout.to_canvas(canvas, nodes(canvas))
    [event] = await client.events_until(seq)
    assert (event["topic"], event["event"]["type"]) == (f"canvas:{canvas}", "canvas.nodes")

    await client.send({"type": "unsubscribe", "topic": f"canvas:{canvas}"})
    assert (await client.next_of("unsubscribed"))["reason"] == "requested"
    await fanout.to_canvas(canvas, nodes(canvas))
    mine = await fanout.to_user(alice, progress(1))
    assert [e["seq"] for e in await client.events_until(mine)] == [mine]


async def test_a_batch_event_reaches_a_connection_once_though_two_of_its_keys_match(
    fanout: Fanout,
) -> None:
    alice = await fanout.user()
    batch = str(uuid.uuid4())
    fanout.policy.allow(alice.user_id, f"batch:{batch}")
    client = await fanout.ws(alice, first={"type": "subscribe", "topic": f"batch:{batch}"})
    await client.next_of("subscribed")

    seq = await fanout.to_batch(alice, batch, progress(2))
    after = await fanout.to_user(alice, progress(3))

    received = await client.events_until(after)
    assert [(e["seq"], e["topic"]) for e in received] == [(seq, f"batch:{batch}"), (after, "user")]


async def test_a_render_topic_brings_its_batchs_events(fanout: Fanout) -> None:
    alice = await fanout.user()
    render, batch = str(uuid.uuid4()), str(uuid.uuid4())
    fanout.policy.allow(alice.user_id, f"render:{render}", key=f"batch:{batch}")
    client = await fanout.ws(alice, first={"type": "subscribe", "topic": f"render:{render}"})
    assert (await client.next_of("subscribed"))["topic"] == f"render:{render}"

    seq = await fanout.to_batch(alice, batch, progress(1))

    [event] = await client.events_until(seq)
    assert event["topic"] == f"batch:{batch}"


def encodes(wire: str) -> float:
    return REGISTRY.get_sample_value("shotgraph_live_event_encodes_total", {"format": wire}) or 0


async def test_an_event_is_encoded_once_per_format_however_many_take_it(
    make_fanout: MakeFanout,
) -> None:
    # Without presence: its joins would share the frames too, in flushes of their own.
    fanout = await make_fanout(fanout_window_ms=100, presence=False)
    canvas = str(uuid.uuid4())
    clients: list[WsClient | SseClient] = []
    for wire in (Wire.MSGPACK, Wire.MSGPACK, Wire.MSGPACK, Wire.JSON, Wire.JSON):
        viewer = await fanout.user()
        fanout.policy.allow(viewer.user_id, f"canvas:{canvas}")
        client = await fanout.ws(
            viewer, wire, first={"type": "subscribe", "topic": f"canvas:{canvas}"}
        )
        await client.next_of("subscribed")
        clients.append(client)
    viewer = await fanout.user()
    fanout.policy.allow(viewer.user_id, f"canvas:{canvas}")
    clients.append(await fanout.sse(viewer, params={"topics": f"canvas:{canvas}"}))
    json_before, msgpack_before = encodes("json"), encodes("msgpack")
    reused_before = fanout.live.hub.frames_reused

    seq = await fanout.to_canvas(canvas, nodes(canvas))

    for viewing in clients:
        assert [e["seq"] for e in await viewing.events_until(seq)] == [seq]
    assert (encodes("json") - json_before, encodes("msgpack") - msgpack_before) == (1, 1)
    # Three MessagePack viewers, two JSON: one frame each format, reused for the others.
    assert fanout.live.hub.frames_reused - reused_before == 3


async def test_events_within_one_window_of_a_write_share_one_frame(make_fanout: MakeFanout) -> None:
    """The first event after a quiet window goes at once; those that follow within the window
    wait for its end and travel together."""
    fanout = await make_fanout(fanout_window_ms=1000)
    alice = await fanout.user()
    client = await fanout.ws(alice)
    frames_before = len(client.frames)

    seqs = [await fanout.to_user(alice, progress(done)) for done in range(4)]
    await client.events_until(seqs[-1])

    frames = [[m["seq"] for m in f] for f in client.frames[frames_before:]]
    assert frames in ([seqs], [seqs[:1], seqs[1:]]), frames


async def test_without_a_window_each_event_is_written_as_it_comes(make_fanout: MakeFanout) -> None:
    fanout = await make_fanout(fanout_window_ms=0)
    alice = await fanout.user()
    client = await fanout.ws(alice)
    frames_before = len(client.frames)

    seqs = []
    for done in range(3):  # the next is published only once the last has arrived
        seqs.append(await fanout.to_user(alice, progress(done)))
        await client.events_until(seqs[-1])

    assert [[m["seq"] for m in f] for f in client.frames[frames_before:]] == [[s] for s in seqs]


async def test_a_message_that_is_no_event_is_logged_and_skipped(fanout: Fanout) -> None:
    alice = await fanout.user()
    client = await fanout.ws(alice)
    with structlog.testing.capture_logs() as logs:
        for _, data in NOT_USER_EVENTS:
            await fanout.to_user(alice, data)
        good = await fanout.to_user(alice, progress(2))

        assert [e["seq"] for e in await client.events_until(good)] == [good]
    malformed = [entry for entry in logs if entry["event"] == "nats.malformed"]
    assert len(malformed) == len(NOT_USER_EVENTS)
    assert {e["subject"] for e in malformed} == {user_events_subject(alice.user_id)}


async def test_events_of_a_newer_release_reach_the_client_as_written(fanout: Fanout) -> None:
    alice = await fanout.user()
    client = await fanout.ws(alice, Wire.JSON)
    newer = {**progress_fields(), "eta_s": 12.5, "total": "4"}
    unknown = {"comment_id": "c1", "text": "nice lighting", "nested": {"a": 1}}
    version = BatchProgress.VERSION + 1

    await fanout.to_user(
        alice, envelope("batch.progress", newer, schema_version=version, id="e-1", time=1.25)
    )
    last = await fanout.to_user(alice, envelope("canvas.comment", unknown, id="e-2", time=3.0))

    first, second = await client.events_until(last)
    assert first["event"] == {
        "type": "batch.progress",
        "id": "e-1",
        "time": 1.25,
        "schema_version": version,
        **newer,
    }
    assert second["event"] == {
        "type": "canvas.comment",
        "id": "e-2",
        "time": 3.0,
        "schema_version": 1,
        **unknown,
    }


async def test_each_event_is_one_span_in_its_publishers_trace(
    fanout: Fanout, span_exporter: InMemorySpanExporter
) -> None:
    alice = await fanout.user()
    clients = [await fanout.ws(alice), await fanout.ws(alice), await fanout.sse(alice)]
    trace_id = secrets.token_hex(16)
    parent = secrets.token_hex(8)
    headers = {"traceparent": f"00-{trace_id}-{parent}-01"}

    seq = await fanout.publish(user_events_subject(alice.user_id), encode(progress(1)), headers)

    for client in clients:
        await client.events_until(seq)
    spans = [
        s
        for s in span_exporter.get_finished_spans()
        if s.context is not None and f"{s.context.trace_id:032x}" == trace_id
    ]
    assert [
        (s.name, s.kind, dict(s.attributes or {})["shotgraph.live.connections"]) for s in spans
    ] == [("events deliver", SpanKind.CONSUMER, 3)]
    assert spans[0].parent is not None and f"{spans[0].parent.span_id:016x}" == parent
