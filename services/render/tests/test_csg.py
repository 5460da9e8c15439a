"""Tests for services.render.csg against the real openscad 2021.01 binary (unsandboxed).

Each model is written as .scad, exported to .csg by openscad, split, and every part is
rendered back to STL by openscad. The volume and bounds of each part are then checked
against the plain render of the whole model.
"""

from __future__ import annotations

import subprocess
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from services.render.csg import (
    DEFAULT_COLOUR,
    MAX_COLOURS,
    MAX_CSG_BYTES,
    MAX_CSG_NODES,
    MAX_DEPTH,
    MAX_PART_NODES,
    CsgError,
    CsgTooLarge,
    Node,
    Rgba,
    format_csg,
    parse_csg,
    recoloured,
    split_by_colour,
)

OPENSCAD = "/usr/bin/openscad"
RED = Rgba(1, 0, 0, 1)
GREEN = Rgba(0, 0.501961, 0, 1)  # "green" is #008000; CSG keeps six significant digits
BLUE = Rgba(0, 0, 1, 1)
VOLUME_TOLERANCE = 1e-3


@dataclass(frozen=True)
class Mesh:
    volume: float
    low: tuple[float, float, float]
    high: tuple[float, float, float]


def read_stl(path: Path) -> Mesh:
    """Signed volume and bounding box of the ASCII STL openscad writes."""
    vertices = [
        tuple(float(value) for value in line.split()[1:4])
        for line in path.read_text().splitlines()
        if line.lstrip().startswith("vertex")
    ]
    volume = 0.0
    for (ax, ay, az), (bx, by, bz), (cx, cy, cz) in zip(*[iter(vertices)] * 3, strict=True):
        volume += ax * (by * cz - bz * cy) - ay * (bx * cz - bz * cx) + az * (bx * cy - by * cx)
    xs, ys, zs = zip(*vertices, strict=True)
    return Mesh(volume / 6, (min(xs), min(ys), min(zs)), (max(xs), max(ys), max(zs)))


