"""Run the real ``openscad`` on untrusted source: sandboxed, bounded, its failures classified.

The model source is hostile input: OpenSCAD's include/use/import()/surface() read arbitrary
paths, and a model can spin forever or allocate without bound. Instead of filtering the
language (a losing game), every run is the real ``openscad`` binary inside a bubblewrap
sandbox that sees only the system directories it needs, a read-only library path and a fresh
job directory, has no network, and carries rlimits on CPU time, address space and output size.

OpenSCAD 2021.01 needs an X display to draw a PNG, so previews run under ``xvfb-run`` inside
the sandbox. At most ``parallelism()`` openscad processes run at once per worker process, so a
replica's renders share its cores instead of thrashing them. Inside a render job every process
is also charged to the job's CPU budget (`services.render.budget`).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import os
import re
import shutil
import signal
import subprocess
import tempfile
import uuid
import weakref
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from libs.config import cores_per_worker
from libs.errors import Unprocessable
from libs.metrics import OPENSCAD_RUNS
from libs.setpieces import source_too_large
from services.render.budget import CpuBudget, current_budget
from services.render.view import DEFAULT_VIEW, View

__all__ = [
    "BudgetExceeded",
    "EmptyModel",
    "LimitExceeded",
    "RenderFailed",
    "RenderLimits",
    "RenderTimeout",
    "ScadError",
    "check_syntax",
    "job_directory",
    "output_file",
    "parallelism",
    "preview_scad",
    "run_openscad",
    "sandbox_available",
]

MSG_NO_SANDBOX = (
    "bubblewrap cannot create a sandbox on this host; refusing to render untrusted "
    "OpenSCAD unsandboxed (set SHOTGRAPH_RENDER_SANDBOX=off only on a dev machine)"
)
MSG_SOURCE_NUL = "OpenSCAD source contains a NUL byte"
MSG_NO_GEOMETRY = "model produced no 3D geometry"
MSG_OUTPUT_TOO_LARGE = "rendered {name} exceeds {limit} bytes"
MSG_BAD_PNG = "openscad wrote an invalid PNG"
MSG_CRASHED = "openscad failed with exit code {code}: {tail}"
MSG_TIMEOUT = "render took longer than {timeout:.3g} s and was stopped"
MSG_CPU = "the model used more than {seconds} s of CPU time and was stopped"
MSG_MEMORY = "the model needs more than {mib} MiB of memory and was stopped"
MSG_BUDGET = (
    "the render ran out of its budget of {budget} s of CPU time (it used {spent:.1f} s in "
    "{runs} OpenSCAD runs) and was stopped"
)

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
SIGXFSZ_EXIT = 128 + signal.SIGXFSZ  # how sh reports a child killed by RLIMIT_FSIZE
SIGXCPU_EXIT = 128 + signal.SIGXCPU  # ... and one killed by RLIMIT_CPU
SIGABRT_EXIT = 128 + signal.SIGABRT  # an uncaught std::bad_alloc at RLIMIT_AS aborts
STDERR_KEEP = 64 * 1024  # bytes read from each end of stderr; a model can echo() without end
# Lines that mean the model itself is wrong. A model could forge one with echo("\nERROR:"),
# but that only mislabels its own failure as permanent.
MODEL_ERROR_PREFIXES = ("ERROR:", "Can't parse file")
EMPTY_PREFIXES = ("Current top level object is empty", "Current top level object is not a")
# One figure of sh's ``times``: "1m2.500000s".
_TIMES = re.compile(r"(\d+)m([\d.]+)s")
# Where OpenSCAD names the place of a message in the model ("in file model.scad, line 3").
_MODEL_LINE = re.compile(r"in file (?:/job/)?model\.scad, line (\d+)")
JOB_MOUNT = "/job"  # where the job dir appears inside the sandbox; hides host paths
# Read-only system paths; /etc is cut down to what openscad, fontconfig and Xvfb need, so
# host configuration (and e.g. /etc/shadow) stays invisible.
SYSTEM_DIRS = ("/usr", "/bin", "/sbin", "/lib", "/lib64")
CONFIG_PATHS = ("/etc/ld.so.cache", "/etc/fonts", "/etc/alternatives", "/var/cache/fontconfig")
SYNTAX_CHECK_S = 3.0  # see check_syntax
# Mesa's software rasteriser maps ~550 MiB of address space before drawing anything, so a
# preview's cap never goes below this; the model's geometry was bounded by its own renders.
DISPLAY_MEMORY_FLOOR = 1 << 30


@dataclass(frozen=True)
class RenderLimits:
    timeout_s: float = 60.0
    cpu_seconds: int = 120  # CPU time of the openscad process (wall-clock is timeout_s)
    memory_bytes: int = 1 << 30  # address-space cap for the openscad process
    max_output_bytes: int = 64 << 20  # per output file
    # CPU time of one render job, all its openscad processes together (services.render.budget).
    # Ten processes at the 60 s wall clock: the set piece and the benchmark's castle spend
    # ~1-3 s in all, a model at MAX_COLOURS of small parts ~40 s.
    job_cpu_seconds: int = 600


class ScadError(Unprocessable):
    """The model cannot be rendered (syntax error, no geometry, over a limit): a 422 to the
    caller, a failed job without a retry. ``line`` is where OpenSCAD placed the problem in the
    model, when it said; it travels as the problem's ``line`` member."""

    def __init__(self, message: str) -> None:
        found = _MODEL_LINE.search(message)
        self.line = int(found.group(1)) if found else None
        super().__init__(message, extensions={"line": self.line} if self.line else None)
        self.message = message


