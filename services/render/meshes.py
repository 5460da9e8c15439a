"""Coloured meshes for the browser viewer (glTF binary) and for slicers (3MF).

The renderer gives one STL file per colour; this module welds each into an indexed mesh and
packs the parts into one file. Parts are read one at a time, each in bounded blocks, and the
output is written as it is made (a GLB's binary chunk is spooled to a file until its JSON is
known), so memory holds one part's mesh, not the model's.

Choices that a consumer of these files will notice:

- glTF is Y-up and in metres (glTF 2.0, "Coordinate System and Units"); OpenSCAD is Z-up
  and conventionally in millimetres. Positions are baked as (x, z, -y) / 1000 so that every
  viewer, AR included, shows the part at its real size the right way up without depending
  on node transforms. The OpenSCAD front (-Y) faces glTF's +Z, the default camera side.
- glTF normals are flat: each triangle's corners carry its face normal, and corners share a
  vertex only where their normals agree to about 0.1 degree, i.e. across a flat face. Smooth
  vertex normals would round off every CAD edge in three.js; full unwelding would triple the
  vertex count of flat faces for nothing. Zero-area triangles have no normal and are left
  out of the glTF (they draw nothing).
- 3MF keeps OpenSCAD's millimetres and axes (unit="millimeter", Z up, as slicers expect).
  Each part is its own object whose object-level pid points at a Materials-extension
  <m:colorgroup> holding that part's one colour. OrcaSlicer and Bambu Studio read exactly
  this (literal "m:" prefix, object-level pid; per-triangle pid and core <basematerials>
  are ignored) and give each distinct colour its own filament; lib3mf and Windows 3D
  Builder read it as standard. PrusaSlicer (2.9) and Cura read no colours from a 3MF they
  did not write: they get one object per colour, named by its colour, to assign by hand.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import shutil
import struct
import tempfile
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "MAX_TRIANGLES",
    "Mesh",
    "MeshError",
    "Part",
    "read_stl",
    "srgb_to_linear",
    "to_3mf",
    "to_glb",
    "write_3mf",
    "write_glb",
]

MAX_TRIANGLES = 5_000_000  # all parts together; ~250 MB of binary STL

MSG_BAD_COLOUR = "colour must be four numbers from 0 to 1, got {rgba!r}"
MSG_NO_PARTS = "no parts to assemble"
MSG_NOT_STL = "not an STL file: neither a binary STL nor ASCII text starting with 'solid'"
MSG_BAD_ASCII = "malformed ASCII STL: {detail}"
MSG_NO_TRIANGLES = "the mesh has no triangles"
MSG_NOT_FINITE = "the mesh has NaN or infinite coordinates"
MSG_TOO_MANY = "the model has {count} triangles; the limit is {limit}"
MSG_PART = "part {index}: {error}"

_BINARY_FACET = np.dtype([("normal", "<f4", 3), ("corners", "<f4", (3, 3)), ("attr", "<u2")])
_ASCII_VERTEX = re.compile(rb"vertex\s+(\S+)\s+(\S+)\s+(\S+)")

# glTF enums (glTF 2.0 spec, section 5).
_COMPONENT = {np.dtype(np.float32): 5126, np.dtype(np.uint16): 5123, np.dtype(np.uint32): 5125}
_ARRAY_BUFFER, _ELEMENT_ARRAY_BUFFER = 34962, 34963
_ROUGHNESS = 0.8  # matte plastic: highlights show the shape without mirroring the scene
_NORMAL_STEPS = 1024  # normals equal to within 1/1024 per axis (~0.1 degree) share vertices

_MATERIAL_NS = "http://schemas.microsoft.com/3dmanufacturing/material/2015/02"
_CONTENT_TYPES = """<?xml version="1.0" encoding="UTF-8"?>
<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">
 <Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>
 <Default Extension="model" ContentType="application/vnd.ms-package.3dmanufacturing-3dmodel+xml"/>
</Types>
"""
_RELS = """<?xml version="1.0" encoding="UTF-8"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">
 <Relationship Id="rel0" Target="/3D/3dmodel.model"
  Type="http://schemas.microsoft.com/3dmanufacturing/2013/01/3dmodel"/>
