"""How long does a colour picked in a set piece's customizer take to show in its quick preview,
next to the same preview fetched directly?

``python -m loadtests.bench_set_pieces [--changes 20] [--pause-ms 1000]`` starts the whole
platform on loopback with its gateway on HTTPS (a local CA; Chromium trusts its key) serving the
built studio (``make web``), opens a canvas of one Scene whose set piece has a colour parameter
in Debian's Chromium (headless), selects the scene, and picks ``--changes`` colours, one after
the other, with the customizer's colour picker (``<input type=color>``, as a person's pick
reaches the page: an ``input`` event). For each, from the page's own clock
(``performance.now()``):

- **studio**: from the picker's ``input`` event to the ``load`` event of the preview
  ``<img alt="Set piece preview">`` with its new ``src``: the whole path, the studio's debounce
  (250 ms) included. Split by the preview request's Resource Timing into *waiting* (the input to
  the request's start: the debounce, and the parameters when the source is new), *request*
  (its start to its response's end) and *to screen* (the response's end to the image's load:
  the blob, its object URL, React and the image's decode).
- **baseline**: the same preview (same model, values and size) fetched directly by HTTP,
  ``POST /v1/render/preview`` with an API key from Python, request to last byte.

The two are interleaved (one baseline fetch, then one pick), each with a model of its own
(a salted comment), and every colour is new: both miss the render cache every time. Between
picks the page rests ``--pause-ms`` once the preview has shown, as a person looks at it; the
studio starts its full render (PNG, GLB, 3MF, STL) 500 ms after a preview settles, so those
renders run beside the next picks, as they do for a person. p50 and p95 of each; the ratio
studio / baseline of the p50s. Everything stays on 127.0.0.1 and is stopped at the end, also on
Ctrl-C. About two minutes on a 2-core machine.
"""

from __future__ import annotations

import argparse
import asyncio
import colorsys
import os
import secrets
import shutil
import ssl
import statistics
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Final

from playwright.async_api import Page, Response, async_playwright
from playwright.async_api import TimeoutError as PlaywrightTimeout

from libs.launcher import Platform
from loadtests.bench_studio import p50_p95
from loadtests.common import cell, print_notes, print_result, ratio
from loadtests.studio_platform import studio_platform
from tests.e2e.browser import (
    STUDIO_DIST,
    LocalCertificate,
    StudioApi,
    create_studio_user,
    launch_chromium,
    open_studio_page,
    origin,
    require_studio_build,
)

# The preview the studio asks for (web/src/setpiece/useSetPiece.ts PREVIEW_VIEW).
PREVIEW_VIEW: Final = {"width": 480, "height": 360}
PREVIEW_PATH: Final = "/v1/render/preview"
PAGE_TIMEOUT_MS: Final = 30_000
MAX_CHANGES: Final = 100
SCENE: Final = "set"
PARAMETER: Final = "wall"


def set_piece(tag: str) -> str:
    """A small set whose wall colour is the Customizer parameter: a floor and a back wall.
    ``tag`` makes it a run's own, so no earlier run's preview is in the cache."""
    return (
        f"// bench {tag}\n"
        "/* [Colours] */\n"
        "// The wall's colour\n"
        f'{PARAMETER} = "#808080";\n'
        'floor = "#3c6e47";\n'
        "color(floor) cube([40, 40, 1]);\n"
        f"color({PARAMETER}) translate([0, 38, 0]) cube([40, 2, 20]);\n"
    )


def colours(count: int) -> list[str]:
    """``count`` saturated colours, each new to the render cache (a random start hue)."""
    start = secrets.randbelow(360) / 360
    picked = []
    for index in range(count):
        r, g, b = colorsys.hsv_to_rgb((start + index / count) % 1.0, 0.8, 0.85)
        picked.append(f"#{round(r * 255):02x}{round(g * 255):02x}{round(b * 255):02x}")
    return picked


# Installed before the page's own scripts: when a colour picker's value changes, and when the
# preview <img> loads (load does not bubble; a capturing listener hears it).
_RECORDER: Final = """
(() => {
  performance.setResourceTimingBufferSize(100000);
  const log = { inputs: [], shown: [] };
  Object.defineProperty(window, "__benchPreview", { value: log });
  document.addEventListener("input", (event) => {
    const target = event.target;
    if (target instanceof HTMLInputElement && target.type === "color")
      log.inputs.push(performance.now());
  }, true);
  document.addEventListener("load", (event) => {
    const target = event.target;
    if (target instanceof HTMLImageElement && target.alt === "Set piece preview")
      log.shown.push({ src: target.currentSrc || target.src, at: performance.now() });
  }, true);
})();
"""
# The last pick, the last preview shown, and the preview request between them.
_LAST_PICK: Final = """(path) => {
  const log = window.__benchPreview;
  const input = log.inputs[log.inputs.length - 1];
  const shown = log.shown[log.shown.length - 1];
  const requests = performance.getEntriesByType("resource").filter(
    (entry) => entry.name.endsWith(path) && entry.startTime >= input
      && entry.responseEnd <= shown.at);
  const request = requests[requests.length - 1] ?? null;
  return { input, shown: shown.at, src: shown.src,
           start: request && request.startTime, end: request && request.responseEnd,
           requests: requests.length };
}"""


