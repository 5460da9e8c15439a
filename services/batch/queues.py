"""The queue view as metrics: depth per function and stage, running jobs per worker."""

from __future__ import annotations

import asyncio
import contextlib

from libs.logs import get_logger
from libs.metrics import JOBS_RUNNING, QUEUE_DEPTH
from services.batch.store import BatchStore

__all__ = ["sample_queues"]

log = get_logger(__name__)

_STAGES = ("waiting_on_dependencies", "queued", "on_subject")


async def sample_queues(store: BatchStore, stopping: asyncio.Event, every_s: float = 5.0) -> None:
    seen_workers: set[tuple[str, str]] = set()
    while not stopping.is_set():
        try:
            functions, workers = await store.queue_stats()
        except Exception as exc:  # the next sample will do
            log.warning("queues.sample_failed", error=repr(exc))
        else:
            for row in functions:
                for stage in _STAGES:
                    QUEUE_DEPTH.labels(row["function"], stage).set(row[stage])
            current = {(w["function"], w["worker"]) for w in workers}
            for function, worker in seen_workers - current:
                JOBS_RUNNING.labels(function, worker).set(0)
            for row in workers:
                JOBS_RUNNING.labels(row["function"], row["worker"]).set(row["running"])
            seen_workers = current
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stopping.wait(), every_s)
