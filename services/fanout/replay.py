"""Resume: everything a reconnecting client missed on its feed and topics, then the live flow,
with no gap and no duplicate between the two.

The connection is registered for live events first and its live events are held (``Hub.hold``).
Then the stream's last sequence is read (``upto``) and (after, upto] is replayed by one
short-lived consumer filtered to the connection's subjects, deleted when it is done. The held
live events follow; those the replay already sent are dropped by the connection's watermark.
When the stream no longer holds everything after ``after``, the client gets ``reset`` instead
of a partial history.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterable

import nats.errors
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.errors import NotFoundError

from libs.bus.subjects import canvas_events_subject, user_events_subject
from libs.live.protocol import Reset, Resumed
from libs.metrics import LIVE_REPLAYS
from services.fanout.connection import Connection
from services.fanout.events import relayed_event, route_of
from services.fanout.feed import STREAM
from services.fanout.hub import Hub
from services.fanout.wire import BadResume, EventItem

__all__ = ["REPLAY_PREFIX", "replay", "subjects_of"]

REPLAY_PREFIX = "fanout-replay-"  # the names of replay consumers
_BATCH = 256
_FETCH_TIMEOUT_S = 5.0
# Should this process die mid-replay, the server deletes the consumer by itself after this.
_INACTIVE_S = 30.0


def subjects_of(keys: Iterable[str]) -> list[str]:
    """The subjects that carry the hub keys' events, none overlapping another (JetStream's
    rule for a consumer's filters). A batch is its owner's, so the feed carries it."""
    subjects: list[str] = []
    for key in keys:
        kind, _, ident = key.partition(":")
        if kind == "user":
            feed = user_events_subject(ident)
            subjects += [feed, f"{feed}.>"]
        elif kind == "canvas":
            subjects.append(canvas_events_subject(ident))
    return sorted(set(subjects))


async def replay(
    js: JetStreamContext, hub: Hub, connection: Connection, after: int
) -> Resumed | Reset:
    """Queue what ``connection`` missed after ``after``, whose live events are held; the
    message that says how it went (``resumed`` or ``reset``). BadResume for an ``after``
    beyond the stream's end."""
    state = (await js.stream_info(STREAM)).state
    first, upto = state.first_seq, state.last_seq
    if after > upto:
        LIVE_REPLAYS.labels("bad").inc()
        raise BadResume(
            f"{after} is beyond the stream's last sequence, {upto}", first_seq=first, last_seq=upto
        )
    if after < first - 1:
        LIVE_REPLAYS.labels("reset").inc()
        return Reset(after=after, first_seq=first, last_seq=upto)
    replayed = 0
    if after < upto:
        replayed = await _replay(js, hub, connection, after, upto)
    LIVE_REPLAYS.labels("replayed").inc()
    return Resumed(after=after, replayed=replayed)


async def _replay(
    js: JetStreamContext, hub: Hub, connection: Connection, after: int, upto: int
) -> int:
    name = f"{REPLAY_PREFIX}{uuid.uuid4().hex}"
    config = ConsumerConfig(
        name=name,
        filter_subjects=subjects_of(connection.keys),
        deliver_policy=DeliverPolicy.BY_START_SEQUENCE,
        opt_start_seq=after + 1,
        ack_policy=AckPolicy.NONE,
        mem_storage=True,
        num_replicas=1,
        inactive_threshold=_INACTIVE_S,
    )
    info = await js.add_consumer(STREAM, config=config)
    try:
        if not info.num_pending:
            return 0
        subscription = await js.pull_subscribe_bind(consumer=name, stream=STREAM)
        try:
            return await _read(subscription, hub, connection, upto)
        finally:
            with contextlib.suppress(nats.errors.Error):
                await subscription.unsubscribe()
    finally:
        with contextlib.suppress(NotFoundError):
            await js.delete_consumer(STREAM, name)


async def _read(
    subscription: JetStreamContext.PullSubscription, hub: Hub, connection: Connection, upto: int
) -> int:
    """Queue the events up to ``upto``, writing as the client takes them: a long history
    waits on the client instead of piling up in memory."""
    replayed = 0
    flush_at = hub.limits.queue_bytes // 4
    while connection.ended is None:
        for msg in await subscription.fetch(_BATCH, timeout=_FETCH_TIMEOUT_S):
            seq = msg.metadata.sequence.stream
            if seq > upto:
                return replayed  # live from here: held, or on its way
            route = route_of(msg.subject)
            relayed = relayed_event(msg.subject, msg.data)
            if route is not None and relayed is not None:
                item = EventItem(seq, route.topic, relayed.type, relayed.json, relayed.fields)
                hub.offer(connection, item, replayed=True)
                replayed += 1
            if connection.pending_bytes >= flush_at:
                hub.flush_now(connection)
                await connection.sink.drain()
            if seq == upto or not msg.metadata.num_pending:
                return replayed
    return replayed
