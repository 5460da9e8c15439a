"""Render untrusted OpenSCAD source to a PNG preview and an STL mesh, sandboxed.

The model source is hostile input: OpenSCAD's include/use/import()/surface() read arbitrary
paths, and a model can spin forever or allocate without bound. Instead of filtering the
language (a losing game), every render runs the real ``openscad`` binary inside a
bubblewrap sandbox that sees only the system directories it needs and a fresh job
directory, has no network, and carries rlimits on address space and output file size.

OpenSCAD 2021.01 needs an X display to export PNG, so openscad runs under ``xvfb-run``
inside the sandbox; one invocation with two ``-o`` flags writes both files.
"""

from __future__ import annotations

import asyncio
import functools
import os
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

__all__ = [
    "RenderFailed",
    "RenderLimits",
    "RenderOutput",
    "RenderTimeout",
    "ScadError",
    "render_scad",
    "sandbox_available",
]

MSG_NO_SANDBOX = (
    "bubblewrap cannot create a sandbox on this host; refusing to render untrusted "
    "OpenSCAD unsandboxed (set SHOTGRAPH_RENDER_SANDBOX=off only on a dev machine)"
)
MSG_SOURCE_TOO_LARGE = "OpenSCAD source is {size} bytes; the limit is {limit}"
MSG_SOURCE_NUL = "OpenSCAD source contains a NUL byte"
MSG_NO_GEOMETRY = "model produced no 3D geometry"
MSG_OUTPUT_TOO_LARGE = "rendered {name} exceeds {limit} bytes"
MSG_BAD_PNG = "openscad wrote an invalid PNG"
MSG_CRASHED = "openscad failed with exit code {code}: {tail}"
MSG_TIMEOUT = "render took longer than {timeout}s"

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
SIGXFSZ_EXIT = 128 + signal.SIGXFSZ  # how sh reports a child killed by RLIMIT_FSIZE
SIGXCPU_EXIT = 128 + signal.SIGXCPU  # ... and one killed by RLIMIT_CPU
LOG_KEEP = 2048  # bytes kept from each end of stderr for RenderOutput.log
STDERR_KEEP = 64 * 1024  # bytes read from each end of stderr; a model can echo() without end
# Lines that mean the model itself is wrong. A model could forge one with echo("\nERROR:"),
# but that only mislabels its own failure as permanent.
MODEL_ERROR_PREFIXES = ("ERROR:", "Current top level object is", "Can't parse file")
JOB_MOUNT = "/job"  # where the job dir appears inside the sandbox; hides host paths
# Read-only system paths; /etc is cut down to what openscad, fontconfig and Xvfb need, so
# host configuration (and e.g. /etc/shadow) stays invisible.
SYSTEM_DIRS = ("/usr", "/bin", "/sbin", "/lib", "/lib64")
CONFIG_PATHS = ("/etc/ld.so.cache", "/etc/fonts", "/etc/alternatives", "/var/cache/fontconfig")


@dataclass(frozen=True)
class RenderLimits:
    timeout_s: float = 60.0
    cpu_seconds: int = 120  # CPU time of the openscad process (wall-clock is timeout_s)
    memory_bytes: int = 1 << 30  # address-space cap for the openscad process
    max_source_bytes: int = 256 * 1024
    max_output_bytes: int = 64 << 20  # per output file
    image_size: tuple[int, int] = (512, 512)


@dataclass(frozen=True)
class RenderOutput:
    png: bytes
    stl: bytes
    log: str  # openscad's stderr, trimmed to a few KB


class ScadError(Exception):
    """The model itself is bad (syntax error, no geometry, too large); retrying won't help."""


class RenderTimeout(Exception):
    """The render exceeded RenderLimits.timeout_s; its whole process tree was killed."""


class RenderFailed(Exception):
    """Anything else: sandbox failure, crash, oversized output. May succeed on retry."""


