"""The worker side of a job: the functions a worker serves, the context a job runs in, and the
reports it sends back to batch on ``job.result.<batch_id>``.

A job function is ``async (input, ctx) -> output``. Returning succeeds the job. Raising an
error decides the rest by what the error is (``libs.errors``): one not worth retrying (bad
input, a model that cannot render: ``InvalidArgument``, ``PermanentError``, ...) fails the job
at once; ``Deferred`` puts it back in the queue for later without spending an attempt (a
backend is known to be down); any other is retried with backoff until the consumer's
``max_deliver`` is spent.

An output that makes an image names it in one declared member, ``IMAGE_FIELD`` (a blob id), next
to whatever else it holds; whoever reads the image a job made (a ``{"from": <job key>}`` image
reference, a canvas node's result) reads that member through ``output_image`` and never guesses
from the other fields.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any, Final, Protocol

from nats.js import JetStreamContext
from nats.js.api import KeyValueConfig
from nats.js.errors import InvalidKeyError, KeyNotFoundError
from nats.js.kv import KeyValue

from libs.bus import Delivery, publish
from libs.bus.consumer import Handler
from libs.bus.states import ReportedState
from libs.bus.subjects import result_subject
from libs.bus.work import MAX_NOTE_CHARS, FunctionSpec, JobMessage, JobReport
from libs.errors import Deferred, JobCancelled, is_retryable
from libs.logs import get_logger

__all__ = [
    "CANCELLATIONS_BUCKET",
    "FUNCTIONS_BUCKET",
    "IMAGE_FIELD",
    "CancelledBatches",
    "FunctionSpec",
    "JobContext",
    "JobFunction",
    "cancellations",
    "job_handler",
    "load_function",
    "output_image",
    "register_functions",
    "worker_id",
]

log = get_logger(__name__)

FUNCTIONS_BUCKET = "functions"
CANCELLATIONS_BUCKET = "cancellations"
# A worker reports progress at most this often; the final 100 always goes out.
_PROGRESS_INTERVAL_S = 0.5
# A job still running after this long is reported as running.
_RUNNING_AFTER_S = 0.25


# The member of a job's output that names the image the job made, when it made one.
IMAGE_FIELD: Final = "image"


def output_image(output: object) -> str | None:
    """The blob id of the image ``output`` declares it made, or None if it declares none."""
    if isinstance(output, Mapping):
        image = output.get(IMAGE_FIELD)
        if isinstance(image, str):
            return image
    return None


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


async def _bucket(js: JetStreamContext, name: str, ttl_s: float | None = None) -> KeyValue:
    try:
        return await js.key_value(name)
    except Exception:  # missing: create it (creation is idempotent across racing workers)
        return await js.create_key_value(KeyValueConfig(bucket=name, history=1, ttl=ttl_s))


async def register_functions(js: JetStreamContext, specs: Iterable[FunctionSpec]) -> None:
    """Announce the functions this worker serves; batch refuses a job for any other function."""
    registry = await _bucket(js, FUNCTIONS_BUCKET)
    for spec in specs:
        await registry.put(spec.name, spec.to_json())


async def load_function(js: JetStreamContext, name: str) -> FunctionSpec | None:
    registry = await _bucket(js, FUNCTIONS_BUCKET)
    try:
        entry = await registry.get(name)
    except (KeyNotFoundError, InvalidKeyError):  # a name no worker could register ("", "a b")
        return None
    return FunctionSpec.from_json(entry.value) if entry.value else None


async def cancellations(js: JetStreamContext) -> KeyValue:
    """Cancelled batch ids; entries expire once no message of theirs can still be queued."""
    return await _bucket(js, CANCELLATIONS_BUCKET, ttl_s=7 * 24 * 3600)


class CancelledBatches:
    """A local copy of the cancellations bucket, kept current by a KV watch.

    Checking a job against it costs no round trip, so a worker can check before every job and
    between every step; a cancellation reaches it as fast as the watch delivers.
    """

    def __init__(self, bucket: KeyValue) -> None:
        self._bucket = bucket
        self._ids: set[str] = set()
        self._loaded = asyncio.Event()

    async def contains(self, batch_id: str) -> bool:
        await self._loaded.wait()
        return batch_id in self._ids

    async def run(self, stopping: asyncio.Event) -> None:
        watcher = await self._bucket.watchall()
        try:
            while not stopping.is_set():
                try:
                    entry = await watcher.updates(timeout=1.0)
                except TimeoutError:
                    continue
                if entry is None:  # the initial values have all arrived
                    self._loaded.set()
                elif entry.operation in ("DEL", "PURGE"):
                    self._ids.discard(entry.key)
                else:
                    self._ids.add(entry.key)
        finally:
            await watcher.stop()


class Report(Protocol):
    async def __call__(self, state: ReportedState, **fields: Any) -> None: ...


class JobContext:
    """What a running job can do besides compute: report progress, notice cancellation."""

    def __init__(
        self, report: Report, cancelled_batches: CancelledBatches, batch_id: str, attempt: int
    ) -> None:
        self._report = report
        self._cancelled_batches = cancelled_batches
        self.batch_id = batch_id
        self.attempt = attempt
        self._last_progress = 0.0

    async def progress(self, percent: int, note: str = "") -> None:
        now = time.monotonic()
        if percent < 100 and now - self._last_progress < _PROGRESS_INTERVAL_S:
            return
        self._last_progress = now
        await self._report(
            ReportedState.RUNNING,
            progress=max(0, min(100, int(percent))),
            note=note[:MAX_NOTE_CHARS],
        )

    async def cancelled(self) -> bool:
        return await self._cancelled_batches.contains(self.batch_id)

    async def check_cancelled(self) -> None:
        """Call between steps: raises JobCancelled once the batch has been cancelled."""
        if await self.cancelled():
            raise JobCancelled(self.batch_id)


JobFunction = Callable[[dict[str, Any], JobContext], Awaitable[dict[str, Any]]]


def job_handler(
    js: JetStreamContext, run: JobFunction, cancelled_batches: CancelledBatches
) -> Handler[JobMessage]:
    """Adapt a job function to a consumer handler that reports every outcome to batch.

    ``running`` is reported once a job has run for ``_RUNNING_AFTER_S``: a job done sooner goes
    straight to its result, which halves the reports of short jobs.
    """
    me = worker_id()

    async def handle(job: JobMessage, delivery: Delivery) -> None:
        async def report(state: ReportedState, **fields: Any) -> None:
            message = JobReport(
                job_id=job.job_id,
                batch_id=job.batch_id,
                attempt=delivery.attempt,
                dispatch=job.dispatch,
                state=state,
                worker=me,
                **fields,
            )
            await publish(js, result_subject(job.batch_id), message)

        context = JobContext(report, cancelled_batches, job.batch_id, delivery.attempt)
        if await context.cancelled():
            await report(ReportedState.CANCELLED)
            return
        running = asyncio.create_task(_report_running_after(report, _RUNNING_AFTER_S))
        try:
            output = await run(job.input, context)
        except JobCancelled:
            await _settle(running)
            await report(ReportedState.CANCELLED)
            return
        except Deferred as exc:
            await _settle(running)
            await report(ReportedState.DEFERRED, delay_s=exc.delay_s, error=str(exc))
            return
        except Exception as exc:
            await _settle(running)
            if not is_retryable(exc):
                await report(ReportedState.FAILED, error=str(exc))
            elif delivery.is_last_attempt:
                await report(ReportedState.FAILED, error=f"{type(exc).__name__}: {exc}")
            else:
                await report(ReportedState.RETRYING, error=f"{type(exc).__name__}: {exc}")
            raise
        await _settle(running)
        await report(ReportedState.SUCCEEDED, output=output, progress=100)

    return handle


async def _report_running_after(report: Report, delay_s: float) -> None:
    await asyncio.sleep(delay_s)
    await report(ReportedState.RUNNING, progress=0)


async def _settle(running: asyncio.Task[None]) -> None:
    """Cancel a pending ``running`` report, or let one in flight land before the result."""
    if not running.done() and not running.cancelling():
        running.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await running
