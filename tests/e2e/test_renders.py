"""OpenSCAD through the gateway: quick previews, renders with their outputs, and bad models.

Each bad input of the render issue is here, answered as the browser would see it: a 400 for a
request that is wrong, a 422 for a model that does not render (with OpenSCAD's message, and
its line when OpenSCAD gave one), and nothing read from outside the render's own folder.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from pathlib import Path
from typing import Any

import aiohttp
import grpc
import pytest
import pyvips

from libs.launcher import Platform
from libs.setpieces import MAX_SOURCE_BYTES
from services.render.tests.pictures import (
    BLUE_CHILD,
    CHILD_LINEAR,
    NESTED,
    RED_LINEAR,
    RED_SIBLING,
    VIEW_JSON,
    colour_at,
    glb_colour_at,
)
from services.render.tests.validators import read_3mf, validate_gltf
from shotgraph.render.v1 import render_pb2, render_pb2_grpc
from tests.e2e.conftest import problem

pytestmark = pytest.mark.e2e

MODELS = Path(__file__).parents[2] / "services/render/tests/models"
SET_PIECE = (MODELS / "set_piece.scad").read_text()
SET_PIECE_SETS = json.loads((MODELS / "set_piece.json").read_text())
TWO_COLOURS = (
    "// [Colours]\n"
    'body = "red";\n'
    'lid = "#0000ff";\n'
    "size = 10; // [2:40]\n"
    "color(body) cube(size);\n"
    "color(lid) translate([0, 0, size]) cube([size, size, 2]);\n"
)
FINAL = frozenset({"succeeded", "failed", "cancelled", "skipped"})
RENDER_TIMEOUT_S = 90.0
RENDER_ROUTES = ("/v1/render/parameters", "/v1/render/preview", "/v1/renders")


def cube_of(size: int, pad: str = "x") -> str:
    """A cube and a comment of ``pad`` characters (topped up with "x"): exactly ``size`` bytes
    of UTF-8."""
    room = size - len("cube(1);//")
    width = len(pad.encode())
    return "cube(1);//" + pad * (room // width) + "x" * (room % width)


async def start(http: aiohttp.ClientSession, body: dict[str, Any]) -> dict[str, Any]:
    response = await http.post("/v1/renders", json=body)
    assert response.status == 202, await response.text()
    render = dict(await response.json())
    assert response.headers["Location"] == f"/v1/renders/{render['id']}"
    return render


async def finished(http: aiohttp.ClientSession, render_id: str) -> dict[str, Any]:
    """Poll the render until it reaches a final state, or fail at the deadline."""
    deadline = time.monotonic() + RENDER_TIMEOUT_S
    render: dict[str, Any] = {}
    while time.monotonic() < deadline:
        response = await http.get(f"/v1/renders/{render_id}")
        assert response.status == 200, await response.text()
        render = dict(await response.json())
        if render["state"] in FINAL:
            return render
        await asyncio.sleep(0.1)
    raise AssertionError(f"render never finished: {render}")


def dominant_share(png: bytes, rgb: tuple[int, int, int], tolerance: int = 60) -> float:
    """Share of pixels near ``rgb``, shading allowed for."""
    image = pyvips.Image.new_from_buffer(png, "")[0:3]
    near = (
        ((image[0] - rgb[0]).abs() < tolerance)
        & ((image[1] - rgb[1]).abs() < tolerance)
        & ((image[2] - rgb[2]).abs() < tolerance)
    )
    return float(near.avg()) / 255.0


# --- previews -------------------------------------------------------------------------------


async def test_a_preview_is_a_png_in_the_chosen_colours_size_and_camera(
    http: aiohttp.ClientSession,
) -> None:
    body: dict[str, Any] = {
        "source": TWO_COLOURS,
        "parameters": {"body": "#00ff00", "size": 20},
        "view": {"width": 320, "height": 200, "camera": {"rotate": [70, 0, 30]}},
    }
    response = await http.post("/v1/render/preview", json=body)
    assert response.status == 200, await response.text()
    assert response.content_type == "image/png"
    assert response.headers["X-Render-Cache"] == "miss"
    png = await response.read()
    image = pyvips.Image.new_from_buffer(png, "")
    assert (image.width, image.height) == (320, 200)
    assert dominant_share(png, (0, 220, 0)) > 0.02, "the green body parameter shows"
    assert dominant_share(png, (0, 0, 220)) > 0.005, "the blue lid shows"
    assert dominant_share(png, (220, 0, 0)) < 0.001, "the default red body is replaced"

    again = await http.post("/v1/render/preview", json=body)
    assert again.status == 200 and again.headers["X-Render-Cache"] == "hit"
    assert again.headers["ETag"] == response.headers["ETag"]
    assert await again.read() == png

    other_camera = {**body, "view": {**body["view"], "camera": {"rotate": [0, 0, 0]}}}
    moved = await http.post("/v1/render/preview", json=other_camera)
    assert moved.status == 200 and moved.headers["X-Render-Cache"] == "miss"
    assert await moved.read() != png


async def test_a_customizer_parameter_set_picks_the_values(http: aiohttp.ClientSession) -> None:
    body = {"source": SET_PIECE, "parameters": SET_PIECE_SETS, "parameter_set": "Tavern"}
    response = await http.post("/v1/renders", json={**body, "formats": ["stl"]})
    assert response.status == 202, await response.text()
    values = (await response.json())["parameters"]
    assert (values["width"], values["door_shape"], values["sign_text"]) == (
        160,
        "square",
        "THE OLD OAK",
    )
    assert values["with_window"] is False


async def preview_refused(
    platform: Platform, source: str, *, deadline_s: float
) -> grpc.aio.AioRpcError:
    """The render service's answer to a Preview of ``source`` asked over gRPC with a deadline
    of its own (the gateway keeps its own): an error, as the tests expect."""
    address = f"127.0.0.1:{platform.services['render'].grpc_port}"
    async with grpc.aio.insecure_channel(address) as channel:
        stub = render_pb2_grpc.RenderServiceStub(channel)
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await stub.Preview(render_pb2.RenderSpec(source=source), timeout=deadline_s)
    return caught.value


async def test_a_preview_renders_only_as_long_as_the_caller_waits(platform: Platform) -> None:
    # ~1e10 steps of evaluation: it would run into the 60 s limit. With a 3 s deadline the
    # render service cuts the whole preview (CSG export, split, draw) to fit and answers in
    # time, with a clear 422.
    slow = "x = [for (i = [0:1e5]) for (j = [0:1e5]) if (i < 0) i];\ncube(1);\n"
    refused = await preview_refused(platform, slow, deadline_s=3.0)
    # Not DEADLINE_EXCEEDED: the answer came before the caller gave up.
    assert refused.code() == grpc.StatusCode.INVALID_ARGUMENT, refused
    assert re.search(r"longer than 2\.\d+ s and was stopped", refused.details() or "")


async def test_a_preview_without_time_to_render_is_unavailable(platform: Platform) -> None:
    # A deadline shorter than the render service keeps back to store the PNG: no openscad
    # runs, and the answer (503 over HTTP) says why.
    refused = await preview_refused(platform, NESTED, deadline_s=0.4)
    assert refused.code() == grpc.StatusCode.UNAVAILABLE, refused
    assert "no time to render" in (refused.details() or "")


async def test_a_child_keeps_its_own_colour_inside_an_outer_one_in_every_picture(
    http: aiohttp.ClientSession,
) -> None:
    # The quick preview and the full render follow one rule, the innermost colour wins: the
    # blue child of color("red") is blue at known pixels of both PNGs and in the GLB.
    body: dict[str, Any] = {"source": NESTED, "view": VIEW_JSON}
    response = await http.post("/v1/render/preview", json=body)
    assert response.status == 200, await response.text()
    preview = await response.read()
    assert colour_at(preview, BLUE_CHILD) == "blue"
    assert colour_at(preview, RED_SIBLING) == "red"

    done = await finished(http, (await start(http, {**body, "formats": ["png", "glb"]}))["id"])
    assert done["state"] == "succeeded", done
    assert done["colours"] == ["#ff0000ff", "#2050e0ff"]
    files = {}
    for fmt, output in done["outputs"].items():
        fetched = await http.get(output["url"])
        assert fetched.status == 200, await fetched.text()
        files[fmt] = await fetched.read()
    assert colour_at(files["png"], BLUE_CHILD) == "blue"
    assert colour_at(files["png"], RED_SIBLING) == "red"
    # The child spans x 20-30 mm, the red cube 0-10 mm; glTF colours are linear RGB.
    assert glb_colour_at(files["glb"], 25) == pytest.approx(CHILD_LINEAR, abs=1e-4)
    assert glb_colour_at(files["glb"], 5) == pytest.approx(RED_LINEAR, abs=1e-4)


# --- renders --------------------------------------------------------------------------------


async def test_a_render_makes_every_format_with_its_colours(
    http: aiohttp.ClientSession,
) -> None:
    body = {
        "source": TWO_COLOURS,
        "parameters": {"lid": "#ffff00"},
        "formats": ["png", "glb", "3mf", "stl"],
        "view": {"width": 256, "height": 256},
    }
    render = await start(http, body)
    assert render["state"] in {"pending", "queued", "running"}
    done = await finished(http, render["id"])
    assert done["state"] == "succeeded", done
    assert sorted(done["outputs"]) == ["3mf", "glb", "png", "stl"]
    assert sorted(done["colours"]) == ["#ff0000ff", "#ffff00ff"]

    files: dict[str, bytes] = {}
    for fmt, output in done["outputs"].items():
        response = await http.get(output["url"])
        assert response.status == 200, await response.text()
        assert response.headers["ETag"] == f'"{output["blob"]}"'
        assert f"render.{fmt}" in response.headers["Content-Disposition"]
        files[fmt] = await response.read()
    assert validate_gltf(files["glb"]).of("error") == []
    model = read_3mf(files["3mf"])
    assert {obj.rgba for obj in model.objects} == {(255, 0, 0, 255), (255, 255, 0, 255)}
    assert files["stl"].startswith(b"solid")
    assert dominant_share(files["png"], (220, 220, 0)) > 0.005, "the yellow lid shows"

    repeat = await finished(http, (await start(http, body))["id"])
    assert sorted(repeat["cached"]) == ["3mf", "glb", "png", "stl"]
    assert repeat["outputs"] == {
        fmt: {**output, "url": f"/v1/renders/{repeat['id']}/{fmt}"}
        for fmt, output in done["outputs"].items()
    }
    assert sorted(repeat["colours"]) == sorted(done["colours"])


async def test_outputs_of_a_running_render_are_not_there_yet(http: aiohttp.ClientSession) -> None:
    # A few seconds of CGAL: the output is asked for long before it can exist.
    slow = "for (i = [0:11]) translate([i * 3, 0, 0]) sphere(2, $fn=48);"
    render = await start(http, {"source": slow, "formats": ["stl"]})
    early = await problem(await http.get(f"/v1/renders/{render['id']}/stl"), 409)
    assert "try later" in early["detail"]
    done = await finished(http, render["id"])
    assert done["state"] == "succeeded"
    await problem(await http.get(f"/v1/renders/{render['id']}/glb"), 404)  # not asked for
    stl = await http.get(f"/v1/renders/{render['id']}/stl")
    assert stl.status == 200 and (await stl.read()).startswith(b"solid")


async def test_another_users_render_is_not_found(
    http: aiohttp.ClientSession, platform: Platform
) -> None:
    render = await start(http, {"source": "cube(1);", "formats": ["stl"]})
    other_key = platform.create_api_key("e2e-render-stranger")
    headers = {"Authorization": f"Bearer {other_key}"}
    await problem(await http.get(f"/v1/renders/{render['id']}", headers=headers), 404)
    await problem(await http.get(f"/v1/renders/{render['id']}/stl", headers=headers), 404)


# --- bad models -----------------------------------------------------------------------------


async def test_a_syntax_error_is_a_422_with_openscads_message_and_line(
    http: aiohttp.ClientSession,
) -> None:
    source = "cube(1);\nsphere(2;\ncube(3);\n"
    for path in ("/v1/renders", "/v1/render/preview"):
        body = await problem(await http.post(path, json={"source": source}), 422)
        assert "Parser error" in body["detail"] and body["line"] == 2, body


@pytest.mark.parametrize(
    ("source", "detail"),
    [
        ("function f(x) = f(x + 1);\ny = f(0);\ncube(y);\n", "Recursion detected"),
        ("sphere(10, $fn=1e7);", "MiB of memory"),
        ("for (i = [0:1e9]) translate([i, 0, 0]) cube(1);", "too many elements"),
        ("for (i = [0:9998]) for (j = [0:9998]) translate([i, j, 0]) cube(0.5);", "memory"),
        ("", "'source'"),
        ('echo("nothing to see");', "no 3D geometry"),
        ("%cube(3);\n%sphere(2);\n", "no 3D geometry"),
        (
            "for (i = [0:4999]) color([i / 5000, 0.5, 0.5]) translate([2 * i, 0, 0]) cube(1);",
            "5000 colours; at most 256",
        ),
    ],
    ids=[
        "recursion",
        "fn-1e7",
        "huge-for",
        "nested-huge-for",
        "empty",
        "no-geometry",
        "only-background",
        "five-thousand-colours",
    ],
)
async def test_a_model_that_cannot_render_is_a_clear_422(
    http: aiohttp.ClientSession, source: str, detail: str
) -> None:
    if not source:  # an empty source is not a model at all: a 400 before anything runs
        body = await problem(await http.post("/v1/render/preview", json={"source": ""}), 400)
        assert detail in body["detail"]
        return
    preview = await problem(await http.post("/v1/render/preview", json={"source": source}), 422)
    assert detail in preview["detail"], preview
    render = await start(http, {"source": source, "formats": ["glb"]})
    failed = await finished(http, render["id"])
    assert failed["state"] == "failed" and detail in failed["error"], failed
    output = await problem(await http.get(f"/v1/renders/{render['id']}/glb"), 422)
    assert detail in output["detail"]


async def test_a_preview_whose_csg_export_cannot_be_read_is_a_422(
    http: aiohttp.ClientSession,
) -> None:
    # OpenSCAD 2021.01 exports this text()'s quotes unescaped: the colours cannot be split.
    source = 'color("red") linear_extrude(1) text("say \\"hi\\"");'
    body = await problem(await http.post("/v1/render/preview", json={"source": source}), 422)
    assert "cannot draw this model in its colours" in body["detail"], body
    assert "quotes" in body["detail"], body


async def test_files_outside_the_render_are_never_read(http: aiohttp.ClientSession) -> None:
    source = (
        'import("/etc/passwd");\n'
        "include </etc/hostname>\n"
        'translate([500, 0, 0]) surface(file="/etc/hostname");\n'
        'translate([900, 0, 0]) import("/proc/self/environ");\n'
        "cube(1);\n"
    )
    render = await finished(
        http, (await start(http, {"source": source, "formats": ["stl", "png"]}))["id"]
    )
    assert render["state"] == "succeeded", render
    stl = await (await http.get(render["outputs"]["stl"]["url"])).read()
    assert stl.count(b"facet normal") == 12, "only the cube: nothing came from outside"
    assert b"500" not in stl and b"900" not in stl


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        ({"source": TWO_COLOURS, "parameters": {"size": "big"}}, "size"),
        ({"source": TWO_COLOURS, "parameters": {"size": 99}}, "at most 40"),
        ({"source": TWO_COLOURS, "parameters": {"body": "not-a-colour"}}, "body"),
        ({"source": TWO_COLOURS, "parameters": {"depth": 3}}, "unknown parameter"),
        ({"source": TWO_COLOURS, "parameter_set": "Nope"}, "no named sets"),
        ({"source": TWO_COLOURS, "formats": ["obj"]}, "unsupported format"),
        ({"source": TWO_COLOURS, "formats": "png"}, "not a render request"),
        ({"source": TWO_COLOURS, "view": {"width": 9000}}, "width"),
        (
            {"source": TWO_COLOURS, "view": {"camera": {"eye": [1, 2], "center": [0, 0, 0]}}},
            "camera.eye",
        ),
        ({"source": TWO_COLOURS, "view": {"projection": "fisheye"}}, "projection"),
        ({"source": TWO_COLOURS, "colour": "red"}, "not a render request"),
        ({"source": 42}, "'source' must be a string"),
        ({"source": "cube(1);" + " " * (300 * 1024)}, "limit"),
    ],
    ids=[
        "wrong-type",
        "out-of-range",
        "bad-colour",
        "unknown-name",
        "unknown-set",
        "unsupported-format",
        "formats-not-a-list",
        "image-too-large",
        "short-camera-vector",
        "unknown-projection",
        "unknown-field",
        "source-not-a-string",
        "source-too-large",
    ],
)
async def test_a_bad_render_request_is_a_400(
    http: aiohttp.ClientSession, body: dict[str, Any], detail: str
) -> None:
    for path in ("/v1/renders", "/v1/render/preview"):
        problem_body = await problem(await http.post(path, json=body), 400)
        assert detail in problem_body["detail"], (path, problem_body)


AT_LIMIT = cube_of(MAX_SOURCE_BYTES, pad="é")  # 131,077 characters, 262,144 bytes


async def test_a_source_of_exactly_the_limit_in_bytes_is_taken_by_every_route(
    http: aiohttp.ClientSession,
) -> None:
    assert len(AT_LIMIT.encode()) == MAX_SOURCE_BYTES
    for path in ("/v1/render/parameters", "/v1/render/preview"):
        response = await http.post(path, json={"source": AT_LIMIT})
        assert response.status == 200, (path, await response.text())
    # Checked, then queued: the job's input holds it whole.
    response = await http.post("/v1/renders", json={"source": AT_LIMIT, "formats": ["stl"]})
    assert response.status == 202, await response.text()


@pytest.mark.parametrize(
    "source",
    [cube_of(MAX_SOURCE_BYTES + 1), cube_of(MAX_SOURCE_BYTES + 1, pad="é")],
    ids=["one-byte-over", "under-in-characters-over-in-bytes"],
)
async def test_a_source_one_byte_over_the_limit_is_a_400_naming_it_at_every_route(
    http: aiohttp.ClientSession, source: str
) -> None:
    for path in RENDER_ROUTES:
        body = await problem(await http.post(path, json={"source": source}), 400)
        assert "the limit is 262144 bytes (256 KiB)" in body["detail"], (path, body)
