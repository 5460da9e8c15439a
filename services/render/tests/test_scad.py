"""Tests for services.render.scad against the real openscad, xvfb-run and bwrap binaries.

Plain sync tests driving asyncio.run(), so they don't depend on pytest-asyncio settings.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
import pyvips

from services.render import scad
from services.render.scad import (
    RenderFailed,
    RenderLimits,
    RenderOutput,
    RenderTimeout,
    ScadError,
    render_scad,
)

RENDER_PROCESS_NAMES = {"openscad", "Xvfb", "xvfb-run", "bwrap", "prlimit"}
# ~1e10 iterations of pure evaluation: CPU-bound, constant memory, never finishes in time.
SLOW_MODEL = "x = [for (i = [0:1e5]) for (j = [0:1e5]) if (i < 0) i];\ncube(1);\n"


def render(source: str, **kwargs: object) -> RenderOutput:
    return asyncio.run(render_scad(source, **kwargs))  # type: ignore[arg-type]


def live_render_pids() -> set[int]:
    """Pids of running (non-zombie) processes that belong to a render."""
    pids = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        name, state = stat[stat.index("(") + 1 : stat.rindex(")")], stat[stat.rindex(")") + 2]
        if name in RENDER_PROCESS_NAMES and state != "Z":
            pids.add(int(entry.name))
    return pids


def red_fraction(png: bytes) -> float:
    """Share of pixels that are clearly red (high R, low G and B)."""
    image = pyvips.Image.new_from_buffer(png, "")[0:3]
    red = (image[0] > 180) & (image[1] < 80) & (image[2] < 80)
    return float(red.avg()) / 255.0


def facet_count(stl: bytes) -> int:
    if stl.startswith(b"solid"):
        return stl.count(b"facet normal")
    return int.from_bytes(stl[80:84], "little")  # binary STL header


def test_sandbox_is_available_here() -> None:
    assert scad.sandbox_available()


def test_coloured_cube_renders_png_and_stl(tmp_path: Path) -> None:
    started = time.monotonic()
    out = render(
        'color("red") cube(10);', limits=RenderLimits(image_size=(320, 240)), workdir=tmp_path
    )
    elapsed = time.monotonic() - started
    assert out.png.startswith(b"\x89PNG\r\n\x1a\n")
    image = pyvips.Image.new_from_buffer(out.png, "")
    assert (image.width, image.height) == (320, 240)
    assert red_fraction(out.png) > 0.05, "color() must survive into the PNG"
    assert out.stl.startswith(b"solid")
    assert facet_count(out.stl) == 12  # a cube: 6 faces x 2 triangles
    assert "Top level object is a 3D object" in out.log
    assert list(tmp_path.iterdir()) == [], "job directory must be removed"
    assert elapsed < 30


def test_uncoloured_model_has_no_red() -> None:
    # Guards red_fraction itself: the default colour scheme must not count as red.
    out = render("cube(10);")
    assert red_fraction(out.png) < 0.01


def test_log_is_trimmed_even_when_the_model_floods_stderr() -> None:
    out = render('for (i = [0:999], j = [0:99]) echo(str("line ", i * 100 + j)); cube(1);')
    assert len(out.log) < 5000
    assert 'ECHO: "line 0"' in out.log  # head kept
    assert "Total rendering time" in out.log  # tail kept
    assert facet_count(out.stl) == 12


def test_syntax_error_is_scad_error(tmp_path: Path) -> None:
    with pytest.raises(ScadError, match="Parser error"):
        render("cube(10", workdir=tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_model_without_geometry_is_scad_error() -> None:
    with pytest.raises(ScadError, match="top level object is empty"):
        render('echo("x");')


def test_2d_model_is_scad_error() -> None:
    with pytest.raises(ScadError, match="not a 3D object"):
        render("square(5);")


@pytest.mark.parametrize(
    ("source", "message"), [("cube(1);" + " " * 2000, "limit is 1024"), ("cube(1);\0", "NUL byte")]
)
def test_bad_source_is_rejected_before_running(source: str, message: str, tmp_path: Path) -> None:
    with pytest.raises(ScadError, match=message):
        render(source, limits=RenderLimits(max_source_bytes=1024), workdir=tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_timeout_kills_the_whole_process_tree(tmp_path: Path) -> None:
    before = live_render_pids()
    started = time.monotonic()
    with pytest.raises(RenderTimeout):
        render(SLOW_MODEL, limits=RenderLimits(timeout_s=2), workdir=tmp_path)
    assert time.monotonic() - started < 10
    time.sleep(0.5)  # let the kernel finish tearing down the pid namespace
    assert live_render_pids() - before == set()
    assert list(tmp_path.iterdir()) == []


def test_output_over_limit_is_render_failed() -> None:
    with pytest.raises(RenderFailed, match="exceeds 2000 bytes"):
        render("sphere(10, $fn=64);", limits=RenderLimits(max_output_bytes=2000))


def test_memory_limit_is_render_failed() -> None:
    with pytest.raises(RenderFailed, match=r"bad_alloc|exit code"):
        render("sphere(10, $fn=2000);", limits=RenderLimits(memory_bytes=200 << 20))


def _tetrahedron_stl(offset: int) -> str:
    """A closed ASCII STL tetrahedron at x=offset (closed, so CGAL keeps it in a union)."""
    v = [(offset, 0, 0), (offset + 1, 0, 0), (offset, 1, 0), (offset, 0, 1)]
    faces = [(0, 2, 1), (0, 1, 3), (0, 3, 2), (1, 2, 3)]  # counter-clockwise from outside
    facets = "".join(
        "facet normal 0 0 0\nouter loop\n"
        + "".join("vertex {} {} {}\n".format(*v[i]) for i in face)
        + "endloop\nendfacet\n"
        for face in faces
    )
    return f"solid secret\n{facets}endsolid secret\n"


def _leaky_model(secret_dir: Path) -> str:
    """A model that pulls in geometry from files outside its job directory."""
    (secret_dir / "secret.scad").write_text("translate([7777, 0, 0]) cube(1);\n")
    (secret_dir / "secret.stl").write_text(_tetrahedron_stl(5555))
    return (
        f"include <{secret_dir}/secret.scad>\n"
        "include <../secret.scad>\n"  # relative to the job dir: its parent, the workdir
        f'import("{secret_dir}/secret.stl");\n'
        'import("/etc/passwd");\n'
        "cube(1);\n"
    )


def test_files_outside_job_dir_are_invisible(tmp_path: Path) -> None:
    out = render(_leaky_model(tmp_path), workdir=tmp_path)
    assert facet_count(out.stl) == 12, "only the local cube may be rendered"
    assert b"7777" not in out.stl
    assert b"5555" not in out.stl
    assert "Can't open include file '../secret.scad'" in out.log
    assert "Can't open import file" in out.log


def test_leak_model_does_leak_without_sandbox(tmp_path: Path) -> None:
    # Control for the test above: the same model does read the host files when unsandboxed,
    # so it's the sandbox, not the model, that keeps them out.
    out = render(_leaky_model(tmp_path), workdir=tmp_path, sandboxed=False)
    assert b"7777" in out.stl
    assert b"5555" in out.stl


def test_no_sandbox_refuses_to_render(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(scad, "sandbox_available", lambda: False)
    with pytest.raises(RenderFailed, match="sandbox"):
        render("cube(1);")


def test_concurrent_renders_do_not_collide() -> None:
    # Each sandbox has a private /tmp and network namespace, so every xvfb-run gets display
    # :99 without clashing.
    async def many() -> list[RenderOutput]:
        sources = [f"cube({n});" for n in range(1, 5)]
        return await asyncio.gather(*(render_scad(s) for s in sources))

    outs = asyncio.run(many())
    assert [facet_count(o.stl) for o in outs] == [12] * 4
    assert all(o.png.startswith(b"\x89PNG") for o in outs)


def test_cpu_time_limit_stops_the_render() -> None:
    # ~6 s of CPU in a 64-million-step loop that keeps almost nothing in memory.
    busy = "n = 8000; x = [for (i = [0:n]) for (j = [0:n]) if (i == j) i]; cube(1);"
    with pytest.raises(RenderTimeout, match="CPU time"):
        render(busy, limits=RenderLimits(cpu_seconds=1, timeout_s=30))


def test_mcad_library_is_usable_read_only_from_the_sandbox() -> None:
    out = render("use <MCAD/boxes.scad>\nroundedBox([10, 10, 10], 2, true);")
    assert out.stl.startswith(b"solid")
    assert out.stl.count(b"facet normal") > 12  # rounded, so more than a plain cube's 12