def _sandbox_prefix(job_dir: Path) -> list[str]:
    """bwrap argv: system dirs read-only, private /tmp, the job dir as the only writable place."""
    argv = ["bwrap", "--unshare-all", "--die-with-parent", "--new-session", "--cap-drop", "ALL"]
    for path in (*SYSTEM_DIRS, *CONFIG_PATHS):
        if os.path.islink(path):  # merged-/usr systems: /bin -> usr/bin and so on
            argv += ["--symlink", os.readlink(path), path]
        elif os.path.exists(path):
            argv += ["--ro-bind", path, path]
    argv += ["--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp"]
    argv += ["--bind", str(job_dir), JOB_MOUNT, "--chdir", JOB_MOUNT]
    argv += ["--clearenv", "--setenv", "PATH", "/usr/bin:/bin", "--setenv", "HOME", "/tmp"]
    argv += ["--setenv", "LANG", "C.UTF-8"]  # text() with non-ASCII strings
    return argv


@functools.cache
def sandbox_available() -> bool:
    """True when bwrap can create the same namespaces a render uses (cached per process)."""
    with tempfile.TemporaryDirectory() as probe:
        try:
            result = subprocess.run(
                [*_sandbox_prefix(Path(probe)), "true"],
                capture_output=True,
                timeout=30,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired):
            return False
    return result.returncode == 0


def _openscad_argv(limits: RenderLimits, args: Sequence[str], *, display: bool) -> list[str]:
    """[xvfb-run +] prlimit + openscad ``args``, with paths relative to the job dir.

    The rlimits go on openscad alone via prlimit: Xvfb and Mesa map far more address space
    than they use, and capping them would break the display rather than bound the model.
    RLIMIT_FSIZE stops an enormous output while it is being written, not after the disk fills.
    Only a PNG needs a display (``display``); mesh and CSG exports run without Xvfb.
    """
    rlimits = [
        "prlimit",
        f"--as={limits.memory_bytes}",
        # Soft limit first (SIGXCPU, reported as such); the hard limit is only a backstop.
        f"--cpu={limits.cpu_seconds}:{limits.cpu_seconds + 2}",
        f"--fsize={limits.max_output_bytes + 1}",
    ]
    argv = [*rlimits, "--core=0", "--", "openscad", *args]
    if not display:
        return argv
    width, height = limits.image_size
    screen = f"-screen 0 {max(width, 1024)}x{max(height, 768)}x24"
    return ["xvfb-run", "-a", "-s", screen, *argv]


def _head_and_tail(file: IO[bytes], keep: int) -> str:
    """The first and last `keep` bytes of file, decoded: errors come first, the verdict last."""
    size = file.seek(0, os.SEEK_END)
    file.seek(0)
    if size <= 2 * keep:
        return file.read().decode("utf-8", "replace")
    head = file.read(keep)
    file.seek(size - keep)
    return (head + b"\n...\n" + file.read(keep)).decode("utf-8", "replace")


async def _run(argv: list[str], cwd: Path, timeout_s: float) -> tuple[int, str]:
    """Run argv in its own process group; on timeout or cancellation kill the whole group.

    stderr goes to an unlinked temp file, not a pipe: a pipe would make wait() hang on any
    straggler holding it open, and a file is bounded by the same RLIMIT_FSIZE as the outputs.
    """
    with tempfile.TemporaryFile() as err:
        proc = await asyncio.create_subprocess_exec(
            *argv,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=err,
            start_new_session=True,
            env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(cwd)},
        )
        try:
            code = await asyncio.wait_for(proc.wait(), timeout_s)
        except TimeoutError:
            raise RenderTimeout(MSG_TIMEOUT.format(timeout=timeout_s)) from None
        finally:
            if proc.returncode is None:
                # In the sandbox this kills bwrap; --die-with-parent then takes down its pid
                # namespace (openscad, Xvfb). Unsandboxed, Xvfb shares our process group.
                os.killpg(proc.pid, signal.SIGKILL)
                await proc.wait()
        return code, _head_and_tail(err, STDERR_KEEP)


def _trim(log: str) -> str:
    return log if len(log) <= 2 * LOG_KEEP else f"{log[:LOG_KEEP]}\n...\n{log[-LOG_KEEP:]}"


