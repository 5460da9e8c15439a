"""The dispatcher: moves ready jobs from Postgres onto their work subjects, most urgent first.

Postgres is the queue of record (so nothing lives only in memory); JetStream carries a bounded
window of it to the workers. Every worker process of every replica runs one; ``SKIP LOCKED``
keeps them from claiming the same jobs.
"""

from __future__ import annotations

import asyncio
import contextlib

from nats.js import JetStreamContext
from opentelemetry import context as otel_context
from opentelemetry import propagate

from libs.bus import publish
from libs.bus.subjects import work_subject
from libs.bus.work import JobMessage
from libs.logs import get_logger
from services.batch.store import BatchStore, Dispatch

__all__ = ["Dispatcher"]

log = get_logger(__name__)

_IDLE_POLL_S = 0.5  # picks up deferred jobs coming due and work other replicas released


class Dispatcher:
    def __init__(
        self, store: BatchStore, js: JetStreamContext, *, claim: int = 500, window: int = 2000
    ) -> None:
        self._store = store
        self._js = js
        self._claim = claim
        self._window = window
        self._wake = asyncio.Event()

    def wake(self) -> None:
        """New ready work: dispatch now rather than at the next poll."""
        self._wake.set()

    async def run(self, stopping: asyncio.Event) -> None:
        while not stopping.is_set():
            try:
                sent = await self._store.dispatch_ready(self._claim, self._window, self._publish)
            except Exception as exc:  # Postgres or NATS away: keep the loop, retry shortly
                log.warning("dispatch.failed", error=repr(exc))
                sent = 0
            if sent == self._claim:
                continue  # more may be waiting
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), _IDLE_POLL_S)

    async def _publish(self, dispatches: list[Dispatch]) -> None:
        for start in range(0, len(dispatches), 128):
            await asyncio.gather(*(self._publish_one(d) for d in dispatches[start : start + 128]))

    async def _publish_one(self, job: Dispatch) -> None:
        message = JobMessage(
            job_id=job.job_id,
            batch_id=job.batch_id,
            owner_id=job.owner_id,
            function=job.function,
            input=job.input,
            dispatch=job.dispatch,
        )
        token = otel_context.attach(propagate.extract({"traceparent": job.trace_parent}))
        try:
            await publish(
                self._js,
                work_subject(job.function),
                message,
                msg_id=f"{job.job_id}:{job.dispatch}",
            )
        finally:
            otel_context.detach(token)
