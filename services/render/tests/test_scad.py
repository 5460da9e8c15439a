"""Tests for services.render.scad against the real openscad, xvfb-run and bwrap binaries.

Plain sync tests driving asyncio.run(), so they don't depend on pytest-asyncio settings.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
import pyvips

from libs.errors import is_retryable
from libs.setpieces import MAX_SOURCE_BYTES
from services.render import scad
from services.render.scad import (
    EmptyModel,
    LimitExceeded,
    RenderFailed,
    RenderLimits,
    RenderTimeout,
    ScadError,
    check_syntax,
    job_directory,
    preview_scad,
    run_openscad,
)
from services.render.view import View

RENDER_PROCESS_NAMES = {"openscad", "Xvfb", "xvfb-run", "bwrap", "prlimit"}
# ~1e10 iterations of pure evaluation: CPU-bound, constant memory, never finishes in time.
SLOW_MODEL = "x = [for (i = [0:1e5]) for (j = [0:1e5]) if (i < 0) i];\ncube(1);\n"


DEFAULT_LIMITS = RenderLimits()


def export_stl(
    source: str,
    *,
    limits: RenderLimits = DEFAULT_LIMITS,
    workdir: Path | None = None,
    sandboxed: bool = True,
) -> tuple[bytes, str]:
    """The STL of ``source`` and OpenSCAD's log, from a job dir that is removed afterwards."""
    with job_directory(source, workdir) as job_dir:
        log = asyncio.run(
            run_openscad(
                job_dir, ["-o", "model.stl", "model.scad"], limits=limits, sandboxed=sandboxed
            )
        )
        return scad.read_output(job_dir / "model.stl", limits.max_output_bytes), log


def preview(source: str, **kwargs: object) -> bytes:
    return asyncio.run(preview_scad(source, **kwargs))  # type: ignore[arg-type]


def live_render_pids(job_root: Path) -> set[int]:
    """Pids of running (non-zombie) render processes whose sandbox mounts a folder under
    ``job_root``: this test's renders only, whatever else runs on the machine."""
    pids = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            name, state = stat[stat.index("(") + 1 : stat.rindex(")")], stat[stat.rindex(")") + 2]
            if name not in RENDER_PROCESS_NAMES or state == "Z":
                continue
            # In the sandbox the job folder is bound to /job; mountinfo names its host path.
            # bwrap itself still has the host's mounts, so its command line names it instead.
            mounts = (entry / "mountinfo").read_text()
            command = (entry / "cmdline").read_bytes().decode(errors="replace")
        except OSError:
            continue
        if str(job_root) in mounts or str(job_root) in command:
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


def test_preview_is_a_png_of_the_requested_size_in_the_models_colours(tmp_path: Path) -> None:
    png = preview('color("red") cube(10);', view=View(width=320, height=240), workdir=tmp_path)
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    image = pyvips.Image.new_from_buffer(png, "")
    assert (image.width, image.height) == (320, 240)
    assert red_fraction(png) > 0.05, "color() must survive into the PNG"
    assert list(tmp_path.iterdir()) == [], "job directory must be removed"


def test_uncoloured_model_has_no_red() -> None:
    # Guards red_fraction itself: the default colour scheme must not count as red.
    assert red_fraction(preview("cube(10);")) < 0.01


def test_the_camera_changes_the_picture() -> None:
    model = 'color("red") cube([30, 2, 2]); color("blue") cube([2, 2, 30]);'
    front = preview(model, view=View(rotate=(90, 0, 0)))
    top = preview(model, view=View(rotate=(0, 0, 0)))
    close = preview(model, view=View(eye=(40, -40, 40), center=(0, 0, 0)))
    assert len({front, top, close}) == 3
    assert red_fraction(front) > 0.01 and red_fraction(top) > 0.01


def test_log_is_bounded_even_when_the_model_floods_stderr() -> None:
    stl, log = export_stl('for (i = [0:999], j = [0:99]) echo(str("line ", i * 100 + j)); cube(1);')
    assert len(log) < 2 * scad.STDERR_KEEP + 100
    assert 'ECHO: "line 0"' in log  # head kept
    assert "Total rendering time" in log  # tail kept
    assert facet_count(stl) == 12


