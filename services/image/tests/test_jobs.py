"""How image jobs find their images: blobs, or what a named dependency made."""

from __future__ import annotations

import pytest

from libs.errors import PermanentError
from services.image.jobs import image_ref, source_blob

RENDER, THUMB = "a" * 64, "b" * 64
JOB_INPUT = {
    "dependencies": {
        "scene:set-piece": {"png": RENDER, "glb": "c" * 64, "colours": ["#ff0000"]},
        "ada:thumbnail": {"thumbnail": THUMB, "width": 256},
        "notes": {"text": "no image here"},
    }
}


def test_an_image_is_a_blob_or_what_the_named_dependency_made() -> None:
    assert image_ref(JOB_INPUT, "d" * 64) == "d" * 64
    assert image_ref(JOB_INPUT, {"from": "scene:set-piece"}) == RENDER  # its PNG, not its GLB
    assert image_ref(JOB_INPUT, {"from": "ada:thumbnail"}) == THUMB
    assert source_blob({**JOB_INPUT, "backdrop": {"from": "ada:thumbnail"}}, "backdrop") == THUMB


@pytest.mark.parametrize(
    ("ref", "says"),
    [({"from": "missing"}, "no dependency 'missing'"), ({"from": "notes"}, "made no image")],
)
def test_a_reference_to_no_image_is_a_permanent_failure(ref: object, says: str) -> None:
    with pytest.raises(PermanentError, match=says):
        image_ref(JOB_INPUT, ref)
