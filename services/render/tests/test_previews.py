"""The quick preview and the full render draw one rule: the innermost colour wins.

Real OpenSCAD in the sandbox, real pixels: a blue child inside ``color("red")`` must be blue
in the quick preview, in the full render's PNG and in its GLB, at known pixels
(`services.render.tests.pictures`); OpenSCAD's own preview of the same source, which paints
the child red, is the control that shows the pixel check can fail.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from pathlib import Path

import numpy as np
import pytest

from services.render import scad
from services.render.coloured import render_coloured
from services.render.previews import preview_coloured
from services.render.scad import (
    EmptyModel,
    RenderLimits,
    RenderTimeout,
    ScadError,
    job_directory,
    preview_scad,
    run_openscad,
)
from services.render.tests.pictures import (
    BLUE_CHILD,
    CHILD_LINEAR,
    FLAT,
    GAP,
    NESTED,
    RED_LINEAR,
    RED_SIBLING,
    VIEW,
    colour_at,
    glb_colour_at,
    pixels,
)
from services.render.tests.test_scad import SLOW_MODEL, live_render_pids

# The lighting of the preview rounds a channel by at most a step or two.
TOLERANCE = 4
# Evaluates at once; its preview is a CGAL minkowski sum of a non-convex body, which takes
# OpenSCAD 2021.01 over a minute: a draw far slower than its CSG export.
SLOW_DRAW = (
    "minkowski() {\n  sphere(2, $fn=24);\n  difference() { cube(20); sphere(12, $fn=48); }\n}\n"
)


def quick(source: str, **kwargs: object) -> bytes:
    return asyncio.run(preview_coloured(source, **kwargs))  # type: ignore[arg-type]


def render_processes_left(job_root: Path, within_s: float = 10.0) -> set[int]:
    deadline = time.monotonic() + within_s
    while (left := live_render_pids(job_root)) and time.monotonic() < deadline:
        time.sleep(0.05)
    return left


# --- the rule, in pixels ------------------------------------------------------------------------


def test_the_quick_preview_shows_a_child_in_its_own_colour_inside_an_outer_one() -> None:
    png = quick(NESTED, view=VIEW)
    assert colour_at(png, BLUE_CHILD) == "blue"
    assert colour_at(png, RED_SIBLING) == "red", "the sibling without a colour of its own"
    assert colour_at(png, GAP) == "background", "the points are where the view puts them"


def test_the_full_render_shows_the_same_colours_in_its_png_and_its_glb() -> None:
    result = asyncio.run(render_coloured(NESTED, ["png", "glb"], view=VIEW))
    png = result.outputs["png"]
    assert colour_at(png, BLUE_CHILD) == "blue"
    assert colour_at(png, RED_SIBLING) == "red"
    # The child's part spans x 20-30 mm, the red cube's 0-10 mm.
    assert glb_colour_at(result.outputs["glb"], 25) == pytest.approx(CHILD_LINEAR, abs=1e-4)
    assert glb_colour_at(result.outputs["glb"], 5) == pytest.approx(RED_LINEAR, abs=1e-4)
    # One drawing step for both: the quick preview is the full render's picture.
    assert np.array_equal(pixels(quick(NESTED, view=VIEW)), pixels(png))


def test_the_colours_are_the_ones_openscad_draws_for_the_model_written_flat() -> None:
    # The exact shades, against OpenSCAD's own preview of the same cubes with no colour nested.
    ours = pixels(quick(NESTED, view=VIEW))
    reference = pixels(asyncio.run(preview_scad(FLAT, view=VIEW)))
    for x, y in (BLUE_CHILD, RED_SIBLING):
        difference = np.abs(ours[y, x].astype(int) - reference[y, x].astype(int))
        assert difference.max() <= TOLERANCE, (ours[y, x], reference[y, x])


def test_control_openscads_own_preview_paints_the_child_red() -> None:
    # What the preview showed before, and proof that the pixel check above can fail.
    png = asyncio.run(preview_scad(NESTED, view=VIEW))
    assert colour_at(png, BLUE_CHILD) == "red"
    assert colour_at(png, RED_SIBLING) == "red"


# --- bad input ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "source",
    ['echo("nothing");', "%cube(3);\n%sphere(2);"],
    ids=["no-geometry", "only-background"],
)
def test_a_model_with_no_material_is_a_clear_error(source: str, tmp_path: Path) -> None:
    with pytest.raises(EmptyModel, match="no 3D geometry"):
        quick(source, workdir=tmp_path)
    assert list(tmp_path.iterdir()) == [], "the job directory is removed"


def test_a_syntax_error_in_the_csg_export_names_its_line(tmp_path: Path) -> None:
    with pytest.raises(ScadError, match="Parser error") as caught:
        quick("cube(1);\nsphere(2;\n", workdir=tmp_path)
    assert caught.value.line == 2
    assert list(tmp_path.iterdir()) == []


def test_a_csg_export_that_cannot_be_read_is_a_model_error(tmp_path: Path) -> None:
    # 2021.01 writes the quotes of this text() unescaped into the CSG: neither OpenSCAD nor
    # the split can read it back, whatever is retried.
    model = 'color("red") linear_extrude(1) text("say \\"hi\\"");'
    with pytest.raises(ScadError, match=r"cannot draw this model in its colours.*quotes"):
        quick(model, workdir=tmp_path)
    assert list(tmp_path.iterdir()) == []


# --- the deadline -------------------------------------------------------------------------------


def test_a_slow_evaluation_is_stopped_at_the_deadline(tmp_path: Path) -> None:
    began = time.monotonic()
    with pytest.raises(RenderTimeout, match="longer than 2 s"):
        quick(SLOW_MODEL, limits=RenderLimits(timeout_s=2), workdir=tmp_path)
    assert time.monotonic() - began < 5
    assert render_processes_left(tmp_path) == set()
    assert list(tmp_path.iterdir()) == []


def test_a_slow_draw_after_a_quick_export_is_stopped_at_the_same_deadline(tmp_path: Path) -> None:
    began = time.monotonic()
    with pytest.raises(RenderTimeout, match="longer than 3 s"):
        quick(SLOW_DRAW, limits=RenderLimits(timeout_s=3), workdir=tmp_path)
    assert time.monotonic() - began < 6
    assert render_processes_left(tmp_path) == set()
    assert list(tmp_path.iterdir()) == []


def test_waiting_for_an_openscad_slot_counts_against_the_deadline(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # One slot, held by a slow model: the preview waits, and the deadline still holds.
    monkeypatch.setattr(scad, "parallelism", lambda: 1)

    async def blocked_preview() -> float:
        with job_directory(SLOW_MODEL, tmp_path) as job_dir:
            args = ["-o", "model.csg", "model.scad"]
            hog = asyncio.create_task(
                run_openscad(job_dir, args, limits=RenderLimits(timeout_s=30))
            )
            await asyncio.sleep(0.5)  # it has the slot
            began = time.monotonic()
            try:
                with pytest.raises(RenderTimeout, match="longer than 2 s"):
                    await preview_coloured("cube(1);", limits=RenderLimits(timeout_s=2))
                return time.monotonic() - began
            finally:
                hog.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await hog

    assert asyncio.run(blocked_preview()) < 4
    assert render_processes_left(tmp_path) == set()
