"""What does the studio cost the browser that opens it, next to a page without it?

``python -m loadtests.bench_studio [--parts bundle,load,drag,calls] [--runs 10]`` builds two
baselines with the studio's own Vite config (a bare React page, and the same markup as plain
HTML), starts the whole platform on loopback with its gateway on HTTPS (a local CA; Chromium
trusts its key) serving the built studio (``make web``), one more gateway per baseline, and
measures in Debian's Chromium, headless:

- **bundle**: the initial JavaScript, the entry script of ``web/dist/index.html`` and its
  ``<link rel=modulepreload>``s (the stylesheets beside them): raw, gzip and brotli at the
  gateway's own levels, and what the browser received on a cold load (bodies as encoded on the
  wire). Target: at most 300,000 bytes of JavaScript as sent. Baseline: a bare React page.
- **load**: a cold load of ``/`` until the canvas list is interactive: a fresh context (empty
  cache, no connection) holding a session cookie from an API sign-in, then ``goto("/")``; the
  moment a known canvas's name is on the page and the "New canvas" button is enabled, taken by
  a MutationObserver in the page (``performance.now()``), with the navigation timing. ``--runs``
  loads each, p50 and p95. Baselines: the same list as static HTML, and drawn by React.
- **drag**: a 500-node canvas opened at ``/canvases/<id>``, one node dragged with 120 mouse
  moves over 2 s under a Chromium performance trace; frames per second and the worst frame
  from the trace's ``DrawFrame`` events. Baseline: a 10-node canvas.
- **calls**: the ``/v1/`` requests from ``goto("/canvases/<id>")`` until the nodes show
  (a ``$batch``'s requests listed), target 1-2, and the event connections the page opened.

``--studio-dir`` measures another build than ``web/dist``. A part that cannot measure (the
editor not there yet: no React Flow node on the canvas page after 30 s) says why and the run
exits 1; the other parts still run and print. Everything stays on 127.0.0.1 and is stopped at
the end, also on Ctrl-C. A run with the defaults takes about three minutes on a 2-core machine,
most of it starting the platform and the 30 cold loads.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import math
import os
import shutil
import ssl
import statistics
import subprocess
import sys
import time
import urllib.request
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import asdict, dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any, Final

from playwright.async_api import Browser, Request, WebSocket, async_playwright
from playwright.async_api import TimeoutError as PlaywrightTimeout

from libs.launcher import Platform, ServiceProcess
from loadtests.common import cell, print_notes, print_result, ratio
from loadtests.studio_platform import studio_platform
from services.gateway.compression import BROTLI_QUALITY, GZIP_LEVEL, Coding, encode
from tests.e2e.browser import (
    STUDIO_DIST,
    LocalCertificate,
    StudioApi,
    StudioPage,
    StudioUser,
    create_studio_user,
    grid_graph,
    launch_chromium,
    open_studio_page,
    origin,
    require_studio_build,
    start_studio_gateway,
)

PARTS: Final = ("bundle", "load", "drag", "calls")
WEB: Final = STUDIO_DIST.parent
TARGET_INITIAL_JS_BYTES: Final = 300_000
TARGET_CANVAS_CALLS: Final = 2
# The canvas every list shows: the studio's from the API, the baselines' in their markup.
KNOWN_CANVAS: Final = "Lighthouse, opening shot"
NEW_CANVAS: Final = "New canvas"
NODE_SELECTOR: Final = '[data-testid^="rf__node-"]'
EVENT_PATHS: Final = ("/v1/ws", "/v1/events")
# What the trace records: the DevTools timeline with its frame events.
TRACE_CATEGORIES: Final = (
    "devtools.timeline",
    "disabled-by-default-devtools.timeline",
    "disabled-by-default-devtools.timeline.frame",
)
PAGE_TIMEOUT_MS: Final = 30_000
# A drag as a hand makes it: a move per display frame for two seconds.
DRAG_MOVES: Final = 120
DRAG_SECONDS: Final = 2.0
BUTTON_GRACE_MS: Final = 3_000
MAX_RUNS: Final = 50


class PartFailed(Exception):
    """A part could not measure what it is for; its message says why."""


# --- The baselines ---------------------------------------------------------------------------

_LIST_MARKUP: Final = (
    f"<main><h2>Canvases</h2><ul><li><a href='/'>{KNOWN_CANVAS}</a></li></ul>"
    f"<button type='button'>{NEW_CANVAS}</button></main>"
)
_BARE_MAIN: Final = f"""import {{ StrictMode }} from "react";
import {{ createRoot }} from "react-dom/client";

