"""A worker serving functions whose behaviour tests and benchmarks control.

``python -m tests.e2e.worker --workers N`` registers and serves:
- ``test.noop``: returns at once (throughput benchmarks);
- ``test.echo``: returns its input, dependencies' outputs included;
- ``test.sleep``: sleeps ``seconds`` in steps, reporting progress and checking for cancellation;
- ``test.fail``: always raises a retryable error naming the attempt;
- ``test.crash``: kills its own worker process mid-job, so no result ever comes back.
"""

from __future__ import annotations

import asyncio
import os
from contextlib import AsyncExitStack
from typing import Any

from libs.backends import open_nats
from libs.bus import Consumer
from libs.bus.work import JobMessage
from libs.config import WorkerSettings, positive_int, setting
from libs.jobs import (
    CancelledBatches,
    FunctionSpec,
    JobContext,
    JobFunction,
    cancellations,
    job_handler,
    register_functions,
)
from libs.runner import ServiceParts, main
from libs.web import create_app

FUNCTIONS = [
    FunctionSpec(name="test.noop"),
    FunctionSpec(name="test.echo"),
    FunctionSpec(
        name="test.sleep",
        input_schema={
            "type": "object",
            "required": ["seconds"],
            "properties": {"seconds": {"type": "number", "minimum": 0, "maximum": 60}},
        },
    ),
    FunctionSpec(name="test.fail"),
    FunctionSpec(name="test.crash"),
]


async def noop(job_input: dict[str, Any], context: JobContext) -> dict[str, Any]:
    return {}


async def echo(job_input: dict[str, Any], context: JobContext) -> dict[str, Any]:
    return {"echo": job_input}


async def sleep(job_input: dict[str, Any], context: JobContext) -> dict[str, Any]:
    seconds, steps = float(job_input["seconds"]), 10
    for step in range(steps):
        await context.check_cancelled()
        await asyncio.sleep(seconds / steps)  # the job's own work, standing in for a render
        await context.progress(100 * (step + 1) // steps)
    return {"slept": seconds, "attempt": context.attempt}


async def fail(job_input: dict[str, Any], context: JobContext) -> dict[str, Any]:
    raise RuntimeError(f"failure on attempt {context.attempt}")


async def crash(job_input: dict[str, Any], context: JobContext) -> dict[str, Any]:
    os._exit(70)  # a worker lost mid-job: no report, no ack; the supervisor starts another


class ControlledWorkerSettings(WorkerSettings):
    """The test worker's settings: a JetStream worker's, with jobs at once as the image
    service has them."""

    service = "testworker"

    worker_concurrency: int = setting(default=4, parse=positive_int)


RUN: dict[str, JobFunction] = {
    "test.noop": noop,
    "test.echo": echo,
    "test.sleep": sleep,
    "test.fail": fail,
    "test.crash": crash,
}


async def build(settings: ControlledWorkerSettings, stack: AsyncExitStack) -> ServiceParts:
    _, js, nats_ready = await open_nats(settings, stack)
    await register_functions(js, FUNCTIONS)
    cancelled = CancelledBatches(await cancellations(js))

    consumers = [
        Consumer(
            service=settings.service,
            stream="WORK",
            durable=f"test-{spec.name.split('.')[1]}",
            filter_subject=spec.subject,
            message=JobMessage,
            handler=job_handler(js, RUN[spec.name], cancelled),
            concurrency=settings.worker_concurrency,
            ack_wait_s=settings.ack_wait_s or 30.0,
            max_deliver=settings.max_deliver,
            retry_base_s=0.2,
        )
        for spec in FUNCTIONS
    ]
    app = create_app(
        settings.service, max_body_bytes=settings.max_body_bytes, readiness={"nats": nats_ready}
    )
    return ServiceParts(
        app=app,
        background=[
            cancelled.run,
            *(lambda stopping, c=c: c.run(js, stopping) for c in consumers),
        ],
    )


if __name__ == "__main__":
    main(ControlledWorkerSettings, "tests.e2e.worker:build")