def openscad(source: Path, output: Path) -> str:
    """Run openscad -o output source; return its stderr, failing the test on a bad exit."""
    result = subprocess.run(
        [OPENSCAD, "-o", str(output), str(source)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stderr


def export_csg(tmp_path: Path, model: str) -> str:
    (tmp_path / "model.scad").write_text(model)
    openscad(tmp_path / "model.scad", tmp_path / "model.csg")
    return (tmp_path / "model.csg").read_text()


def split_model(tmp_path: Path, model: str) -> dict[Rgba, str]:
    return split_by_colour(parse_csg(export_csg(tmp_path, model)))


def render_model(tmp_path: Path, model: str) -> Mesh:
    (tmp_path / "whole.scad").write_text(model)
    openscad(tmp_path / "whole.scad", tmp_path / "whole.stl")
    return read_stl(tmp_path / "whole.stl")


def render_parts(tmp_path: Path, parts: dict[Rgba, str]) -> dict[Rgba, Mesh]:
    """Render every part's CSG to STL, two at a time, checking each is clean, readable CSG."""

    def render(index: int, text: str) -> Mesh:
        assert format_csg(parse_csg(text)) == text, "part CSG must re-parse to itself"
        source, output = tmp_path / f"part_{index}.csg", tmp_path / f"part_{index}.stl"
        source.write_text(text)
        log = openscad(source, output)
        assert "WARNING" not in log and "ERROR" not in log, log
        return read_stl(output)

    with ThreadPoolExecutor(max_workers=2) as pool:
        meshes = pool.map(render, range(len(parts)), parts.values())
        return dict(zip(parts, meshes, strict=True))


def assert_mesh(mesh: Mesh, volume: float, low: tuple[float, ...], high: tuple[float, ...]) -> None:
    assert mesh.volume == pytest.approx(volume, abs=VOLUME_TOLERANCE), mesh
    assert (mesh.low, mesh.high) == (pytest.approx(low), pytest.approx(high)), mesh


def assert_inside(mesh: Mesh, low: tuple[float, ...], high: tuple[float, ...]) -> None:
    eps = 1e-6
    assert all(lo - eps <= m for m, lo in zip(mesh.low, low, strict=True)), mesh
    assert all(m <= hi + eps for m, hi in zip(mesh.high, high, strict=True)), mesh


def total_volume(meshes: dict[Rgba, Mesh]) -> float:
    return sum(mesh.volume for mesh in meshes.values())


def test_two_colours_become_two_parts_with_their_own_bounds(tmp_path: Path) -> None:
    model = 'color("red") cube(10);\ncolor("blue") translate([20, 5, 5]) sphere(5, $fn=12);\n'
    parts = split_model(tmp_path, model)
    assert list(parts) == [RED, BLUE]
    meshes = render_parts(tmp_path, parts)
    assert_mesh(meshes[RED], 1000, (0, 0, 0), (10, 10, 10))
    assert_inside(meshes[BLUE], (15, 0, 0), (25, 10, 10))
    assert meshes[BLUE].low[0] < 15.5 and meshes[BLUE].high[0] > 24.5
    whole = render_model(tmp_path, model)
    assert total_volume(meshes) == pytest.approx(whole.volume, abs=VOLUME_TOLERANCE)


def test_innermost_colour_wins(tmp_path: Path) -> None:
    model = 'color("red") { cube(10); color("blue") translate([20, 0, 0]) cube(10); }\n'
    parts = split_model(tmp_path, model)
    assert list(parts) == [RED, BLUE]
    meshes = render_parts(tmp_path, parts)
    assert_mesh(meshes[RED], 1000, (0, 0, 0), (10, 10, 10))
    assert_mesh(meshes[BLUE], 1000, (20, 0, 0), (30, 10, 10))


def test_recoloured_draws_each_part_inside_its_own_colour(tmp_path: Path) -> None:
    # OpenSCAD's preview lets the outermost color() win: the wrapper is the rule's colour,
    # whatever the color() nodes kept inside a part say.
    model = 'color("red") { cube(10); color([0, 0, 1, 0.5]) translate([20, 0, 0]) cube(10); }\n'
    parts = split_model(tmp_path, model)
    drawn = parse_csg(recoloured(parts))
    assert [(node.name, node.args) for node in drawn.children] == [
        ("color", "[1.0, 0.0, 0.0, 1.0]"),
        ("color", "[0.0, 0.0, 1.0, 0.5]"),
    ]
    for node, part in zip(drawn.children, parts.values(), strict=True):
        assert format_csg(Node("group", "", node.children)) == part
    assert recoloured({}) == ""


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        ('color(alpha=0.5) color("blue") cube(1);', BLUE),  # the inner colour sets every channel
        ('color("nosuchcolour") color("blue") cube(1);', BLUE),
        ('color("nosuchcolour") cube(1);', DEFAULT_COLOUR),
        ('color("red") color(alpha=0.5) cube(1);', Rgba(1, 0, 0, 0.5)),  # only alpha is set
        ('color("blue") color("nosuchcolour") cube(1);', BLUE),  # sets nothing
    ],
    ids=[
        "alpha-only-outer",
        "unknown-name-outer",
        "unknown-name-alone",
        "alpha-only-inner",
        "unknown-name-inner",
    ],
)
def test_an_unresolved_channel_keeps_the_colour_around_it(
    tmp_path: Path, model: str, expected: Rgba
) -> None:
    assert list(split_model(tmp_path, model)) == [expected]


