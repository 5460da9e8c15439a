"""The render.scad job on a real JetStream: blobs out, and a repeat served from the cache."""

from __future__ import annotations

from typing import Any

import pytest
from nats.js import JetStreamContext

from libs.blobs import BlobStore
from libs.bus import PermanentError, ensure_streams
from libs.jobs import CancelledBatches, JobContext, JobFunction
from services.render.cache import RenderCache
from services.render.jobs import render_job
from services.render.scad import RenderLimits

MODEL = 'size = 5; // [1:20]\nbody = "red";\ncolor(body) cube(size);\n'


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
    ],
    ids=["out-of-range", "unknown-name", "wrong-type", "syntax-error"],
)
async def test_bad_input_fails_the_job_permanently(
    run: JobFunction, context: JobContext, job: dict[str, Any], detail: str
) -> None:
    with pytest.raises(PermanentError, match=detail):
        await run(job, context)
