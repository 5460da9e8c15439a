"""What does colour cost a render? Coloured exports, cached previews and render throughput, each
next to plain OpenSCAD on the same machine in the same run.

``python -m loadtests.bench_render [--repeats 3] [--requests 200] [--renders 24]`` measures:

1. **export ratio**: for models of different sizes, ``render_coloured(source, ["glb", "3mf"])``
   in the sandbox (CSG export, one openscad render per colour, GLB and 3MF assembly) against
   plain ``openscad -o model.stl model.scad`` unsandboxed, exactly what a user would type. The
   runs alternate, ``--repeats`` of each; the medians' ratio must stay at or below 1.5. Where
   a coloured render's time goes (CSG export, each colour's part, assembly) is recorded during
   those same runs and printed for every model that misses the target.
2. **cache-hit latency**: with the whole platform started, one preview is rendered (a miss),
   then ``--requests`` identical previews are timed one at a time, through the gateway over
   HTTP (what a browser sees) and straight to the render service over gRPC. p50 and p99 must
   be under 10 ms; the miss is the baseline they are a speed-up over.
3. **renders per minute with all cores busy**: ``--renders`` distinct GLB+3MF renders of the
   set piece submitted at once through ``POST /v1/renders``, against the same models rendered
   to STL by plain openscad, as many processes at once as there are cores.
4. **quick-preview latency** of a model with nested colours: the render service's preview
   (``preview_coloured``: CSG export, split, one draw of the split programs, so the innermost
   colour wins) against OpenSCAD's own preview of the same source (``preview_scad``, what the
   service drew before, where the outermost colour wins), alternating, both sandboxed under
   the service's limits, ``--previews`` of each or until ``--preview-budget`` seconds ran
   out. ``--previews-only`` runs this alone, without the platform.

A render's seconds depend on the machine more than on anything Shotgraph does, so an absolute
figure says little; plain OpenSCAD measured beside it, on the same models and cores, is the
yardstick, and the ratios are what to compare between runs and commits.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import os
import platform as host
import statistics
import sys
import tempfile
import textwrap
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import grpc

from libs.launcher import Platform
from loadtests.common import (
    cell,
    get_json,
    met,
    print_notes,
    print_result,
    ratio,
    stopped_at_exit,
    timestamp,
)
from services.render import coloured, previews, scad
from services.render.csg import Rgba
from services.render.previews import preview_coloured
from services.render.scad import RenderLimits, parallelism, preview_scad, run_openscad
from shotgraph.render.v1 import render_pb2, render_pb2_grpc

ROOT = Path(__file__).resolve().parent.parent
SET_PIECE = ROOT / "services" / "render" / "tests" / "models" / "set_piece.scad"
FORMATS = ("glb", "3mf")
EXPORT_TARGET = 1.5  # coloured / plain, medians
HIT_TARGET_MS = 10.0
MAX_REPEATS = 10
MIN_REQUESTS = 10  # for percentiles to mean something
MAX_REQUESTS = 2_000
MAX_RENDERS = 100
HIT_WARMUP = 5  # cache hits sent before the timed ones: connections set up, code paths warm
PREVIEW_TIMEOUT_S = 20.0  # the gateway's own deadline for a preview
PLAIN_TIMEOUT_S = 300.0  # one plain openscad run
THROUGHPUT_DEADLINE_S = 600.0  # from the first submit until every render is final
POLL_S = 0.2  # between rounds of GET /v1/renders/{id}
POLL_RATE = 20.0  # GETs per second at most, so that watching stays small next to rendering
REQUEST_TIMEOUT_S = 60.0
FINAL_STATES = frozenset({"succeeded", "failed", "cancelled", "skipped"})
THROUGHPUT_PARAMETER = "width"  # varied per render so that none is a cache hit
LIMITS = RenderLimits()  # the render service's own: the coloured side runs as it does
MAX_PREVIEWS = 200  # per side
MAX_PREVIEW_BUDGET_S = 600.0
PREVIEW_WARMUP = 1  # per side, uncounted: the file cache, the sandbox probe


@dataclass(frozen=True)
class Model:
    name: str
    what: str
    source: str


SMALL = """\
color("red") cube(10);
color([0, 0, 1]) translate([20, 0, 0]) cube(10);
"""

# Five colours, curved parts at $fn = 64, a difference() whose cutter is coloured, and towers
# standing on the keep's corners, so the union rule has overlaps to settle.
LARGE = """\
$fn = 64;
module tower(r, h) {
    color("SlateGray") difference() {
        cylinder(r = r, h = h);
        translate([0, 0, h - 4]) cylinder(r = r - 2, h = 5);
        for (a = [0:45:359]) rotate(a) translate([r - 1, -1, h - 3]) cube([3, 2, 4]);
    }
    color("FireBrick") translate([0, 0, h]) cylinder(r1 = r + 1, r2 = 0, h = r * 1.5);
    color("Gold") translate([0, 0, h + r * 1.5]) sphere(1.5);
}
color("Tan") difference() {
    cube([60, 60, 20]);
    translate([4, 4, 4]) cube([52, 52, 20]);
    color("Black") translate([30, -1, 0]) rotate([-90, 0, 0]) cylinder(r = 7, h = 6);
}
for (x = [0, 60]) translate([x, 0, 0]) tower(8, 30);
color("ForestGreen") for (i = [0:2]) translate([15 + i * 15, 70, 0])
    cylinder(r1 = 5, r2 = 0, h = 14);
