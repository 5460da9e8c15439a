"""Coloured renders end to end through the real OpenSCAD, sandboxed: the colours a model
declares come out in its GLB, its 3MF and its preview alike."""

from __future__ import annotations

import asyncio
from collections.abc import Collection, Sequence
from pathlib import Path

import pytest
import pyvips

from libs.errors import InvalidArgument
from services.render.coloured import ColouredRender, render_coloured
from services.render.scad import ScadError
from services.render.tests.validators import read_3mf, read_glb, validate_gltf

TWO_COLOURS = 'color("red") cube(10);\ncolor([0, 0, 1]) translate([20, 0, 0]) sphere(5);\n'
RED, BLUE = "#ff0000ff", "#0000ffff"


def render(source: str, formats: Collection[str], defines: Sequence[str] = ()) -> ColouredRender:
    return asyncio.run(render_coloured(source, formats, defines=defines))


def share_of(png: bytes, rgb: tuple[int, int, int]) -> float:
    """The share of pixels close to ``rgb`` (preview lighting shades faces a little)."""
    image = pyvips.Image.new_from_buffer(png, "")[:3]
    r, g, b = rgb
    distance = ((image[0] - r) ** 2 + (image[1] - g) ** 2 + (image[2] - b) ** 2) ** 0.5
    return float((distance < 120).avg() / 255)


def test_every_format_carries_the_models_colours() -> None:
    result = render(TWO_COLOURS, ["png", "glb", "3mf", "stl"])
    assert result.colours == [RED, BLUE]
    assert set(result.outputs) == {"png", "glb", "3mf", "stl"}

    assert [i for i in validate_gltf(result.outputs["glb"]).issues if i.severity == "error"] == []
    document, _ = read_glb(result.outputs["glb"])
    factors = [m["pbrMetallicRoughness"]["baseColorFactor"] for m in document["materials"]]
    assert factors == [[1, 0, 0, 1], [0, 0, 1, 1]]

    model = read_3mf(result.outputs["3mf"])
    assert sorted(o.rgba for o in model.objects) == [(0, 0, 255, 255), (255, 0, 0, 255)]

    png = result.outputs["png"]
    assert share_of(png, (255, 0, 0)) > 0.01 and share_of(png, (0, 0, 255)) > 0.01
    assert result.outputs["stl"].startswith(b"solid")


def test_innermost_colour_wins_in_the_meshes_and_the_preview_alike() -> None:
    # OpenSCAD 2021.01's own preview would paint both cubes red; ours follows the meshes.
    nested = 'color("red") { cube(10); color("blue") translate([20, 0, 0]) cube(10); }'
    result = render(nested, ["png", "glb"])
    assert result.colours == [RED, BLUE]
    assert share_of(result.outputs["png"], (0, 0, 255)) > 0.01


def test_a_coloured_cutter_adds_no_material() -> None:
    model = 'color("red") difference() { cube(10); color("blue") translate([5, 5, 5]) cube(10); }'
    result = render(model, ["3mf"])
    assert result.colours == [RED]
    assert len(read_3mf(result.outputs["3mf"]).objects) == 1


def test_parameter_values_reach_the_model() -> None:
    result = render("size = 5;\ncube(size);", ["stl"], defines=["-D", "size=12"])
    assert b"12" in result.outputs["stl"]


def test_plain_stl_alone_needs_no_split() -> None:
    result = render(TWO_COLOURS, ["stl"])
    assert set(result.outputs) == {"stl"} and result.colours == []


@pytest.mark.parametrize("formats", [["obj"], [], ["glb", "dxf"]], ids=["obj", "none", "dxf"])
def test_an_unsupported_format_is_refused_before_anything_runs(formats: list[str]) -> None:
    with pytest.raises(InvalidArgument, match="format"):
        render(TWO_COLOURS, formats)


def test_an_empty_model_is_a_clear_error() -> None:
    with pytest.raises(ScadError, match=r"no top level|no 3D geometry|empty"):
        render('echo("nothing here");', ["glb"])


def test_a_syntax_error_names_its_line(tmp_path: Path) -> None:
    with pytest.raises(ScadError, match="line 2"):
        render("cube(1);\ncube(;\n", ["glb"])