const root = document.getElementById("root");
if (root === null) throw new Error("no #root");
createRoot(root).render(
  <StrictMode>
    <main>
      <h2>Canvases</h2>
      <ul><li><a href="/">{KNOWN_CANVAS}</a></li></ul>
      <button type="button">{NEW_CANVAS}</button>
    </main>
  </StrictMode>,
);
"""
_PAGE: Final = """<!doctype html>
<html lang="en">
  <head>
    <meta charset="UTF-8" />
    <meta name="viewport" content="width=device-width, initial-scale=1.0" />
    <title>Shotgraph Studio</title>
  </head>
  <body>{body}</body>
</html>
"""


def build_baselines(folder: Path) -> tuple[Path, Path]:
    """(React page, static page): two builds for a gateway to serve. The React page is built
    by the studio's Vite config and node_modules, with react and react-dom only."""
    react = folder / "react"
    (react / "src").mkdir(parents=True)
    (react / "package.json").write_text('{"private": true, "type": "module"}\n')
    (react / "node_modules").symlink_to(WEB / "node_modules")
    script = '<div id="root"></div><script type="module" src="/src/main.tsx"></script>'
    (react / "index.html").write_text(_PAGE.format(body=script))
    (react / "src" / "main.tsx").write_text(_BARE_MAIN)
    vite = WEB / "node_modules" / ".bin" / "vite"
    built = subprocess.run(
        [str(vite), "build", "--config", str(WEB / "vite.config.ts"), "--logLevel", "warn"],
        cwd=react,
        capture_output=True,
        text=True,
        timeout=300,
    )
    if built.returncode != 0:
        raise SystemExit(f"the bare React page did not build:\n{built.stdout}{built.stderr}")
    static = folder / "static"
    static.mkdir()
    (static / "index.html").write_text(_PAGE.format(body=_LIST_MARKUP))
    return react / "dist", static


# --- bundle ----------------------------------------------------------------------------------


class _InitialFiles(HTMLParser):
    """The files index.html makes the browser fetch before the app runs."""

    def __init__(self) -> None:
        super().__init__()
        self.scripts: list[str] = []
        self.styles: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        rel = (found.get("rel") or "").lower()
        if tag == "script" and found.get("type") == "module" and found.get("src"):
            self.scripts.append(str(found["src"]))
        elif tag == "link" and rel == "modulepreload" and found.get("href"):
            self.scripts.append(str(found["href"]))
        elif tag == "link" and rel == "stylesheet" and found.get("href"):
            self.styles.append(str(found["href"]))


@dataclass(frozen=True)
class Sizes:
    files: int = 0
    raw: int = 0
    gzip: int = 0
    br: int = 0

    def __add__(self, other: Sizes) -> Sizes:
        return Sizes(
            self.files + other.files,
            self.raw + other.raw,
            self.gzip + other.gzip,
            self.br + other.br,
        )


def file_sizes(body: bytes) -> Sizes:
    return Sizes(1, len(body), len(encode(body, Coding.GZIP)), len(encode(body, Coding.BR)))


def initial_files(dist: Path) -> tuple[list[str], list[str]]:
    """(scripts, stylesheets) that ``dist/index.html`` names, as paths of the site."""
    parser = _InitialFiles()
    parser.feed((dist / "index.html").read_text())
    return parser.scripts, parser.styles


def build_sizes(dist: Path) -> dict[str, Sizes]:
    scripts, styles = initial_files(dist)

    def total(paths: Sequence[str]) -> Sizes:
        return sum((file_sizes((dist / p.lstrip("/")).read_bytes()) for p in paths), Sizes())

    every_script = sorted(dist.rglob("*.js"))
    return {
        "initial_js": total(scripts),
        "initial_css": total(styles),
        "all_js": sum((file_sizes(p.read_bytes()) for p in every_script), Sizes()),
    }


async def cold_transfer(browser: Browser, site: str) -> dict[str, int]:
    """Bytes the browser received for what a cold load of ``site``/ fetched before its load
    event (the document, its scripts, modulepreloads and stylesheets, and whatever the app
    asked for by then): response bodies as encoded on the wire, by resource type, headers apart,
    and the count of requests."""
    requested: list[Request] = []
    async with open_studio_page(browser, site) as studio:
        studio.page.on("request", lambda request: requested.append(request))
        await studio.goto("/")
        received: dict[str, int] = {}
        for request in list(requested):
            response = await request.response()
            if response is None:
                continue
            await response.finished()
            sizes = await request.sizes()
            kind = request.resource_type
            received[kind] = received.get(kind, 0) + sizes["responseBodySize"]
            received["headers"] = received.get("headers", 0) + sizes["responseHeadersSize"]
            received["requests"] = received.get("requests", 0) + 1
        violations = studio.csp.violations
    if violations:
        raise PartFailed(f"{site}: {len(violations)} CSP violation(s), first: {violations[0]}")
    return received


