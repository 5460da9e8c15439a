"""Worker reports on ``job.result.>``, applied in groups: jobs move, batches roll up, users hear."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from opentelemetry import trace

from libs.bus.bulk import Received
from libs.bus.events import BatchCompleted
from libs.bus.work import JobReport
from libs.metrics import JOBS
from services.batch.domain import JobChange
from services.batch.events import ProgressEvents, summary
from services.batch.store import BatchStore

__all__ = ["results_handler"]


def results_handler(
    store: BatchStore, events: ProgressEvents, wake_dispatcher: Callable[[], None]
) -> Callable[[list[Received[JobReport]]], Awaitable[None]]:
    async def handle(received: list[Received[JobReport]]) -> None:
        outcome = await store.apply_reports([r.message for r in received])
        span_of = {r.message.batch_id: r.span for r in received}
        by_batch: dict[str, list[JobChange]] = {}
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
                        summary(BatchCompleted, batch),
                        msg_id=f"{batch.id}:completed:{batch.finished_at.timestamp()}",
                    )
        # Released dependents, deferred jobs and freed window capacity all mean work to send.
        if outcome.released or outcome.changes:
            wake_dispatcher()

    return handle
