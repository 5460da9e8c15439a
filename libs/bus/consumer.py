"""Durable JetStream pull consumers with bounded concurrency, traces, metrics and clean draining.

This is the one place that knows the JetStream protocol. Each message is opened as the type
its consumer takes (or one of the types); one that is not is malformed and terminated (logged
with its subject), and the next goes on, unless the consumer reads a stream of events where
other types are for other readers (``skip_other_types``): those are acked unread. A handler
that returns acks the message; one that raises an error that is not worth retrying
(``libs.errors.is_retryable``) terminates it; any other exception naks it with an exponential,
jittered delay until ``max_deliver`` is spent. A message of a newer schema version that does
not fit is naked too: a replica of the newer release takes it.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Generic

import nats.errors
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from opentelemetry import propagate, trace
from opentelemetry.trace import SpanKind, Status, StatusCode

from libs.bus.envelope import Envelope
from libs.bus.messages import MessageT
from libs.errors import MalformedMessage, NewerVersion, is_retryable
from libs.logs import get_logger
from libs.metrics import NATS_DURATION, NATS_MESSAGES

__all__ = ["Consumer", "Delivery", "Handler"]

log = get_logger(__name__)
_tracer = trace.get_tracer(__name__)


_MAX_ACK_TIMEOUT_S = 600.0


@dataclass(frozen=True)
class Delivery:
    """What a handler may want to know about the delivery it is working on."""

    subject: str
    message_id: str  # the envelope's id
    attempt: int
    max_deliver: int

    @property
    def is_last_attempt(self) -> bool:
        return self.attempt >= self.max_deliver


Handler = Callable[[MessageT, Delivery], Awaitable[None]]


@dataclass(frozen=True)
class Consumer(Generic[MessageT]):
    """A durable consumer shared by every worker process of every replica of one service."""

    service: str
    stream: str
    durable: str
    filter_subject: str
    # What every message on ``filter_subject`` is, or the types this reader takes from it.
    message: type[MessageT] | tuple[type[MessageT], ...]
    handler: Handler[MessageT]
    skip_other_types: bool = False  # ack well-formed messages of other types unread
    deliver_policy: DeliverPolicy = DeliverPolicy.ALL  # where a new durable starts
    concurrency: int = 4
    ack_wait_s: float = 30.0
    max_deliver: int = 5
    retry_base_s: float = 1.0
    retry_cap_s: float = 60.0
    pull_wait_s: float = 1.0  # how long one pull waits for messages; ``stopping`` is seen after

    def config(self) -> ConsumerConfig:
        return ConsumerConfig(
            durable_name=self.durable,
            filter_subject=self.filter_subject,
            ack_policy=AckPolicy.EXPLICIT,
            deliver_policy=self.deliver_policy,
            ack_wait=self.ack_wait_s,
            max_deliver=self.max_deliver,
            backoff=self.ack_timeout_backoff() or None,
            max_ack_pending=max(64, self.concurrency * 16),
        )

    def ack_timeout_backoff(self) -> list[float]:
        """Growing waits before redelivering a message whose worker went silent (died).

        JetStream applies BackOff only to ack timeouts, and wants fewer entries than
        MaxDeliver; handled failures are delayed by ``retry_delay`` through nak instead.
        """
        return [
            min(self.ack_wait_s * 2**i, _MAX_ACK_TIMEOUT_S) for i in range(self.max_deliver - 1)
        ]

    async def run(self, js: JetStreamContext, stopping: asyncio.Event) -> None:
        """Pull and handle messages until ``stopping`` is set; in-flight messages finish first."""
        subscription = await js.pull_subscribe(
            self.filter_subject, durable=self.durable, stream=self.stream, config=self.config()
        )
        in_flight: set[asyncio.Task[None]] = set()
        backlog = 0  # messages JetStream held for this consumer after the last one pulled
        try:
            while not stopping.is_set():
                free = self.concurrency - len(in_flight)
                if free == 0:
                    await asyncio.wait(in_flight, return_when=asyncio.FIRST_COMPLETED)
                    continue
                # A backlog is pulled a batch at a time (fewer round trips), but an idle
                # consumer waits for one message: a pull for more than are waiting is held
                # until its timeout for the rest, and the first would wait with it (nats-py).
                want = min(free, backlog) or 1
                try:
                    messages = await subscription.fetch(want, timeout=self.pull_wait_s)
                except TimeoutError:  # nats.errors.TimeoutError, or the builtin when busy
                    continue
                except (nats.errors.ConnectionClosedError, nats.errors.DrainTimeoutError):
                    break
                except Exception as exc:  # a NATS reconnect in progress; try again shortly
                    log.warning("nats.fetch_failed", durable=self.durable, error=str(exc))
                    await asyncio.sleep(0.5)
                    continue
                backlog = _pending_after(messages[-1]) if messages else 0
                for msg in messages:
                    task = asyncio.create_task(self._handle(msg))
                    in_flight.add(task)
                    task.add_done_callback(in_flight.discard)
            if in_flight:  # drain: messages already taken are finished, not abandoned
                await asyncio.wait(in_flight)
        finally:
            with contextlib.suppress(Exception):
                await subscription.unsubscribe()

    async def _handle(self, msg: Msg) -> None:
        attempt = msg.metadata.num_delivered or 1
        parent = propagate.extract(msg.headers or {})
        started = time.perf_counter()
        with _tracer.start_as_current_span(
            f"{self.filter_subject.split('.')[0]} process",
            context=parent,
            kind=SpanKind.CONSUMER,
            attributes={
                "messaging.system": "nats",
                "messaging.destination.name": msg.subject,
                "messaging.consumer.group.name": self.durable,
                "messaging.nats.delivery_count": attempt,
            },
        ) as span:
            outcome = await self._dispatch(msg, attempt, span)
        NATS_MESSAGES.labels(self.service, self.filter_subject, outcome).inc()
        NATS_DURATION.labels(self.service, self.filter_subject).observe(
            time.perf_counter() - started
        )

    async def _dispatch(self, msg: Msg, attempt: int, span: trace.Span) -> str:
        kinds = self.message if isinstance(self.message, tuple) else (self.message,)
        try:
            envelope = Envelope.decode(msg.data)
            kind = next((k for k in kinds if envelope.type == k.TYPE), None)
            if kind is None:
                if self.skip_other_types:
                    await msg.ack()
                    return "skip"
                wanted = " or ".join(repr(k.TYPE) for k in kinds)
                raise MalformedMessage(f"a {envelope.type!r} message where {wanted} belongs")
            message = envelope.open(kind)
        except MalformedMessage as exc:
            log.error("nats.malformed", subject=msg.subject, error=str(exc))
            span.set_status(Status(StatusCode.ERROR, str(exc)))
            await msg.term()
            return "term"
        except NewerVersion as exc:
            delay = self.retry_delay(attempt)
            log.warning("nats.newer_version", subject=msg.subject, delay=delay, error=str(exc))
            await msg.nak(delay=delay)
            return "nak"
        delivery = Delivery(
            subject=msg.subject,
            message_id=envelope.id,
            attempt=attempt,
            max_deliver=self.max_deliver,
        )
        heartbeat = asyncio.create_task(self._keep_alive(msg))
        try:
            await self.handler(message, delivery)
        except Exception as exc:
            span.record_exception(exc)
            span.set_status(Status(StatusCode.ERROR, str(exc)))
            if not is_retryable(exc):
                log.warning("nats.rejected", subject=msg.subject, id=envelope.id, error=str(exc))
                await msg.term()
                return "term"
            if delivery.is_last_attempt:
                log.error("nats.exhausted", subject=msg.subject, id=envelope.id, error=str(exc))
                await msg.term()
                return "term"
            delay = self.retry_delay(attempt)
            log.warning(
                "nats.retry", subject=msg.subject, id=envelope.id, delay=delay, error=str(exc)
            )
            await msg.nak(delay=delay)
            return "nak"
        finally:
            heartbeat.cancel()
        await msg.ack()
        return "ack"

    def retry_delay(self, attempt: int) -> float:
        """Exponential backoff with full jitter; JetStream's BackOff only covers ack timeouts."""
        ceiling = min(self.retry_cap_s, self.retry_base_s * 2 ** (attempt - 1))
        return random.uniform(ceiling / 2, ceiling)

    async def _keep_alive(self, msg: Msg) -> None:
        """Tell JetStream a long job is still alive so it is not redelivered mid-work."""
        while True:
            await asyncio.sleep(self.ack_wait_s / 3)
            with contextlib.suppress(Exception):
                await msg.in_progress()


def _pending_after(msg: Msg) -> int:
    """How many messages the consumer had left to deliver when ``msg`` was sent."""
    return msg.metadata.num_pending or 0
