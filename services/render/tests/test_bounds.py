"""Boxes of CSG nodes: never smaller than the mesh OpenSCAD renders, and close for primitives.

Each model is exported to CSG and rendered to STL by the real openscad; the box computed from
the CSG must contain the STL's vertices. Then the split leaves out siblings that cannot touch,
and the parts still add up to the whole model.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from services.render.bounds import Bounds, Box
from services.render.csg import Node, parse_csg, split_by_colour
from services.render.tests.test_csg import (
    export_csg,
    render_model,
    render_parts,
    total_volume,
)

# Models whose box is exact, up to the polygon approximation of curves.
TIGHT = {
    "cube": ("cube([2, 3, 4]);", (0, 0, 0), (2, 3, 4)),
    "centred cube": ("cube(2, center = true);", (-1, -1, -1), (1, 1, 1)),
    "moved and scaled": (
        "translate([10, 0, -5]) scale([2, 1, 1]) cube(1);",
        (10, 0, -5),
        (12, 1, -4),
    ),
    "cylinder": ("cylinder(r1 = 2, r2 = 1, h = 5, $fn = 64);", (-2, -2, 0), (2, 2, 5)),
    "centred cylinder": (
        "cylinder(r = 1, h = 4, center = true, $fn = 64);",
        (-1, -1, -2),
        (1, 1, 2),
    ),
    "sphere": ("sphere(3, $fn = 96);", (-3, -3, -3), (3, 3, 3)),
    "polyhedron": (
        "polyhedron([[0,0,0],[4,0,0],[0,5,0],[0,0,6]], [[0,2,1],[0,1,3],[0,3,2],[1,2,3]]);",
        (0, 0, 0),
        (4, 5, 6),
    ),
    "extruded square": ("linear_extrude(7) square([2, 3]);", (0, 0, 0), (2, 3, 7)),
    "difference": (
        "difference() { cube(4); translate([-9, 1, 1]) cube(2); }",
        (0, 0, 0),
        (4, 4, 4),
    ),
    "rotated": ("rotate([0, 0, 90]) cube([4, 1, 1]);", (-1, 0, 0), (0, 4, 1)),
}
# Models whose box is only required to contain the mesh.
LOOSE = {
    "rotated 45": "rotate([0, 0, 45]) cube([4, 1, 1]);",
    "twisted": "linear_extrude(height = 5, twist = 90, scale = 2) translate([1, 0]) square(1);",
    "revolved": "rotate_extrude($fn = 48) translate([3, 0]) circle(1, $fn = 24);",
    "offset": "linear_extrude(1) offset(r = 2, $fn = 24) square(3);",
    "hull": "hull() { cube(1); translate([5, 5, 5]) sphere(1, $fn = 24); }",
    "minkowski": "minkowski() { cube([4, 2, 1]); sphere(1, $fn = 16); }",
    "intersection": "intersection() { cube(4); translate([2, 2, 2]) sphere(3, $fn = 24); }",
    "polygon": "linear_extrude(2) polygon([[0, 0], [5, 1], [2, 6]]);",
    "mcad": "use <MCAD/boxes.scad>\nroundedBox([10, 6, 4], 1, true);",
}


def box_of(tmp_path: Path, model: str) -> Box | None:
    return Bounds().of(parse_csg(export_csg(tmp_path, model)))


@pytest.mark.parametrize("name", TIGHT)
def test_a_primitives_box_is_its_mesh_box(tmp_path: Path, name: str) -> None:
    model, low, high = TIGHT[name]
    box = box_of(tmp_path, model)
    assert box is not None
    assert box.low == pytest.approx(low, abs=1e-5) and box.high == pytest.approx(high, abs=1e-5)
    mesh = render_model(tmp_path, model)
    assert box.overlaps(Box(mesh.low, mesh.high))
    assert all(b - 1e-5 <= m for b, m in zip(box.low, mesh.low, strict=True))
    assert all(m <= b + 1e-5 for b, m in zip(box.high, mesh.high, strict=True))


@pytest.mark.parametrize("name", LOOSE)
def test_a_box_always_contains_the_rendered_mesh(tmp_path: Path, name: str) -> None:
    box = box_of(tmp_path, LOOSE[name])
    assert box is not None, "every node of these models has a readable extent"
    mesh = render_model(tmp_path, LOOSE[name])
    assert all(b - 1e-5 <= m for b, m in zip(box.low, mesh.low, strict=True)), (box, mesh)
    assert all(m <= b + 1e-5 for b, m in zip(box.high, mesh.high, strict=True)), (box, mesh)


@pytest.mark.parametrize(
    "csg",
    [
        'text(text = "hi", size = 10);',
        'linear_extrude(height = 1, center = false) { text(text = "hi"); }',
        "resize(newsize = [5, 5, 5], auto = [0, 0, 0]) { cube(size = [1, 1, 1]); }",
        "multmatrix([[1, 0, 0, 1], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]]) "
        '{ import(file = "part.stl", layer = "", origin = [0, 0], scale = 1); }',
    ],
    ids=["text", "extruded-text", "resize", "moved-import"],
)
def test_an_extent_that_cannot_be_read_is_unknown(csg: str) -> None:
    # Unknown counts as touching everything: the split then keeps every subtraction.
    assert Bounds().of(parse_csg(csg)) is None


def test_unreadable_arguments_are_unknown_not_an_error() -> None:
    assert Bounds().of(Node("cube", "size = [1, 1, ")) is None
    assert Bounds().of(Node("multmatrix", "[[1, 0], [0, 1]]", (Node("cube", "size = 1"),))) is None


def test_boxes_apart_do_not_overlap_and_touching_ones_do() -> None:
    unit = Box((0, 0, 0), (1, 1, 1))
    assert not unit.overlaps(Box((2, 0, 0), (3, 1, 1)))
    assert not unit.overlaps(Box((0, 0, 1.5), (1, 1, 2)))
    assert unit.overlaps(Box((1, 0, 0), (2, 1, 1))), "a shared face: kept, to be safe"
    assert unit.overlaps(Box((0.5, 0.5, 0.5), (3, 3, 3)))


TOWERS = """
$fn = 24;
color("red") cube([10, 10, 10]);
color("blue") translate([8, 0, 0]) cube([4, 4, 14]);
color("green") translate([40, 0, 0]) cylinder(r = 3, h = 12);
color("gold") translate([40, 0, 12]) sphere(3);
"""


def test_the_split_subtracts_only_siblings_that_can_touch(tmp_path: Path) -> None:
    parts = {
        c.hex(): text
        for c, text in split_by_colour(parse_csg(export_csg(tmp_path, TOWERS))).items()
    }
    red, green = parts["#ff0000ff"], parts["#008000ff"]
    assert "difference" in red and "size = [4, 4, 14]" in red, "the blue block overlaps red"
    assert "sphere" not in red and "cylinder" not in red, "the far tower cannot touch red"
    assert "sphere" in green, "the gold ball sits on the green tower"
    meshes = render_parts(tmp_path, split_by_colour(parse_csg(export_csg(tmp_path, TOWERS))))
    whole = render_model(tmp_path, TOWERS)
    assert total_volume(meshes) == pytest.approx(whole.volume, rel=1e-6), "no volume twice"