def test_syntax_error_is_scad_error_with_its_line(tmp_path: Path) -> None:
    with pytest.raises(ScadError, match="Parser error") as caught:
        preview("cube(1);\ncube(10", workdir=tmp_path)
    assert caught.value.line is not None and caught.value.line >= 2
    assert list(tmp_path.iterdir()) == []


def test_syntax_check_passes_a_model_that_parses_however_long_it_runs() -> None:
    asyncio.run(check_syntax(SLOW_MODEL, limits=RenderLimits()))
    with pytest.raises(ScadError, match="line 3") as caught:
        asyncio.run(check_syntax("a = 1;\nb = 2;\nc = ;\n", limits=RenderLimits()))
    assert caught.value.line == 3


def test_recursion_is_a_model_error_naming_its_line() -> None:
    with pytest.raises(ScadError, match="Recursion detected") as caught:
        preview("cube(1);\nfunction f(x) = f(x + 1);\ny = f(0);\n")
    assert caught.value.line == 2


def test_model_without_geometry_is_empty_model() -> None:
    with pytest.raises(EmptyModel):
        preview('echo("x");')
    with pytest.raises(EmptyModel, match="top level object is empty"):
        export_stl('echo("x");')


def test_2d_model_has_no_3d_export() -> None:
    with pytest.raises(EmptyModel, match="not a 3D object"):
        export_stl("square(5);")


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("cube(1);" + " " * (MAX_SOURCE_BYTES - 7), "the limit is 262144 bytes"),
        ("cube(1);" + "é" * (MAX_SOURCE_BYTES // 2), "the limit is 262144 bytes"),
        ("cube(1);\0", "NUL byte"),
    ],
    ids=["one-byte-over", "over-in-bytes-not-characters", "nul"],
)
def test_bad_source_is_rejected_before_running(source: str, message: str, tmp_path: Path) -> None:
    with pytest.raises(ScadError, match=message):
        preview(source, workdir=tmp_path)
    assert list(tmp_path.iterdir()) == []


def _render_processes_left(job_root: Path, within_s: float = 10.0) -> set[int]:
    """Render processes of ``job_root`` still alive once the kernel has had ``within_s`` to
    tear the sandbox's pid namespace down (returns as soon as there are none)."""
    deadline = time.monotonic() + within_s
    while (left := live_render_pids(job_root)) and time.monotonic() < deadline:
        time.sleep(0.05)
    return left


def test_timeout_kills_the_whole_process_tree(tmp_path: Path) -> None:
    with pytest.raises(RenderTimeout, match="longer than 2 s"):
        preview(SLOW_MODEL, limits=RenderLimits(timeout_s=2), workdir=tmp_path)
    assert _render_processes_left(tmp_path) == set()
    assert list(tmp_path.iterdir()) == []


def test_output_over_limit_is_a_limit() -> None:
    with pytest.raises(LimitExceeded, match="exceeds 2000 bytes"):
        export_stl("sphere(10, $fn=64);", limits=RenderLimits(max_output_bytes=2000))


def test_memory_limit_is_a_limit() -> None:
    with pytest.raises(LimitExceeded, match="more than 200 MiB of memory"):
        export_stl("sphere(10, $fn=2000);", limits=RenderLimits(memory_bytes=200 << 20))


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


def _leaky_model(secret_dir: Path, *, system_files: bool = True) -> str:
    """A model that pulls in geometry and data from files outside its job directory."""
    system = (
        'include </etc/passwd>\nimport("/etc/passwd");\n'
        'translate([4444, 0, 0]) surface(file="/etc/hostname");\n'
    )
    (secret_dir / "secret.scad").write_text("translate([7777, 0, 0]) cube(1);\n")
    (secret_dir / "secret.stl").write_text(_tetrahedron_stl(5555))
    (secret_dir / "secret.dat").write_text("1 2\n3 4\n")  # a height map for surface()
    return (
        f"include <{secret_dir}/secret.scad>\n"
        "include <../secret.scad>\n"  # relative to the job dir: its parent, the workdir
        f'import("{secret_dir}/secret.stl");\n'
        f'translate([3333, 0, 0]) surface(file="{secret_dir}/secret.dat");\n'
        + (system if system_files else "")
        + "cube(1);\n"
    )