</Relationships>
"""
_MODEL_HEAD = f"""<?xml version="1.0" encoding="UTF-8"?>
<model unit="millimeter" xml:lang="en-US"
 xmlns="http://schemas.microsoft.com/3dmanufacturing/core/2015/02" xmlns:m="{_MATERIAL_NS}">
 <metadata name="Application">Shotgraph</metadata>
 <resources>
"""
_VERTEX = '     <vertex x="%.9g" y="%.9g" z="%.9g"/>\n'  # 9 digits: float32 survives exactly
_TRIANGLE = '     <triangle v1="%d" v2="%d" v3="%d"/>\n'
_XML_ROWS = 65536  # rows formatted per write, to bound memory on large meshes
_READ_BYTES = 8 << 20  # STL read per block: ~33,000 ASCII facets, ~170,000 binary ones
_ENDFACET = b"endfacet"


class MeshError(ValueError):
    """The input cannot become a mesh file: unreadable STL, no triangles, too large, NaN."""


@dataclass(frozen=True)
class Part:
    """One colour of a model: RGBA floats from 0 to 1 and the file of that colour's STL
    (binary or ASCII), read only while a GLB or 3MF is made."""

    rgba: tuple[float, float, float, float]
    stl: Path

    def __post_init__(self) -> None:
        rgba = tuple(float(c) for c in self.rgba)
        if len(rgba) != 4 or not all(0.0 <= c <= 1.0 for c in rgba):  # NaN fails the range
            raise MeshError(MSG_BAD_COLOUR.format(rgba=self.rgba))
        object.__setattr__(self, "rgba", rgba)  # a list would not hash as a material key

    @property
    def hex(self) -> str:
        """The colour as 3MF writes it: "#RRGGBBAA"."""
        return _hex(self.rgba)


@dataclass(frozen=True, eq=False)
class Mesh:
    """An indexed triangle mesh in the STL's own units and axes."""

    vertices: NDArray[np.float32]  # (n, 3), each position once
    triangles: NDArray[np.uint32]  # (m, 3), three distinct vertex indices per row


def read_stl(stl: bytes | Path, *, max_triangles: int = MAX_TRIANGLES) -> Mesh:
    """Parse a binary or ASCII STL (bytes or a file) and weld corners at identical positions
    into vertices."""
    with _opened(stl) as file:
        binary, count = _kind_and_count(file)
        if count > max_triangles:
            raise MeshError(MSG_TOO_MANY.format(count=count, limit=max_triangles))
        corners = _binary_corners(file, count) if binary else _ascii_corners(file, count)
    if not np.isfinite(corners).all():
        raise MeshError(MSG_NOT_FINITE)
    corners = corners + np.float32(0)  # turns -0.0 into 0.0, so both weld
    keys = np.ascontiguousarray(corners).view(np.dtype((np.void, 12))).ravel()
    _, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
    triangles = inverse.reshape(-1, 3).astype(np.uint32)
    a, b, c = triangles.T
    triangles = triangles[(a != b) & (b != c) & (a != c)]  # collapsed by welding
    if len(triangles) == 0:
        raise MeshError(MSG_NO_TRIANGLES)
    return Mesh(vertices=corners[first], triangles=triangles)


def to_glb(parts: Sequence[Part], *, max_triangles: int = MAX_TRIANGLES) -> bytes:
    """`write_glb` into memory."""
    out = io.BytesIO()
    _write_glb(parts, out, io.BytesIO(), max_triangles)
    return out.getvalue()


def write_glb(parts: Sequence[Part], path: Path, *, max_triangles: int = MAX_TRIANGLES) -> None:
    """One glTF 2.0 binary at path: one mesh, one primitive and one PBR material per colour.

    The binary chunk is spooled beside it until the JSON that precedes it is known.
    """
    with path.open("wb") as out, tempfile.TemporaryFile(dir=path.parent) as spool:
        _write_glb(parts, out, spool, max_triangles)