def check_source(source: str, limits: RenderLimits) -> bytes:
    """The source as UTF-8, refused before anything runs when too large or holding a NUL."""
    encoded = source.encode("utf-8")
    if len(encoded) > limits.max_source_bytes:
        raise ScadError(
            MSG_SOURCE_TOO_LARGE.format(size=len(encoded), limit=limits.max_source_bytes)
        )
    if b"\0" in encoded:
        raise ScadError(MSG_SOURCE_NUL)
    return encoded


def read_output(path: Path, limit: int) -> bytes:
    """An output file, refused when missing (no geometry) or over the size limit."""
    if not path.is_file():
        raise ScadError(MSG_NO_GEOMETRY)
    if path.stat().st_size > limit:
        raise RenderFailed(MSG_OUTPUT_TOO_LARGE.format(name=path.name, limit=limit))
    return path.read_bytes()


async def run_openscad(
    job_dir: Path,
    args: Sequence[str],
    *,
    limits: RenderLimits,
    sandboxed: bool = True,
    display: bool = False,
) -> str:
    """Run openscad ``args`` (paths relative to ``job_dir``) bounded, and sandboxed unless told.

    Returns OpenSCAD's log. Raises ScadError for a model error (with OpenSCAD's message),
    RenderTimeout at the wall-clock or CPU limit, and RenderFailed for anything else.
    """
    if sandboxed and not await asyncio.to_thread(sandbox_available):
        raise RenderFailed(MSG_NO_SANDBOX)
    argv = _openscad_argv(limits, args, display=display)
    if sandboxed:
        argv = [*_sandbox_prefix(job_dir), *argv]
    try:
        code, log = await _run(argv, job_dir, limits.timeout_s)
    except OSError as exc:  # bwrap / xvfb-run missing
        raise RenderFailed(f"cannot start renderer: {exc}") from exc
    if code == SIGXCPU_EXIT:
        raise RenderTimeout(f"the model used more than {limits.cpu_seconds} s of CPU time")
    if code == SIGXFSZ_EXIT:
        raise RenderFailed(
            MSG_OUTPUT_TOO_LARGE.format(name="output", limit=limits.max_output_bytes)
        )
    if code != 0:
        model_errors = [line for line in log.splitlines() if line.startswith(MODEL_ERROR_PREFIXES)]
        if model_errors:
            raise ScadError(model_errors[0])
        raise RenderFailed(MSG_CRASHED.format(code=code, tail=log[-500:].strip()))
    return log


async def render_scad(
    source: str,
    *,
    limits: RenderLimits = RenderLimits(),
    workdir: Path | None = None,
    sandboxed: bool = True,
) -> RenderOutput:
    """Render source to PNG + STL in a fresh, sandboxed job directory that is then removed.

    ``sandboxed=False`` (``SHOTGRAPH_RENDER_SANDBOX=off``) is for development machines only.
    """
    encoded = check_source(source, limits)
    job_dir = Path(tempfile.mkdtemp(prefix="scad-", dir=workdir))
    try:
        (job_dir / "model.scad").write_bytes(encoded)
        width, height = limits.image_size
        # --preview keeps color() colours in the PNG (--render would drop them); the STL
        # export always does the full CGAL render regardless.
        args = [
            "--preview",
            "--colorscheme=Tomorrow",
            "--viewall",
            "--autocenter",
            f"--imgsize={width},{height}",
            "-o",
            "model.stl",
            "-o",
            "model.png",
            "model.scad",
        ]
        log = await run_openscad(job_dir, args, limits=limits, sandboxed=sandboxed, display=True)
        stl = read_output(job_dir / "model.stl", limits.max_output_bytes)
        png = read_output(job_dir / "model.png", limits.max_output_bytes)
        if not stl:
            raise ScadError(MSG_NO_GEOMETRY)
        if not png.startswith(PNG_SIGNATURE):
            raise RenderFailed(MSG_BAD_PNG)
        return RenderOutput(png=png, stl=stl, log=_trim(log))
    finally:
        # Blocking, but bounded: the job dir holds at most three size-capped files.
        shutil.rmtree(job_dir, ignore_errors=True)