@dataclass(frozen=True)
class Pick:
    """One colour picked in the page, in ms from the pick (the picker's input event)."""

    total: float
    waiting: float | None
    request: float | None
    to_screen: float | None
    requests: int
    cache: str


class PartFailed(Exception):
    """The run could not measure what it is for; its message says why."""


async def open_set_piece(page: Page, site: str, canvas_id: str) -> None:
    """The canvas opened, its scene selected, its first preview on screen."""
    await page.goto(f"{site}/canvases/{canvas_id}")
    try:
        await (
            page.get_by_test_id(f"rf__node-{SCENE}")
            .locator(".sg-node__header")
            .click(timeout=PAGE_TIMEOUT_MS)
        )
        await page.wait_for_function(
            "() => window.__benchPreview.shown.length > 0", timeout=PAGE_TIMEOUT_MS
        )
    except PlaywrightTimeout:
        raise PartFailed(
            "the scene's set piece never showed its preview (no <img alt='Set piece preview'>"
            f" loaded within {PAGE_TIMEOUT_MS / 1000:.0f} s): is the set-piece workbench built?"
        ) from None


async def pick(page: Page, colour: str, caches: list[str]) -> Pick:
    """Pick ``colour`` with the picker; when its preview is on screen, how long each step took."""
    shown_before = await page.evaluate("() => window.__benchPreview.shown.length")
    picked_before = len(caches)
    picker = page.get_by_role("region", name="Set piece").get_by_label(f"{PARAMETER} colour")
    await picker.fill(colour)
    try:
        await page.wait_for_function(
            "(n) => window.__benchPreview.shown.length > n",
            arg=shown_before,
            timeout=PAGE_TIMEOUT_MS,
        )
    except PlaywrightTimeout:
        raise PartFailed(f"the preview of {colour} never showed") from None
    found = await page.evaluate(_LAST_PICK, PREVIEW_PATH)
    timed = found["start"] is not None
    return Pick(
        total=round(found["shown"] - found["input"], 1),
        waiting=round(found["start"] - found["input"], 1) if timed else None,
        request=round(found["end"] - found["start"], 1) if timed else None,
        to_screen=round(found["shown"] - found["end"], 1) if timed else None,
        requests=found["requests"],
        cache=",".join(caches[picked_before:]) or "?",
    )


async def fetch_preview(api: StudioApi, source: str, colour: str) -> tuple[float, str]:
    """The preview fetched directly: (ms from request to its last byte, X-Render-Cache)."""
    spec = {"source": source, "parameters": {PARAMETER: colour}, "view": PREVIEW_VIEW}
    started = time.perf_counter()
    async with api.http.post(PREVIEW_PATH, json=spec) as response:
        body = await response.read()
        if response.status != 200 or not body.startswith(b"\x89PNG"):
            raise PartFailed(f"POST {PREVIEW_PATH}: {response.status} {body[:200]!r}")
        cache = response.headers.get("X-Render-Cache", "?")
    return round((time.perf_counter() - started) * 1000, 1), cache


def summary(values: list[float | None]) -> dict[str, float | None]:
    p50, p95 = p50_p95(values)
    known = [v for v in values if v is not None]
    return {
        "p50": p50,
        "p95": p95,
        "min": min(known, default=None),
        "max": max(known, default=None),
        "mean": round(statistics.fmean(known), 1) if known else None,
    }


def print_table(studio: list[Pick], baseline: list[float]) -> dict[str, Any]:
    rows = {
        "studio: pick -> preview shown": summary([p.total for p in studio]),
        "  waiting (debounce)": summary([p.waiting for p in studio]),
        "  request": summary([p.request for p in studio]),
        "  response -> shown": summary([p.to_screen for p in studio]),
        "baseline: HTTP POST preview": summary(list(baseline)),
    }
    print(f"\npreview of a picked colour, {len(studio)} picks each, ms")
    print(f"{'':32}{'p50':>9}{'p95':>9}{'min':>9}{'max':>9}{'mean':>9}")
    for name, row in rows.items():
        print(f"{name:32}" + "".join(f"{cell(row[k], '.0f'):>9}" for k in row))
    studio_p50 = rows["studio: pick -> preview shown"]["p50"]
    baseline_p50 = rows["baseline: HTTP POST preview"]["p50"]
    scale = ratio(studio_p50, baseline_p50)
    extra = None if studio_p50 is None or baseline_p50 is None else studio_p50 - baseline_p50
    print(
        f"studio / baseline p50: {cell(scale, '.2f')}x; the studio adds {cell(extra, '.0f')} ms"
        " at p50 (its 250 ms debounce included)"
    )
    return {"rows": rows, "ratio_p50": scale, "added_p50_ms": extra}