async def measure_bundle(bench: Bench) -> dict[str, Any]:
    studio = build_sizes(bench.studio_dist)
    bare = build_sizes(bench.react_dist)
    studio_wire = await cold_transfer(bench.browser, bench.sites["studio"])
    bare_wire = await cold_transfer(bench.browser, bench.sites["react"])
    js = studio["initial_js"]
    print(
        f"\nbundle: initial files of index.html, bytes (gzip {GZIP_LEVEL}, brotli {BROTLI_QUALITY}"
        " as the gateway sends them)"
    )
    print(f"{'':28}{'files':>6}{'raw':>11}{'gzip':>10}{'brotli':>10}{'received':>10}")
    for name, sizes, wire in (
        ("studio initial JS", js, studio_wire.get("script", 0)),
        ("studio initial CSS", studio["initial_css"], studio_wire.get("stylesheet", 0)),
        ("studio all JS (lazy too)", studio["all_js"], None),
        ("bare React initial JS", bare["initial_js"], bare_wire.get("script", 0)),
    ):
        print(
            f"{name:28}{sizes.files:>6}{sizes.raw:>11,}{sizes.gzip:>10,}{sizes.br:>10,}"
            f"{cell(wire, ',.0f'):>10}"
        )
    scale = ratio(js.br, bare["initial_js"].br)
    met = max(js.br, studio_wire.get("script", 0)) <= TARGET_INITIAL_JS_BYTES
    print(f"studio / bare React, initial JS brotli: {cell(scale, '.2f')}x")
    print(
        f"cold load of / received: studio {sum_wire(studio_wire):,} bytes in "
        f"{studio_wire.get('requests', 0)} requests, bare React {sum_wire(bare_wire):,} in "
        f"{bare_wire.get('requests', 0)}"
    )
    print(
        f"target: initial JS at most {TARGET_INITIAL_JS_BYTES:,} bytes as sent: "
        f"{'met' if met else 'not met'}"
    )
    return {
        "studio": {k: asdict(v) for k, v in studio.items()},
        "bare_react": {k: asdict(v) for k, v in bare.items()},
        "received": {"studio": studio_wire, "bare_react": bare_wire},
        "ratio_initial_js_br": scale,
        "target_met": met,
    }


def sum_wire(received: dict[str, int]) -> int:
    return sum(v for k, v in received.items() if k != "requests")


# --- load ------------------------------------------------------------------------------------

# Notes, from the first script on, when the known canvas's name is on the page and when a
# "New canvas" button is there and enabled (performance.now(), ms since navigation start).
_READY_OBSERVER: Final = """
(([name, label]) => {
  const ready = { canvas: null, button: null };
  Object.defineProperty(window, "__benchReady", { value: ready });
  const named = () => {
    const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      if (node.data.trim() === name) return true;
    }
    return false;
  };
  const check = () => {
    if (!document.body) return;
    const now = performance.now();
    if (ready.canvas === null && named()) ready.canvas = now;
    const buttons = [...document.querySelectorAll("button")].filter(
      (b) => (b.getAttribute("aria-label") ?? b.textContent).trim() === label);
    if (ready.button === null && buttons.some((b) => !b.disabled)) ready.button = now;
    if (ready.canvas !== null && ready.button !== null) observer.disconnect();
  };
  const observer = new MutationObserver(check);
  observer.observe(document, { subtree: true, childList: true, attributes: true,
                               characterData: true });
})(%s);
"""
_NAVIGATION: Final = """() => {
  const [nav] = performance.getEntriesByType("navigation");
  const fcp = performance.getEntriesByName("first-contentful-paint")[0];
  return { ready: window.__benchReady, responseStart: nav.responseStart,
           domContentLoaded: nav.domContentLoadedEventEnd, load: nav.loadEventEnd,
           fcp: fcp ? fcp.startTime : null };
}"""
LOAD_FIGURES: Final = ("responseStart", "fcp", "domContentLoaded", "load", "listed", "interactive")
# Their column headings.
LOAD_HEADINGS: Final = ("TTFB", "FCP", "DCL", "load", "listed", "interactive")