def test_uncoloured_material_gets_the_default_colour(tmp_path: Path) -> None:
    assert DEFAULT_COLOUR.hex() == "#f9d72cff"
    model = 'cube(10);\ncolor("red") translate([20, 0, 0]) cube(10);\n'
    parts = split_model(tmp_path, model)
    assert list(parts) == [DEFAULT_COLOUR, RED]
    meshes = render_parts(tmp_path, parts)
    assert_mesh(meshes[DEFAULT_COLOUR], 1000, (0, 0, 0), (10, 10, 10))
    assert_mesh(meshes[RED], 1000, (20, 0, 0), (30, 10, 10))


@pytest.mark.parametrize(
    ("colour", "expected"),
    [
        ('"#ff000080"', "#ff000080"),
        ("[0, 0, 1, 0.5]", "#0000ff80"),
        ('"SteelBlue"', "#4682b4ff"),
        ('"#0f0"', "#00ff00ff"),
        ('"red", 0.25', "#ff000040"),
        ("alpha=0.5", "#f9d72c80"),  # default colour, own alpha
        ("[2, -1, 0]", "#ffd700ff"),  # clamped; the unset channel comes from the default
    ],
)
def test_colour_notations_resolve_to_rgba(tmp_path: Path, colour: str, expected: str) -> None:
    parts = split_model(tmp_path, f"color({colour}) cube(1);")
    assert [c.hex() for c in parts] == [expected]


def test_rgba_vector_keeps_its_alpha_as_a_separate_material(tmp_path: Path) -> None:
    model = "color([0, 0, 1, 0.5]) cube(1);\ncolor([0, 0, 1]) translate([2, 0, 0]) cube(1);\n"
    assert list(split_model(tmp_path, model)) == [Rgba(0, 0, 1, 0.5), BLUE]


def test_difference_has_only_the_first_childs_colour(tmp_path: Path) -> None:
    model = (
        'difference() { color("red") cube(10); '
        'color("blue") translate([10, 10, 10]) sphere(6, $fn=12); }\n'
    )
    parts = split_model(tmp_path, model)
    assert list(parts) == [RED]
    meshes = render_parts(tmp_path, parts)
    whole = render_model(tmp_path, model)
    assert 0 < whole.volume < 1000
    assert meshes[RED].volume == pytest.approx(whole.volume, abs=VOLUME_TOLERANCE)


def test_difference_of_a_mixed_first_child_splits_it(tmp_path: Path) -> None:
    model = (
        'difference() { union() { color("red") cube(10); color("blue") translate([10, 0, 0])'
        " cube(10); } translate([5, 5, -1]) cube([10, 10, 12]); }\n"
    )
    parts = split_model(tmp_path, model)
    meshes = render_parts(tmp_path, parts)
    assert_mesh(meshes[RED], 750, (0, 0, 0), (10, 10, 10))
    assert_mesh(meshes[BLUE], 750, (10, 0, 0), (20, 10, 10))


def test_overlapping_union_gives_the_overlap_to_the_later_child(tmp_path: Path) -> None:
    model = 'color("red") cube(10);\ncolor("blue") translate([5, 0, 0]) cube(10);\n'
    parts = split_model(tmp_path, model)
    meshes = render_parts(tmp_path, parts)
    assert_mesh(meshes[RED], 500, (0, 0, 0), (5, 10, 10))
    assert_mesh(meshes[BLUE], 1000, (5, 0, 0), (15, 10, 10))
    whole = render_model(tmp_path, model)
    assert total_volume(meshes) == pytest.approx(whole.volume, abs=VOLUME_TOLERANCE)


def test_intersection_takes_the_first_childs_colours(tmp_path: Path) -> None:
    model = (
        'intersection() { union() { color("red") cube(10); color("green") translate([10, 0, 0])'
        ' cube(10); } color("blue") translate([5, 0, 0]) cube(10); }\n'
    )
    parts = split_model(tmp_path, model)
    assert list(parts) == [RED, GREEN]
    meshes = render_parts(tmp_path, parts)
    assert_mesh(meshes[RED], 500, (5, 0, 0), (10, 10, 10))
    assert_mesh(meshes[GREEN], 500, (10, 0, 0), (15, 10, 10))