"""

# Uncoloured, one mesh: the split cannot parallelise anything, it only adds the CSG export.
SINGLE = """\
$fn = 64;
difference() {
    union() {
        cube([40, 8, 6]);
        for (i = [0:1]) translate([8 + i * 24, 4, 3]) sphere(6);
    }
    for (i = [0:1]) translate([8 + i * 24, 4, -10]) cylinder(r = 2, h = 20);
}
"""


# A set piece whose outer colour holds children with colours of their own (what OpenSCAD's own
# preview paints all Tan), curved at $fn = 48, standing on the floor so the union rule has
# touching siblings to settle.
NESTED = """\
$fn = 48;
color("Tan") {
    cube([60, 40, 4]);
    color("SlateGray") translate([5, 5, 4]) cube([10, 30, 30]);
    color("FireBrick") translate([30, 20, 4]) cylinder(r = 8, h = 20);
    translate([50, 10, 4]) {
        cylinder(r = 4, h = 12);
        color("Gold") translate([0, 0, 14]) sphere(3);
    }
    color("ForestGreen") for (i = [0:3]) translate([20 + i * 10, 35, 4])
        cylinder(r1 = 4, r2 = 0, h = 10);
}
"""


def models() -> list[Model]:
    return [
        Model("small", "two coloured cubes", SMALL),
        Model(
            "set_piece", "tests/models/set_piece.scad: MCAD, text, 4 colours", SET_PIECE.read_text()
        ),
        Model("castle", "5 colours, $fn=64, coloured cutter, overlaps", LARGE),
        Model("one_colour", "single colour: the split's worst case", SINGLE),
    ]


# --- 1. the export ratio --------------------------------------------------------------------------


@dataclass
class PartTime:
    colour: str  # "#rrggbbaa"
    seconds: float  # the openscad process, sandbox included; not the wait for a free slot
    csg_bytes: int  # the size of the part's program: the union rule makes it grow


@dataclass
class Stages:
    """Where one coloured render's wall clock went, recorded during a measured run."""

    total_s: float
    csg_export_s: float  # openscad -o model.csg
    split_s: float  # parse the CSG and split it by colour, in Python
    parts_wall_s: float  # first part started to last part ended
    parts_sum_s: float
    parts: list[PartTime]
    glb_s: float
    threemf_s: float
    other_s: float  # the rest: temporary files, the sandbox probe, waiting for slots


@dataclass
class ExportRatio:
    model: str
    what: str
    source_bytes: int
    triangles: int  # in the plain STL
    parts: int  # coloured meshes in the GLB
    plain_s: list[float]
    coloured_s: list[float]
    plain_median_s: float
    coloured_median_s: float
    ratio: float | None
    met: bool
    stages: Stages  # of the coloured run with the median time


