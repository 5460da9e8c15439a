"""A durable pull consumer that hands its handler groups of messages, for one transaction each.

Applying many small reports one by one would serialise on the database; grouping them keeps a
10,000-job batch moving. Each message still gets its own CONSUMER span (a child of the span
that published it) so traces stay linked, and a message that is not of the consumer's type is
terminated alone (logged with its subject) while the rest of its group goes on.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Generic

import nats.errors
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from opentelemetry import propagate, trace
from opentelemetry.trace import Span, SpanKind, Status, StatusCode

from libs.bus.envelope import Envelope
from libs.bus.messages import MessageT
from libs.errors import MalformedMessage, NewerVersion
from libs.logs import get_logger
from libs.metrics import NATS_DURATION, NATS_MESSAGES

__all__ = ["BulkConsumer", "Received"]

log = get_logger(__name__)
_tracer = trace.get_tracer(__name__)


@dataclass(frozen=True)
class Received(Generic[MessageT]):
    message: MessageT
    span: Span  # use with trace.use_span() to publish follow-ups in this message's trace


@dataclass(frozen=True)
class BulkConsumer(Generic[MessageT]):
    service: str
    stream: str
    durable: str
    filter_subject: str
    message: type[MessageT]  # what every message on ``filter_subject`` is
    handler: Callable[[list[Received[MessageT]]], Awaitable[None]]
    max_batch: int = 256
    ack_wait_s: float = 30.0
    max_deliver: int = 20
    retry_delay_s: float = 1.0

    async def run(self, js: JetStreamContext, stopping: asyncio.Event) -> None:
        subscription = await js.pull_subscribe(
            self.filter_subject,
            durable=self.durable,
            stream=self.stream,
            config=ConsumerConfig(
                durable_name=self.durable,
                filter_subject=self.filter_subject,
                ack_policy=AckPolicy.EXPLICIT,
                deliver_policy=DeliverPolicy.ALL,
                ack_wait=self.ack_wait_s,
                max_deliver=self.max_deliver,
                max_ack_pending=self.max_batch * 8,
            ),
        )
        try:
            while not stopping.is_set():
                try:
                    messages = await subscription.fetch(self.max_batch, timeout=1.0)
                except TimeoutError:  # nats.errors.TimeoutError or, from a busy server, the builtin
                    continue
                except (nats.errors.ConnectionClosedError, nats.errors.DrainTimeoutError):
                    return
                except Exception as exc:  # a reconnect in progress
                    log.warning("nats.fetch_failed", durable=self.durable, error=str(exc))
                    await asyncio.sleep(0.5)
                    continue
                await self._handle(messages)
        finally:
            with contextlib.suppress(Exception):
                await subscription.unsubscribe()

    async def _handle(self, messages: list[Msg]) -> None:
        started = time.perf_counter()
        accepted: list[tuple[Msg, Received[MessageT]]] = []
        for msg in messages:
            span = _tracer.start_span(
                f"{self.filter_subject.split('.')[0]} process",
                context=propagate.extract(msg.headers or {}),
                kind=SpanKind.CONSUMER,
                attributes={
                    "messaging.system": "nats",
                    "messaging.destination.name": msg.subject,
                    "messaging.consumer.group.name": self.durable,
                    "messaging.batch.message_count": len(messages),
                },
            )
            try:
                message = Envelope.decode(msg.data).open(self.message)
            except MalformedMessage as exc:
                log.error("nats.malformed", subject=msg.subject, error=str(exc))
                span.set_status(Status(StatusCode.ERROR, str(exc)))
                span.end()
                await msg.term()
                self._count("term", started)
                continue
            except NewerVersion as exc:  # a replica of the newer release takes it
                log.warning("nats.newer_version", subject=msg.subject, error=str(exc))
                span.end()
                await msg.nak(delay=self.retry_delay_s)
                self._count("nak", started)
                continue
            accepted.append((msg, Received(message, span)))
        if not accepted:
            return
        try:
            await self.handler([received for _, received in accepted])
        except Exception as exc:
            log.warning(
                "nats.group_retry", durable=self.durable, size=len(accepted), error=repr(exc)
            )
            for msg, received in accepted:
                received.span.record_exception(exc)
                received.span.end()
                await msg.nak(delay=self.retry_delay_s)
                self._count("nak", started)
            return
        for msg, received in accepted:
            received.span.end()
            await msg.ack()
            self._count("ack", started)

    def _count(self, outcome: str, started: float) -> None:
        NATS_MESSAGES.labels(self.service, self.filter_subject, outcome).inc()
        NATS_DURATION.labels(self.service, self.filter_subject).observe(
            time.perf_counter() - started
        )
