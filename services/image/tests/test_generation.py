"""``image.generate`` against a fake ComfyUI-style backend, with blobs in a real JetStream."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
import pyvips
from nats.js import JetStreamContext
from nats.js.kv import KeyValue

from libs.blobs import BlobStore
from libs.bus import ensure_streams
from libs.errors import Deferred, JobCancelled, PermanentError
from libs.jobs import CancelledBatches, JobContext, output_image
from services.image.generation import BackendUnavailable, GenerationFunction
from services.image.settings import GenerationBackend

from .fake_generation_server import FakeGenerationServer

WORKFLOW = {
    "3": {"class_type": "KSampler", "inputs": {"seed": 1, "steps": 20, "model": ["4", 0]}},
    "4": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "sd15.safetensors"}},
    "9": {"class_type": "SaveImage", "inputs": {"images": ["3", 0]}},
}
JOB = {"backend": "comfy", "workflow": WORKFLOW}
THRESHOLD, TTL_S = 3, 0.5


class Reports:
    """The reports a job sends through its context, kept for assertions."""

    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []

    async def __call__(self, state: str, **fields: Any) -> None:
        self.sent.append({"state": state, **fields})

    @property
    def progress(self) -> list[int]:
        return [report["progress"] for report in self.sent if "progress" in report]


@pytest.fixture
async def blobs(nats_js: JetStreamContext) -> BlobStore:
    await ensure_streams(nats_js)
    return BlobStore(nats_js)


@pytest.fixture
async def fake() -> AsyncIterator[FakeGenerationServer]:
    server = FakeGenerationServer()
    await server.start()
    yield server
    await server.stop()


MakeGeneration = Callable[..., GenerationFunction]


@pytest.fixture
async def make_generation(
    fake: FakeGenerationServer, blobs: BlobStore
) -> AsyncIterator[MakeGeneration]:
    """Build a GenerationFunction on the fake as backend "comfy"; every one is closed after."""
    made: list[GenerationFunction] = []

    def make(*, max_image_bytes: int = 50 << 20, max_images: int = 64, **backend: Any) -> Any:
        settings: dict[str, Any] = {
            "poll_interval_s": 0.05,
            "timeout_s": 10.0,
            "request_timeout_s": 2.0,
            "breaker_threshold": THRESHOLD,
            "breaker_ttl_s": TTL_S,
            **backend,
        }
        comfy = GenerationBackend(name="comfy", url=fake.url, **settings)
        function = GenerationFunction(
            [comfy], blobs, max_image_bytes=max_image_bytes, max_images=max_images
        )
        made.append(function)
        return function

    yield make
    for function in made:
        await function.close()


@pytest.fixture
def generation(make_generation: MakeGeneration) -> GenerationFunction:
    return make_generation()


@pytest.fixture
def job_context(
    watched_cancellations: CancelledBatches,
) -> Callable[[], tuple[JobContext, Reports]]:
    def make() -> tuple[JobContext, Reports]:
        reports = Reports()
        batch_id = f"batch-{uuid.uuid4().hex}"
        return JobContext(reports, watched_cancellations, batch_id, 1), reports

    return make


async def run(
    generation: GenerationFunction, context: tuple[JobContext, Reports], job: dict[str, Any] = JOB
) -> dict[str, Any]:
    return await generation(job, context[0])


async def eventually(attempt: Callable[[], Awaitable[Any]], within_s: float = 5.0) -> Any:
    """Retry ``attempt`` while it raises Deferred, until it returns or the deadline passes."""
    deadline = time.monotonic() + within_s
    while True:
        try:
            return await attempt()
        except Deferred:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.05)


# --- success -----------------------------------------------------------------------------------


async def test_success_stores_every_image_as_png(
    generation: GenerationFunction, blobs: BlobStore, job_context: Any, fake: FakeGenerationServer
) -> None:
    context = job_context()
    output = await run(generation, context)

    assert output["backend"] == "comfy"
    assert len(output["images"]) == 2  # the temp preview is not an output
    for index, image in enumerate(output["images"]):
        assert image["content_type"] == "image/png"
        assert image["filename"].endswith(f"_{index:05}.png")
        blob = await blobs.get(image["blob"])
        decoded = pyvips.Image.new_from_buffer(blob.data, "", fail_on="error")
        assert decoded.get("vips-loader") == "pngload_buffer"
        assert (decoded.width, decoded.height) == (8 + index, 8)
    assert output_image(output) == output["images"][0]["blob"], "the first stands for the run"
    assert context[1].progress[-1] == 100
    assert fake.calls["/prompt"] == 1 and fake.calls["/view"] == 2


async def test_slow_backend_succeeds_with_streamed_progress(
    generation: GenerationFunction, job_context: Any, fake: FakeGenerationServer
) -> None:
    fake.mode = "slow"
    context = job_context()

    output = await run(generation, context)

    assert len(output["images"]) == 2
    progress = context[1].progress
    assert any(0 < percent < 100 for percent in progress), progress
    assert progress == sorted(progress) and progress[-1] == 100


async def test_without_a_websocket_polling_finds_completion(
    generation: GenerationFunction, job_context: Any, fake: FakeGenerationServer
) -> None:
    fake.websocket = False
    context = job_context()

    output = await run(generation, context)

    assert len(output["images"]) == 2
    assert fake.calls["/history/{prompt_id}"] >= 1
    assert context[1].progress == [100]


async def test_flapping_backend_succeeds_thanks_to_per_call_retries(
    generation: GenerationFunction, job_context: Any, fake: FakeGenerationServer
) -> None:
    fake.mode = "flapping"

    output = await run(generation, job_context())

    assert len(output["images"]) == 2
    assert fake.failures >= 3  # submit, polls and fetches each met a 500 and tried again


# --- outages and the breaker -------------------------------------------------------------------


async def test_failing_backend_opens_the_breaker_then_recovers(
    generation: GenerationFunction, job_context: Any, fake: FakeGenerationServer
) -> None:
    fake.mode = "failing"
    for _ in range(THRESHOLD - 1):
        with pytest.raises(BackendUnavailable, match="comfy is unavailable"):
            await run(generation, job_context())
    with pytest.raises(Deferred):  # the failure that opens the breaker defers its own job
        await run(generation, job_context())
    assert fake.calls["/prompt"] == THRESHOLD * 3  # every submit was tried 3 times

    calls_before = sum(fake.calls.values())
    started = time.monotonic()
    with pytest.raises(Deferred) as deferred:
        await run(generation, job_context())
    assert time.monotonic() - started < 0.2
    assert deferred.value.delay_s >= 1.0
    assert sum(fake.calls.values()) == calls_before  # the open breaker called nothing

    fake.mode = "ok"
    output = await eventually(lambda: run(generation, job_context()))  # half-open probe
    assert len(output["images"]) == 2
    assert len((await run(generation, job_context()))["images"]) == 2  # closed again


async def test_down_backend_is_a_retryable_failure(
    generation: GenerationFunction, job_context: Any, fake: FakeGenerationServer
) -> None:
    await fake.stop()

    with pytest.raises(BackendUnavailable):
        await run(generation, job_context())


async def test_invalid_workflow_is_permanent_and_leaves_the_breaker_closed(
    generation: GenerationFunction, job_context: Any, fake: FakeGenerationServer
) -> None:
    fake.mode = "invalid"
    for _ in range(THRESHOLD + 1):
        with pytest.raises(PermanentError, match=r"failed validation.*Required input is missing"):
            await run(generation, job_context())
    assert fake.calls["/prompt"] == THRESHOLD + 1  # a refusal is not retried

    fake.mode = "ok"
    assert len((await run(generation, job_context()))["images"]) == 2  # not Deferred


async def test_execution_error_is_permanent(
    generation: GenerationFunction, job_context: Any, fake: FakeGenerationServer
) -> None:
    fake.mode = "error"

    with pytest.raises(PermanentError, match="KSampler 3: CUDA out of memory"):
        await run(generation, job_context())


async def test_unknown_backend_is_permanent_and_names_the_known_ones(
    generation: GenerationFunction, job_context: Any, fake: FakeGenerationServer
) -> None:
    with pytest.raises(PermanentError, match=r"unknown backend 'sdxl'; known: comfy"):
        await run(generation, job_context(), {"backend": "sdxl", "workflow": WORKFLOW})
    assert not fake.calls


# --- cancellation and time limits --------------------------------------------------------------


async def test_cancelling_the_batch_stops_the_job_and_interrupts_the_backend(
    generation: GenerationFunction,
    job_context: Any,
    fake: FakeGenerationServer,
    cancelled_batches: KeyValue,
) -> None:
    fake.mode = "slow"
    context = job_context()
    job = asyncio.create_task(run(generation, context))
    await asyncio.wait_for(fake.started.wait(), 5)

    await cancelled_batches.put(context[0].batch_id, b"cancelled")
    try:
        with pytest.raises(JobCancelled):
            await asyncio.wait_for(job, 5)
    finally:
        await cancelled_batches.delete(context[0].batch_id)
    assert len(fake.interrupts) == 1 and fake.deleted == [fake.interrupts[0]["prompt_id"]]
    assert fake.calls["/view"] == 0


async def test_a_generation_over_its_time_limit_is_retryable_and_interrupted(
    make_generation: MakeGeneration, job_context: Any, fake: FakeGenerationServer
) -> None:
    fake.mode = "slow"

    with pytest.raises(TimeoutError, match=r"did not finish .* in 0\.3 s"):
        await run(make_generation(timeout_s=0.3), job_context())
    assert len(fake.interrupts) == 1


# --- outputs -----------------------------------------------------------------------------------


async def test_output_that_is_not_an_image_is_retryable(
    generation: GenerationFunction, job_context: Any, fake: FakeGenerationServer
) -> None:
    fake.mode = "garbage"

    with pytest.raises(RuntimeError, match="not_an_image") as raised:
        await run(generation, job_context())
    assert not isinstance(raised.value, PermanentError)


async def test_output_over_the_byte_limit_is_refused(
    make_generation: MakeGeneration, job_context: Any
) -> None:
    with pytest.raises(PermanentError, match="is over 40 bytes"):
        await run(make_generation(max_image_bytes=40), job_context())


async def test_more_images_than_allowed_are_refused(
    make_generation: MakeGeneration, job_context: Any, fake: FakeGenerationServer
) -> None:
    with pytest.raises(PermanentError, match="saved 2 images; at most 1"):
        await run(make_generation(max_images=1), job_context())
    assert fake.calls["/view"] == 0
