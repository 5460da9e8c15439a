"""The image a job's output declares: one member, read the same way by every consumer."""

from __future__ import annotations

import pytest

from libs.jobs import IMAGE_FIELD, output_image

BLOB = "a" * 64


def test_the_declared_member_names_the_image() -> None:
    assert IMAGE_FIELD == "image"
    assert output_image({"thumbnail": BLOB, "image": BLOB, "width": 8}) == BLOB


@pytest.mark.parametrize(
    "output",
    [{"png": BLOB, "glb": "b" * 64}, {"frame": BLOB}, {"image": 7}, {"image": None}, None, [BLOB]],
    ids=["png-undeclared", "frame-undeclared", "not-a-blob-id", "null", "no-output", "a-list"],
)
def test_nothing_is_guessed_from_an_output_that_declares_no_image(output: object) -> None:
    assert output_image(output) is None