class EmptyModel(ScadError):
    """The model evaluates to no 3D geometry (nothing, only 2D, or everything cut away)."""


class LimitExceeded(ScadError):
    """The model ran into a time, CPU, memory or output-size limit and was stopped."""


class RenderTimeout(LimitExceeded):
    """Wall-clock or CPU time ran out; the whole process tree was killed."""


class BudgetExceeded(RenderTimeout):
    """The render job's CPU budget, summed over its openscad processes, is spent."""

    def __init__(self, budget: CpuBudget) -> None:
        super().__init__(
            MSG_BUDGET.format(spent=budget.spent, runs=budget.runs, budget=budget.seconds)
        )


class RenderFailed(Exception):
    """Anything else: the sandbox failed or openscad crashed. May succeed on retry."""


_gates: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = (
    weakref.WeakKeyDictionary()
)


@functools.cache
def parallelism() -> int:
    """How many openscad processes this worker runs at once: its share of the cores."""
    return cores_per_worker()


def _gate() -> asyncio.Semaphore:
    """This event loop's semaphore over openscad processes (a semaphore binds to one loop)."""
    loop = asyncio.get_running_loop()
    gate = _gates.get(loop)
    if gate is None:
        gate = _gates[loop] = asyncio.Semaphore(parallelism())
    return gate


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


def _openscad_argv(limits: RenderLimits, args: Sequence[str], *, display: View | None) -> list[str]:
    """[xvfb-run +] prlimit + openscad ``args``, with paths relative to the job dir.

    The rlimits go on openscad alone via prlimit: Xvfb maps far more address space than it
    uses, and capping it would break the display rather than bound the model. RLIMIT_FSIZE
    stops an enormous output while it is being written, not after the disk fills. Only a PNG
    needs a display (``display``, the view it draws); exports run without Xvfb.
    """
    memory = (
        limits.memory_bytes if display is None else max(limits.memory_bytes, DISPLAY_MEMORY_FLOOR)
    )
    rlimits = [
        "prlimit",
        f"--as={memory}",
        # Soft limit first (SIGXCPU, reported as such); the hard limit is only a backstop.
        f"--cpu={limits.cpu_seconds}:{limits.cpu_seconds + 2}",
        f"--fsize={limits.max_output_bytes + 1}",
    ]
    argv = [*rlimits, "--core=0", "--", "openscad", *args]
    if display is None:
        return argv
    screen = f"-screen 0 {max(display.width, 1024)}x{max(display.height, 768)}x24"
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