def _write_glb(parts: Sequence[Part], out: IO[bytes], spool: IO[bytes], max_triangles: int) -> None:
    _check_total(parts, max_triangles)
    chunk = _BinaryChunk(spool)
    materials: dict[tuple[float, ...], int] = {}  # colour -> material index
    primitives = []
    for index, part in enumerate(parts, start=1):
        positions, normals, indices = _flat_shaded(_read_part(index, part, max_triangles))
        if len(indices) == 0:
            raise MeshError(MSG_PART.format(index=index, error=MSG_NO_TRIANGLES))
        # 0xFFFF is reserved as the primitive restart value, so it may not be an index.
        index_dtype = np.uint16 if len(positions) < 0xFFFF else np.uint32
        bounds = {"min": positions.min(axis=0).tolist(), "max": positions.max(axis=0).tolist()}
        attributes = {
            "POSITION": chunk.add(positions, "VEC3", _ARRAY_BUFFER, **bounds),
            "NORMAL": chunk.add(normals, "VEC3", _ARRAY_BUFFER),
        }
        indices_accessor = chunk.add(indices.astype(index_dtype), "SCALAR", _ELEMENT_ARRAY_BUFFER)
        material = materials.setdefault(part.rgba, len(materials))
        primitives.append(
            {"attributes": attributes, "indices": indices_accessor, "material": material}
        )
        del positions, normals, indices  # spooled: not held while the next part is read
    document = {
        "asset": {"version": "2.0", "generator": "Shotgraph"},
        "scene": 0,
        "scenes": [{"nodes": [0]}],
        "nodes": [{"mesh": 0}],
        "meshes": [{"primitives": primitives}],
        "materials": [_material(rgba) for rgba in materials],
        "accessors": chunk.accessors,
        "bufferViews": chunk.views,
        "buffers": [{"byteLength": chunk.length}],
    }
    text = json.dumps(document, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 4)  # chunks are 4-byte aligned; JSON pads with spaces
    out.write(struct.pack("<4sII", b"glTF", 2, 12 + 8 + len(text) + 8 + chunk.length))
    out.write(struct.pack("<I4s", len(text), b"JSON"))
    out.write(text)
    out.write(struct.pack("<I4s", chunk.length, b"BIN\0"))
    spool.seek(0)
    shutil.copyfileobj(spool, out)


def to_3mf(parts: Sequence[Part], *, max_triangles: int = MAX_TRIANGLES) -> bytes:
    """`write_3mf` into memory."""
    out = io.BytesIO()
    _write_3mf(parts, out, max_triangles)
    return out.getvalue()


def write_3mf(parts: Sequence[Part], path: Path, *, max_triangles: int = MAX_TRIANGLES) -> None:
    """One 3MF package in millimetres at path: one object per part, coloured by an
    m:colorgroup."""
    with path.open("wb") as out:
        _write_3mf(parts, out, max_triangles)


def _write_3mf(parts: Sequence[Part], out: IO[bytes], max_triangles: int) -> None:
    _check_total(parts, max_triangles)
    with zipfile.ZipFile(out, "w") as package:
        package.writestr(_zip_entry("[Content_Types].xml"), _CONTENT_TYPES)
        package.writestr(_zip_entry("_rels/.rels"), _RELS)
        with package.open(_zip_entry("3D/3dmodel.model"), "w") as model:
            _write_model(model, parts, max_triangles)


def _check_total(parts: Sequence[Part], max_triangles: int) -> None:
    """Refuse too many triangles in all before parsing any, so an oversized model costs no
    memory."""
    if not parts:
        raise MeshError(MSG_NO_PARTS)
    total = 0
    for index, part in enumerate(parts, start=1):
        try:
            with _opened(part.stl) as file:
                total += _kind_and_count(file)[1]
        except MeshError as error:
            raise MeshError(MSG_PART.format(index=index, error=error)) from error
    if total > max_triangles:
        raise MeshError(MSG_TOO_MANY.format(count=total, limit=max_triangles))


def _read_part(index: int, part: Part, max_triangles: int) -> Mesh:
    try:
        return read_stl(part.stl, max_triangles=max_triangles)
    except MeshError as error:
        raise MeshError(MSG_PART.format(index=index, error=error)) from error


@contextlib.contextmanager
def _opened(stl: bytes | Path) -> Iterator[IO[bytes]]:
    if isinstance(stl, bytes):
        yield io.BytesIO(stl)
        return
    try:
        file = stl.open("rb")
    except OSError as error:
        raise MeshError(f"cannot read {stl.name}: {error.strerror}") from error
    with file:
        yield file


