"""Worker reports on ``job.result.>``: update the job, roll up the batch, tell the user."""

from __future__ import annotations

from nats.js import JetStreamContext

from libs.bus import Envelope, PermanentError
from libs.bus.consumer import Delivery, Handler
from libs.jobs import RESULT_MESSAGE
from libs.metrics import JOBS
from services.batch.events import publish_user_event
from services.batch.store import BatchStore

__all__ = ["result_handler"]


def _check_report(envelope: Envelope) -> None:
    report = envelope.payload
    if envelope.type != RESULT_MESSAGE:
        raise PermanentError(f"not a job result: {envelope.type!r}")
    if not isinstance(report.get("job_id"), str) or not isinstance(report.get("state"), str):
        raise PermanentError("job result without job_id or state")
    progress = report.get("progress")
    if progress is not None and not (isinstance(progress, int) and 0 <= progress <= 100):
        raise PermanentError(f"progress out of range: {progress!r}")
    if report.get("output") is not None and not isinstance(report.get("output"), dict):
        raise PermanentError("job output is not a map")


def result_handler(store: BatchStore, js: JetStreamContext) -> Handler:
    async def handle(envelope: Envelope, delivery: Delivery) -> None:
        _check_report(envelope)
        try:
            update = await store.apply_report(envelope.payload)
        except ValueError as exc:  # a job id that is not a UUID
            raise PermanentError(str(exc)) from exc
        if update is None:
            return
        job = update.job
        if job.state.is_final:
            JOBS.labels(job.function, job.state.value).inc()
        await publish_user_event(
            js,
            update.owner_id,
            "job.updated",
            {
                "batch_id": update.batch_id,
                "job_id": job.id,
                "function": job.function,
                "state": job.state.value,
                "progress": job.progress,
                "attempts": job.attempts,
                "output": job.output,
                "error": job.error,
                "batch_state": update.batch_state.value,
            },
            msg_id=f"{job.id}:{job.state.value}:{job.attempts}",
        )
        if update.batch_finished:
            await publish_user_event(
                js,
                update.owner_id,
                "batch.completed",
                {"batch_id": update.batch_id, "state": update.batch_state.value},
                msg_id=f"{update.batch_id}:completed",
            )

    return handle
