"""The worker side of a job: the message it receives and the results it reports to batch.

Render and image workers hand a plain ``async (input) -> output`` function to ``job_handler``;
it reports ``running`` and then ``succeeded`` or ``failed`` on ``job.result.<batch_id>``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from nats.js import JetStreamContext

from libs.bus import Envelope, PermanentError, publish
from libs.bus.consumer import Delivery, Handler
from libs.logs import get_logger

__all__ = ["JOB_MESSAGE", "RESULT_MESSAGE", "JobFunction", "job_handler", "result_subject"]

log = get_logger(__name__)

JOB_MESSAGE = "job.run"
RESULT_MESSAGE = "job.result"

JobFunction = Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]


def result_subject(batch_id: str) -> str:
    return f"job.result.{batch_id}"


def _job_fields(envelope: Envelope) -> tuple[str, str, dict[str, Any]]:
    payload = envelope.payload
    job_id, batch_id, job_input = (
        payload.get("job_id"),
        payload.get("batch_id"),
        payload.get("input"),
    )
    if envelope.type != JOB_MESSAGE or not isinstance(job_id, str) or not isinstance(batch_id, str):
        raise PermanentError(f"not a job message: type={envelope.type!r}")
    if not isinstance(job_input, dict):
        raise PermanentError("job input is not a map")
    return job_id, batch_id, job_input


def job_handler(js: JetStreamContext, run: JobFunction) -> Handler:
    async def report(batch_id: str, job_id: str, attempt: int, state: str, **fields: Any) -> None:
        payload = {
            "job_id": job_id,
            "batch_id": batch_id,
            "attempt": attempt,
            "state": state,
            **fields,
        }
        await publish(
            js,
            result_subject(batch_id),
            Envelope(RESULT_MESSAGE, payload),
            msg_id=f"{job_id}:{attempt}:{state}",
        )

    async def handle(envelope: Envelope, delivery: Delivery) -> None:
        job_id, batch_id, job_input = _job_fields(envelope)
        await report(batch_id, job_id, delivery.attempt, "running", progress=0)
        try:
            output = await run(job_input)
        except PermanentError as exc:
            await report(batch_id, job_id, delivery.attempt, "failed", error=str(exc))
            raise
        except Exception as exc:
            if delivery.is_last_attempt:
                await report(batch_id, job_id, delivery.attempt, "failed", error=str(exc))
            raise
        await report(batch_id, job_id, delivery.attempt, "succeeded", output=output, progress=100)

    return handle
