"""How fast does the studio's 3D viewer show a real set piece, and how smoothly does it turn?

``python -m loadtests.bench_viewer [--runs 5] [--orbit-seconds 3]`` starts the whole platform on
loopback with its gateway on HTTPS (a local CA; Chromium trusts its key) serving the built
studio (``make web``), renders two models with PNG and GLB through ``POST /v1/renders`` — the
**castle** of the render benchmark (``loadtests/bench_render.py``: five colours, curves at
``$fn = 64``) and, as the baseline, a **plain cube** — and opens each one's render page
``/renders/<id>`` in Debian's Chromium, headless (WebGL 2 on SwiftShader, the CPU):

- **load**: a cold load (a fresh context: no cache, no connection, a session cookie from an
  API sign-in) until the viewer has drawn its first frame with the model: the
  ``performance.mark`` the viewer sets then (``shotgraph:viewer-first-frame``), in ms from the
  navigation's start, with the resource timings of the three.js chunk and of the GLB on the
  way. ``--runs`` loads of each model, interleaved, p50 and p95.
- **GLB**: its size as served (the gateway sends binary files as they are), what gzip and
  brotli at the gateway's levels would make of it, and its triangles.
- **orbit**: ``--orbit-seconds`` of mouse drags over the canvas (a move every 1/60 s, sent on
  time whether or not the page keeps up, as a hand would), which OrbitControls turns into
  rotations; the frames the viewer drew meanwhile (its ``data-frames``, one per
  ``renderer.render``), their rate and the longest gap between two. ``--runs`` drags, medians.

Ratios are castle / cube. The browser, the platform and its backends share this machine's cores
and the GPU is a CPU here: compare ratios between runs, not absolute times. Everything stays on
127.0.0.1 and is stopped at the end, also on Ctrl-C.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import shutil
import statistics
import struct
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Final

from playwright.async_api import Browser, async_playwright
from playwright.async_api import TimeoutError as PlaywrightTimeout

from libs.launcher import Platform
from loadtests.bench_render import LARGE
from loadtests.common import cell, print_notes, print_result, ratio
from loadtests.studio_platform import studio_platform
from services.gateway.compression import BROTLI_QUALITY, GZIP_LEVEL, Coding, encode
from tests.e2e.browser import (
    CHROMIUM,
    STUDIO_DIST,
    LocalCertificate,
    StudioApi,
    StudioUser,
    create_studio_user,
    launch_chromium,
    open_studio_page,
    origin,
    require_studio_build,
)

CUBE: Final = "cube(20);\n"
MODELS: Final = {"castle": LARGE, "cube": CUBE}
FIRST_FRAME_MARK: Final = "shotgraph:viewer-first-frame"  # web/src/viewer/mount.ts
RENDER_TIMEOUT_S: Final = 600.0
PAGE_TIMEOUT_MS: Final = 60_000
FINAL: Final = frozenset({"succeeded", "failed", "cancelled", "skipped"})
MOVES_PER_SECOND: Final = 60
MAX_RUNS: Final = 30


class BenchFailed(Exception):
    """The benchmark could not measure what it is for; its message says why."""


# --- Rendering the models --------------------------------------------------------------------


async def render(api: StudioApi, source: str) -> dict[str, Any]:
    """A finished render of ``source`` with its PNG and GLB."""
    body = {"source": source, "formats": ["png", "glb"]}
    async with api.http.post("/v1/renders", json=body) as sent:
        text = await sent.text()
        if sent.status not in (200, 202):
            raise BenchFailed(f"POST /v1/renders: {sent.status} {text}")
        render_id = json.loads(text)["id"]
    deadline = time.monotonic() + RENDER_TIMEOUT_S
    while True:
        async with api.http.get(f"/v1/renders/{render_id}") as response:
            done = dict(await response.json())
        if done["state"] in FINAL:
            if done["state"] != "succeeded":
                raise BenchFailed(f"the render {done['state']}: {done.get('error')}")
            return done
        if time.monotonic() > deadline:
            raise BenchFailed(f"the render did not finish in {RENDER_TIMEOUT_S:.0f} s: {done}")
        await asyncio.sleep(0.3)


@dataclass(frozen=True)
class Glb:
    bytes: int
    gzip: int
    brotli: int
    triangles: int
    materials: int


def glb_figures(data: bytes) -> Glb:
    """Sizes of a GLB and what its glTF says: triangles (indices / 3) and materials."""
    (json_length,) = struct.unpack_from("<I", data, 12)
    gltf = json.loads(data[20 : 20 + json_length])
    indices = (
        gltf["accessors"][primitive["indices"]]["count"]
        for mesh in gltf["meshes"]
        for primitive in mesh["primitives"]
    )
    return Glb(
        bytes=len(data),
        gzip=len(encode(data, Coding.GZIP)),
        brotli=len(encode(data, Coding.BR)),
        triangles=sum(indices) // 3,
        materials=len(gltf.get("materials", [])),
    )


# --- load ------------------------------------------------------------------------------------

_TIMINGS: Final = """(mark) => {
  const [nav] = performance.getEntriesByType("navigation");
  const [frame] = performance.getEntriesByName(mark);
  const resources = performance.getEntriesByType("resource");
  const named = (test) => resources.find((r) => test(new URL(r.name).pathname));
  const glb = named((path) => path.endsWith("/glb"));
  const three = named((path) => /\\/assets\\/scene-[^/]+\\.js$/.test(path));
  return {
    ttfb: nav.responseStart,
    first_frame: frame ? frame.startTime : null,
    three_start: three ? three.startTime : null,
    three_end: three ? three.responseEnd : null,
    three_sent: three ? three.encodedBodySize : null,
    glb_start: glb ? glb.startTime : null,
    glb_end: glb ? glb.responseEnd : null,
    glb_sent: glb ? glb.encodedBodySize : null,
  };
}"""


@dataclass
class Bench:
    browser: Browser
    site: str
    user: StudioUser
    certificate: LocalCertificate
    renders: dict[str, dict[str, Any]]


async def cold_load(bench: Bench, model: str) -> dict[str, float | None]:
    """One cold load of ``model``'s render page until the viewer's first frame, in ms."""
    async with open_studio_page(bench.browser, bench.site) as studio:
        await studio.sign_in_by_api(
            bench.user.name, bench.user.password, bench.certificate.client_context()
        )
        await studio.goto(f"/renders/{bench.renders[model]['id']}")
        viewer = studio.page.locator("[data-viewer-state]")
        try:
            await studio.page.wait_for_function(
                "() => ['webgl', 'no-webgl', 'failed'].includes("
                "document.querySelector('[data-viewer-state]')?.dataset.viewerState)",
                timeout=PAGE_TIMEOUT_MS,
            )
        except PlaywrightTimeout:
            raise BenchFailed(f"{model}: the viewer did not draw in {PAGE_TIMEOUT_MS} ms") from None
        state = await viewer.get_attribute("data-viewer-state")
        if state != "webgl":
            alert = await viewer.inner_text()
            raise BenchFailed(f"{model}: the viewer is {state!r}, not drawing: {alert}")
        timings: dict[str, float | None] = await studio.page.evaluate(_TIMINGS, FIRST_FRAME_MARK)
        if studio.csp.violations:
            raise BenchFailed(f"{model}: CSP violation: {studio.csp.violations[0]}")
    return timings


def p50_p95(values: Sequence[float | None]) -> tuple[float | None, float | None]:
    known = sorted(v for v in values if v is not None)
    if not known:
        return None, None
    if len(known) == 1:
        return known[0], known[0]
    cuts = statistics.quantiles(known, n=100, method="inclusive")
    return round(cuts[49], 1), round(cuts[94], 1)


LOAD_COLUMNS: Final = (
    ("ttfb", "TTFB"),
    ("three_end", "three.js in"),
    ("glb_end", "GLB in"),
    ("first_frame", "first frame"),
)


async def measure_load(bench: Bench, runs: int) -> dict[str, Any]:
    samples: dict[str, list[dict[str, float | None]]] = {m: [] for m in MODELS}
    for _ in range(runs):
        for model in MODELS:  # interleaved, so a busy moment of the machine hits both
            samples[model].append(await cold_load(bench, model))
    figures = {
        model: {key: p50_p95([s[key] for s in runs_of]) for key, _ in LOAD_COLUMNS}
        for model, runs_of in samples.items()
    }
    print(
        f"\nload: a cold load of /renders/<id> to the viewer's first frame with the model, "
        f"{runs} runs each, ms from the navigation's start (p50/p95)"
    )
    print(f"{'model':8}" + "".join(f"{heading:>16}" for _, heading in LOAD_COLUMNS))
    for model in MODELS:
        row = "".join(
            f"{cell(figures[model][k][0], '.0f') + '/' + cell(figures[model][k][1], '.0f'):>16}"
            for k, _ in LOAD_COLUMNS
        )
        print(f"{model:8}{row}")
    scale = ratio(figures["castle"]["first_frame"][0], figures["cube"]["first_frame"][0])
    print(f"castle / cube, first frame p50: {cell(scale, '.2f')}x")
    sent = {
        model: {
            "three_chunk": samples[model][0]["three_sent"],
            "glb": samples[model][0]["glb_sent"],
        }
        for model in MODELS
    }
    return {"runs": runs, "figures": figures, "sent": sent, "ratio_first_frame_p50": scale}


# --- orbit -----------------------------------------------------------------------------------

# Notes performance.now() at every change of the viewer's data-frames (a frame drawn).
_WATCH_FRAMES: Final = """(root) => {
  const times = [];
  Object.defineProperty(window, "__benchFrames", { value: times, configurable: true });
  new MutationObserver(() => times.push(performance.now())).observe(root, {
    attributes: true, attributeFilter: ["data-frames"],
  });
  return Number(root.dataset.frames);
}"""
_NOW_AND_FRAMES: Final = "(root) => [performance.now(), Number(root.dataset.frames)]"


@dataclass(frozen=True)
class Orbit:
    seconds: float
    moves: int
    frames: int
    fps: float
    worst_gap_ms: float
    p95_gap_ms: float


async def orbit_once(bench: Bench, model: str, seconds: float) -> Orbit:
    """Drags the mouse over the viewer of ``model`` for ``seconds``, back and forth."""
    async with open_studio_page(bench.browser, bench.site) as studio:
        page = studio.page
        await studio.sign_in_by_api(
            bench.user.name, bench.user.password, bench.certificate.client_context()
        )
        await studio.goto(f"/renders/{bench.renders[model]['id']}")
        viewer = page.locator("[data-viewer-state]")
        await page.wait_for_selector('[data-viewer-state="webgl"]', timeout=PAGE_TIMEOUT_MS)
        box = await page.locator("[data-viewer-state] canvas").bounding_box()
        if box is None:
            raise BenchFailed(f"{model}: the viewer's canvas is not on screen")
        await viewer.evaluate(_WATCH_FRAMES)
        cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
        reach = box["width"] * 0.3
        await page.mouse.move(cx - reach, cy)
        await page.mouse.down()
        start = await viewer.evaluate(_NOW_AND_FRAMES)
        moves = round(seconds * MOVES_PER_SECOND)
        began = time.perf_counter()
        sent = []
        for step in range(1, moves + 1):
            due = began + step / MOVES_PER_SECOND
            await asyncio.sleep(max(0.0, due - time.perf_counter()))
            # Across the canvas and back each second, a little up and down: a turn both ways.
            phase = (step / MOVES_PER_SECOND) % 1.0
            x = cx - reach + 2 * reach * (2 * phase if phase < 0.5 else 2 - 2 * phase)
            y = cy + 0.15 * box["height"] * (1 if phase < 0.5 else -1) * phase
            sent.append(asyncio.create_task(page.mouse.move(x, y)))
        await asyncio.gather(*sent)
        end = await viewer.evaluate(_NOW_AND_FRAMES)
        await page.mouse.up()
        times: list[float] = await page.evaluate("() => window.__benchFrames")
        if studio.csp.violations:
            raise BenchFailed(f"{model}: CSP violation: {studio.csp.violations[0]}")
    inside = [t for t in times if start[0] <= t <= end[0]]
    edges = [start[0], *inside, end[0]]
    gaps = sorted(b - a for a, b in itertools.pairwise(edges))
    window_s = (end[0] - start[0]) / 1000
    frames = end[1] - start[1]
    if frames <= 0:
        raise BenchFailed(f"{model}: no frame drawn while the mouse dragged over the viewer")
    return Orbit(
        seconds=round(window_s, 3),
        moves=moves,
        frames=frames,
        fps=round(frames / window_s, 1),
        worst_gap_ms=round(gaps[-1], 1),
        p95_gap_ms=round(statistics.quantiles(gaps, n=20, method="inclusive")[18], 1)
        if len(gaps) > 1
        else round(gaps[0], 1),
    )


async def measure_orbit(bench: Bench, runs: int, seconds: float) -> dict[str, Any]:
    results: dict[str, list[Orbit]] = {m: [] for m in MODELS}
    for _ in range(runs):
        for model in MODELS:
            results[model].append(await orbit_once(bench, model, seconds))
    print(
        f"\norbit: {seconds:g} s of mouse drags over the viewer ({MOVES_PER_SECOND} moves a "
        f"second), {runs} run(s) each; medians (worst gap: the worst of the runs)"
    )
    print(
        f"{'model':8}{'window s':>10}{'frames':>8}{'fps':>7}{'p95 gap ms':>12}{'worst gap ms':>14}"
    )
    summary: dict[str, dict[str, float]] = {}
    for model, runs_of in results.items():
        s = {
            "seconds": statistics.median(r.seconds for r in runs_of),
            "frames": statistics.median(r.frames for r in runs_of),
            "fps": statistics.median(r.fps for r in runs_of),
            "p95_gap_ms": statistics.median(r.p95_gap_ms for r in runs_of),
            "worst_gap_ms": max(r.worst_gap_ms for r in runs_of),
        }
        summary[model] = s
        print(
            f"{model:8}{s['seconds']:>10.2f}{s['frames']:>8.0f}{s['fps']:>7.1f}"
            f"{s['p95_gap_ms']:>12.1f}{s['worst_gap_ms']:>14.1f}"
        )
    scale = ratio(summary["castle"]["fps"], summary["cube"]["fps"])
    print(f"castle / cube, fps: {cell(scale, '.2f')}x")
    return {
        "summary": summary,
        "runs": {m: [asdict(r) for r in rs] for m, rs in results.items()},
        "ratio_fps": scale,
    }


# --- The run ---------------------------------------------------------------------------------


async def run(
    system: Platform, certificate: LocalCertificate, args: argparse.Namespace
) -> dict[str, Any]:
    user = create_studio_user(system)
    async with StudioApi.open(
        system.gateway_url, user.api_key, certificate.client_context()
    ) as api:
        print("rendering the castle and the cube...", flush=True)
        renders = {model: await render(api, source) for model, source in MODELS.items()}
        glbs = {}
        for model, done in renders.items():
            async with api.http.get(done["outputs"]["glb"]["url"]) as response:
                glbs[model] = glb_figures(await response.read())
    print(f"\nGLB: as served, and what gzip {GZIP_LEVEL} / brotli {BROTLI_QUALITY} would make")
    print(f"{'model':8}{'bytes':>11}{'gzip':>11}{'brotli':>11}{'triangles':>11}{'colours':>9}")
    for model, glb in glbs.items():
        print(
            f"{model:8}{glb.bytes:>11,}{glb.gzip:>11,}{glb.brotli:>11,}{glb.triangles:>11,}"
            f"{glb.materials:>9}"
        )
    async with async_playwright() as playwright:
        browser = await launch_chromium(playwright, certificate)
        bench = Bench(browser, origin(system.services["gateway"]), user, certificate, renders)
        load = await measure_load(bench, args.runs)
        orbit = await measure_orbit(bench, args.runs, args.orbit_seconds)
        await browser.close()
    return {"glb": {m: asdict(g) for m, g in glbs.items()}, "load": load, "orbit": orbit}


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m loadtests.bench_viewer")
    parser.add_argument("--runs", type=int, default=5, help="cold loads and drags per model")
    parser.add_argument("--orbit-seconds", type=float, default=3.0, help="one drag's length")
    parser.add_argument(
        "--studio-dir", type=Path, default=STUDIO_DIST, help="the build to measure (web/dist)"
    )
    args = parser.parse_args()
    if not 1 <= args.runs <= MAX_RUNS:
        parser.error(f"--runs must be 1-{MAX_RUNS}")
    if not 0.5 <= args.orbit_seconds <= 30:
        parser.error("--orbit-seconds must be 0.5-30")
    try:
        studio_dist = require_studio_build(args.studio_dir.resolve())
    except FileNotFoundError as missing:
        raise SystemExit(str(missing)) from None
    if not Path(CHROMIUM).exists():
        raise SystemExit(f"Chromium ({CHROMIUM}) is installed by `make bootstrap`")

    with studio_platform("shotgraph-bench-viewer-", studio_dist) as (_, system, certificate):
        try:
            result = asyncio.run(run(system, certificate, args))
        except BenchFailed as failed:
            raise SystemExit(f"not measured: {failed}") from None
    print_notes(
        [
            f"cpus={os.cpu_count()}; Chromium {shutil.which('chromium')}, headless, WebGL 2 on "
            "SwiftShader (the CPU draws); the viewer's stage as the render page lays it out in "
            "a 1280x720 window. Every figure is from this one machine, where the browser, the "
            "platform and its backends share the cores: compare ratios between runs, not "
            "absolute times.",
        ]
    )
    print_result(result)


if __name__ == "__main__":
    main()