async def _run(
    argv: list[str], cwd: Path, timeout_s: float, *, sandbox: Sequence[str] = ()
) -> tuple[int, str, float]:
    """Run argv (in the ``sandbox`` prefix) in its own process group; on timeout or
    cancellation kill the whole group.

    Returns the exit code, the head and tail of stderr, and the CPU seconds argv's processes
    used (0 when they were killed before they ended).

    stderr goes to an unlinked temp file, not a pipe: a pipe would make wait() hang on any
    straggler holding it open, and a file is bounded by the same RLIMIT_FSIZE as the outputs.
    """
    times = cwd / f".cpu-{uuid.uuid4().hex}"
    with tempfile.TemporaryFile() as err:
        proc = await asyncio.create_subprocess_exec(
            *sandbox,
            *_timed(argv, times.name),
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
        return code, _head_and_tail(err, STDERR_KEEP), _cpu_seconds(times)


def _timed(argv: list[str], times: str) -> list[str]:
    """argv run by sh, which then writes the CPU time of its children (``times``) to the file
    ``times`` in the working directory, the job's.

    The rusage of bwrap cannot tell it: the sandbox's init exits without reaping into it. The
    model cannot forge the figure: OpenSCAD writes no file but its -o output, and sh writes
    once it has ended. A death by signal reads as 128 + the signal, as sh reports it.
    """
    return ["sh", "-c", f'"$@"; code=$?; times > {times}; exit $code', "sh", *argv]


def _cpu_seconds(times: Path) -> float:
    """User plus system seconds of the children, from the second line ``times`` wrote; 0 when
    it wrote none (killed)."""
    try:
        lines = times.read_text("ascii", "replace").splitlines()
        times.unlink()
    except OSError:
        return 0.0
    spans = _TIMES.findall(lines[1]) if len(lines) > 1 else []
    return sum(int(minutes) * 60 + float(seconds) for minutes, seconds in spans)


def check_source(source: str) -> bytes:
    """The source as UTF-8, refused before anything runs when too large or holding a NUL."""
    too_large = source_too_large(source)
    if too_large:
        raise ScadError(too_large)
    encoded = source.encode("utf-8")
    if b"\0" in encoded:
        raise ScadError(MSG_SOURCE_NUL)
    return encoded


@contextlib.contextmanager
def job_directory(source: str, workdir: Path | None = None) -> Iterator[Path]:
    """A fresh directory holding the checked source as ``model.scad``, removed afterwards."""
    encoded = check_source(source)
    job_dir = Path(tempfile.mkdtemp(prefix="scad-", dir=workdir))
    try:
        (job_dir / "model.scad").write_bytes(encoded)
        yield job_dir
    finally:
        # Blocking, but bounded: a handful of size-capped files.
        shutil.rmtree(job_dir, ignore_errors=True)


def output_file(path: Path, limit: int) -> Path:
    """An output file left where it is, refused when missing (no geometry) or over the limit."""
    if not path.is_file():
        raise EmptyModel(MSG_NO_GEOMETRY)
    if path.stat().st_size > limit:
        raise LimitExceeded(MSG_OUTPUT_TOO_LARGE.format(name=path.name, limit=limit))
    return path


def read_output(path: Path, limit: int) -> bytes:
    """An output file's bytes, refused when missing (no geometry) or over the size limit."""
    return output_file(path, limit).read_bytes()


def model_errors(log: str) -> list[str]:
    """OpenSCAD's error lines in ``log``, first one first."""
    return [line for line in log.splitlines() if line.startswith(MODEL_ERROR_PREFIXES)]


def empty_model(log: str) -> ScadError:
    """No geometry, explained by the evaluation's ``log`` when it says why.

    Some errors end the evaluation without failing the run (recursion, a failed assert: the
    model comes out empty, exit code 0), and they are the answer; otherwise a warning usually
    names the cause (a ``for`` over too many elements, a file that could not be opened).
    """
    if errors := model_errors(log):
        return ScadError(errors[0])
    warnings = [line for line in log.splitlines() if line.startswith("WARNING:")]
    return EmptyModel(f"{MSG_NO_GEOMETRY}; {warnings[0]}" if warnings else MSG_NO_GEOMETRY)


async def run_openscad(
    job_dir: Path,
    args: Sequence[str],
    *,
    limits: RenderLimits,
    sandboxed: bool = True,
    display: View | None = None,
) -> str:
    """Run openscad ``args`` (paths relative to ``job_dir``) bounded, and sandboxed unless told.

    Waits for one of this worker's openscad slots first. Returns OpenSCAD's log. Raises
    ScadError for a model error (with OpenSCAD's message), EmptyModel when there is nothing to
    export, LimitExceeded at a limit, and RenderFailed for anything else.
    """
    try:
        log = await _bounded_run(job_dir, args, limits, sandboxed, display)
    except EmptyModel:
        OPENSCAD_RUNS.labels("empty").inc()
        raise
    except LimitExceeded:
        OPENSCAD_RUNS.labels("limit").inc()
        raise
    except ScadError:
        OPENSCAD_RUNS.labels("model_error").inc()
        raise
    except RenderFailed:
        OPENSCAD_RUNS.labels("failed").inc()
        raise
    OPENSCAD_RUNS.labels("ok").inc()
    return log


async def _bounded_run(
    job_dir: Path,
    args: Sequence[str],
    limits: RenderLimits,
    sandboxed: bool,
    display: View | None,
) -> str:
    if sandboxed and not await asyncio.to_thread(sandbox_available):
        raise RenderFailed(MSG_NO_SANDBOX)
    budget = current_budget()
    try:
        async with _gate():
            # Granted when the process starts, not when it queued: others may have spent since.
            granted = limits if budget is None else _granted(limits, budget)
            argv = _openscad_argv(granted, args, display=display)
            sandbox = _sandbox_prefix(job_dir) if sandboxed else []
            code, log, cpu = await _run(argv, job_dir, limits.timeout_s, sandbox=sandbox)
    except OSError as exc:  # bwrap / xvfb-run missing
        raise RenderFailed(f"cannot start renderer: {exc}") from exc
    if budget is not None:
        budget.charge(cpu)
        # Stopped by a grant cut to what was left, or over with this run: the job's budget.
        cut = granted.cpu_seconds < limits.cpu_seconds
        if (code == SIGXCPU_EXIT and cut) or budget.exhausted():
            raise BudgetExceeded(budget)
    if code == SIGXCPU_EXIT:
        raise RenderTimeout(MSG_CPU.format(seconds=limits.cpu_seconds))
    if code == SIGXFSZ_EXIT:
        raise LimitExceeded(
            MSG_OUTPUT_TOO_LARGE.format(name="output", limit=limits.max_output_bytes)
        )
    if code == SIGABRT_EXIT and "std::bad_alloc" in log:
        raise LimitExceeded(MSG_MEMORY.format(mib=limits.memory_bytes >> 20))
    if code != 0:
        if errors := model_errors(log):
            raise ScadError(errors[0])
        if empty := [line for line in log.splitlines() if line.startswith(EMPTY_PREFIXES)]:
            raise EmptyModel(f"{MSG_NO_GEOMETRY} ({empty[0].rstrip('.')})")
        raise RenderFailed(MSG_CRASHED.format(code=code, tail=log[-500:].strip()))
    return log


def _granted(limits: RenderLimits, budget: CpuBudget) -> RenderLimits:
    """The limits of a job's next process: its CPU time cut to what is left of the budget."""
    if budget.exhausted():
        raise BudgetExceeded(budget)
    return dataclasses.replace(limits, cpu_seconds=budget.grant(limits.cpu_seconds))


async def check_syntax(source: str, *, limits: RenderLimits, sandboxed: bool = True) -> None:
    """Raise ScadError (naming the bad line) when ``source`` does not parse.

    OpenSCAD has no parse-only mode: an AST export parses, then evaluates the top-level
    assignments. Parsing a source within the size limit takes milliseconds, so a run still
    going after ``SYNTAX_CHECK_S`` has parsed; the evaluation is the render's business.
    """
    quick = dataclasses.replace(limits, timeout_s=min(limits.timeout_s, SYNTAX_CHECK_S))
    with job_directory(source) as job_dir:
        try:
            await run_openscad(
                job_dir, ["-o", "model.ast", "model.scad"], limits=quick, sandboxed=sandboxed
            )
        except LimitExceeded:
            return


async def preview_scad(
    source: str,
    *,
    defines: Sequence[str] = (),
    view: View = DEFAULT_VIEW,
    limits: RenderLimits = RenderLimits(),
    workdir: Path | None = None,
    sandboxed: bool = True,
) -> bytes:
    """OpenSCAD's own preview of ``source`` as a PNG: quick (no CGAL render), in its colours.

    Here the outermost ``color()`` wins, unlike Shotgraph's rule; the service's pictures are
    drawn by `services.render.previews`, and this is the engine's own, to compare them with.
    ``sandboxed=False`` (``SHOTGRAPH_RENDER_SANDBOX=off``) is for development machines only.
    """
    with job_directory(source, workdir) as job_dir:
        return await draw_preview(job_dir, "model.scad", defines, view, limits, sandboxed)


async def draw_preview(
    job_dir: Path,
    model: str,
    defines: Sequence[str],
    view: View,
    limits: RenderLimits,
    sandboxed: bool,
) -> bytes:
    """The PNG of OpenSCAD's preview of ``model`` in ``job_dir``, seen through ``view``.

    ``--preview`` keeps color() colours (``--render`` would drop them). An empty model gives
    EmptyModel rather than a picture of nothing.
    """
    # Cornfield, OpenSCAD's default scheme, draws uncoloured material in the documented
    # default colour (#f9d72c); other schemes would not.
    args = [*defines, "--preview", "--colorscheme=Cornfield", *view.openscad_args()]
    log = await run_openscad(
        job_dir,
        [*args, "-o", "preview.png", model],
        limits=limits,
        sandboxed=sandboxed,
        display=view,
    )
    if "Geometries in cache: 0" in log:  # it drew an empty scene
        raise empty_model(log)
    png = read_output(job_dir / "preview.png", limits.max_output_bytes)
    if not png.startswith(PNG_SIGNATURE):
        raise RenderFailed(MSG_BAD_PNG)
    return png
