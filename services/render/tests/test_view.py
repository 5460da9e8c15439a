"""The preview view: checked from JSON, canonical back to JSON, and OpenSCAD's flags."""

from __future__ import annotations

from typing import Any

import pytest

from libs.errors import InvalidArgument
from services.render.view import View


def test_no_view_is_openscads_default_fitted_to_the_model() -> None:
    view = View.from_json({})
    assert (view.width, view.height) == (512, 512)
    assert view.openscad_args() == [
        "--imgsize=512,512",
        "--projection=p",
        "--camera=0,0,0,55,0,25,1",
        "--viewall",
        "--autocenter",
    ]


def test_a_gimbal_camera_with_a_distance_is_not_refitted() -> None:
    view = View.from_json(
        {"width": 640.0, "height": 480, "camera": {"rotate": [90, 0, 0], "distance": 200}}
    )
    assert view.width == 640 and isinstance(view.width, int)
    assert "--camera=0,0,0,90,0,0,200" in view.openscad_args()
    assert "--viewall" not in view.openscad_args()


def test_a_vector_camera_is_exact() -> None:
    view = View.from_json(
        {"camera": {"eye": [10, -20, 30], "center": [0, 0, 5]}, "projection": "orthographic"}
    )
    assert view.openscad_args()[1:] == ["--projection=o", "--camera=10,-20,30,0,0,5"]


@pytest.mark.parametrize(
    "data",
    [
        {},
        {"width": 100, "height": 50},
        {"camera": {"rotate": [1, 2, 3]}},
        {"camera": {"eye": [1, 2, 3], "center": [0, 0, 0]}, "projection": "orthographic"},
    ],
)
def test_the_json_form_is_canonical(data: dict[str, Any]) -> None:
    view = View.from_json(data)
    assert View.from_json(view.to_json()) == view
    assert View.from_json(view.to_json()).to_json() == view.to_json()


@pytest.mark.parametrize(
    ("data", "detail"),
    [
        ({"width": 8}, "from 16 to 2048"),
        ({"height": 4096}, "from 16 to 2048"),
        ({"width": 100.5}, "whole pixels"),
        ({"width": True}, "whole pixels"),
        ({"projection": "fisheye"}, "projection"),
        ({"camera": "front"}, "camera must be an object"),
        ({"camera": {"zoom": 2}}, "unknown camera field"),
        ({"camera": {"rotate": [0, 0, 0], "eye": [1, 1, 1]}}, "not both"),
        ({"camera": {"eye": [1, 1, 1]}}, "needs both eye and center"),
        ({"camera": {"eye": [1, 1, 1], "center": [1, 1, 1]}}, "must differ"),
        ({"camera": {"rotate": [0, 0]}}, "camera.rotate"),
        ({"camera": {"rotate": [0, 0, float("nan")]}}, "camera.rotate"),
        ({"camera": {"rotate": [0, 0, 1e9]}}, "camera.rotate"),
        ({"camera": {"distance": -5}}, "camera.distance"),
        ({"camera": {"distance": "far"}}, "camera.distance"),
        ({"size": [1, 2]}, "unknown view field"),
        ("wide", "view must be an object"),
    ],
)
def test_a_bad_view_says_what_is_wrong(data: Any, detail: str) -> None:
    with pytest.raises(InvalidArgument, match=detail):
        View.from_json(data)