def _kind_and_count(file: IO[bytes]) -> tuple[bool, int]:
    """Whether file is a binary STL, and the triangles it declares, counted without parsing
    them; the file is left at its first facet."""
    size = file.seek(0, os.SEEK_END)
    file.seek(0)
    head = file.read(84)
    # The header may itself start with "solid", so the exact length is the reliable test.
    if len(head) == 84 and size == 84 + 50 * int.from_bytes(head[80:84], "little"):
        return True, int.from_bytes(head[80:84], "little")
    file.seek(0)
    if not file.read(_READ_BYTES).lstrip().startswith(b"solid"):
        raise MeshError(MSG_NOT_STL)
    file.seek(0)
    count, carried = 0, b""
    while block := file.read(_READ_BYTES):
        # The carried tail is too short to hold a whole word (counted already), but may
        # begin one split across the two blocks; occurrences of the word cannot overlap.
        data = carried + block
        count += data.count(_ENDFACET)
        carried = data[1 - len(_ENDFACET) :]
    file.seek(0)
    return False, count


def _binary_corners(file: IO[bytes], count: int) -> NDArray[np.float32]:
    corners = np.empty((3 * count, 3), dtype=np.float32)
    facets_per_block = _READ_BYTES // _BINARY_FACET.itemsize
    for start in range(0, count, facets_per_block):
        facets = np.frombuffer(
            file.read(_BINARY_FACET.itemsize * min(facets_per_block, count - start)),
            dtype=_BINARY_FACET,
        )
        corners[3 * start : 3 * (start + len(facets))] = facets["corners"].reshape(-1, 3)
    return corners


def _ascii_corners(file: IO[bytes], count: int) -> NDArray[np.float32]:
    """The vertices of an ASCII STL, parsed a block of whole facets at a time."""
    if count == 0:
        raise MeshError(MSG_NO_TRIANGLES)
    corners = np.empty((3 * count, 3), dtype=np.float32)
    filled, carried = 0, b""
    while True:
        block = file.read(_READ_BYTES)
        data = carried + block
        if block:  # parse up to the last whole facet; the rest goes with the next block
            cut = data.rfind(_ENDFACET)
            if cut < 0:
                if len(data) > 2 * _READ_BYTES:
                    raise MeshError(MSG_BAD_ASCII.format(detail="a facet without its endfacet"))
                carried = data
                continue
            data, carried = data[: cut + len(_ENDFACET)], data[cut + len(_ENDFACET) :]
        rows = _ASCII_VERTEX.findall(data)
        if filled + len(rows) > len(corners):
            filled += len(rows)
            break
        try:
            corners[filled : filled + len(rows)] = np.array(rows, dtype=np.float64).reshape(-1, 3)
        except ValueError as error:
            raise MeshError(MSG_BAD_ASCII.format(detail=error)) from error
        filled += len(rows)
        if not block:
            break
    if filled != len(corners):
        detail = f"{filled} vertices for {count} facets"
        raise MeshError(MSG_BAD_ASCII.format(detail=detail))
    return corners


def _flat_shaded(mesh: Mesh) -> tuple[NDArray[np.float32], NDArray[np.float32], NDArray[Any]]:
    """Positions, normals (both glTF Y-up, metres) and indices with one normal per face."""
    corners = mesh.vertices.astype(np.float64)[mesh.triangles]
    normals = np.cross(corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0])
    lengths = np.linalg.norm(normals, axis=1)
    keep = lengths > 0
    normals = normals[keep] / lengths[keep, None]
    triangles = mesh.triangles[keep].astype(np.int64)
    # A corner is (vertex, quantised face normal) numbered as one int64; each normal axis
    # takes 2 * 1024 + 1 steps, so the key stays exact for up to 2**30 vertices.
    base = 2 * _NORMAL_STEPS + 1
    steps = np.rint(normals * _NORMAL_STEPS).astype(np.int64) + _NORMAL_STEPS
    face_key = (steps[:, 0] * base + steps[:, 1]) * base + steps[:, 2]
    keys = triangles * base**3 + face_key[:, None]
    _, first, indices = np.unique(keys.ravel(), return_index=True, return_inverse=True)
    positions = mesh.vertices[triangles.ravel()[first]].astype(np.float64)
    corner_normals = np.repeat(normals, 3, axis=0)[first]
    return _y_up(positions / 1000), _y_up(corner_normals), indices