async def cold_list_load(bench: Bench, target: str) -> dict[str, float | None]:
    """One cold load of ``target``'s ``/`` to an interactive canvas list, in milliseconds."""
    async with open_studio_page(bench.browser, bench.sites[target]) as studio:
        if target == "studio":
            await studio.sign_in_by_api(bench.user.name, bench.user.password, bench.client_tls)
        await studio.context.add_init_script(
            _READY_OBSERVER % json.dumps([KNOWN_CANVAS, NEW_CANVAS])
        )
        await studio.goto("/")
        try:
            await studio.page.wait_for_function(
                "() => window.__benchReady.canvas !== null", timeout=PAGE_TIMEOUT_MS
            )
        except PlaywrightTimeout:
            raise PartFailed(f"{target}: {KNOWN_CANVAS!r} never showed on /") from None
        # The list's own button comes with the list or soon after; one that has not come
        # within a grace period is not there (the list without it).
        with contextlib.suppress(PlaywrightTimeout):
            await studio.page.wait_for_function(
                "() => window.__benchReady.button !== null", timeout=BUTTON_GRACE_MS
            )
        timing = await studio.page.evaluate(_NAVIGATION)
        if studio.csp.violations:
            raise PartFailed(f"{target}: CSP violation: {studio.csp.violations[0]}")
    listed = timing["ready"]["canvas"]
    button = timing["ready"]["button"]
    return {
        "responseStart": timing["responseStart"],
        "fcp": timing["fcp"],
        "domContentLoaded": timing["domContentLoaded"],
        "load": timing["load"],
        "listed": listed,
        "interactive": None if button is None else max(listed, button),
    }


def p50_p95(values: Sequence[float | None]) -> tuple[float | None, float | None]:
    known = sorted(v for v in values if v is not None)
    if not known:
        return None, None
    if len(known) == 1:
        return known[0], known[0]
    cuts = statistics.quantiles(known, n=100, method="inclusive")
    return round(cuts[49], 1), round(cuts[94], 1)


async def measure_load(bench: Bench, runs: int) -> dict[str, Any]:
    targets = ("studio", "react", "static")
    samples: dict[str, list[dict[str, float | None]]] = {t: [] for t in targets}
    for _ in range(runs):
        for target in targets:  # interleaved, so a busy moment of the machine hits all three
            samples[target].append(await cold_list_load(bench, target))
    figures = {
        target: {name: p50_p95([s[name] for s in runs_of]) for name in LOAD_FIGURES}
        for target, runs_of in samples.items()
    }
    print(f"\nload: cold load of / to an interactive canvas list, {runs} runs each, ms (p50/p95)")
    print(f"{'target':8}" + "".join(f"{heading:>14}" for heading in LOAD_HEADINGS))
    for target in targets:
        row = "".join(
            f"{cell(figures[target][n][0], '.0f') + '/' + cell(figures[target][n][1], '.0f'):>14}"
            for n in LOAD_FIGURES
        )
        print(f"{target:8}{row}")
    measured = "interactive"
    if figures["studio"]["interactive"][0] is None:
        measured = "listed"
        print(
            f"the studio's list has no enabled {NEW_CANVAS!r} button (yet): the ratios compare"
            f" when {KNOWN_CANVAS!r} showed"
        )
    studio_p50 = figures["studio"][measured][0]
    scale = {
        "studio/static": ratio(studio_p50, figures["static"]["interactive"][0]),
        "studio/react": ratio(studio_p50, figures["react"]["interactive"][0]),
    }
    print(
        f"studio {measured} p50 / baseline interactive p50: "
        + ", ".join(f"{k} {cell(v, '.2f')}x" for k, v in scale.items())
    )
    return {"runs": runs, "figures": figures, "studio_measured": measured, "ratio_p50": scale}


# --- drag ------------------------------------------------------------------------------------

_PICK_NODE: Final = """(selector) => {
  const nodes = [...document.querySelectorAll(selector)];
  const [cx, cy] = [innerWidth / 2, innerHeight / 2];
  let best = null;
  for (const node of nodes) {
    const r = node.getBoundingClientRect();
    if (r.width === 0 || r.left < 0 || r.top < 0 || r.right > innerWidth || r.bottom > innerHeight)
      continue;
    const d = Math.hypot(r.left + r.width / 2 - cx, r.top + r.height / 2 - cy);
    if (best === null || d < best.d)
      best = { id: node.dataset.testid, x: r.left + r.width / 2, y: r.top + r.height * 0.25, d };
  }
  return { rendered: nodes.length, best };
}"""
_SETTLED: Final = """([selector, frames]) => new Promise((resolve) => {
  let last = -1, still = 0;
  const tick = () => {
    const count = document.querySelectorAll(selector).length;
    still = count === last ? still + 1 : 0;
    last = count;
    if (still >= frames) resolve(count); else requestAnimationFrame(tick);
  };
  requestAnimationFrame(tick);
})"""
_POSITION: Final = """(testid) => {
  const r = document.querySelector(`[data-testid="${testid}"]`).getBoundingClientRect();
  return [r.left, r.top];
}"""