def test_files_outside_job_dir_are_invisible(tmp_path: Path) -> None:
    stl, log = export_stl(_leaky_model(tmp_path), workdir=tmp_path)
    assert facet_count(stl) == 12, "only the local cube may be rendered"
    for secret in (b"7777", b"5555", b"3333", b"4444"):
        assert secret not in stl
    assert "Can't open include file '../secret.scad'" in log
    assert "Can't open import file" in log
    assert "secret.dat' couldn't be opened" in log


def test_leak_model_does_leak_without_sandbox(tmp_path: Path) -> None:
    # Control for the test above: the same model does read the host files when unsandboxed,
    # so it's the sandbox, not the model, that keeps them out.
    # (Not /etc/passwd: read as OpenSCAD, it is a syntax error.)
    leaky = _leaky_model(tmp_path, system_files=False)
    stl, _ = export_stl(leaky, workdir=tmp_path, sandboxed=False)
    for secret in (b"7777", b"5555", b"3333"):
        assert secret in stl


def test_no_sandbox_refuses_to_render(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(scad, "sandbox_available", lambda: False)
    with pytest.raises(RenderFailed, match="sandbox"):
        preview("cube(1);")


def test_concurrent_previews_do_not_collide() -> None:
    # Each sandbox has a private /tmp and network namespace, so every xvfb-run gets display
    # :99 without clashing.
    async def many() -> list[bytes]:
        sources = [f'color("red") cube({n});' for n in range(1, 5)]
        return await asyncio.gather(*(preview_scad(s) for s in sources))

    pngs = asyncio.run(many())
    assert all(png.startswith(b"\x89PNG") and red_fraction(png) > 0.05 for png in pngs)


def test_openscad_processes_wait_for_a_slot(monkeypatch: pytest.MonkeyPatch) -> None:
    # One slot: four previews run one after another, never two openscad at once.
    monkeypatch.setattr(scad, "parallelism", lambda: 1)
    running, most = 0, 0
    real_run = scad._run

    async def counted(*args: object, **kwargs: object) -> tuple[int, str, float]:
        nonlocal running, most
        running += 1
        most = max(most, running)
        try:
            return await real_run(*args, **kwargs)  # type: ignore[arg-type]
        finally:
            running -= 1

    monkeypatch.setattr(scad, "_run", counted)

    async def many() -> list[bytes]:
        return await asyncio.gather(*(preview_scad(f"cube({n});") for n in range(1, 5)))

    assert len(asyncio.run(many())) == 4
    assert most == 1


def test_cpu_time_limit_stops_the_render() -> None:
    # ~6 s of CPU in a 64-million-step loop that keeps almost nothing in memory.
    busy = "n = 8000; x = [for (i = [0:n]) for (j = [0:n]) if (i == j) i]; cube(1);"
    with pytest.raises(RenderTimeout, match="CPU time"):
        export_stl(busy, limits=RenderLimits(cpu_seconds=1, timeout_s=30))


def test_mcad_library_is_usable_read_only_from_the_sandbox() -> None:
    stl, _ = export_stl("use <MCAD/boxes.scad>\nroundedBox([10, 10, 10], 2, true);")
    assert stl.startswith(b"solid")
    assert facet_count(stl) > 12  # rounded, so more than a plain cube's 12


def test_a_model_error_is_a_422_with_its_line_and_never_retried() -> None:
    error = ScadError("ERROR: Parser error in file model.scad, line 3: syntax error")
    assert (error.status, error.line, error.extensions) == (422, 3, {"line": 3})
    assert not is_retryable(error)
    assert ScadError("no geometry").extensions == {}
