"""The render.scad job on a real JetStream: blobs out, and a repeat served from the cache."""

from __future__ import annotations

from typing import Any

import pytest
from nats.js import JetStreamContext

from libs.blobs import BlobStore
from libs.bus import ensure_streams
from libs.errors import ShotgraphError, is_retryable
from libs.jobs import CancelledBatches, JobContext, JobFunction, output_image
from libs.setpieces import MAX_SOURCE_BYTES
from services.render.cache import RenderCache
from services.render.jobs import render_job
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
