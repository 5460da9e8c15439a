"""The render.scad job on a real JetStream: blobs out, a repeat served from the cache, bad
input failed at once, and a worker that keeps acknowledging its jobs beside a large model."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from nats.js import JetStreamContext
from nats.js.api import ConsumerInfo

from libs.blobs import BlobStore
from libs.bus import ensure_streams, publish
from libs.bus.consumer import Consumer
from libs.bus.work import JobMessage
from libs.errors import ShotgraphError, is_retryable
from libs.jobs import CancelledBatches, JobContext, JobFunction, job_handler, output_image
from libs.setpieces import MAX_SOURCE_BYTES
from services.render.cache import RenderCache
from services.render.jobs import render_job
from services.render.previews import preview_coloured
from services.render.scad import RenderLimits

MODEL = 'size = 5; // [1:20]\nbody = "red";\ncolor(body) cube(size);\n'
FIVE_THOUSAND_COLOURS = (
    "for (i = [0:4999]) color([i / 5000, 0.5, 0.5]) translate([2 * i, 0, 0]) cube(1);"
)


async def no_reports(state: str, **fields: Any) -> None:
    return None


@pytest.fixture
async def run(nats_js: JetStreamContext) -> JobFunction:
    await ensure_streams(nats_js)
    return render_job(BlobStore(nats_js), RenderCache(nats_js), RenderLimits(), sandboxed=True)


@pytest.fixture
def context(watched_cancellations: CancelledBatches) -> JobContext:
    return JobContext(no_reports, watched_cancellations, "batch-render-test", 1)


async def test_formats_come_out_as_blobs_and_a_repeat_comes_from_the_cache(
    run: JobFunction, context: JobContext, nats_js: JetStreamContext
) -> None:
    job = {
        "source": MODEL,
        "parameters": {"size": 12, "body": "#00ff00"},
        "formats": ["glb", "stl"],
    }
    first = await run(job, context)
    assert first["colours"] == ["#00ff00ff"] and first["cached"] == []
    stl = await BlobStore(nats_js).get(first["stl"])
    assert stl.content_type == "model/stl" and b"12" in stl.data
    again = await run(job, context)
    assert again["cached"] == ["glb", "stl"]
    assert (again["glb"], again["stl"]) == (first["glb"], first["stl"])
    assert again["colours"] == ["#00ff00ff"], "a cached render still knows its colours"


async def test_progress_follows_the_colours_as_they_render(
    run: JobFunction, watched_cancellations: CancelledBatches
) -> None:
    reports: list[dict[str, Any]] = []

    async def record(state: str, **fields: Any) -> None:
        reports.append({"state": state, **fields})

    context = JobContext(record, watched_cancellations, "batch-render-progress", 1)
    three = 'color("red") cube(1); color("lime") translate([2, 0, 0]) cube(1);\n'
    three += 'color("blue") translate([4, 0, 0]) cube(1);\n'
    await run({"source": three, "formats": ["glb"]}, context)
    assert reports, "the job reported progress"
    assert all(r["state"] == "running" and 10 <= r["progress"] <= 95 for r in reports)
    assert reports[0]["note"].endswith("of 3 colours rendered")
    assert [r["progress"] for r in reports] == sorted(r["progress"] for r in reports)


async def test_only_the_picture_is_rendered_again_for_another_view(
    run: JobFunction, context: JobContext
) -> None:
    job = {"source": MODEL, "formats": ["png", "glb"], "view": {"width": 64, "height": 64}}
    first = await run(job, context)
    turned = await run(
        {**job, "view": {"width": 64, "height": 64, "camera": {"rotate": [0, 0, 0]}}}, context
    )
    assert turned["cached"] == ["glb"]
    assert turned["glb"] == first["glb"] and turned["png"] != first["png"]
    assert output_image(turned) == turned["png"], "the PNG is the image it declares"


async def test_a_render_without_a_png_declares_no_image(
    run: JobFunction, context: JobContext
) -> None:
    assert output_image(await run({"source": MODEL, "formats": ["stl"]}, context)) is None


async def test_a_source_of_exactly_the_limit_in_bytes_renders(
    run: JobFunction, context: JobContext
) -> None:
    source = MODEL + "//" + "é" * ((MAX_SOURCE_BYTES - len(MODEL) - 2) // 2)
    assert len(source.encode()) == MAX_SOURCE_BYTES

    assert (await run({"source": source, "formats": ["stl"]}, context))["stl"]


async def test_other_values_are_another_render(run: JobFunction, context: JobContext) -> None:
    small = await run({"source": MODEL, "parameters": {"size": 2}, "formats": ["stl"]}, context)
    large = await run({"source": MODEL, "parameters": {"size": 3}, "formats": ["stl"]}, context)
    assert small["stl"] != large["stl"] and large["cached"] == []


@pytest.mark.parametrize(
    ("job", "detail"),
    [
        ({"source": MODEL, "parameters": {"size": 99}}, "at most 20"),
        ({"source": MODEL, "parameters": {"depth": 1}}, "unknown parameter"),
        ({"source": MODEL, "parameters": {"size": "big"}}, "size"),
        ({"source": "cube(;"}, "Parser error"),
        ({"source": "sphere(1, $fn=1e7);"}, "MiB of memory"),
        ({"source": 'echo("hi");'}, "no 3D geometry"),
        ({"source": MODEL, "formats": ["obj"]}, "unsupported format"),
        ({"source": MODEL + "//" + "x" * (MAX_SOURCE_BYTES - len(MODEL) - 1)}, "262144 bytes"),
        ({"source": MODEL + "//" + "é" * (MAX_SOURCE_BYTES // 2)}, "262144 bytes"),
        ({"source": FIVE_THOUSAND_COLOURS, "formats": ["glb"]}, "5000 colours; at most 256"),
    ],
    ids=[
        "out-of-range",
        "unknown-name",
        "wrong-type",
        "syntax-error",
        "memory-limit",
        "empty",
        "unsupported-format",
        "source-one-byte-over",
        "source-under-in-characters-over-in-bytes",
        "five-thousand-colours",
    ],
)
async def test_bad_input_fails_the_job_permanently(
    run: JobFunction, context: JobContext, job: dict[str, Any], detail: str
) -> None:
    with pytest.raises(ShotgraphError, match=detail) as raised:
        await run(job, context)
    assert not is_retryable(raised.value), "the consumer terminates it: no retry fixes it"


# A large but legal model: a 100 x 100 grid of touching cubes in two colours. Each part
# subtracts its touching neighbours, so splitting it is seconds of Python (near the split's
# limits), while OpenSCAD previews it in seconds more.
GRID = (
    "for (i = [0:99], j = [0:99])\n"
    '  color((i + j) % 2 == 0 ? "red" : "blue") translate([i, j, 0]) cube(1);\n'
)


async def test_a_large_preview_beside_a_job_with_a_two_second_ack_wait_leaves_it_delivered_once(
    nats_js: JetStreamContext, watched_cancellations: CancelledBatches
) -> None:
    """The render service previews the grid while its worker holds a job whose ack wait is
    2 s. The split runs in a thread, so the event loop keeps telling JetStream the job is
    alive throughout: it is delivered once, not again to another worker."""
    await ensure_streams(nats_js)
    render = render_job(BlobStore(nats_js), RenderCache(nats_js), RenderLimits(), sandboxed=True)
    previewed = asyncio.Event()
    attempts: list[int] = []
    outputs: list[dict[str, Any]] = []

    async def run_beside_the_preview(job_input: dict[str, Any], context: JobContext) -> Any:
        attempts.append(context.attempt)
        await previewed.wait()  # in flight for the whole preview
        outputs.append(await render(job_input, context))
        return outputs[-1]

    subject = f"work.render.beside{uuid.uuid4().hex[:8]}"
    consumer = Consumer(
        service="render",
        stream="WORK",
        durable=f"beside-{uuid.uuid4().hex}",
        filter_subject=subject,
        message=JobMessage,
        handler=job_handler(nats_js, run_beside_the_preview, watched_cancellations),
        concurrency=2,
        ack_wait_s=2.0,
    )
    stopping = asyncio.Event()
    consuming = asyncio.create_task(consumer.run(nats_js, stopping))
    try:
        job = JobMessage(
            job_id=str(uuid.uuid4()),
            batch_id=str(uuid.uuid4()),
            owner_id="user-beside",
            function="render.scad",
            input={"source": MODEL, "formats": ["stl"]},
        )
        await publish(nats_js, subject, job)
        await until(lambda: bool(attempts), "the job is handed to the worker")

        png = await preview_coloured(GRID)
        previewed.set()

        assert png.startswith(b"\x89PNG")
        await until(lambda: bool(outputs), "the job is done")
        info = await until_settled(nats_js, consumer.durable)
        assert attempts == [1] and info.num_redelivered == 0, "the job was delivered again"
        assert info.delivered is not None and info.delivered.consumer_seq == 1, "delivered once"
        assert outputs[0]["stl"]
    finally:
        stopping.set()
        await consuming
        await nats_js.delete_consumer("WORK", consumer.durable)


async def until(check: Callable[[], bool], what: str) -> None:
    deadline = asyncio.get_running_loop().time() + 60
    while not check():
        assert asyncio.get_running_loop().time() < deadline, f"timed out until {what}"
        await asyncio.sleep(0.02)


async def until_settled(js: JetStreamContext, durable: str) -> ConsumerInfo:
    """The consumer's info once nothing delivered awaits its ack."""
    deadline = asyncio.get_running_loop().time() + 30
    while (info := await js.consumer_info("WORK", durable)).num_ack_pending:
        assert asyncio.get_running_loop().time() < deadline, "the job was never acked"
        await asyncio.sleep(0.02)
    return info
