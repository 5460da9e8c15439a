"""Dead letters: job messages whose deliveries ran out without a final report.

A worker that reports ``failed`` on its last attempt records the job itself; this covers the
case where no report came (the worker kept dying mid-job). JetStream's max-deliveries advisory
names the stream sequence; the job message is read from there, the job is recorded as failed
with its history, and the message is removed from the work stream.
"""

from __future__ import annotations

import asyncio
import contextlib

import nats.errors
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig
from opentelemetry import trace

from libs.bus import Envelope
from libs.bus.advisories import MaxDeliveriesAdvisory
from libs.bus.subjects import MAX_DELIVERIES_ADVISORIES
from libs.bus.work import JobMessage
from libs.errors import MalformedMessage
from libs.logs import get_logger
from services.batch.events import ProgressEvents
from services.batch.store import BatchStore

__all__ = ["watch_dead_letters"]

log = get_logger(__name__)


async def watch_dead_letters(
    js: JetStreamContext, store: BatchStore, events: ProgressEvents, stopping: asyncio.Event
) -> None:
    subscription = await js.pull_subscribe(
        MAX_DELIVERIES_ADVISORIES,
        durable="batch-dead-letters",
        stream="DEADLETTERS",
        config=ConsumerConfig(ack_policy=AckPolicy.EXPLICIT, ack_wait=30, max_deliver=10),
    )
    try:
        while not stopping.is_set():
            try:
                advisories = await subscription.fetch(16, timeout=1.0)
            except TimeoutError:  # nats.errors.TimeoutError or, from a busy server, the builtin
                continue
            except (nats.errors.ConnectionClosedError, nats.errors.DrainTimeoutError):
                return
            for advisory in advisories:
                try:
                    await _record(js, store, events, MaxDeliveriesAdvisory.decode(advisory.data))
                except MalformedMessage as exc:
                    log.error("nats.malformed", subject=advisory.subject, error=str(exc))
                    await advisory.term()
                    continue
                except Exception as exc:
                    log.warning("deadletter.retry", error=repr(exc))
                    await advisory.nak(delay=2)
                    continue
                await advisory.ack()
    finally:
        with contextlib.suppress(Exception):
            await subscription.unsubscribe()


async def _record(
    js: JetStreamContext, store: BatchStore, events: ProgressEvents, advisory: MaxDeliveriesAdvisory
) -> None:
    sequence, deliveries = advisory.stream_seq, advisory.deliveries
    try:
        message = await js.get_msg(advisory.stream, sequence)
    except nats.js.errors.NotFoundError:
        return  # already removed: recorded before
    job_id: str
    try:
        job_id = Envelope.decode(message.data or b"").open(JobMessage).job_id
    except MalformedMessage:
        job_id = ""  # garbage ran out of deliveries: nothing to record, only to remove
    if job_id:
        error = f"no result after {deliveries} deliveries: the worker was lost each time"
        outcome = await store.record_exhausted(job_id, error)
        log.error("deadletter.recorded", job_id=job_id, deliveries=deliveries)
        for batch in outcome.batches:
            events.add(
                batch,
                [c for c in outcome.changes if c.batch_id == batch.id],
                trace.get_current_span(),
            )
    with contextlib.suppress(Exception):
        await js.delete_msg(advisory.stream, sequence)