@dataclass(frozen=True)
class Frames:
    """What the trace says of the frames drawn while the mouse moved."""

    seconds: float
    moves: int
    frames: int
    dropped: int
    fps: float
    worst_ms: float
    longest_task_ms: float


def frames_of(trace: bytes) -> Frames:
    """Frames from a Chromium trace: the window is the renderer's first to last ``mousemove``
    dispatch (``EventDispatch``); a frame is a ``DrawFrame`` of that renderer's compositor
    thread (a compositor frame drawn for the display, what DevTools' Frames track shows).
    The worst frame is the longest gap between frames, counted from the window's start to the
    first frame after its end; the longest task is the main thread's longest ``RunTask``."""
    loaded = json.loads(trace)
    events: list[dict[str, Any]] = loaded["traceEvents"] if isinstance(loaded, dict) else loaded
    threads = {
        (e["pid"], e["tid"]): e["args"]["name"] for e in events if e.get("name") == "thread_name"
    }
    moves = [
        e
        for e in events
        if e.get("name") == "EventDispatch"
        and e.get("args", {}).get("data", {}).get("type") == "mousemove"
    ]
    if not moves:
        raise PartFailed("the trace holds no mousemove: the drag never reached the page")
    pid = max({e["pid"] for e in moves}, key=lambda p: sum(e["pid"] == p for e in moves))
    start = min(e["ts"] for e in moves if e["pid"] == pid)
    end = max(e["ts"] + e.get("dur", 0) for e in moves if e["pid"] == pid)

    def on(name: str, thread: str) -> list[float]:
        return sorted(
            e["ts"]
            for e in events
            if e.get("name") == name
            and e["pid"] == pid
            and threads.get((e["pid"], e["tid"])) == thread
        )

    drawn = on("DrawFrame", "Compositor")
    inside = [ts for ts in drawn if start <= ts <= end]
    after = [ts for ts in drawn if ts > end][:1]
    edges = [start, *inside, *(after or [end])]
    worst_us = max(b - a for a, b in itertools.pairwise(edges))
    tasks = [
        e.get("dur", 0)
        for e in events
        if e.get("name") == "RunTask"
        and e["pid"] == pid
        and threads.get((e["pid"], e["tid"])) == "CrRendererMain"
        and start <= e["ts"] <= end
    ]
    seconds = (end - start) / 1e6
    return Frames(
        seconds=round(seconds, 3),
        moves=sum(e["pid"] == pid for e in moves),
        frames=len(inside),
        dropped=sum(start <= ts <= end for ts in on("DroppedFrame", "Compositor")),
        fps=round(len(inside) / seconds, 1) if seconds else 0.0,
        worst_ms=round(worst_us / 1000, 1),
        longest_task_ms=round(max(tasks, default=0) / 1000, 1),
    )


async def open_canvas(studio: StudioPage, canvas_id: str) -> int:
    """Open the canvas page and wait until its React Flow nodes stop appearing; how many."""
    await studio.goto(f"/canvases/{canvas_id}")
    try:
        await studio.page.wait_for_selector(NODE_SELECTOR, timeout=PAGE_TIMEOUT_MS)
    except PlaywrightTimeout:
        raise PartFailed(
            f"no React Flow node ({NODE_SELECTOR}) on /canvases/<id> after "
            f"{PAGE_TIMEOUT_MS / 1000:.0f} s: the studio's editor is not there yet"
        ) from None
    return int(await studio.page.evaluate(_SETTLED, [NODE_SELECTOR, 10]))


async def drag_once(bench: Bench, canvas_id: str) -> tuple[int, Frames]:
    """One drag on the canvas: (React Flow nodes the page rendered, the trace's frames)."""
    async with open_studio_page(bench.browser, bench.sites["studio"]) as studio:
        await studio.sign_in_by_api(bench.user.name, bench.user.password, bench.client_tls)
        rendered = await open_canvas(studio, canvas_id)
        picked = await studio.page.evaluate(_PICK_NODE, NODE_SELECTOR)
        node = picked["best"]
        if node is None:
            raise PartFailed(f"none of the {rendered} nodes is wholly in the viewport to drag")
        page, mouse = studio.page, studio.page.mouse
        before = await page.evaluate(_POSITION, node["id"])
        await mouse.move(node["x"], node["y"])
        await mouse.down()
        await mouse.move(node["x"] + 4, node["y"] + 4)  # past React Flow's drag threshold
        await bench.browser.start_tracing(page=page, categories=list(TRACE_CATEGORIES))
        # Paced like a hand, whether or not the page keeps up: each move is sent on time
        # without waiting for the page to have handled the one before (the browser coalesces
        # moves a busy page has not read yet, as it does for a real mouse).
        started = time.perf_counter()
        sent = []
        for step in range(1, DRAG_MOVES + 1):
            due = started + step * DRAG_SECONDS / DRAG_MOVES
            await asyncio.sleep(max(0.0, due - time.perf_counter()))
            t = step / DRAG_MOVES
            x, y = node["x"] + 4 + 200 * t, node["y"] + 4 + 40 * math.sin(2 * math.pi * t)
            sent.append(asyncio.create_task(mouse.move(x, y)))
        await asyncio.gather(*sent)
        trace = await bench.browser.stop_tracing()
        await mouse.up()
        after = await page.evaluate(_POSITION, node["id"])
        if studio.csp.violations:
            raise PartFailed(f"CSP violation while dragging: {studio.csp.violations[0]}")
    if after[0] - before[0] < 100:
        raise PartFailed(f"{node['id']} did not follow the mouse ({before} -> {after})")
    return rendered, frames_of(trace)


