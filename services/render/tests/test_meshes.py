"""Tests for services.render.meshes: STL in, glTF and 3MF out, each read by the real tools.

STL input comes from the real openscad 2021.01 (ASCII STL files, as the renderer leaves them
in a job's folder); binary STL is written from it here. Every glTF passes through the Khronos
validator and every 3MF through lib3mf.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import struct
import subprocess
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from numpy.typing import NDArray

from services.render import meshes
from services.render.meshes import (
    MeshError,
    Part,
    read_stl,
    srgb_to_linear,
    to_3mf,
    to_glb,
    write_3mf,
    write_glb,
)
from services.render.tests.validators import (
    LIB3MF_MILLIMETER,
    accessor,
    read_3mf,
    read_glb,
    validate_gltf,
)

OPENSCAD = "/usr/bin/openscad"
RED = (1.0, 0.0, 0.0, 1.0)
GLASS_BLUE = (0.0, 0.0, 1.0, 0.5)
BOX = "cube([10, 20, 30]);"  # unequal sides, so a swapped axis shows
SPHERE = "sphere(50, $fn=400);"  # ~160k triangles: large enough for 32-bit glTF indices
SPHERE_RADIUS = 50.0
SMALL_SPHERE = "sphere(10, $fn=60);"  # ~3,500 triangles

ScadToStl = Callable[[str], Path]
StlFile = Callable[[bytes], Path]


@pytest.fixture(scope="module")
def scad_stl(tmp_path_factory: pytest.TempPathFactory) -> ScadToStl:
    """Render OpenSCAD source to an ASCII STL file with the real openscad, once per source."""
    folder = tmp_path_factory.mktemp("scad")
    cache: dict[str, Path] = {}

    def render(source: str) -> Path:
        if source not in cache:
            scad, stl = folder / f"{len(cache)}.scad", folder / f"{len(cache)}.stl"
            scad.write_text(source)
            subprocess.run([OPENSCAD, "-o", str(stl), str(scad)], check=True, capture_output=True)
            cache[source] = stl
        return cache[source]

    return render


@pytest.fixture
def stl_file(tmp_path: Path) -> StlFile:
    """STL bytes made here, written to a file of their own as a part's mesh is."""
    made: list[Path] = []

    def write(data: bytes) -> Path:
        made.append(tmp_path / f"written_{len(made)}.stl")
        made[-1].write_bytes(data)
        return made[-1]

    return write


def facets(stl: Path) -> int:
    return stl.read_bytes().count(b"endfacet")


def binary_stl(corners: NDArray[np.float32]) -> bytes:
    """A binary STL whose header starts with "solid", as some exporters write it."""
    count = len(corners) // 3
    records = np.zeros(count, dtype=[("n", "<f4", 3), ("v", "<f4", (3, 3)), ("a", "<u2")])
    records["v"] = corners.reshape(-1, 3, 3)
    return b"solid binary".ljust(80, b" ") + struct.pack("<I", count) + records.tobytes()


def facet(*corners: tuple[str, str, str]) -> bytes:
    vertices = "".join(f"   vertex {x} {y} {z}\n" for x, y, z in corners)
    return f" facet normal 0 0 1\n  outer loop\n{vertices}  endloop\n endfacet\n".encode()


def ascii_triangle(*corners: tuple[str, str, str]) -> bytes:
    return b"solid t\n" + facet(*corners) + b"endsolid t\n"


def y_up_metres(scad_min: list[float], scad_max: list[float]) -> tuple[list[float], list[float]]:
    """Where an OpenSCAD box [min, max] in mm lands in glTF: (x, z, -y) in metres."""
    low = [scad_min[0], scad_min[2], -scad_max[1]]
    high = [scad_max[0], scad_max[2], -scad_min[1]]
    return [v / 1000 for v in low], [v / 1000 for v in high]


def assert_valid_gltf(glb: bytes) -> None:
    """No validator errors; warnings are allowed, and printed so `pytest -rP` lists them."""
    report = validate_gltf(glb)
    for issue in report.of("warning"):
        print(f"glTF validator warning {issue.code} at {issue.pointer}: {issue.message}")
    assert report.of("error") == [], report.of("error")[:10]


# --- reading STL -------------------------------------------------------------------------


