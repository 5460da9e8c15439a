"""What batch tells users on ``events.user.<owner_id>`` (kept in the EVENTS stream).

Job changes are coalesced: at most one ``batch.progress`` event per batch per interval, with
the roll-up counts and the latest state of up to ``MAX_JOBS_PER_EVENT`` changed jobs, so a
10,000-job batch does not flood a browser. Submission and completion go out at once.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from typing import Any

from nats.js import JetStreamContext
from opentelemetry import trace
from opentelemetry.trace import Span

from libs.bus import Envelope, publish
from libs.logs import get_logger
from services.batch.store import BatchRecord, JobChange

__all__ = ["MAX_JOBS_PER_EVENT", "ProgressEvents", "batch_summary", "user_subject"]

log = get_logger(__name__)

MAX_JOBS_PER_EVENT = 100


def user_subject(owner_id: str) -> str:
    return f"events.user.{owner_id}"


def batch_summary(batch: BatchRecord) -> dict[str, Any]:
    return {
        "batch_id": batch.id,
        "state": batch.state.value,
        "total": batch.total,
        "counts": {state.value: n for state, n in batch.counts.items()},
    }


def _job(change: JobChange) -> dict[str, Any]:
    return {
        "job_id": change.job_id,
        "key": change.key,
        "function": change.function,
        "state": change.state.value,
        "progress": change.progress,
        "output": change.output,
        "error": change.error,
    }


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

    async def send(self, owner_id: str, kind: str, payload: dict[str, Any], msg_id: str) -> None:
        """Publish one event now (deduplicated by ``msg_id`` within JetStream's window)."""
        await publish(self._js, user_subject(owner_id), Envelope(kind, payload), msg_id=msg_id)

    def add(self, batch: BatchRecord, changes: list[JobChange], span: Span) -> None:
        pending = self._pending.setdefault(batch.id, _Pending(batch, span))
        pending.batch, pending.span = batch, span
        for change in changes:
            if change.job_id in pending.jobs or len(pending.jobs) < MAX_JOBS_PER_EVENT:
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
            payload = {
                **batch_summary(item.batch),
                "jobs": [_job(c) for c in item.jobs.values()],
                "more_jobs_changed": item.dropped,
            }
            try:
                with trace.use_span(item.span):
                    await publish(
                        self._js,
                        user_subject(item.batch.owner_id),
                        Envelope("batch.progress", payload),
                    )
            except Exception as exc:  # progress is advisory; the next one supersedes it
                log.warning("events.progress_failed", batch_id=item.batch.id, error=repr(exc))