async def measure_drag(bench: Bench, nodes: int, baseline: int, drags: int) -> dict[str, Any]:
    kinds = await bench.api.node_types()
    results: dict[str, list[Frames]] = {}
    rendered: dict[str, int] = {}
    for count in (nodes, baseline):
        name = f"{count} nodes"
        canvas = await bench.api.canvas_with_graph(name, grid_graph(kinds, count))
        results[name] = []
        for _ in range(drags):
            rendered[name], frames = await drag_once(bench, canvas["id"])
            results[name].append(frames)
    print(
        f"\ndrag: one node, {DRAG_MOVES} mouse moves over {DRAG_SECONDS:g} s, {drags} drag(s)"
        " each; medians (worst frame and longest task: the worst of the drags)"
    )
    print(
        f"{'canvas':12}{'rendered':>9}{'window s':>9}{'frames':>8}{'fps':>7}{'worst ms':>10}"
        f"{'dropped':>9}{'longest task ms':>17}"
    )
    summary: dict[str, dict[str, float]] = {}
    for name, runs in results.items():
        summary[name] = {
            "rendered": rendered[name],
            "seconds": statistics.median(r.seconds for r in runs),
            "frames": statistics.median(r.frames for r in runs),
            "fps": statistics.median(r.fps for r in runs),
            "worst_ms": max(r.worst_ms for r in runs),
            "dropped": statistics.median(r.dropped for r in runs),
            "longest_task_ms": max(r.longest_task_ms for r in runs),
        }
        s = summary[name]
        print(
            f"{name:12}{s['rendered']:>9.0f}{s['seconds']:>9.2f}{s['frames']:>8.0f}"
            f"{s['fps']:>7.1f}{s['worst_ms']:>10.1f}{s['dropped']:>9.0f}"
            f"{s['longest_task_ms']:>17.1f}"
        )
    big, small = summary[f"{nodes} nodes"], summary[f"{baseline} nodes"]
    scale = {
        "fps": ratio(big["fps"], small["fps"]),
        "worst": ratio(big["worst_ms"], small["worst_ms"]),
    }
    print(
        f"{nodes} / {baseline} nodes: fps {cell(scale['fps'], '.2f')}x, worst frame "
        f"{cell(scale['worst'], '.2f')}x"
    )
    return {
        "summary": summary,
        "runs": {k: [asdict(r) for r in v] for k, v in results.items()},
        "ratio": scale,
    }


# --- calls -----------------------------------------------------------------------------------


@dataclass
class Calls:
    """The API requests a page made, in order, before and after its nodes showed, and the
    event connections it opened (kept apart: the one live connection is counted on its own)."""

    page_origin: str
    nodes_shown: bool = False
    opening: list[str] = field(default_factory=list)
    later: list[str] = field(default_factory=list)
    events: list[str] = field(default_factory=list)

    def on_request(self, request: Request) -> None:
        path = request.url.removeprefix(self.page_origin)
        if not path.startswith("/v1/"):
            return
        if path.startswith(EVENT_PATHS):
            self.events.append(f"{request.method} {path}")
            return
        line = f"{request.method} {path}"
        if path.split("?", 1)[0] == "/v1/$batch":
            inner = (request.post_data_json or {}).get("requests", [])
            line += " [" + ", ".join(f"{r.get('method')} {r.get('url')}" for r in inner) + "]"
        (self.later if self.nodes_shown else self.opening).append(line)

    def on_websocket(self, socket: WebSocket) -> None:
        self.events.append(f"WebSocket {socket.url.split('://', 1)[-1].split('/', 1)[-1]}")