def _y_up(xyz: NDArray[np.float64]) -> NDArray[np.float32]:
    """Rotate OpenSCAD's Z-up into glTF's Y-up: -90 degrees about X, (x, y, z) -> (x, z, -y)."""
    return np.stack([xyz[:, 0], xyz[:, 2], -xyz[:, 1]], axis=1).astype(np.float32)


def srgb_to_linear(channel: float) -> float:
    """One sRGB channel (what color() and 3MF mean) in linear light (what glTF means)."""
    if channel <= 0.04045:
        return channel / 12.92
    return float(((channel + 0.055) / 1.055) ** 2.4)


def _material(rgba: tuple[float, ...]) -> dict[str, Any]:
    # glTF 2.0's baseColorFactor is linear RGB: written as sRGB, a viewer that follows the
    # spec (three.js does) would show every colour between 0 and 1 lighter than it is.
    return {
        "name": _hex(rgba),
        "pbrMetallicRoughness": {
            "baseColorFactor": [*(srgb_to_linear(c) for c in rgba[:3]), rgba[3]],
            "metallicFactor": 0.0,
            "roughnessFactor": _ROUGHNESS,
        },
        "alphaMode": "BLEND" if rgba[3] < 1 else "OPAQUE",
        "doubleSided": False,
    }


class _BinaryChunk:
    """The GLB binary chunk, written to ``spool`` as it grows, with the bufferViews and
    accessors that point into it."""

    def __init__(self, spool: IO[bytes]) -> None:
        self.spool = spool
        self.length = 0
        self.views: list[dict[str, Any]] = []
        self.accessors: list[dict[str, Any]] = []

    def add(self, array: NDArray[Any], kind: str, target: int, **bounds: Any) -> int:
        """Append one tightly packed bufferView and its accessor; return the accessor index."""
        view = {"buffer": 0, "byteOffset": self.length, "byteLength": array.nbytes}
        self.views.append({**view, "target": target})
        padding = -array.nbytes % 4  # the next view starts 4-byte aligned
        self.spool.write(array.tobytes() + bytes(padding))
        self.length += array.nbytes + padding
        accessor = {"bufferView": len(self.views) - 1, "componentType": _COMPONENT[array.dtype]}
        self.accessors.append({**accessor, "count": len(array), "type": kind, **bounds})
        return len(self.accessors) - 1


def _write_model(out: IO[bytes], parts: Sequence[Part], max_triangles: int) -> None:
    groups: dict[str, int] = {}  # "#RRGGBBAA" -> colour group id; object ids follow them
    for part in parts:
        groups.setdefault(part.hex, len(groups) + 1)
    out.write(_MODEL_HEAD.encode())
    for colour, group in groups.items():
        out.write(
            f'  <m:colorgroup id="{group}"><m:color color="{colour}"/></m:colorgroup>\n'.encode()
        )
    for index, part in enumerate(parts, start=1):
        mesh = _read_part(index, part, max_triangles)
        out.write(
            f'  <object id="{len(groups) + index}" type="model" name="part {index} {part.hex}" '
            f'pid="{groups[part.hex]}" pindex="0">\n   <mesh>\n    <vertices>\n'.encode()
        )
        _write_rows(out, _VERTEX, mesh.vertices)
        out.write(b"    </vertices>\n    <triangles>\n")
        _write_rows(out, _TRIANGLE, mesh.triangles)
        out.write(b"    </triangles>\n   </mesh>\n  </object>\n")
        del mesh  # written: not held while the next part is read
    out.write(b" </resources>\n <build>\n")
    for index in range(1, len(parts) + 1):
        out.write(f'  <item objectid="{len(groups) + index}"/>\n'.encode())
    out.write(b" </build>\n</model>\n")


def _zip_entry(name: str) -> zipfile.ZipInfo:
    """A deflated entry with a fixed date, so equal models give byte-identical packages."""
    entry = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
    entry.compress_type = zipfile.ZIP_DEFLATED
    return entry


def _hex(rgba: tuple[float, ...]) -> str:
    return "#" + "".join(f"{round(c * 255):02X}" for c in rgba)


def _write_rows(out: IO[bytes], template: str, rows: NDArray[Any]) -> None:
    for start in range(0, len(rows), _XML_ROWS):
        chunk = rows[start : start + _XML_ROWS].tolist()
        out.write("".join([template % tuple(row) for row in chunk]).encode())