class _StageRecorder:
    """Times the steps of `render_coloured` from the outside by wrapping the functions it calls
    (a few perf_counter calls each), so the breakdown comes from the measured runs themselves
    rather than from extra runs that could differ."""

    def __init__(self) -> None:
        self.processes: dict[str, tuple[float, float]] = {}  # output file -> (start, end)
        self.calls: defaultdict[str, float] = defaultdict(float)  # step -> seconds
        self.programs: list[tuple[Rgba, str]] = []

    def _timed(self, step: str, function: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            began = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                self.calls[step] += time.perf_counter() - began

        return timed

    def _timed_process(
        self, run: Callable[..., Awaitable[tuple[int, str, float]]]
    ) -> Callable[..., Awaitable[tuple[int, str, float]]]:
        # scad._run is the openscad process alone, inside the worker's slot: the wait for a
        # slot would otherwise count as part time.
        async def timed(argv: list[str], *args: Any, **kwargs: Any) -> tuple[int, str, float]:
            began = time.perf_counter()
            try:
                return await run(argv, *args, **kwargs)
            finally:
                output = argv[argv.index("-o") + 1] if "-o" in argv else "?"
                self.processes[output] = (began, time.perf_counter())

        return timed

    @contextlib.contextmanager
    def installed(self) -> Iterator[None]:
        originals = {
            (coloured, "split_export"): coloured.split_export,
            (coloured, "write_glb"): coloured.write_glb,
            (coloured, "write_3mf"): coloured.write_3mf,
            (scad, "_run"): scad._run,
        }
        split = coloured.split_export

        async def split_and_keep(*args: Any, **kwargs: Any) -> dict[Rgba, str]:
            began = time.perf_counter()
            try:
                programs = await split(*args, **kwargs)
            finally:
                self.calls["split"] += time.perf_counter() - began
            self.programs = list(programs.items())
            return programs

        replacements = {
            (coloured, "split_export"): split_and_keep,
            (coloured, "write_glb"): self._timed("glb", coloured.write_glb),
            (coloured, "write_3mf"): self._timed("3mf", coloured.write_3mf),
            (scad, "_run"): self._timed_process(scad._run),
        }
        try:
            for (module, name), replacement in replacements.items():
                setattr(module, name, replacement)
            yield
        finally:
            for (module, name), original in originals.items():
                setattr(module, name, original)

    def stages(self, total_s: float) -> Stages:
        csg = self.processes.get("model.csg", (0.0, 0.0))
        parts, spans = [], []
        for index, (colour, program) in enumerate(self.programs):
            span = self.processes.get(f"part_{index}.stl")
            if span is None:
                continue
            spans.append(span)
            parts.append(PartTime(colour.hex(), round(span[1] - span[0], 3), len(program.encode())))
        wall = max(end for _, end in spans) - min(start for start, _ in spans) if spans else 0.0
        named = (csg[1] - csg[0]) + self.calls["split"] + wall + self.calls["glb"]
        named += self.calls["3mf"]
        return Stages(
            total_s=round(total_s, 3),
            csg_export_s=round(csg[1] - csg[0], 3),
            split_s=round(self.calls["split"], 3),
            parts_wall_s=round(wall, 3),
            parts_sum_s=round(sum(p.seconds for p in parts), 3),
            parts=parts,
            glb_s=round(self.calls["glb"], 3),
            threemf_s=round(self.calls["3mf"], 3),
            other_s=round(max(0.0, total_s - named), 3),
        )


async def run_plain(job_dir: Path, args: list[str]) -> float:
    """Plain ``openscad <args>`` as a user runs it (no sandbox, no limits); its wall clock."""
    began = time.perf_counter()
    process = await asyncio.create_subprocess_exec(
        "openscad",
        *args,
        cwd=job_dir,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        _, log = await asyncio.wait_for(process.communicate(), PLAIN_TIMEOUT_S)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    seconds = time.perf_counter() - began
    if process.returncode != 0:
        tail = log.decode(errors="replace").strip()[-500:]
        raise RuntimeError(f"openscad {' '.join(args)} failed ({process.returncode}): {tail}")
    return seconds


def _triangles(stl: Path) -> int:
    """Facets in OpenSCAD 2021.01's ASCII STL."""
    return stl.read_bytes().count(b"facet normal")


async def time_coloured(model: Model, workdir: Path) -> tuple[float, int, Stages]:
    recorder = _StageRecorder()
    with recorder.installed():
        began = time.perf_counter()
        result = await coloured.render_coloured(
            model.source, FORMATS, limits=LIMITS, sandboxed=True, workdir=workdir
        )
        seconds = time.perf_counter() - began
    if not result.outputs["glb"].startswith(b"glTF") or not result.outputs["3mf"].startswith(b"PK"):
        raise RuntimeError(f"{model.name}: the coloured render did not produce GLB and 3MF")
    return seconds, len(result.colours), recorder.stages(seconds)


async def measure_export(model: Model, repeats: int, workdir: Path) -> ExportRatio:
    """Plain and coloured runs alternate, and which goes first alternates too, so drift on
    the machine (another process, CPU frequency) falls on both alike."""
    job_dir = Path(tempfile.mkdtemp(prefix=f"plain-{model.name}-", dir=workdir))
    (job_dir / "model.scad").write_text(model.source)
    plain: list[float] = []
    runs: list[tuple[float, Stages]] = []
    parts = 0
    for repeat in range(repeats):
        for which in ("plain", "coloured") if repeat % 2 == 0 else ("coloured", "plain"):
            if which == "plain":
                plain.append(await run_plain(job_dir, ["-o", "model.stl", "model.scad"]))
            else:
                seconds, parts, stages = await time_coloured(model, workdir)
                runs.append((seconds, stages))
    coloured_s = [seconds for seconds, _ in runs]
    plain_median, coloured_median = statistics.median(plain), statistics.median(coloured_s)
    measured = ratio(coloured_median, plain_median)
    return ExportRatio(
        model=model.name,
        what=model.what,
        source_bytes=len(model.source.encode()),
        triangles=_triangles(job_dir / "model.stl"),
        parts=parts,
        plain_s=[round(s, 3) for s in plain],
        coloured_s=[round(s, 3) for s in coloured_s],
        plain_median_s=round(plain_median, 3),
        coloured_median_s=round(coloured_median, 3),
        ratio=measured,
        met=measured is not None and measured <= EXPORT_TARGET,
        stages=sorted(runs, key=lambda run: run[0])[(len(runs) - 1) // 2][1],
    )


@dataclass
class ProcessStart:
    """What starting one openscad process costs, without a model: ``openscad --version``."""

    plain_ms: float
    sandboxed_ms: float


async def measure_process_start(workdir: Path, runs: int = 5) -> ProcessStart:
    job_dir = Path(tempfile.mkdtemp(prefix="start-", dir=workdir))
    timings: dict[bool, list[float]] = {False: [], True: []}
    for _ in range(runs):
        for sandboxed in (False, True):
            began = time.perf_counter()
            await run_openscad(job_dir, ["--version"], limits=LIMITS, sandboxed=sandboxed)
            timings[sandboxed].append(time.perf_counter() - began)
    return ProcessStart(
        plain_ms=round(statistics.median(timings[False]) * 1000, 1),
        sandboxed_ms=round(statistics.median(timings[True]) * 1000, 1),
    )


async def measure_exports(repeats: int, workdir: Path) -> tuple[list[ExportRatio], ProcessStart]:
    start = await measure_process_start(workdir)  # also warms the file cache for both paths
    ratios = []
    for model in models():
        print(f"export: {model.name} ({model.what}), {repeats} x plain and coloured...", flush=True)
        ratios.append(await measure_export(model, repeats, workdir))
    return ratios, start


# --- 2. cache-hit latency -------------------------------------------------------------------------


@dataclass
class HitLatency:
    path: str
    requests: int
    hits: int
    errors: dict[str, int]  # responses that were not a cache hit, by kind
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None
    max_ms: float | None
    miss_s: float  # the first preview, rendered: the baseline
    speedup: float | None  # miss / p50
    met: bool  # p50 and p99 under the target, and no errors


def _hit_latency(
    path: str, requests: int, latencies: list[float], errors: Counter[str], miss_s: float
) -> HitLatency:
    cuts = statistics.quantiles(latencies, n=100, method="inclusive") if len(latencies) > 1 else []

    def ms(value: float | None) -> float | None:
        return None if value is None else round(value * 1000, 2)

    p50, p99 = (cuts[49], cuts[98]) if cuts else (None, None)
    return HitLatency(
        path=path,
        requests=requests,
        hits=len(latencies),
        errors=dict(errors),
        p50_ms=ms(p50),
        p95_ms=ms(cuts[94] if cuts else None),
        p99_ms=ms(p99),
        max_ms=ms(max(latencies) if latencies else None),
        miss_s=round(miss_s, 3),
        speedup=ratio(miss_s, p50),
        met=not errors
        and p50 is not None
        and p99 is not None
        and p99 * 1000 < HIT_TARGET_MS
        and p50 * 1000 < HIT_TARGET_MS,
    )


async def _http_preview(
    session: aiohttp.ClientSession, gateway: str, body: dict[str, Any]
) -> tuple[float, str]:
    """One preview through the gateway: its latency to the last byte, and 'hit', 'miss' or
    the error."""
    began = time.perf_counter()
    try:
        async with session.post(f"{gateway}/v1/render/preview", json=body) as response:
            png = await response.read()
            seconds = time.perf_counter() - began
            if response.status != 200:
                return seconds, f"HTTP {response.status}"
            if not png.startswith(b"\x89PNG"):
                return seconds, "not a PNG"
            return seconds, response.headers.get("X-Render-Cache", "no X-Render-Cache")
    except (aiohttp.ClientError, TimeoutError) as exc:
        return time.perf_counter() - began, type(exc).__name__


async def _grpc_preview(
    stub: render_pb2_grpc.RenderServiceStub, spec: render_pb2.RenderSpec
) -> tuple[float, str]:
    began = time.perf_counter()
    try:
        reply = await stub.Preview(spec, timeout=PREVIEW_TIMEOUT_S)
    except grpc.aio.AioRpcError as exc:
        return time.perf_counter() - began, f"gRPC {exc.code().name}"
    return time.perf_counter() - began, "hit" if reply.cached else "miss"


async def _time_hits(
    send: Callable[[], Awaitable[tuple[float, str]]], requests: int
) -> tuple[list[float], Counter[str]]:
    """One request at a time: latency, not throughput. Only hits count as latencies."""
    for _ in range(HIT_WARMUP):
        await send()
    latencies: list[float] = []
    errors: Counter[str] = Counter()
    for _ in range(requests):
        seconds, outcome = await send()
        if outcome == "hit":
            latencies.append(seconds)
        else:
            errors[outcome] += 1
    return latencies, errors


async def measure_hits(
    gateway: str, key: str, render_addr: str, source: str, requests: int
) -> list[HitLatency]:
    body = {"source": source}
    headers = {"Authorization": f"Bearer {key}"}
    timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_S)
    async with (
        aiohttp.ClientSession(headers=headers, timeout=timeout) as session,
        grpc.aio.insecure_channel(render_addr) as channel,
    ):
        miss_s, outcome = await _http_preview(session, gateway, body)
        if outcome != "miss":
            raise RuntimeError(f"the first preview should render (a miss), it was: {outcome}")
        print(f"cache hits: {requests} previews through the gateway...", flush=True)
        http, http_errors = await _time_hits(
            lambda: _http_preview(session, gateway, body), requests
        )
        stub = render_pb2_grpc.RenderServiceStub(channel)
        spec = render_pb2.RenderSpec(source=source)
        print(f"cache hits: {requests} previews straight to the render service...", flush=True)
        direct, direct_errors = await _time_hits(lambda: _grpc_preview(stub, spec), requests)
    return [
        _hit_latency("HTTP gateway", requests, http, http_errors, miss_s),
        _hit_latency("gRPC render", requests, direct, direct_errors, miss_s),
    ]


# --- 3. renders per minute -----------------------------------------------------------------------


@dataclass
class Throughput:
    target: str
    renders: int
    succeeded: int
    seconds: float
    per_minute: float
    cpu_busy: float | None  # share of all cores' time busy while it ran (from /proc/stat)
    failures: dict[str, int] = field(default_factory=dict)
    server_clock: bool = False  # the end is the last render's finished_at, not when polled


def _cpu_times() -> tuple[int, int] | None:
    """(busy, total) jiffies over all cores since boot, from the first line of /proc/stat."""
    try:
        fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    except (OSError, ValueError):
        return None
    idle = fields[3] + fields[4]  # idle + iowait
    return sum(fields) - idle, sum(fields)


def _busy(before: tuple[int, int] | None, after: tuple[int, int] | None) -> float | None:
    if before is None or after is None or after[1] <= before[1]:
        return None
    return round((after[0] - before[0]) / (after[1] - before[1]), 3)


def _throughput_values(renders: int) -> list[int]:
    """A distinct value of the varied parameter per render (set_piece allows 40 to 400)."""
    return [100 + i for i in range(renders)]


async def measure_plain_throughput(source: str, values: list[int], workdir: Path) -> Throughput:
    """The same models to STL by plain openscad, one process per core at a time."""
    job_dir = Path(tempfile.mkdtemp(prefix="plain-throughput-", dir=workdir))
    (job_dir / "model.scad").write_text(source)
    cores = len(os.sched_getaffinity(0))
    gate = asyncio.Semaphore(cores)
    failures: Counter[str] = Counter()

    async def render(value: int) -> None:
        async with gate:
            args = ["-D", f"{THROUGHPUT_PARAMETER}={value}", "-o", f"r{value}.stl", "model.scad"]
            try:
                await run_plain(job_dir, args)
            except (RuntimeError, TimeoutError) as exc:
                failures[type(exc).__name__] += 1

    before, began = _cpu_times(), time.perf_counter()
    await asyncio.gather(*(render(value) for value in values))
    seconds, after = time.perf_counter() - began, _cpu_times()
    succeeded = len(values) - failures.total()
    return Throughput(
        target=f"plain openscad STL, {cores} at once",
        renders=len(values),
        succeeded=succeeded,
        seconds=round(seconds, 3),
        per_minute=round(succeeded / seconds * 60, 1),
        cpu_busy=_busy(before, after),
        failures=dict(failures),
    )


async def _submit_render(
    session: aiohttp.ClientSession, gateway: str, body: dict[str, Any]
) -> dict[str, Any] | str:
    """The render as the 202 shows it, or the error."""
    try:
        async with session.post(f"{gateway}/v1/renders", json=body) as response:
            if response.status not in (200, 202):
                return f"HTTP {response.status}"
            render = await response.json()
            return render if isinstance(render, dict) else "not a render"
    except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
        return type(exc).__name__


async def measure_platform_throughput(
    gateway: str, key: str, source: str, values: list[int]
) -> Throughput:
    """Submit every render at once, then poll the unfinished ones one GET at a time, a round
    every ``POLL_S`` but at most ``POLL_RATE`` GETs a second. The end is the last render's
    ``finished_at`` (its batch's, by the server's clock), so polling late does not lengthen it."""
    headers = {"Authorization": f"Bearer {key}"}
    timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_S)
    async with aiohttp.ClientSession(headers=headers, timeout=timeout) as session:
        bodies = [
            {"source": source, "parameters": {THROUGHPUT_PARAMETER: v}, "formats": list(FORMATS)}
            for v in values
        ]
        before, started_wall, started = _cpu_times(), time.time(), time.perf_counter()
        submitted = await asyncio.gather(*(_submit_render(session, gateway, b) for b in bodies))
        failures = Counter(s for s in submitted if isinstance(s, str))
        accepted = [s for s in submitted if isinstance(s, dict)]
        pending = {str(r["id"]): r for r in accepted}
        seen: dict[str, dict[str, Any]] = {}
        last_final, deadline = started, started + THROUGHPUT_DEADLINE_S
        while pending and time.perf_counter() < deadline:
            round_began = time.perf_counter()
            for render_id in list(pending):
                render = await get_json(session, f"{gateway}/v1/renders/{render_id}")
                if render.get("state") in FINAL_STATES:
                    seen[render_id] = render
                    del pending[render_id]
                    last_final = time.perf_counter()
            if pending:
                next_round = round_began + max(POLL_S, len(pending) / POLL_RATE)
                await asyncio.sleep(max(0.0, next_round - time.perf_counter()))
        observed_s = (time.perf_counter() if pending else last_final) - started
        after = _cpu_times()
        ends = [
            timestamp(
                await get_json(session, f"{gateway}/v1/batches/{r['batch_id']}"), "finished_at"
            )
            for r in seen.values()
        ]
    failures["unfinished"] += len(pending)
    failures.update(
        f"{r['state']}: {str(r.get('error', ''))[:80]}"
        for r in seen.values()
        if r["state"] != "succeeded"
    )
    succeeded = sum(r["state"] == "succeeded" for r in seen.values())
    seconds, server_clock = observed_s, False
    if ends and all(end is not None for end in ends) and not pending:
        server_s = max(end for end in ends if end is not None) - started_wall
        if 0 < server_s <= observed_s + 1.0:  # otherwise another clock after all: ignore it
            seconds, server_clock = server_s, True
    return Throughput(
        target="platform GLB+3MF, coloured",
        renders=len(values),
        succeeded=succeeded,
        seconds=round(seconds, 3),
        per_minute=round(succeeded / max(seconds, 1e-9) * 60, 1),
        cpu_busy=_busy(before, after),
        failures={k: v for k, v in failures.items() if v},
        server_clock=server_clock,
    )


# --- 4. quick-preview latency --------------------------------------------------------------------


@dataclass
class PreviewLatency:
    path: str
    previews: int
    p50_ms: float | None
    p95_ms: float | None
    max_ms: float | None
    errors: dict[str, int]


@dataclass
class PreviewStages:
    """Where the median new-path preview went, recorded during the measured runs."""

    total_ms: float
    csg_export_ms: float  # openscad -o model.csg
    split_ms: float  # parse + split, in a thread
    draw_ms: float  # openscad --preview of the split programs
    other_ms: float  # job directory, sandbox probe, waits for a slot


@dataclass
class PreviewComparison:
    model: str
    colours: int  # split programs drawn
    new: PreviewLatency
    baseline: PreviewLatency
    p50_ratio: float | None
    p95_ratio: float | None
    stages: PreviewStages | None
    seconds: float  # wall clock of the whole measurement
    stopped_by_budget: bool


class _PreviewRecorder:
    """Times the steps of one `preview_coloured` from the outside (scad._run by output file,
    previews.split_export), so the breakdown comes from the measured runs themselves."""

    def __init__(self) -> None:
        self.processes: dict[str, float] = {}
        self.split_s = 0.0
        self.colours = 0

    @contextlib.contextmanager
    def installed(self) -> Iterator[None]:
        run, split = scad._run, previews.split_export

        async def timed_run(argv: list[str], *args: Any, **kwargs: Any) -> tuple[int, str, float]:
            began = time.perf_counter()
            try:
                return await run(argv, *args, **kwargs)
            finally:
                output = argv[argv.index("-o") + 1] if "-o" in argv else "?"
                self.processes[output] = time.perf_counter() - began

        async def timed_split(*args: Any, **kwargs: Any) -> dict[Rgba, str]:
            began = time.perf_counter()
            try:
                programs = await split(*args, **kwargs)
                self.colours = len(programs)
                return programs
            finally:
                self.split_s = time.perf_counter() - began

        scad._run, previews.split_export = timed_run, timed_split  # type: ignore[assignment]
        try:
            yield
        finally:
            scad._run, previews.split_export = run, split  # type: ignore[assignment]

    def stages(self, total_s: float) -> PreviewStages:
        export, draw = self.processes.get("model.csg", 0.0), self.processes.get("preview.png", 0.0)
        return PreviewStages(
            total_ms=round(total_s * 1000, 1),
            csg_export_ms=round(export * 1000, 1),
            split_ms=round(self.split_s * 1000, 1),
            draw_ms=round(draw * 1000, 1),
            other_ms=round(max(0.0, total_s - export - self.split_s - draw) * 1000, 1),
        )


def _preview_latency(path: str, latencies: list[float], errors: Counter[str]) -> PreviewLatency:
    cuts = statistics.quantiles(latencies, n=100, method="inclusive") if len(latencies) > 1 else []
    return PreviewLatency(
        path=path,
        previews=len(latencies),
        p50_ms=round(statistics.median(latencies) * 1000, 1) if latencies else None,
        p95_ms=round(cuts[94] * 1000, 1) if cuts else None,
        max_ms=round(max(latencies) * 1000, 1) if latencies else None,
        errors=dict(errors),
    )


async def measure_previews(
    source: str, count: int, budget_s: float, workdir: Path
) -> PreviewComparison:
    """Both previews of ``source``, alternating (and which goes first alternating too), each
    timed to its PNG; stops after ``count`` of each or once ``budget_s`` has passed."""
    draws: dict[str, Callable[[], Awaitable[bytes]]] = {
        "new": lambda: preview_coloured(source, limits=LIMITS, workdir=workdir),
        "baseline": lambda: preview_scad(source, limits=LIMITS, workdir=workdir),
    }
    for draw in draws.values():  # warm-up, uncounted
        for _ in range(PREVIEW_WARMUP):
            await draw()
    latencies: dict[str, list[float]] = {"new": [], "baseline": []}
    errors: dict[str, Counter[str]] = {"new": Counter(), "baseline": Counter()}
    runs: list[tuple[float, PreviewStages]] = []
    colours = 0
    began = time.perf_counter()
    stopped_by_budget = False
    for index in range(count):
        if time.perf_counter() - began > budget_s:
            stopped_by_budget = True
            break
        for path in ("new", "baseline") if index % 2 == 0 else ("baseline", "new"):
            recorder = _PreviewRecorder()
            with recorder.installed():
                started = time.perf_counter()
                try:
                    png = await draws[path]()
                except Exception as exc:  # a measurement records failures, it does not stop
                    errors[path][type(exc).__name__] += 1
                    continue
                seconds = time.perf_counter() - started
            if not png.startswith(b"\x89PNG"):
                errors[path]["not a PNG"] += 1
                continue
            latencies[path].append(seconds)
            if path == "new":
                runs.append((seconds, recorder.stages(seconds)))
                colours = recorder.colours
    new = _preview_latency("new: split, recoloured", latencies["new"], errors["new"])
    baseline = _preview_latency("OpenSCAD's own", latencies["baseline"], errors["baseline"])
    median_run = sorted(runs, key=lambda run: run[0])[(len(runs) - 1) // 2][1] if runs else None
    return PreviewComparison(
        model="nested",
        colours=colours,
        new=new,
        baseline=baseline,
        p50_ratio=ratio(new.p50_ms, baseline.p50_ms),
        p95_ratio=ratio(new.p95_ms, baseline.p95_ms),
        stages=median_run,
        seconds=round(time.perf_counter() - began, 1),
        stopped_by_budget=stopped_by_budget,
    )


def print_previews(comparison: PreviewComparison, budget_s: float) -> None:
    c = comparison
    print(
        f"\n4. quick-preview latency: {c.model} ({c.colours} colours, nested in one outer colour),"
        f" 512x512, sandboxed, alternating; {c.new.previews} + {c.baseline.previews} previews"
        f" in {c.seconds:,.1f} s"
        + (f" (stopped by the {budget_s:g} s budget)" if c.stopped_by_budget else "")
    )
    header = ("path", "previews", "errors", "p50 ms", "p95 ms", "max ms")
    print(f"{header[0]:<26}" + "".join(f"{h:>10}" for h in header[1:]))
    for latency in (c.new, c.baseline):
        cells = (
            str(latency.previews),
            str(sum(latency.errors.values())),
            cell(latency.p50_ms, ",.1f"),
            cell(latency.p95_ms, ",.1f"),
            cell(latency.max_ms, ",.1f"),
        )
        print(f"{latency.path:<26}" + "".join(f"{x:>10}" for x in cells))
    print(f"new / OpenSCAD's own: p50 {cell(c.p50_ratio, '.2f')}x, p95 {cell(c.p95_ratio, '.2f')}x")
    if c.stages is not None:
        s = c.stages
        print(
            f"the median new preview ({s.total_ms:,.1f} ms): CSG export {s.csg_export_ms:,.1f},"
            f" split {s.split_ms:,.1f}, draw {s.draw_ms:,.1f}, other {s.other_ms:,.1f} ms"
        )


PREVIEW_NOTES = [
    "quick previews: both sides call the render service's own functions in this process (no"
    " gateway, no cache: every one draws), in the bubblewrap sandbox under the service's"
    " limits, one at a time, alternating which goes first. 'new' is preview_coloured (the CSG"
    " export, the split in a thread, one --preview draw of the recoloured split programs);"
    " 'OpenSCAD's own' is preview_scad, one --preview of the source, which the service used"
    " before and which paints every child of an outer colour in that colour. A preview's"
    " 'other' is the job directory, the sandbox probe and waits for an openscad slot.",
]


# --- the report ----------------------------------------------------------------------------------


def _share(part: float, whole: float) -> str:
    return f"{part / whole:>4.0%}" if whole > 0 else ""


def _dominant(stages: Stages) -> str:
    steps = {
        "the CSG export": stages.csg_export_s,
        "parse + split": stages.split_s,
        "the parts": stages.parts_wall_s,
        "GLB + 3MF assembly": stages.glb_s + stages.threemf_s,
        "other": stages.other_s,
    }
    name = max(steps, key=lambda step: steps[step])
    if name == "the parts" and stages.parts:
        slowest = max(stages.parts, key=lambda p: p.seconds)
        name += f" (the slowest: {slowest.colour}, {slowest.seconds:,.3f} s)"
    return name


def print_stages(export: ExportRatio, start: ProcessStart) -> None:
    s = export.stages
    rows = [
        ("CSG export (openscad -o model.csg)", s.csg_export_s, ""),
        (f"parse + split into {len(s.parts)} colour(s)", s.split_s, ""),
        (
            f"parts, {parallelism()} at a time (wall)",
            s.parts_wall_s,
            f"sum of the parts {s.parts_sum_s:,.3f} s ="
            f" {cell(ratio(s.parts_sum_s, export.plain_median_s))}x the plain render",
        ),
    ]
    print(
        f"\n{export.model}: where the median coloured run's {s.total_s:,.3f} s went"
        f" (plain: {export.plain_median_s:,.3f} s)"
    )
    for label, seconds, note in rows:
        print(f"  {label:<40}{seconds:>9,.3f} s {_share(seconds, s.total_s)}  {note}".rstrip())
    for index, part in enumerate(s.parts):
        print(
            f"    part {index}  {part.colour}{part.seconds:>17,.3f} s"
            f"        {part.csg_bytes:>7,} bytes of CSG"
        )
    for label, seconds in (
        ("GLB assembly", s.glb_s),
        ("3MF assembly", s.threemf_s),
        ("other (temp files, sandbox probe, slots)", s.other_s),
    ):
        print(f"  {label:<40}{seconds:>9,.3f} s {_share(seconds, s.total_s)}")
    print(f"  dominated by {_dominant(s)}")
    if hint := _hint(export, start):
        print(textwrap.fill(hint, 96, initial_indent="  ", subsequent_indent="  "))


def _hint(export: ExportRatio, start: ProcessStart) -> str | None:
    """Which of the two known costs of the split explains most of a miss, if either does."""
    s = export.stages
    difference = export.coloured_median_s - export.plain_median_s
    # Processes on the critical path: the CSG export, then the parts a slot's worth at a time.
    launches = 1 + math.ceil(len(s.parts) / parallelism())
    fixed = (launches * start.sandboxed_ms - start.plain_ms) / 1000
    if difference > 0 and fixed >= difference / 2:
        return (
            f"most of the difference is fixed cost: {launches} openscad processes one after the"
            f" other (the CSG export, then the parts {parallelism()} at a time), each"
            f" ~{start.sandboxed_ms:,.1f} ms to start in the sandbox, against one"
            f" (~{start.plain_ms:,.1f} ms) for the plain render: about {fixed * 1000:,.0f} ms"
            f" of the {difference * 1000:,.0f} ms"
        )
    geometry = s.parts_sum_s - len(s.parts) * start.sandboxed_ms / 1000
    if geometry > EXPORT_TARGET * export.plain_median_s:
        return (
            f"the parts' geometry alone takes {geometry:,.3f} s of openscad, against"
            f" {export.plain_median_s:,.3f} s for the whole model: each part's program subtracts"
            " the later siblings of another colour that may touch it (the union rule of"
            " services/render/csg.py; see the parts' CSG sizes), so CGAL repeats work the plain"
            " render does once"
        )
    return None


def print_exports(
    ratios: list[ExportRatio], start: ProcessStart, repeats: int, profile: bool
) -> None:
    print(
        f"\n1. export: coloured GLB+3MF in the sandbox against plain `openscad -o model.stl`,"
        f" median of {repeats}"
    )
    header = ("model", "triangles", "parts", "plain s", "coloured s", "ratio", "target", "check")
    print(f"{header[0]:<12}" + "".join(f"{h:>11}" for h in header[1:7]) + f"  {header[7]}")
    for r in ratios:
        cells = (
            f"{r.triangles:,}",
            str(r.parts),
            f"{r.plain_median_s:,.3f}",
            f"{r.coloured_median_s:,.3f}",
            cell(r.ratio),
            f"<= {EXPORT_TARGET:g}",
        )
        print(f"{r.model:<12}" + "".join(f"{c:>11}" for c in cells) + f"  {met(r.met)}")
    print(
        f"openscad process start-up (openscad --version, median of 5): {start.plain_ms:,.1f} ms"
        f" plain, {start.sandboxed_ms:,.1f} ms in the sandbox"
    )
    for r in ratios:
        if profile or not r.met:
            print_stages(r, start)


def print_hits(hits: list[HitLatency], requests: int) -> None:
    print(
        f"\n2. cache-hit preview latency: set_piece, {requests:,} identical previews one at a"
        f" time after {HIT_WARMUP} warm-up, against the first (a miss, rendered)"
    )
    header = ("path", "hits", "errors", "p50 ms", "p95 ms", "p99 ms", "max ms", "miss ms")
    print(
        f"{header[0]:<14}"
        + "".join(f"{h:>9}" for h in header[1:])
        + f"{'miss/p50':>9}{'target':>18}  check"
    )
    for h in hits:
        cells = (
            f"{h.hits:,}",
            f"{sum(h.errors.values()):,}",
            cell(h.p50_ms),
            cell(h.p95_ms),
            cell(h.p99_ms),
            cell(h.max_ms),
            f"{h.miss_s * 1000:,.0f}",
            f"{cell(h.speedup, ',.0f')}x",
        )
        target = f"p50, p99 < {HIT_TARGET_MS:g} ms"
        print(f"{h.path:<14}" + "".join(f"{c:>9}" for c in cells) + f"{target:>18}  {met(h.met)}")


def print_throughput(platform: Throughput, plain: Throughput, values: list[int]) -> None:
    print(
        f"\n3. renders per minute: {len(values)} distinct renders of set_piece"
        f" ({THROUGHPUT_PARAMETER} = {values[0]}..{values[-1]}), all at once"
    )
    header = ("target", "ok", "seconds", "renders/min", "cpu busy")
    print(f"{header[0]:<34}" + "".join(f"{h:>12}" for h in header[1:]))
    for t in (platform, plain):
        cells = (
            f"{t.succeeded}/{t.renders}",
            f"{t.seconds:,.3f}",
            f"{t.per_minute:,.1f}",
            "n/a" if t.cpu_busy is None else f"{t.cpu_busy:.0%}",
        )
        print(f"{t.target:<34}" + "".join(f"{c:>12}" for c in cells))
    per_minute = ratio(platform.per_minute, plain.per_minute)
    print(f"platform / plain renders per minute = {cell(per_minute, '.3f')}")


def report(
    settings: dict[str, Any],
    exports: list[ExportRatio],
    start: ProcessStart,
    hits: list[HitLatency],
    platform: Throughput,
    plain: Throughput,
    values: list[int],
    profile: bool,
    previews_measured: PreviewComparison,
) -> None:
    print("\nsettings: " + ", ".join(f"{k}={v}" for k, v in settings.items()))
    print_exports(exports, start, settings["repeats"], profile)
    print_hits(hits, settings["requests"])
    print_throughput(platform, plain, values)
    print_previews(previews_measured, settings["preview_budget_s"])
    errors = {f"cache hits, {h.path}": h.errors for h in hits if h.errors}
    errors |= {f"renders, {t.target}": t.failures for t in (platform, plain) if t.failures}
    errors |= {
        f"previews, {p.path}": p.errors
        for p in (previews_measured.new, previews_measured.baseline)
        if p.errors
    }
    print("\nerrors: " + ("; ".join(f"{k}: {v}" for k, v in errors.items()) or "none"))
    notes = [
        f"{settings['usable_cpus']} usable cores. The export runs come first, before the"
        " platform starts, one render at a time; a coloured render runs its colours' parts"
        f" {parallelism()} at a time (its share of the cores), plain openscad is one process."
        " The ratio is what to compare between runs: both sides ran on the same machine,"
        " alternately, in the same minute.",
        "plain is `openscad -o model.stl model.scad`, unsandboxed, no limits: what a user"
        " would run. coloured is render_coloured(formats=[glb, 3mf]) as the render service"
        " runs it: in the bubblewrap sandbox, under prlimit, with a CSG export first, one"
        " openscad process per colour, then the GLB and 3MF assembled in Python.",
        "the stage breakdown is recorded during the measured coloured runs themselves (the"
        " functions render_coloured calls are wrapped with timers). A part's time is its"
        " openscad process, not its wait for a free slot; 'other' includes those waits.",
        "cache hits: the model is previewed once (rendered: a miss, the baseline), then"
        " requested again one request at a time; every timed response must say it is a hit"
        " (X-Render-Cache: hit, RenderedBlob.cached), anything else is an error. HTTP goes"
        " through the gateway (API key, gRPC to the render service, the PNG from the blob"
        " store); gRPC goes straight to the render service and returns the blob's id only.",
        "renders per minute: the platform's time runs from the first POST /v1/renders to the"
        " last render's finished_at (server clock"
        + ("" if platform.server_clock else "; unknown in this run, so until polling saw it")
        + f"); polling is one GET at a time, at most {POLL_RATE:g} a second. The render"
        f" service runs {settings['workers']} worker process(es) whose openscad processes"
        " share the cores; each render also passes a syntax check (one more sandboxed"
        " openscad) before it is queued. 'cpu busy' is the share of all cores' time not idle"
        " while it ran, from /proc/stat, everything on the machine included.",
        *PREVIEW_NOTES,
    ]
    print_notes(notes, 96)
    result = {
        "settings": settings,
        "export": [asdict(r) for r in exports],
        "process_start": asdict(start),
        "cache_hits": [asdict(h) for h in hits],
        "throughput": {
            "platform": asdict(platform),
            "plain": asdict(plain),
            "ratio": ratio(platform.per_minute, plain.per_minute),
        },
        "preview_latency": asdict(previews_measured),
        "targets": {
            "export_ratio": {r.model: r.met for r in exports},
            "cache_hit_under_10ms": {h.path: h.met for h in hits},
        },
    }
    print_result(result)


# --- running it ----------------------------------------------------------------------------------


def _openscad_version() -> str:
    return asyncio.run(_version())


async def _version() -> str:
    process = await asyncio.create_subprocess_exec(
        "openscad", "--version", stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    output, _ = await process.communicate()
    return output.decode(errors="replace").strip().removeprefix("OpenSCAD version ")


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m loadtests.bench_render")
    parser.add_argument("--repeats", type=int, default=3, help="export runs per model and side")
    parser.add_argument("--requests", type=int, default=200, help="cache hits timed per path")
    parser.add_argument("--renders", type=int, default=24, help="renders in the throughput run")
    parser.add_argument("--workers", type=int, default=1, help="processes per service")
    parser.add_argument(
        "--profile", action="store_true", help="print every model's stages, not only misses"
    )
    parser.add_argument(
        "--previews", type=int, default=20, help="quick previews timed per side (new, baseline)"
    )
    parser.add_argument(
        "--preview-budget", type=float, default=120.0, help="seconds the previews may take"
    )
    parser.add_argument(
        "--previews-only", action="store_true", help="only the quick previews; no platform"
    )
    args = parser.parse_args()
    if not 2 <= args.previews <= MAX_PREVIEWS:
        parser.error(f"--previews must be between 2 and {MAX_PREVIEWS}")
    if not 1 <= args.preview_budget <= MAX_PREVIEW_BUDGET_S:
        parser.error(f"--preview-budget must be between 1 and {MAX_PREVIEW_BUDGET_S:g} seconds")
    if not 1 <= args.repeats <= MAX_REPEATS:
        parser.error(f"--repeats must be between 1 and {MAX_REPEATS}")
    if not MIN_REQUESTS <= args.requests <= MAX_REQUESTS:
        parser.error(f"--requests must be between {MIN_REQUESTS} and {MAX_REQUESTS:,}")
    if not 1 <= args.renders <= MAX_RENDERS:
        parser.error(f"--renders must be between 1 and {MAX_RENDERS}")
    if not 1 <= args.workers <= 8:
        parser.error("--workers must be between 1 and 8")
    settings: dict[str, Any] = {
        "repeats": args.repeats,
        "requests": args.requests,
        "renders": args.renders,
        "workers": args.workers,
        "previews": args.previews,
        "preview_budget_s": args.preview_budget,
        "cpus": os.cpu_count(),
        "usable_cpus": len(os.sched_getaffinity(0)),
        "render_parallelism": parallelism(),
        "openscad": _openscad_version(),
        "python": host.python_version(),
        "load_1m": round(os.getloadavg()[0], 2),  # other work on the machine
    }
    # A comment unique to this run: the platform's render cache may outlive a run (backends
    # given by SHOTGRAPH_*_URL), and a render it remembers is no measurement.
    nonce = f"// bench_render {uuid.uuid4()}\n"
    set_piece = nonce + SET_PIECE.read_text()
    values = _throughput_values(args.renders)
    if args.previews_only:
        skipped = ("repeats", "requests", "renders", "workers")  # of the sections not run
        kept = {k: v for k, v in settings.items() if k not in skipped}
        run_previews_only(kept, args.previews, args.preview_budget)
        return

    with tempfile.TemporaryDirectory(prefix="shotgraph-bench-") as root:
        work = Path(root) / "work"
        work.mkdir()
        system = Platform(root=Path(root) / "platform", workers=args.workers)
        with stopped_at_exit(system):
            exports, start = asyncio.run(measure_exports(args.repeats, work))
            print(f"previews: up to {args.previews} of each, nested colours...", flush=True)
            previews_measured = asyncio.run(
                measure_previews(NESTED, args.previews, args.preview_budget, work)
            )
            print(f"starting the platform ({args.workers} worker(s) per service)...", flush=True)
            system.start()
            key = system.create_api_key("bench")
            render_addr = f"127.0.0.1:{system.services['render'].grpc_port}"
            hits = asyncio.run(
                measure_hits(system.gateway_url, key, render_addr, set_piece, args.requests)
            )
            print(f"throughput: {args.renders} renders through the platform...", flush=True)
            platform = asyncio.run(
                measure_platform_throughput(system.gateway_url, key, set_piece, values)
            )
            print(f"throughput: {args.renders} plain openscad renders...", flush=True)
            plain = asyncio.run(measure_plain_throughput(set_piece, values, work))
            report(
                settings,
                exports,
                start,
                hits,
                platform,
                plain,
                values,
                args.profile,
                previews_measured,
            )


def run_previews_only(settings: dict[str, Any], count: int, budget_s: float) -> None:
    """Section 4 alone: no platform, no exports; its own report and RESULT line."""
    with tempfile.TemporaryDirectory(prefix="shotgraph-bench-") as root:
        print(f"previews: up to {count} of each, nested colours...", flush=True)
        try:
            measured = asyncio.run(measure_previews(NESTED, count, budget_s, Path(root)))
        except KeyboardInterrupt:
            print("\ninterrupted", file=sys.stderr)
            raise SystemExit(130) from None
    print("\nsettings: " + ", ".join(f"{k}={v}" for k, v in settings.items()))
    print_previews(measured, budget_s)
    errors = {f"previews, {p.path}": p.errors for p in (measured.new, measured.baseline)}
    shown = "; ".join(f"{k}: {v}" for k, v in errors.items() if v)
    print("\nerrors: " + (shown or "none"))
    print_notes(
        [
            *PREVIEW_NOTES,
            f"{settings['usable_cpus']} usable cores; load before the run (1 min):"
            f" {settings['load_1m']}. Other work on the machine shows in both columns alike;"
            " compare the ratios.",
        ],
        96,
    )
    print_result({"settings": settings, "preview_latency": asdict(measured)})


if __name__ == "__main__":
    main()