def live_connections(fanout: ServiceProcess) -> int:
    """Open live connections, as fan-out counts them (every transport, every user)."""
    with urllib.request.urlopen(f"{fanout.admin_url}/metrics", timeout=5) as response:
        text = response.read().decode()
    return int(
        sum(
            float(line.rsplit(" ", 1)[1])
            for line in text.splitlines()
            if line.startswith("shotgraph_live_connections{") and 'service="fanout"' in line
        )
    )


async def until(check: Callable[[], Awaitable[bool]], timeout_s: float) -> bool:
    """Whether ``check`` came true within ``timeout_s`` (asked every 100 ms)."""
    deadline = time.monotonic() + timeout_s
    while not await check():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.1)
    return True


@dataclass(frozen=True)
class Opening:
    """A way to open a canvas: what the page does first, then the step that opens it."""

    name: str
    first: Callable[[StudioPage, dict[str, Any]], Awaitable[None]]
    opens: Callable[[StudioPage, dict[str, Any]], Awaitable[None]]


async def _nothing(studio: StudioPage, canvas: dict[str, Any]) -> None:
    """The canvas page is the first the context opens."""


async def _deep_link(studio: StudioPage, canvas: dict[str, Any]) -> None:
    await studio.goto(f"/canvases/{canvas['id']}")


async def _the_list(studio: StudioPage, canvas: dict[str, Any]) -> None:
    await studio.goto("/")
    await studio.page.get_by_role("link", name=canvas["name"]).wait_for(timeout=PAGE_TIMEOUT_MS)


async def _its_link(studio: StudioPage, canvas: dict[str, Any]) -> None:
    await studio.page.get_by_role("link", name=canvas["name"]).click()


OPENINGS: Final = (
    Opening("deep link, cold", _nothing, _deep_link),
    Opening("from the list", _the_list, _its_link),
)


async def count_calls(bench: Bench, canvas: dict[str, Any], opening: Opening) -> tuple[Calls, int]:
    """The calls for opening ``canvas`` the ``opening`` way, until its nodes showed and then
    until fan-out counted the page's live connection (at most 5 s more); and that count."""
    fanout = bench.system.services["fanout"]

    async def fanout_counts(wanted: Callable[[int], bool]) -> bool:
        return wanted(await asyncio.to_thread(live_connections, fanout))

    # The previous page's connection is closed, and fan-out has heard so.
    await until(lambda: fanout_counts(lambda n: n == 0), 10)
    site = bench.sites["studio"]
    async with open_studio_page(bench.browser, site) as studio:
        await studio.sign_in_by_api(bench.user.name, bench.user.password, bench.client_tls)
        await opening.first(studio, canvas)
        calls = Calls(site)
        studio.context.on("request", calls.on_request)
        studio.page.on("websocket", calls.on_websocket)
        await opening.opens(studio, canvas)
        try:
            await studio.page.wait_for_selector(NODE_SELECTOR, timeout=PAGE_TIMEOUT_MS)
        except PlaywrightTimeout:
            raise PartFailed(
                f"no React Flow node on /canvases/<id> after {PAGE_TIMEOUT_MS / 1000:.0f} s: "
                "the studio's editor is not there yet. Calls seen: "
                + ("; ".join(calls.opening + calls.events) or "none")
            ) from None
        calls.nodes_shown = True
        await until(lambda: fanout_counts(lambda n: n > 0), 5)
        counted = await asyncio.to_thread(live_connections, fanout)
        if studio.csp.violations:
            raise PartFailed(f"CSP violation opening a canvas: {studio.csp.violations[0]}")
    return calls, counted


async def measure_calls(bench: Bench) -> dict[str, Any]:
    kinds = await bench.api.node_types()
    canvas = await bench.api.canvas_with_graph("Ten nodes to open", grid_graph(kinds, 10))
    found: dict[str, Any] = {}
    print(
        "\ncalls: HTTP requests to /v1/ to open a canvas until its nodes show "
        f"(target 1-{TARGET_CANVAS_CALLS})"
    )
    for opening in OPENINGS:
        try:
            calls, counted = await count_calls(bench, canvas, opening)
        except PlaywrightTimeout:
            print(f"  {opening.name}: n/a, the canvas list has no link named {canvas['name']!r}")
            continue
        met = 1 <= len(calls.opening) <= TARGET_CANVAS_CALLS
        print(f"  {opening.name}: {len(calls.opening)} ({'met' if met else 'not met'})")
        for line in calls.opening:
            print(f"    {line}")
        if calls.later:
            print(f"    then, once the nodes showed: {'; '.join(calls.later)}")
        print(
            f"    event connections: {len(calls.events)} seen by the page"
            f" ({'; '.join(calls.events) or '-'}), {counted} open at fan-out"
        )
        found[opening.name] = {
            "calls": calls.opening,
            "later": calls.later,
            "event_connections_seen": calls.events,
            "event_connections_at_fanout": counted,
            "target_met": met,
        }
    return found


