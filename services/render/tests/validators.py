"""Read meshes.py's output with the real tools: Khronos glTF-Validator and lib3mf.

Both are required, never skipped: a mesh file that only our own code has read is untested.
The glTF validator is an npm package that `make bootstrap` installs into `.tools/`.
"""

from __future__ import annotations

import json
import os
import shutil
import struct
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import lib3mf
import numpy as np
import pytest
from numpy.typing import NDArray

REPO_ROOT = Path(__file__).resolve().parents[3]
GLTF_VALIDATOR_ENV = "SHOTGRAPH_GLTF_VALIDATOR"
DEFAULT_GLTF_VALIDATOR = REPO_ROOT / ".tools" / "node_modules" / "gltf-validator"
MSG_NO_VALIDATOR = (
    "the Khronos glTF validator is not installed at {path} (or set {env} to the "
    "gltf-validator package directory); `make bootstrap` installs it"
)
MSG_NO_NODE = "Node.js (`node`) is not on PATH; the glTF validator needs it"
SEVERITIES = ("error", "warning", "info", "hint")  # the validator's severity codes 0..3
# Reads the GLB from stdin and prints the validator's report as JSON.
VALIDATE_JS = """
const validator = require(process.argv[1]);
const bytes = new Uint8Array(require("fs").readFileSync(0));
validator.validateBytes(bytes, { maxIssues: 0 }).then(
  (report) => process.stdout.write(JSON.stringify(report)),
  (error) => { console.error(String(error)); process.exit(2); },
);
"""
LIB3MF_MILLIMETER = 1  # lib3mf's eModelUnit.MilliMeter


@dataclass(frozen=True)
class GltfIssue:
    code: str
    message: str
    severity: str
    pointer: str


@dataclass(frozen=True)
class GltfReport:
    issues: list[GltfIssue]

    def of(self, severity: str) -> list[GltfIssue]:
        return [issue for issue in self.issues if issue.severity == severity]


def gltf_validator() -> Path:
    """The installed gltf-validator package; fails the test with the fix if it is missing."""
    path = Path(os.environ.get(GLTF_VALIDATOR_ENV) or DEFAULT_GLTF_VALIDATOR)
    if not (path / "package.json").is_file():
        pytest.fail(MSG_NO_VALIDATOR.format(path=path, env=GLTF_VALIDATOR_ENV), pytrace=False)
    if shutil.which("node") is None:
        pytest.fail(MSG_NO_NODE, pytrace=False)
    return path


def validate_gltf(glb: bytes) -> GltfReport:
    """Run the Khronos glTF validator on a GLB and return every issue it reports."""
    result = subprocess.run(
        ["node", "-e", VALIDATE_JS, str(gltf_validator())],
        input=glb,
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr.decode(errors="replace")
    report = json.loads(result.stdout)
    return GltfReport(
        issues=[
            GltfIssue(m["code"], m["message"], SEVERITIES[m["severity"]], m.get("pointer", ""))
            for m in report["issues"]["messages"]
        ]
    )


def read_glb(glb: bytes) -> tuple[dict[str, Any], bytes]:
    """Split a GLB into its JSON document and binary chunk."""
    magic, version, length = struct.unpack_from("<4sII", glb)
    assert (magic, version, length) == (b"glTF", 2, len(glb))
    json_length, json_type = struct.unpack_from("<I4s", glb, 12)
    assert json_type == b"JSON"
    document = json.loads(glb[20 : 20 + json_length])
    bin_length, bin_type = struct.unpack_from("<I4s", glb, 20 + json_length)
    assert bin_type == b"BIN\0"
    start = 28 + json_length
    return document, glb[start : start + bin_length]


def accessor(document: dict[str, Any], binary: bytes, index: int) -> NDArray[Any]:
    """One tightly packed accessor's data as a numpy array (rows of VEC3, or a flat SCALAR)."""
    spec = document["accessors"][index]
    view = document["bufferViews"][spec["bufferView"]]
    dtype = {5126: np.float32, 5123: np.uint16, 5125: np.uint32}[spec["componentType"]]
    width = {"SCALAR": 1, "VEC3": 3}[spec["type"]]
    data = np.frombuffer(
        binary, dtype=dtype, count=spec["count"] * width, offset=view["byteOffset"]
    )
    return data if width == 1 else data.reshape(-1, width)


@dataclass(frozen=True)
class ThreeMfObject:
    name: str
    vertices: NDArray[np.float32]
    triangle_count: int
    rgba: tuple[int, int, int, int]  # the object-level colour, 0..255
    triangle_rgba: set[tuple[int, int, int, int]]  # the colours lib3mf gives its triangles
    valid: bool  # lib3mf: oriented and manifold


@dataclass(frozen=True)
class ThreeMfModel:
    unit: int
    objects: list[ThreeMfObject]
    build_items: int


def read_3mf(package: bytes) -> ThreeMfModel:
    """Read a 3MF with the 3MF Consortium's lib3mf in strict mode (warnings are errors)."""
    wrapper = lib3mf.get_wrapper()
    model = wrapper.CreateModel()
    reader = model.QueryReader("3mf")
    reader.SetStrictModeActive(True)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "model.3mf"
        path.write_bytes(package)
        reader.ReadFromFile(str(path))
    assert reader.GetWarningCount() == 0

    def colour(resource: int, property_id: int) -> tuple[int, int, int, int]:
        c = model.GetColorGroupByID(resource).GetColor(property_id)
        return (c.Red, c.Green, c.Blue, c.Alpha)

    objects = []
    meshes = model.GetMeshObjects()
    while meshes.MoveNext():
        mesh = meshes.GetCurrentMeshObject()
        resource, property_id, has_property = mesh.GetObjectLevelProperty()
        assert has_property, f"object {mesh.GetName()!r} has no colour"
        properties = {
            (p.ResourceID, p.PropertyIDs[corner])
            for p in mesh.GetAllTriangleProperties()
            for corner in range(3)
        }
        vertices = np.array([v.Coordinates[:] for v in mesh.GetVertices()], dtype=np.float32)
        objects.append(
            ThreeMfObject(
                name=mesh.GetName(),
                vertices=vertices,
                triangle_count=mesh.GetTriangleCount(),
                rgba=colour(resource, property_id),
                triangle_rgba={colour(*p) for p in properties},
                valid=mesh.IsValid(),
            )
        )
    items = model.GetBuildItems()
    build_items = 0
    while items.MoveNext():
        build_items += 1
    return ThreeMfModel(unit=model.GetUnit(), objects=objects, build_items=build_items)