def test_extrusions_loops_and_fn(tmp_path: Path) -> None:
    model = """
    $fn = 8;
    color("green") linear_extrude(height=5) square(5);
    // A colour inside an extrusion is ignored by the preview: this one is default-coloured.
    linear_extrude(height=2) color("blue") translate([10, 0]) circle(2);
    for (i = [0:2]) color([i / 2, 0, 1 - i / 2]) translate([0, 20 + i * 10, 0]) sphere(2);
    """
    parts = split_model(tmp_path, model)
    spheres = [Rgba(0, 0, 1, 1), Rgba(0.5, 0, 0.5, 1), Rgba(1, 0, 0, 1)]
    assert list(parts) == [GREEN, DEFAULT_COLOUR, *spheres]
    meshes = render_parts(tmp_path, parts)
    assert_mesh(meshes[GREEN], 125, (0, 0, 0), (5, 5, 5))
    assert_inside(meshes[DEFAULT_COLOUR], (8, -2, 0), (12, 2, 2))
    for i, colour in enumerate(spheres):
        assert_inside(meshes[colour], (-2, 18 + i * 10, -2), (2, 22 + i * 10, 2))
    whole = render_model(tmp_path, model)
    assert total_volume(meshes) == pytest.approx(whole.volume, abs=VOLUME_TOLERANCE)


def test_background_objects_are_not_material(tmp_path: Path) -> None:
    model = '%color("red") cube(5);\ncolor("blue") sphere(2);\ndifference() { %cube(1); }\n'
    assert list(split_model(tmp_path, model)) == [BLUE]


@pytest.mark.parametrize("model", ['echo("nothing");', "%cube(1);"], ids=["echo", "background"])
def test_model_without_material_has_no_parts(tmp_path: Path, model: str) -> None:
    assert split_model(tmp_path, model) == {}


def test_formatting_a_real_export_gives_back_the_same_text(tmp_path: Path) -> None:
    model = """
    $fn = 6;
    color("red", 0.5) rotate([10, 20, 30]) cube([1, 2, 3], center=true);
    %sphere(1);
    #cylinder(h=2, r1=1, r2=0);
    hull() { cube(1); translate([2, 0, 0]) sphere(1); }
    minkowski() { cube(1); sphere(0.2); }
    render() difference() { cube(3); color("blue") sphere(2); }
    intersection_for (i = [0:1]) translate([i, 0, 0]) cube(2);
    rotate_extrude(angle=90) translate([3, 0]) offset(r=0.5) square(1);
    linear_extrude(height=1, twist=30, scale=0.5) polygon([[0, 0], [2, 0], [0, 2]]);
    polyhedron([[0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1]],
               [[0, 1, 2], [0, 3, 1], [0, 2, 3], [1, 3, 2]]);
    linear_extrude(1) text("a;{}()[],", size=3);
    linear_extrude(1) projection(cut=true) resize([2, 2, 2]) sphere(3);
    module m() { children(); }
    m() { cube(1); sphere(1); }
    group();
    """
    text = export_csg(tmp_path, model)
    tree = parse_csg(text)
    assert format_csg(tree) == text.rstrip("\n") + "\n"
    assert parse_csg(format_csg(tree)) == tree
    for part in split_by_colour(tree).values():
        assert parse_csg(part) is not None