# --- The run ---------------------------------------------------------------------------------


@dataclass
class Bench:
    """What every part works with: the platform, the browser, a user and the sites to load
    (``studio``, and the baselines ``react`` and ``static`` when a part needs them)."""

    system: Platform
    browser: Browser
    user: StudioUser
    api: StudioApi
    client_tls: ssl.SSLContext
    sites: dict[str, str]
    studio_dist: Path
    react_dist: Path


async def run(
    system: Platform,
    certificate: LocalCertificate,
    args: argparse.Namespace,
    studio_dist: Path,
    baselines: tuple[Path, Path],
) -> tuple[dict[str, Any], dict[str, str]]:
    """Every part of ``args.parts`` in turn: (figures by part, why a part was not measured)."""
    user = create_studio_user(system)
    sites = {"studio": origin(system.services["gateway"])}
    if {"bundle", "load"} & set(args.parts):
        sites["react"] = origin(
            start_studio_gateway(system, certificate, "gateway-react", baselines[0])
        )
        sites["static"] = origin(
            start_studio_gateway(system, certificate, "gateway-static", baselines[1])
        )
    results: dict[str, Any] = {}
    failures: dict[str, str] = {}
    async with (
        async_playwright() as playwright,
        StudioApi.open(system.gateway_url, user.api_key, certificate.client_context()) as api,
    ):
        browser = await launch_chromium(playwright, certificate)
        await api.create_canvas(KNOWN_CANVAS)
        client_tls = certificate.client_context()
        bench = Bench(system, browser, user, api, client_tls, sites, studio_dist, baselines[0])
        parts: dict[str, Callable[[], Awaitable[dict[str, Any]]]] = {
            "bundle": lambda: measure_bundle(bench),
            "load": lambda: measure_load(bench, args.runs),
            "drag": lambda: measure_drag(bench, args.nodes, args.baseline_nodes, args.drags),
            "calls": lambda: measure_calls(bench),
        }
        for name in args.parts:
            try:
                results[name] = await parts[name]()
            except PartFailed as failed:
                failures[name] = str(failed)
                print(f"\n{name}: not measured: {failed}", flush=True)
        await browser.close()
    return results, failures


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m loadtests.bench_studio")
    parser.add_argument("--parts", default=",".join(PARTS), help=f"some of {','.join(PARTS)}")
    parser.add_argument("--runs", type=int, default=10, help="cold loads per target (load)")
    parser.add_argument("--drags", type=int, default=3, help="drags per canvas (drag)")
    parser.add_argument("--nodes", type=int, default=500, help="the large canvas's nodes")
    parser.add_argument("--baseline-nodes", type=int, default=10)
    parser.add_argument(
        "--studio-dir", type=Path, default=STUDIO_DIST, help="the build to measure (web/dist)"
    )
    args = parser.parse_args()
    args.parts = [p.strip() for p in args.parts.split(",") if p.strip()]
    unknown = set(args.parts) - set(PARTS)
    if unknown or not args.parts:
        parser.error(f"--parts takes some of {','.join(PARTS)}, not {','.join(sorted(unknown))}")
    if not 1 <= args.runs <= MAX_RUNS or not 1 <= args.drags <= 10:
        parser.error(f"--runs must be 1-{MAX_RUNS} and --drags 1-10")
    if not 1 <= args.baseline_nodes <= args.nodes <= 500:
        parser.error("--nodes must be at most 500 (the canvas's limit), --baseline-nodes fewer")
    try:
        studio_dist = require_studio_build(args.studio_dir.resolve())
    except FileNotFoundError as missing:
        raise SystemExit(str(missing)) from None
    if not Path("/usr/bin/chromium").exists():
        raise SystemExit("Chromium (/usr/bin/chromium) is installed by `make bootstrap`")

    with studio_platform("shotgraph-bench-studio-", studio_dist) as (root, system, certificate):
        baselines = build_baselines(root / "baselines")
        results, failures = asyncio.run(run(system, certificate, args, studio_dist, baselines))
    print_notes(
        [
            f"cpus={os.cpu_count()}; Chromium {shutil.which('chromium')}, headless; every "
            "figure is from this one machine, where the browser, the platform and its backends "
            "share the cores: compare ratios between runs, not absolute times.",
        ]
    )
    print_result({"parts": results, "failures": failures})
    if failures:
        print("not measured: " + ", ".join(failures), file=sys.stderr)
        raise SystemExit(1)


if __name__ == "__main__":
    main()
