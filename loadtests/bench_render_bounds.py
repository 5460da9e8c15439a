"""What does bounding a render's work give a render worker?

``python -m loadtests.bench_render_bounds [--grid 100] [--parts 8] [--fn 160]`` runs the real
OpenSCAD (unsandboxed: the sandbox costs the same either way) and measures, side by side with
the way it was done before:

1. **event-loop lag while a large model is split**: a ``--grid`` x ``--grid`` grid of touching
   cubes in two colours, exported by OpenSCAD to CSG once, then parsed and split by colour
   while a ticker on the event loop wakes every 10 ms. Before: the split on the loop (as
   ``render_coloured`` and the quick preview did). Now: ``split_export``, in a thread. The
   largest lag is the longest the worker could not acknowledge its jobs (JetStream redelivers
   a job whose worker is silent for its ack wait).
2. **peak memory while a GLB and a 3MF are written** from ``--parts`` coloured parts (one
   sphere of ``$fn=--fn`` each, an ASCII STL file as OpenSCAD leaves it): before, every part's
   bytes and mesh were held at once; now each part is read from its file when it is written.
   Measured with ``tracemalloc`` (numpy's buffers included), one way at a time.

Bounded: at most a 110 x 110 grid (the split's limits), 64 parts and $fn=400.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import io
import platform as host
import statistics
import subprocess
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

from loadtests.common import print_notes, print_result, ratio
from services.render.csg import parse_csg, split_by_colour
from services.render.meshes import Part, read_stl, to_3mf, to_glb, write_3mf, write_glb
from services.render.previews import split_export
from services.render.scad import RenderLimits

OPENSCAD = "/usr/bin/openscad"
TICK_S = 0.010


def openscad(source: str, output: Path) -> Path:
    model = output.with_suffix(".scad")
    model.write_text(source)
    subprocess.run([OPENSCAD, "-o", str(output), str(model)], check=True, capture_output=True)
    return output


def grid(side: int) -> str:
    return (
        f"for (i = [0:{side - 1}], j = [0:{side - 1}])\n"
        '  color((i + j) % 2 == 0 ? "red" : "blue") translate([i, j, 0]) cube(1);\n'
    )


async def lag_while(work: Callable[[], Any]) -> dict[str, float]:
    """Run ``work`` (a coroutine function) while a ticker measures how late each tick is."""
    lags: list[float] = []
    done = asyncio.Event()

    async def ticker() -> None:
        while not done.is_set():
            expected = time.perf_counter() + TICK_S
            await asyncio.sleep(TICK_S)
            lags.append(max(0.0, time.perf_counter() - expected))

    ticking = asyncio.create_task(ticker())
    started = time.perf_counter()
    await work()
    seconds = time.perf_counter() - started
    done.set()
    await ticking
    return {
        "seconds": round(seconds, 3),
        "ticks": len(lags),
        "max_lag_ms": round(max(lags, default=seconds) * 1e3, 1),
        "median_lag_ms": round(statistics.median(lags) * 1e3, 2) if lags else None,
    }


async def loop_lag(csg: Path, text: str) -> dict[str, Any]:
    """``text`` is the CSG at ``csg``, read beforehand."""

    async def before() -> None:  # what render_coloured and the preview did
        split_by_colour(parse_csg(text))

    async def now() -> None:
        await split_export(csg, RenderLimits())

    await now()  # warm-up: imports, the thread pool
    return {"before": await lag_while(before), "now": await lag_while(now)}


def peak_mib(write: Callable[[], None]) -> float:
    gc.collect()
    tracemalloc.start()
    try:
        write()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return round(peak / 2**20, 1)


def memory(stl: Path, count: int, folder: Path) -> dict[str, Any]:
    colours = [((i % 7) / 7, 0.5, 0.5, 1.0) for i in range(count)]
    parts = [Part(rgba, stl) for rgba in colours]

    def before() -> None:  # every part's bytes and mesh at once, the file built in memory
        held = [(rgba, stl.read_bytes()) for rgba in colours]
        meshes = [read_stl(data) for _, data in held]
        for build in (to_glb, to_3mf):
            out = io.BytesIO(build(parts))
            assert out.getbuffer().nbytes and len(meshes) == count

    def now() -> None:
        write_glb(parts, folder / "model.glb")
        write_3mf(parts, folder / "model.3mf")

    triangles = len(read_stl(stl).triangles)
    return {
        "parts": count,
        "triangles_per_part": triangles,
        "stl_mib_per_part": round(stl.stat().st_size / 2**20, 1),
        "before_peak_mib": peak_mib(before),
        "now_peak_mib": peak_mib(now),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m loadtests.bench_render_bounds", description=__doc__
    )
    parser.add_argument("--grid", type=int, default=100)
    parser.add_argument("--parts", type=int, default=8)
    parser.add_argument("--fn", type=int, default=160)
    args = parser.parse_args()
    if not (2 <= args.grid <= 110 and 1 <= args.parts <= 64 and 3 <= args.fn <= 400):
        parser.error("--grid goes from 2 to 110, --parts from 1 to 64, --fn from 3 to 400")
    with tempfile.TemporaryDirectory(prefix="shotgraph-bench-bounds-") as name:
        folder = Path(name)
        csg = openscad(grid(args.grid), folder / "grid.csg")
        lag = asyncio.run(loop_lag(csg, csg.read_text()))
        stl = openscad(f"sphere(10, $fn={args.fn});", folder / "sphere.stl")
        mem = memory(stl, args.parts, folder)
    lag["ratio_max_lag"] = ratio(lag["before"]["max_lag_ms"], lag["now"]["max_lag_ms"])
    mem["ratio_peak"] = ratio(mem["before_peak_mib"], mem["now_peak_mib"])
    print(f"\nbounded render work, {host.node()}")
    print(f"event loop while a {args.grid} x {args.grid} grid of two colours is split")
    print(f"{'':<28}{'seconds':>10}{'max lag ms':>12}{'median ms':>11}{'ticks':>8}")
    for label, way in (("before (on the loop)", "before"), ("now (in a thread)", "now")):
        row = lag[way]
        print(
            f"  {label:<26}{row['seconds']:>10}{row['max_lag_ms']:>12}"
            f"{row['median_lag_ms'] or '-':>11}{row['ticks']:>8}"
        )
    print(f"  ratio of the largest lags, before/now: {lag['ratio_max_lag']}")
    print(
        f"peak memory writing a GLB and a 3MF of {args.parts} parts"
        f" ({mem['triangles_per_part']} triangles, {mem['stl_mib_per_part']} MiB of STL each)"
    )
    print(f"  before (all parts held): {mem['before_peak_mib']} MiB")
    print(f"  now (one part at a time): {mem['now_peak_mib']} MiB")
    print(f"  ratio before/now: {mem['ratio_peak']}")
    print_notes(
        [
            "A worker's progress acks ride the same event loop: with a 30 s ack wait kept alive"
            " every 10 s, a lag over 20 s lets JetStream hand the job to a second worker.",
            "Peak memory counts Python and numpy allocations (tracemalloc), not the process's"
            " RSS; the GLB's binary chunk now goes to a spool file beside the output.",
        ]
    )
    print_result({"grid": args.grid, "loop": lag, "memory": mem})


if __name__ == "__main__":
    main()
