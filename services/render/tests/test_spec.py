"""A render request checked into a plan: values, formats, view and its cache keys."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from libs.errors import InvalidArgument
from libs.setpieces import MAX_SOURCE_BYTES
from services.render.spec import RenderPlan, plan_render, spec_input
from shotgraph.render.v1 import render_pb2

MODEL = 'size = 5; // [1:20]\nbody = "red";\ncolor(body) cube(size);\n'
SETS = {
    "parameterSets": {"Big": {"size": "18", "body": "#0000ff"}, "Small": {"size": "2"}},
    "fileFormatVersion": "1",
}


def plan(raw: dict[str, Any]) -> RenderPlan:
    return asyncio.run(plan_render(raw))


def padded(size: int, pad: str = "x") -> str:
    """MODEL with a comment of ``pad`` characters (topped up with "x") making it exactly
    ``size`` bytes of UTF-8."""
    room = size - len(MODEL.encode()) - len("//")
    width = len(pad.encode())
    return MODEL + "//" + pad * (room // width) + "x" * (room % width)


def test_defaults_fill_in_what_the_request_leaves_out() -> None:
    checked = plan({"source": MODEL})
    assert checked.values == {"size": 5, "body": "#ff0000"}
    assert checked.formats == ["png", "stl"]
    assert checked.job_input() == {
        "source": MODEL,
        "parameters": {"size": 5, "body": "#ff0000"},
        "formats": ["png", "stl"],
        "view": {"width": 512, "height": 512, "projection": "perspective"},
    }
    assert checked.defines() == ["-D", "size=5", "-D", 'body="#ff0000"']


def test_a_customizer_file_and_a_set_name_give_that_sets_values() -> None:
    assert plan({"source": MODEL, "parameters": SETS, "parameter_set": "Big"}).values == {
        "size": 18,
        "body": "#0000ff",
    }


def test_a_grpc_spec_reads_like_a_job_input() -> None:
    spec = render_pb2.RenderSpec(source=MODEL, formats=["glb"], parameter_set="Small")
    spec.parameters.update(SETS)
    spec.view.width = 300
    spec.view.camera.rotate.extend([0, 0, 0])
    checked = plan(spec_input(spec))
    assert checked.values["size"] == 2 and checked.formats == ["glb"]
    assert (checked.view.width, checked.view.height, checked.view.rotate) == (300, 512, (0, 0, 0))


def test_only_pictures_depend_on_the_view_in_the_cache() -> None:
    near = plan({"source": MODEL, "view": {"camera": {"rotate": [0, 0, 0], "distance": 10}}})
    far = plan({"source": MODEL, "view": {"camera": {"rotate": [0, 0, 0], "distance": 99}}})
    assert near.cache_key("png", "v1") != far.cache_key("png", "v1")
    assert near.cache_key("preview", "v1") != far.cache_key("preview", "v1")
    assert near.cache_key("glb", "v1") == far.cache_key("glb", "v1")
    assert near.cache_key("glb", "v1") != near.cache_key("glb", "v2"), "a new engine re-renders"
    assert near.cache_key("glb", "v1") != near.cache_key("3mf", "v1")
    bigger = plan({"source": MODEL, "parameters": {"size": 6}})
    assert bigger.cache_key("glb", "v1") != near.cache_key("glb", "v1")


@pytest.mark.parametrize(
    ("raw", "detail"),
    [
        ({}, "'source'"),
        ({"source": "   "}, "'source'"),
        ({"source": 7}, "'source'"),
        ({"source": padded(MAX_SOURCE_BYTES + 1)}, "the limit is 262144 bytes"),
        ({"source": MODEL, "formats": ["obj"]}, "unsupported format"),
        ({"source": MODEL, "formats": "png"}, "list of format names"),
        ({"source": MODEL, "parameters": {"size": "big"}}, "size"),
        ({"source": MODEL, "parameters": {"size": 50}}, "at most 20"),
        ({"source": MODEL, "parameters": {"depth": 1}}, "unknown parameter"),
        ({"source": MODEL, "parameters": SETS}, "choose"),
        ({"source": MODEL, "parameters": SETS, "parameter_set": "Huge"}, "Huge"),
        ({"source": MODEL, "parameter_set": 3}, "'parameter_set'"),
        ({"source": MODEL, "view": {"width": 1}}, "from 16"),
        ({"source": MODEL, "colour": "red"}, "unknown field"),
    ],
)
def test_a_bad_request_is_refused_before_anything_runs(raw: dict[str, Any], detail: str) -> None:
    with pytest.raises(InvalidArgument, match=detail):
        plan(raw)


def test_a_source_of_exactly_the_limit_in_bytes_is_planned() -> None:
    source = padded(MAX_SOURCE_BYTES)
    assert len(source.encode()) == MAX_SOURCE_BYTES

    assert plan({"source": source}).values == {"size": 5, "body": "#ff0000"}


@pytest.mark.parametrize(
    "source",
    [padded(MAX_SOURCE_BYTES + 1), padded(MAX_SOURCE_BYTES + 1, pad="é")],
    ids=["one-byte-over", "under-in-characters-over-in-bytes"],
)
def test_a_source_one_byte_over_the_limit_is_refused_naming_it(source: str) -> None:
    assert len(source.encode()) == MAX_SOURCE_BYTES + 1
    with pytest.raises(InvalidArgument, match=r"the limit is 262144 bytes \(256 KiB\)"):
        plan({"source": source})