async def run(
    system: Platform, certificate: LocalCertificate, args: argparse.Namespace
) -> dict[str, Any]:
    user = create_studio_user(system)
    site = origin(system.services["gateway"])
    client_tls: ssl.SSLContext = certificate.client_context()
    studio_source, baseline_source = (
        set_piece(secrets.token_hex(4)),
        set_piece(secrets.token_hex(4)),
    )
    picks = colours(args.changes)
    async with (
        async_playwright() as playwright,
        StudioApi.open(system.gateway_url, user.api_key, client_tls) as api,
    ):
        node = {
            "id": SCENE,
            "type": "scene",
            "position": {"x": 0, "y": 0},
            "properties": {"location": "Bench", "set_piece": {"source": studio_source}},
        }
        canvas = await api.canvas_with_graph("Set piece bench", {"nodes": [node], "edges": []})
        browser = await launch_chromium(playwright, certificate)
        try:
            async with open_studio_page(browser, site) as studio:
                await studio.sign_in_by_api(user.name, user.password, client_tls)
                await studio.context.add_init_script(_RECORDER)
                caches: list[str] = []

                def heard(response: Response) -> None:
                    if response.url.endswith(PREVIEW_PATH) and response.request.method == "POST":
                        caches.append(response.headers.get("x-render-cache", "?"))

                studio.page.on("response", heard)
                await open_set_piece(studio.page, site, canvas["id"])
                # The baseline's first call is as warm as the page's: a first preview made.
                await fetch_preview(api, baseline_source, "#808080")
                measured: list[Pick] = []
                direct: list[float] = []
                direct_caches: list[str] = []
                for colour in picks:
                    took, cache = await fetch_preview(api, baseline_source, colour)
                    direct.append(took)
                    direct_caches.append(cache)
                    measured.append(await pick(studio.page, colour, caches))
                    await asyncio.sleep(args.pause_ms / 1000)
                if studio.csp.violations:
                    raise PartFailed(f"CSP violation: {studio.csp.violations[0]}")
        finally:
            await browser.close()
    figures = print_table(measured, direct)
    misses = sum(p.cache == "miss" for p in measured), sum(c == "miss" for c in direct_caches)
    odd = [p for p in measured if p.requests != 1]
    print(
        f"render cache misses: studio {misses[0]}/{len(measured)}, baseline "
        f"{misses[1]}/{len(direct)}; picks with other than one preview request: {len(odd)}"
    )
    return {
        **figures,
        "picks": [asdict(p) for p in measured],
        "baseline_ms": direct,
        "cache_misses": {"studio": misses[0], "baseline": misses[1]},
        "pause_ms": args.pause_ms,
    }


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m loadtests.bench_set_pieces")
    parser.add_argument("--changes", type=int, default=20, help="colours picked (and fetched)")
    parser.add_argument(
        "--pause-ms", type=int, default=1000, help="rest after each preview shows, ms"
    )
    parser.add_argument(
        "--studio-dir", type=Path, default=STUDIO_DIST, help="the build to measure (web/dist)"
    )
    args = parser.parse_args()
    if not 2 <= args.changes <= MAX_CHANGES or not 0 <= args.pause_ms <= 10_000:
        parser.error(f"--changes must be 2-{MAX_CHANGES} and --pause-ms 0-10000")
    try:
        studio_dist = require_studio_build(args.studio_dir.resolve())
    except FileNotFoundError as missing:
        raise SystemExit(str(missing)) from None
    if not Path("/usr/bin/chromium").exists():
        raise SystemExit("Chromium (/usr/bin/chromium) is installed by `make bootstrap`")

    failure = None
    with studio_platform("shotgraph-bench-set-pieces-", studio_dist) as (_, system, certificate):
        try:
            results = asyncio.run(run(system, certificate, args))
        except PartFailed as failed:
            failure, results = str(failed), {}
            print(f"\nnot measured: {failed}", flush=True)
    print_notes(
        [
            f"cpus={os.cpu_count()}; load average {os.getloadavg()[0]:.1f}; Chromium "
            f"{shutil.which('chromium')}, headless; the browser, the platform and OpenSCAD share "
            "the cores: compare ratios between runs, not absolute times.",
            "The studio's figure includes its 250 ms debounce by design; the baseline has none. "
            f"Each preview is {PREVIEW_VIEW['width']}x{PREVIEW_VIEW['height']} px.",
        ]
    )
    print_result({"set_pieces": results, "failure": failure})
    if failure is not None:
        print(f"not measured: {failure}", file=sys.stderr)
        raise SystemExit(1)


if __name__ == "__main__":
    main()
