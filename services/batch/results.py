"""Worker reports on ``job.result.>``, applied in groups: jobs move, batches roll up, users hear."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable

from opentelemetry import trace

from libs.bus import Envelope, PermanentError
from libs.bus.bulk import Received
from libs.jobs import RESULT_MESSAGE
from libs.metrics import JOBS
from services.batch.events import ProgressEvents, batch_summary
from services.batch.store import BatchStore

__all__ = ["check_report", "results_handler"]

_STATES = frozenset({"running", "succeeded", "failed", "retrying", "cancelled", "deferred"})


def check_report(envelope: Envelope) -> None:
    """A report that can never apply is terminated instead of retried."""
    report = envelope.payload
    if envelope.type != RESULT_MESSAGE:
        raise PermanentError(f"not a job result: {envelope.type!r}")
    try:
        uuid.UUID(str(report.get("job_id")))
    except ValueError:
        raise PermanentError("job result without a valid job_id") from None
    if report.get("state") not in _STATES:
        raise PermanentError(f"unknown job state {report.get('state')!r}")
    progress = report.get("progress")
    if progress is not None and not (isinstance(progress, int) and 0 <= progress <= 100):
        raise PermanentError(f"progress out of range: {progress!r}")
    if report.get("output") is not None and not isinstance(report.get("output"), dict):
        raise PermanentError("job output is not a map")
    if not isinstance(report.get("dispatch", 0), int) or not isinstance(
        report.get("attempt", 1), int
    ):
        raise PermanentError("dispatch and attempt must be integers")


def results_handler(
    store: BatchStore, events: ProgressEvents, wake_dispatcher: Callable[[], None]
) -> Callable[[list[Received]], Awaitable[None]]:
    async def handle(received: list[Received]) -> None:
        outcome = await store.apply_reports([r.envelope.payload for r in received])
        span_of = {str(r.envelope.payload["batch_id"]): r.span for r in received}
        by_batch: dict[str, list] = {}
        for change in outcome.changes:
            by_batch.setdefault(change.batch_id, []).append(change)
            if change.state.is_final:
                JOBS.labels(change.function, change.state.value).inc()
        for batch in outcome.batches:
            span = span_of.get(batch.id) or received[-1].span
            events.add(batch, by_batch.get(batch.id, []), span)
            if batch.state.is_final and batch.finished_at is not None:
                with trace.use_span(span):
                    await events.send(
                        batch.owner_id,
                        "batch.completed",
                        batch_summary(batch),
                        msg_id=f"{batch.id}:completed:{batch.finished_at.timestamp()}",
                    )
        # Released dependents, deferred jobs and freed window capacity all mean work to send.
        if outcome.released or outcome.changes:
            wake_dispatcher()

    return handle