def test_text_with_a_quote_is_csg_error(tmp_path: Path) -> None:
    # 2021.01 writes the string unescaped: text = "say "hi"", which no parser can read.
    text = export_csg(tmp_path, 'linear_extrude(1) text("say \\"hi\\"");')
    with pytest.raises(CsgError, match="malformed string"):
        parse_csg(text)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("cube(size = [1, 1, 1]", "unterminated argument list"),
        ("group() {\n\tcube();\n", "line 3: expected '}', found end of file"),
        ("cube();\n}", "line 2: expected a module name, found '}'"),
        ("cube() cube();", "expected '{'"),
        ("cube(size = [1, 1, 1);", "balanced brackets"),
        ("cube(size = (1]);", "balanced brackets"),
        ('text(text = "abc);', "unterminated string"),
        ("frobnicate();", "unsupported CSG node 'frobnicate'"),
        ("!cube();", "unsupported modifier '!'"),
        ("color(red) { cube(); }", "not \\[r, g, b, a\\] numbers"),
        ("color([1, 0, 0]) { cube(); }", "not \\[r, g, b, a\\] numbers"),
        ("12 cube();", "expected a module name, found '1'"),
    ],
    ids=[
        "unclosed-args",
        "unclosed-block",
        "stray-brace",
        "missing-semicolon",
        "bracket-mismatch",
        "paren-mismatch",
        "unclosed-string",
        "unknown-node",
        "root-modifier",
        "colour-name",
        "colour-rgb-only",
        "number-statement",
    ],
)
def test_malformed_csg_is_csg_error(text: str, message: str) -> None:
    with pytest.raises(CsgError, match=message):
        parse_csg(text)


# --- limits: a model past them is refused with the limit named, before it costs much ---------


def cubes(count: int, colours: int, size: int = 1, spacing: float = 2.0) -> str:
    """CSG of ``count`` cubes in a row, cycling through ``colours`` greys."""
    return "".join(
        f"color([{(i % colours) / colours}, 0.5, 0.5, 1]) {{\n"
        f"\tmultmatrix([[1, 0, 0, {spacing * i}], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]]) {{\n"
        f"\t\tcube(size = [{size}, 1, 1], center = false);\n\t}}\n}}\n"
        for i in range(count)
    )


def test_more_colours_than_the_limit_are_refused_naming_it() -> None:
    assert len(split_by_colour(parse_csg(cubes(MAX_COLOURS, MAX_COLOURS)))) == MAX_COLOURS
    with pytest.raises(CsgTooLarge, match=f"5000 colours; at most {MAX_COLOURS}"):
        split_by_colour(parse_csg(cubes(5000, 5000)))


def test_more_nodes_than_the_limit_are_refused_naming_it() -> None:
    nodes_per_cube = 3  # color, multmatrix, cube
    fits = cubes(MAX_CSG_NODES // nodes_per_cube, 1)
    assert len(parse_csg(fits).children) == MAX_CSG_NODES // nodes_per_cube
    with pytest.raises(CsgTooLarge, match=f"more than {MAX_CSG_NODES} nodes"):
        parse_csg(fits + "cube(size = [1, 1, 1], center = false);\n" * nodes_per_cube)


def test_more_bytes_than_the_limit_are_refused_before_parsing() -> None:
    comment = "cube(size = [1, 1, 1], center = false);\n" + " " * MAX_CSG_BYTES
    with pytest.raises(CsgTooLarge, match=f"at most {MAX_CSG_BYTES} bytes"):
        parse_csg(comment)


def test_nesting_deeper_than_the_limit_is_refused_naming_it() -> None:
    def nested(depth: int) -> str:
        return "group() {" * depth + "cube(size = [1, 1, 1], center = false);" + "}" * depth

    assert parse_csg(nested(MAX_DEPTH - 1))
    with pytest.raises(CsgTooLarge, match=f"more than {MAX_DEPTH} levels"):
        parse_csg(nested(MAX_DEPTH + 1))


def test_parts_that_touch_too_many_other_colours_are_refused_naming_the_limit() -> None:
    # Eight colours in a row of overlapping boxes: each part subtracts the next seven boxes.
    touching = parse_csg(cubes(MAX_PART_NODES // 20, 8, size=8, spacing=1.0))
    with pytest.raises(CsgTooLarge, match=f"at most {MAX_PART_NODES} are rendered"):
        split_by_colour(touching)
