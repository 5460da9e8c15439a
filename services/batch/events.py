"""What batch tells a batch's owner on ``events.user.<owner_id>.batch.<batch_id>`` (kept in the
EVENTS stream): on the owner's feed, and on the batch's own topic for fan-out.

Job changes are coalesced: at most one ``batch.progress`` event per batch per interval, with
the roll-up counts and the latest state of up to ``BatchProgress.MAX_JOBS_PER_EVENT`` changed
jobs, so a 10,000-job batch does not flood a browser. Submission, cancellation and completion
go out at once.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field

from nats.js import JetStreamContext
from opentelemetry import trace
from opentelemetry.trace import Span

from libs.bus import publish
from libs.bus.events import BatchProgress, BatchSummary, JobProgress
from libs.bus.subjects import batch_events_subject
from libs.logs import get_logger
from services.batch.domain import JobChange
from services.batch.store import BatchRecord

__all__ = ["ProgressEvents", "summary"]

log = get_logger(__name__)


def summary(kind: type[BatchSummary], batch: BatchRecord) -> BatchSummary:
    """``batch`` as an event of ``kind`` (submitted, cancelled, completed)."""
    return kind(
        batch_id=batch.id,
        state=batch.state,
        total=batch.total,
        counts=batch.counts,
        canvas_id=batch.canvas_id,
    )


def _job(change: JobChange) -> JobProgress:
    return JobProgress(
        job_id=change.job_id,
        key=change.key,
        function=change.function,
        state=change.state,
        progress=change.progress,
        output=change.output,
        error=change.error,
        retry=change.retry,
    )


@dataclass
class _Pending:
    batch: BatchRecord
    span: Span
    jobs: dict[str, JobChange] = field(default_factory=dict)
    dropped: int = 0


class ProgressEvents:
    def __init__(self, js: JetStreamContext, interval_s: float = 0.25) -> None:
        self._js = js
        self._interval_s = interval_s
        self._pending: dict[str, _Pending] = {}

    async def send(self, owner_id: str, event: BatchSummary, msg_id: str | None) -> None:
        """Publish one event now (deduplicated by ``msg_id`` within JetStream's window)."""
        subject = batch_events_subject(owner_id, event.batch_id)
        await publish(self._js, subject, event, msg_id=msg_id)

    def add(self, batch: BatchRecord, changes: list[JobChange], span: Span) -> None:
        pending = self._pending.setdefault(batch.id, _Pending(batch, span))
        pending.batch, pending.span = batch, span
        for change in changes:
            if (
                change.job_id in pending.jobs
                or len(pending.jobs) < BatchProgress.MAX_JOBS_PER_EVENT
            ):
                pending.jobs[change.job_id] = change
            else:
                pending.dropped += 1

    async def run(self, stopping: asyncio.Event) -> None:
        while not stopping.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), self._interval_s)
            await self.flush()

    async def flush(self) -> None:
        pending, self._pending = self._pending, {}
        for item in pending.values():
            batch = item.batch
            event = BatchProgress(
                batch_id=batch.id,
                state=batch.state,
                total=batch.total,
                counts=batch.counts,
                canvas_id=batch.canvas_id,
                jobs=[_job(c) for c in item.jobs.values()],
                more_jobs_changed=item.dropped,
            )
            try:
                with trace.use_span(item.span):
                    await publish(self._js, batch_events_subject(batch.owner_id, batch.id), event)
            except Exception as exc:  # progress is advisory; the next one supersedes it
                log.warning("events.progress_failed", batch_id=batch.id, error=repr(exc))