def test_openscad_cube_welds_into_8_vertices_and_12_triangles(scad_stl: ScadToStl) -> None:
    mesh = read_stl(scad_stl(BOX))

    assert mesh.vertices.shape == (8, 3)
    assert mesh.triangles.shape == (12, 3)
    assert mesh.vertices.min(axis=0).tolist() == [0, 0, 0]
    assert mesh.vertices.max(axis=0).tolist() == [10, 20, 30]


def test_binary_stl_reads_like_the_ascii_it_was_written_from(scad_stl: ScadToStl) -> None:
    ascii_mesh = read_stl(scad_stl(BOX))
    corners = ascii_mesh.vertices[ascii_mesh.triangles].reshape(-1, 3)

    binary_mesh = read_stl(binary_stl(corners))

    assert np.array_equal(binary_mesh.vertices, ascii_mesh.vertices)
    assert np.array_equal(binary_mesh.triangles, ascii_mesh.triangles)


def test_an_stl_read_in_blocks_is_the_mesh_read_at_once(
    scad_stl: ScadToStl, stl_file: StlFile, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Part files are read a block at a time; facets and words split across blocks."""
    sphere = scad_stl(SMALL_SPHERE)
    whole = read_stl(sphere.read_bytes())
    corners = whole.vertices[whole.triangles].reshape(-1, 3)
    binary = stl_file(binary_stl(corners))

    monkeypatch.setattr(meshes, "_READ_BYTES", 1001)  # mid-word, mid-number, mid-facet
    for file, bytes_at_once in ((sphere, sphere.read_bytes()), (binary, binary.read_bytes())):
        at_once, in_blocks = read_stl(bytes_at_once), read_stl(file)
        assert np.array_equal(in_blocks.vertices, at_once.vertices)
        assert np.array_equal(in_blocks.triangles, at_once.triangles)
    assert len(read_stl(sphere).triangles) == facets(sphere) > 3_000


# --- glTF --------------------------------------------------------------------------------


@pytest.mark.parametrize("source", [BOX, SPHERE], ids=["box", "sphere"])
def test_glb_passes_the_khronos_validator_with_every_triangle(
    scad_stl: ScadToStl, source: str
) -> None:
    stl = scad_stl(source)

    glb = to_glb([Part(RED, stl)])

    assert_valid_gltf(glb)
    document, binary = read_glb(glb)
    (primitive,) = document["meshes"][0]["primitives"]
    assert len(accessor(document, binary, primitive["indices"])) == 3 * facets(stl)


def test_glb_box_is_y_up_in_metres(scad_stl: ScadToStl) -> None:
    document, _ = read_glb(to_glb([Part(RED, scad_stl(BOX))]))

    position = document["accessors"][
        document["meshes"][0]["primitives"][0]["attributes"]["POSITION"]
    ]
    low, high = y_up_metres([0, 0, 0], [10, 20, 30])
    assert position["min"] == pytest.approx(low)
    assert position["max"] == pytest.approx(high)  # 30 mm tall is 0.03 m up glTF's Y


def test_glb_sphere_bounds_match_its_radius(scad_stl: ScadToStl) -> None:
    document, binary = read_glb(to_glb([Part(RED, scad_stl(SPHERE))]))

    attributes = document["meshes"][0]["primitives"][0]["attributes"]
    position = document["accessors"][attributes["POSITION"]]
    radius = SPHERE_RADIUS / 1000
    assert position["min"] == pytest.approx([-radius] * 3, abs=2e-5)
    assert position["max"] == pytest.approx([radius] * 3, abs=2e-5)
    data = accessor(document, binary, attributes["POSITION"])
    assert position["min"] == data.min(axis=0).tolist()  # exact, as the validator demands
    assert position["componentType"] == 5126


def test_glb_box_is_flat_shaded_with_one_normal_per_face(scad_stl: ScadToStl) -> None:
    document, binary = read_glb(to_glb([Part(RED, scad_stl(BOX))]))

    primitive = document["meshes"][0]["primitives"][0]
    normals = accessor(document, binary, primitive["attributes"]["NORMAL"])
    indices = accessor(document, binary, primitive["indices"])
    assert len(normals) == 24  # 4 corners on each of 6 faces: edges stay crisp
    per_triangle = normals[indices].reshape(-1, 3, 3)
    assert (per_triangle == per_triangle[:, :1]).all()  # a triangle's corners agree
    assert sorted(map(tuple, np.unique(normals, axis=0).tolist())) == [
        (-1, 0, 0), (0, -1, 0), (0, 0, -1), (0, 0, 1), (0, 1, 0), (1, 0, 0)
    ]  # fmt: skip


def test_glb_leaves_out_zero_area_triangles_which_have_no_normal(
    scad_stl: ScadToStl, stl_file: StlFile
) -> None:
    sliver = (("0", "0", "0"), ("5", "0", "0"), ("10", "0", "0"))  # three points on a line
    stl = stl_file(scad_stl(BOX).read_bytes().replace(b"endsolid", facet(*sliver) + b"endsolid"))
    assert read_stl(stl).triangles.shape == (13, 3)

    glb = to_glb([Part(RED, stl)])

    assert_valid_gltf(glb)
    document, binary = read_glb(glb)
    assert len(accessor(document, binary, document["meshes"][0]["primitives"][0]["indices"])) == 36
    with pytest.raises(MeshError, match="part 1: the mesh has no triangles"):
        to_glb([Part(RED, stl_file(ascii_triangle(*sliver)))])


def test_glb_indices_are_16_bit_when_small_and_32_bit_when_large(scad_stl: ScadToStl) -> None:
    glb = to_glb([Part(RED, scad_stl(BOX)), Part(RED, scad_stl(SPHERE))])

    document, _ = read_glb(glb)
    box, sphere = document["meshes"][0]["primitives"]
    assert document["accessors"][box["indices"]]["componentType"] == 5123  # UNSIGNED_SHORT
    assert document["accessors"][sphere["indices"]]["componentType"] == 5125  # UNSIGNED_INT
    assert all(view["byteOffset"] % 4 == 0 for view in document["bufferViews"])


def test_glb_gives_each_colour_its_material_and_blends_translucent_ones(
    scad_stl: ScadToStl,
) -> None:
    parts = [Part(RED, scad_stl(BOX)), Part(GLASS_BLUE, scad_stl("sphere(8);"))]

    glb = to_glb(parts)

    assert_valid_gltf(glb)
    document, _ = read_glb(glb)
    assert len(document["meshes"]) == 1
    primitives = document["meshes"][0]["primitives"]
    materials = [document["materials"][p["material"]] for p in primitives]
    assert [m["pbrMetallicRoughness"]["baseColorFactor"] for m in materials] == [
        list(RED),
        list(GLASS_BLUE),
    ]
    assert [m["alphaMode"] for m in materials] == ["OPAQUE", "BLEND"]
    for material in materials:
        assert material["doubleSided"] is False
        assert material["pbrMetallicRoughness"]["metallicFactor"] == 0
        assert material["pbrMetallicRoughness"]["roughnessFactor"] == pytest.approx(0.8)


def test_glb_colours_are_linear_as_gltf_defines_them(scad_stl: ScadToStl) -> None:
    tomato = (1.0, 99 / 255, 71 / 255, 0.5)  # "#ff634780", sRGB as color() and 3MF mean it
    document, _ = read_glb(to_glb([Part(tomato, scad_stl(BOX))]))
    (material,) = document["materials"]
    assert material["name"] == "#FF634780"
    assert material["pbrMetallicRoughness"]["baseColorFactor"] == pytest.approx(
        [1.0, 0.1248, 0.0630, 0.5], abs=1e-4
    ), "linear light; alpha stays as it is"
    assert srgb_to_linear(0.0) == 0.0 and srgb_to_linear(1.0) == pytest.approx(1.0)
    assert srgb_to_linear(0.5) == pytest.approx(0.2140, abs=1e-4)


def test_glb_parts_of_one_colour_share_a_material(scad_stl: ScadToStl) -> None:
    parts = [Part(RED, scad_stl(BOX)), Part(RED, scad_stl("sphere(8);"))]

    document, _ = read_glb(to_glb(parts))

    assert len(document["materials"]) == 1
    assert [p["material"] for p in document["meshes"][0]["primitives"]] == [0, 0]


# --- 3MF ---------------------------------------------------------------------------------


@pytest.mark.parametrize("source", [BOX, SPHERE], ids=["box", "sphere"])
def test_3mf_reads_back_in_lib3mf_with_every_triangle(scad_stl: ScadToStl, source: str) -> None:
    stl = scad_stl(source)

    model = read_3mf(to_3mf([Part(RED, stl)]))

    assert model.unit == LIB3MF_MILLIMETER
    assert model.build_items == 1
    (obj,) = model.objects
    assert obj.triangle_count == facets(stl)
    assert obj.valid  # oriented and manifold, as a slicer needs
    assert np.array_equal(obj.vertices, read_stl(stl).vertices)  # exact, in millimetres


def test_3mf_box_keeps_openscad_millimetres_and_z_up(scad_stl: ScadToStl) -> None:
    (obj,) = read_3mf(to_3mf([Part(RED, scad_stl(BOX))])).objects

    assert obj.vertices.min(axis=0).tolist() == [0, 0, 0]
    assert obj.vertices.max(axis=0).tolist() == [10, 20, 30]


def test_3mf_colours_every_object_and_triangle(scad_stl: ScadToStl) -> None:
    parts = [Part(RED, scad_stl(BOX)), Part(GLASS_BLUE, scad_stl("sphere(8);"))]

    model = read_3mf(to_3mf(parts))

    assert model.build_items == 2
    red, blue = model.objects
    assert (red.rgba, red.triangle_rgba) == ((255, 0, 0, 255), {(255, 0, 0, 255)})
    assert (blue.rgba, blue.triangle_rgba) == ((0, 0, 255, 128), {(0, 0, 255, 128)})
    assert [red.triangle_count, blue.triangle_count] == [12, facets(parts[1].stl)]


def test_3mf_writes_colour_groups_the_way_orca_and_bambu_read_them(
    scad_stl: ScadToStl,
) -> None:
    parts = [Part(RED, scad_stl(BOX)), Part(GLASS_BLUE, scad_stl(BOX))]

    with zipfile.ZipFile(io.BytesIO(to_3mf(parts))) as package:
        xml = package.read("3D/3dmodel.model").decode()

    # Their parsers match the literal tag "m:colorgroup" and read only the object's pid.
    assert '<m:colorgroup id="1"><m:color color="#FF0000FF"/></m:colorgroup>' in xml
    assert '<m:colorgroup id="2"><m:color color="#0000FF80"/></m:colorgroup>' in xml
    assert 'pid="1" pindex="0"' in xml and 'pid="2" pindex="0"' in xml


def test_3mf_is_a_deflated_opc_package_and_reproducible(scad_stl: ScadToStl) -> None:
    parts = [Part(RED, scad_stl(BOX))]

    package_bytes = to_3mf(parts)

    with zipfile.ZipFile(io.BytesIO(package_bytes)) as package:
        entries = {info.filename: info.compress_type for info in package.infolist()}
        content_types = package.read("[Content_Types].xml").decode()
        relationships = package.read("_rels/.rels").decode()
    assert entries == dict.fromkeys(
        ["[Content_Types].xml", "_rels/.rels", "3D/3dmodel.model"], zipfile.ZIP_DEFLATED
    )
    assert "application/vnd.ms-package.3dmanufacturing-3dmodel+xml" in content_types
    assert 'Target="/3D/3dmodel.model"' in relationships
    assert to_3mf(parts) == package_bytes


# --- bad input ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "stl",
    [
        b"",
        b"PK\x03\x04 a zip file, not a mesh",
        b"solid broken\n facet normal 0 0 1\n  outer loop\n   vertex 0 0 0\n",
        ascii_triangle(("0", "0", "0"), ("1", "0", "zero"), ("0", "1", "0")),
        b"solid empty\nendsolid empty\n",
        ascii_triangle(("0", "0", "0"), ("0", "0", "0"), ("1", "1", "1")),
    ],
    ids=["empty", "not-stl", "truncated-ascii", "word-for-number", "no-facets", "degenerate"],
)
def test_unreadable_stl_is_a_mesh_error(stl: bytes, stl_file: StlFile) -> None:
    with pytest.raises(MeshError):
        read_stl(stl)
    with pytest.raises(MeshError, match="part 1"):
        to_glb([Part(RED, stl_file(stl))])


@pytest.mark.parametrize("value", ["nan", "inf"])
def test_ascii_stl_with_non_finite_coordinates_is_a_mesh_error(value: str) -> None:
    stl = ascii_triangle(("0", "0", "0"), ("1", "0", value), ("0", "1", "0"))

    with pytest.raises(MeshError, match="NaN"):
        read_stl(stl)


def test_binary_stl_with_nan_is_a_mesh_error(stl_file: StlFile) -> None:
    corners = np.array([[0, 0, 0], [1, 0, math.nan], [0, 1, 0]], dtype=np.float32)

    with pytest.raises(MeshError, match="NaN"):
        to_3mf([Part(RED, stl_file(binary_stl(corners)))])


def test_files_written_a_part_at_a_time_hold_what_is_made_in_memory(
    scad_stl: ScadToStl, tmp_path: Path
) -> None:
    parts = [Part(RED, scad_stl(BOX)), Part(GLASS_BLUE, scad_stl(SMALL_SPHERE))]

    write_glb(parts, tmp_path / "model.glb")
    write_3mf(parts, tmp_path / "model.3mf")

    for name, made in (("model.glb", to_glb(parts)), ("model.3mf", to_3mf(parts))):
        written = (tmp_path / name).read_bytes()
        assert hashlib.sha256(written).digest() == hashlib.sha256(made).digest(), name
    assert_valid_gltf((tmp_path / "model.glb").read_bytes())
    assert sorted(path.name for path in tmp_path.iterdir()) == ["model.3mf", "model.glb"], (
        "the binary chunk's spool is gone"
    )


def test_no_parts_is_a_mesh_error() -> None:
    with pytest.raises(MeshError, match="no parts"):
        to_glb([])
    with pytest.raises(MeshError, match="no parts"):
        to_3mf([])


def test_more_triangles_than_the_limit_is_a_mesh_error(scad_stl: ScadToStl) -> None:
    box = scad_stl(BOX)  # 12 triangles

    with pytest.raises(MeshError, match="12 triangles; the limit is 11"):
        read_stl(box, max_triangles=11)
    with pytest.raises(MeshError, match="24 triangles; the limit is 20"):
        to_glb([Part(RED, box), Part(GLASS_BLUE, box)], max_triangles=20)
    with pytest.raises(MeshError, match="24 triangles; the limit is 20"):
        to_3mf([Part(RED, box), Part(GLASS_BLUE, box)], max_triangles=20)


def test_the_limit_is_checked_before_the_facets_are_parsed() -> None:
    unparseable = b"solid x\n" + b"endfacet\n" * 21

    with pytest.raises(MeshError, match="21 triangles; the limit is 20"):
        read_stl(unparseable, max_triangles=20)


def test_a_binary_header_claiming_millions_of_triangles_without_them_is_not_an_stl() -> None:
    header = b"\0" * 80 + struct.pack("<I", 6_000_000)

    with pytest.raises(MeshError, match="not an STL"):
        read_stl(header)  # the length must be exactly 84 + 50 bytes per triangle


@pytest.mark.parametrize("rgba", [(1.0, 0.0, 0.0), (1.5, 0.0, 0.0, 1.0), (math.nan, 0, 0, 1)])
def test_colour_outside_0_to_1_is_a_mesh_error(rgba: tuple[float, ...]) -> None:
    with pytest.raises(MeshError, match="colour"):
        Part(rgba, Path("part_0.stl"))  # type: ignore[arg-type]


def test_validator_helper_reports_a_broken_glb(scad_stl: ScadToStl) -> None:
    """The validator really reads the data: a wrong POSITION min is an error."""
    document, binary = read_glb(to_glb([Part(RED, scad_stl(BOX))]))
    document["accessors"][0]["min"] = [1, 1, 1]
    text = json.dumps(document).encode()
    text += b" " * (-len(text) % 4)
    glb = b"".join(
        [
            struct.pack("<4sII", b"glTF", 2, 28 + len(text) + len(binary)),
            struct.pack("<I4s", len(text), b"JSON"),
            text,
            struct.pack("<I4s", len(binary), b"BIN\0"),
            binary,
        ]
    )

    codes = {issue.code for issue in validate_gltf(glb).of("error")}

    assert "ACCESSOR_MIN_MISMATCH" in codes
