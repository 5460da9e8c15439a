"""The EVENTS stream, read in order by one consumer per process from where the process started.

The consumer is an ordered push consumer kept by hand: ephemeral, in memory, no acks, with
flow control and idle heartbeats. Every delivery is checked against the consumer sequence the
server stamps on it; a gap (a message lost on the way), a silence longer than two heartbeats
(the consumer was deleted, or NATS restarted and forgot it) or a NATS reconnect makes a new
consumer that starts right after the last stream sequence delivered, so nothing is missed. A
message seen twice across that switch is dropped by its stream sequence.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import uuid
from collections.abc import Callable

import nats.errors
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy, Header
from nats.js.errors import NotFoundError

from libs.bus.connection import when_reconnected
from libs.logs import get_logger
from libs.metrics import LIVE_EVENTS

__all__ = ["STREAM", "Feed"]

log = get_logger(__name__)

STREAM = "EVENTS"
_ALL_EVENTS = "events.>"
_CONTROL = "100"  # the Status of heartbeats and flow-control requests
_RETRY_MIN_S, _RETRY_MAX_S = 0.25, 5.0


class Feed:
    """Hands every message of the EVENTS stream after ``start`` to ``deliver``, once each and
    in stream order, across consumer losses and NATS restarts."""

    def __init__(
        self,
        nc: Client,
        js: JetStreamContext,
        deliver: Callable[[Msg], None],
        *,
        heartbeat_s: float = 5.0,
    ) -> None:
        self._nc = nc
        self._js = js
        self._deliver = deliver
        self._heartbeat_s = heartbeat_s
        self.last_seq = 0  # the highest stream sequence delivered (or where reading started)
        self.consumer: str | None = None  # the current consumer's name
        self._subscription: Subscription | None = None
        self._consumer_seq = 0  # deliveries of the current consumer seen so far
        self._heard = True  # anything (a message, a heartbeat) since the last watch
        self._broken = asyncio.Event()  # set: make a new consumer
        self._watching: asyncio.Task[None] | None = None
        self._forget_reconnects: Callable[[], None] | None = None
        self.recreated = 0  # consumers made after the first, for tests and logs

    async def start(self) -> None:
        """Read from the stream's current end on; returns once the consumer exists."""
        info = await self._js.stream_info(STREAM)
        self.last_seq = info.state.last_seq
        await self._create()
        self._watching = asyncio.create_task(self._watch())
        self._forget_reconnects = when_reconnected(self._nc, self._reconnected)

    async def stop(self) -> None:
        if self._forget_reconnects is not None:
            self._forget_reconnects()
        if self._watching is not None:
            self._watching.cancel()
            await asyncio.gather(self._watching, return_exceptions=True)
        await self._discard()

    async def _reconnected(self) -> None:
        # Deliveries pushed while the connection was down are gone, and a restarted server
        # has forgotten the consumer: start again from what was seen.
        self._lost("nats reconnected")

    def _lost(self, why: str) -> None:
        if not self._broken.is_set():
            log.warning("fanout.feed_lost", reason=why, last_seq=self.last_seq)
            self._broken.set()

    async def _watch(self) -> None:
        """Makes a new consumer when the current one is lost or falls silent."""
        delay = _RETRY_MIN_S
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._broken.wait(), 2 * self._heartbeat_s)
            if not self._broken.is_set():
                if self._heard:
                    self._heard = False
                    continue
                self._lost("no heartbeat")
            try:
                await self._create()
            except Exception as exc:  # NATS still away: try again, a little later each time
                log.warning("fanout.feed_retry", error=repr(exc), delay_s=delay)
                await asyncio.sleep(delay * random.uniform(0.5, 1.0))
                delay = min(_RETRY_MAX_S, delay * 2)
                continue
            delay = _RETRY_MIN_S
            self.recreated += 1
            log.info("fanout.feed_resumed", consumer=self.consumer, after=self.last_seq)

    async def _create(self) -> None:
        await self._discard()
        inbox = self._nc.new_inbox()
        name = f"fanout-{uuid.uuid4().hex}"
        self._consumer_seq = 0
        self._broken.clear()
        self._heard = True
        self.consumer = name  # before it exists: its first deliveries may beat the reply

        async def receive(msg: Msg) -> None:
            if name == self.consumer:  # not one queued for a consumer given up since
                await self._receive(msg)

        self._subscription = await self._nc.subscribe(inbox, cb=receive)
        config = ConsumerConfig(
            name=name,
            deliver_subject=inbox,
            deliver_policy=DeliverPolicy.BY_START_SEQUENCE,
            opt_start_seq=self.last_seq + 1,
            filter_subject=_ALL_EVENTS,
            ack_policy=AckPolicy.NONE,
            max_deliver=1,
            flow_control=True,
            idle_heartbeat=self._heartbeat_s,
            mem_storage=True,
            num_replicas=1,
            # The server removes it by itself should this process die without deleting it.
            inactive_threshold=max(30.0, 6 * self._heartbeat_s),
        )
        try:
            await self._js.add_consumer(STREAM, config=config)
        except BaseException:
            self.consumer = None
            raise

    async def _discard(self) -> None:
        """Stop listening to the current consumer and delete it (it may be gone already)."""
        subscription, self._subscription = self._subscription, None
        consumer, self.consumer = self.consumer, None
        if subscription is not None:
            with contextlib.suppress(nats.errors.Error):
                await subscription.unsubscribe()
        if consumer is not None:
            with contextlib.suppress(NotFoundError, nats.errors.Error, TimeoutError):
                await self._js.delete_consumer(STREAM, consumer)

    async def _receive(self, msg: Msg) -> None:
        self._heard = True
        headers = msg.headers or {}
        status = headers.get(Header.STATUS)
        if status is not None:
            await self._control(msg, status, headers)
            return
        sequence = msg.metadata.sequence
        if sequence.consumer != self._consumer_seq + 1:
            self._lost(f"delivery {sequence.consumer} after {self._consumer_seq}")
            return
        self._consumer_seq = sequence.consumer
        if sequence.stream <= self.last_seq:
            LIVE_EVENTS.labels("duplicate").inc()
            return
        self.last_seq = sequence.stream
        self._deliver(msg)

    async def _control(self, msg: Msg, status: str, headers: dict[str, str]) -> None:
        if status != _CONTROL:
            self._lost(f"status {status} {headers.get(Header.DESCRIPTION, '')}")
            return
        if msg.reply:  # a flow-control request: the server waits for this answer
            await self._nc.publish(msg.reply)
        stalled = headers.get(Header.CONSUMER_STALLED)
        if stalled:
            await self._nc.publish(stalled)
        # A heartbeat names the last delivery the server made: one we never got is lost.
        last = headers.get(Header.LAST_CONSUMER)
        if last is not None and int(last) != self._consumer_seq:
            self._lost(f"heartbeat after delivery {last}, {self._consumer_seq} received")
