"""How image jobs find their images (blobs, or the image a named dependency's output declares),
and that every image they make is declared the same way for the jobs after them."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from nats.js import JetStreamContext

from libs.blobs import BlobStore
from libs.bus import ensure_streams
from libs.errors import PermanentError
from libs.jobs import CancelledBatches, JobContext, output_image
from services.image.derived import DerivedImages
from services.image.jobs import frame_job, image_ref, source_blob, thumbnail_job, transform_job
from services.image.tests.conftest import gradient
from services.image.thumbnails import ImageLimits

RENDER, THUMB = "a" * 64, "b" * 64
JOB_INPUT = {
    "dependencies": {
        "scene:set-piece": {"png": RENDER, "glb": "c" * 64, "colours": [], "image": RENDER},
        "ada:thumbnail": {"thumbnail": THUMB, "width": 256, "image": THUMB},
        "notes": {"text": "no image here"},
        "old-render": {"png": RENDER, "glb": "c" * 64},  # made before outputs declared images
    }
}


def test_an_image_is_a_blob_or_what_the_named_dependency_declares() -> None:
    assert image_ref(JOB_INPUT, "d" * 64) == "d" * 64
    assert image_ref(JOB_INPUT, {"from": "scene:set-piece"}) == RENDER
    assert image_ref(JOB_INPUT, {"from": "ada:thumbnail"}) == THUMB
    assert source_blob({**JOB_INPUT, "backdrop": {"from": "ada:thumbnail"}}, "backdrop") == THUMB


def test_without_a_blob_the_source_is_the_first_image_a_dependency_declares() -> None:
    dependencies = {
        "notes": {"text": "none"},
        "ada:thumbnail": {"thumbnail": THUMB, "image": THUMB},
    }

    assert source_blob({"dependencies": dependencies}) == THUMB
    with pytest.raises(PermanentError, match="needs 'blob' or a dependency"):
        source_blob({"dependencies": {"old-render": {"png": RENDER}}})


@pytest.mark.parametrize(
    ("ref", "says"),
    [
        ({"from": "missing"}, "no dependency 'missing'"),
        ({"from": "notes"}, "made no image"),
        ({"from": "old-render"}, "its output has no 'image'"),
    ],
    ids=["missing-dependency", "output-without-image", "png-not-declared-as-image"],
)
def test_a_reference_to_no_declared_image_is_a_permanent_failure(ref: object, says: str) -> None:
    with pytest.raises(PermanentError, match=says):
        image_ref(JOB_INPUT, ref)


async def no_reports(state: str, **fields: Any) -> None:
    return None


async def test_each_job_declares_the_image_it_made_and_the_next_one_reads_it(
    nats_js: JetStreamContext, watched_cancellations: CancelledBatches
) -> None:
    await ensure_streams(nats_js)
    blobs, limits = BlobStore(nats_js), ImageLimits()
    context = JobContext(no_reports, watched_cancellations, "batch-image-chain", 1)
    upload = await blobs.put(gradient(640, 480).pngsave_buffer(), "image/png")

    thumbnail = await thumbnail_job(blobs, limits)({"blob": upload, "size": 128}, context)
    assert output_image(thumbnail) == thumbnail["thumbnail"]

    derived = DerivedImages(nats_js, blobs, limits, asyncio.Semaphore(1))
    transform = await transform_job(derived)(
        {"options": "rs:fill:320:180/f:png", "dependencies": {"ada/thumbnail/0": thumbnail}},
        context,
    )
    assert output_image(transform) == transform["image"] != thumbnail["thumbnail"]

    frame = await frame_job(blobs, limits)(
        {
            "backdrop": {"from": "yard/render"},
            "characters": [{"from": "ada/thumbnail/0"}],
            "title": "Enter",
            "duration_s": 2,
            "size": [320, 180],
            "dependencies": {"yard/render": transform, "ada/thumbnail/0": thumbnail},
        },
        context,
    )
    assert output_image(frame) == frame["frame"]
    assert (await blobs.get(frame["frame"])).content_type == "image/png"
