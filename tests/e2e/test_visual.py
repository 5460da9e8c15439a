"""Visual regression: the studio's main screens (sign-in, the canvas list, a canvas with a few
nodes, the API keys) at desktop (1280x800), tablet (768x1024) and phone (390x844) sizes,
each compared with its committed baseline in ``tests/e2e/baselines/`` (``visual.py`` holds
the comparison and its tolerance). A control test shows a one-pixel-wide line is caught.

What changes from run to run is frozen: the data is the test's own (fixed names and graph),
the server's answers keep their shape but have their timestamps, the user's generated name
and the key's random prefix replaced by fixed ones (``freeze``), the browser's locale and time
zone are fixed, the caret is hidden and animations are stopped, and every screen waits for
the bundled font and (signed in) the live connection before it is taken. Chromium, as the
other browser tests: the baselines are Chromium's drawing.

Make the baselines again after a deliberate change of the look:
``SHOTGRAPH_UPDATE_BASELINES=1 .venv/bin/pytest -p no:cacheprovider tests/e2e/test_visual.py``.
"""

# The fixtures are imported from browser.py by name, which is how pytest finds them; a test's
# parameter of the same name is that fixture, not a redefinition.
# ruff: noqa: F811

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, Final

import pytest
import pytest_asyncio
import pyvips
from playwright.async_api import Browser, Page, Route, expect

from libs.launcher import Platform, ServiceProcess
from tests.e2e import visual
from tests.e2e.browser import (  # noqa: F401
    IN_MODULE_LOOP,
    NEEDS_CHROMIUM,
    UI_TIMEOUT_MS,
    CspRecorder,
    LocalCertificate,
    StudioApi,
    StudioPage,
    StudioUser,
    certificate,
    chromium,
    create_studio_user,
    https_gateway,
    open_studio_page,
    origin,
    studio_dist,
)

pytestmark = [NEEDS_CHROMIUM, IN_MODULE_LOOP]


@dataclass(frozen=True)
class Viewport:
    width: int
    height: int
    touch: bool  # a tablet or phone: touch and the mobile viewport rules


VIEWPORTS: Final = {
    "desktop": Viewport(1280, 800, touch=False),
    "tablet": Viewport(768, 1024, touch=True),
    "phone": Viewport(390, 844, touch=True),
}
SCREENS: Final = ("signin", "canvases", "canvas", "keys")

# The stand-ins for what the server makes anew on every run.
FROZEN_TIME: Final = "2026-01-15T09:30:00Z"
FROZEN_USER: Final = "ada.lovelace"
FROZEN_PREFIX: Final = "sgk_7f3a9c"
# The answers a screen draws from, by path; others (the live connection, its stream token,
# saves) pass untouched.
FROZEN_PATHS: Final = re.compile(r"/v1/(auth/session|keys|canvases)(/[^/?]+)?(\?.*)?")

CANVAS_NAMES: Final = ("Lighthouse, opening shot", "Harbour at dusk", "Storm sequence")
# A canvas with a few nodes: a scene and a character feeding a shot.
GRAPH: Final[dict[str, list[dict[str, Any]]]] = {
    "nodes": [
        {
            "id": "scene",
            "type": "scene",
            "position": {"x": 0, "y": 0},
            "properties": {"location": "a lighthouse", "time_of_day": "dusk"},
        },
        {
            "id": "keeper",
            "type": "character",
            "position": {"x": 0, "y": 220},
            "properties": {"name": "The keeper", "description": "An old keeper in oilskins."},
        },
        {
            "id": "shot",
            "type": "shot",
            "position": {"x": 360, "y": 110},
            "properties": {"name": "The climb", "framing": "wide", "duration_s": 4},
        },
    ],
    "edges": [
        {"source": "scene", "source_port": "scene", "target": "shot", "target_port": "scene"},
        {
            "source": "keeper",
            "source_port": "character",
            "target": "shot",
            "target_port": "characters",
        },
    ],
}


def freeze(value: Any, volatile: Mapping[str, str]) -> Any:
    """``value`` (a JSON answer) with its timestamps (``*_at``) at FROZEN_TIME, a key's
    ``prefix`` at FROZEN_PREFIX and each string of ``volatile`` replaced by its stand-in."""
    if isinstance(value, dict):
        frozen: dict[str, Any] = {}
        for key, item in value.items():
            if key.endswith("_at") and isinstance(item, str):
                frozen[key] = FROZEN_TIME
            elif key == "prefix" and isinstance(item, str):
                frozen[key] = FROZEN_PREFIX
            else:
                frozen[key] = freeze(item, volatile)
        return frozen
    if isinstance(value, list):
        return [freeze(item, volatile) for item in value]
    if isinstance(value, str):
        return volatile.get(value, value)
    return value


@dataclass(frozen=True)
class Studio:
    """The module's user, their canvas with nodes, where the studio is, and the cookies of
    one session of the user's, which every signed-in screen's context starts with (a sign-in
    checks the password's Argon2 hash, slow on purpose: once is enough)."""

    user: StudioUser
    canvas_id: str
    origin: str
    cookies: list[Any]  # as Playwright's context.cookies() lists them


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def studio_setup(
    platform: Platform,
    https_gateway: ServiceProcess,
    certificate: LocalCertificate,
    chromium: Browser,
) -> Studio:
    user = create_studio_user(platform)
    async with StudioApi.open(platform.gateway_url, user.api_key) as api:
        canvas_id = ""
        for name in CANVAS_NAMES:  # the newest is listed first: the one with nodes
            canvas = await api.create_canvas(name)
            canvas_id = canvas["id"]
        await api.save_graph(canvas_id, GRAPH, base_version=canvas["version"])
    async with open_studio_page(chromium, origin(https_gateway)) as page:
        await page.sign_in_by_api(user.name, user.password, certificate.client_context())
        cookies: list[Any] = list(await page.context.cookies())
    return Studio(user, canvas_id, origin(https_gateway), cookies)


@asynccontextmanager
async def screen_page(
    browser: Browser, studio: Studio, viewport: Viewport, *, signed_in: bool
) -> AsyncIterator[StudioPage]:
    """A fresh context at ``viewport`` with the frozen answers and a CSP recorder (the test
    fails on a violation), signed in or not; one page in it."""
    context = await browser.new_context(
        viewport={"width": viewport.width, "height": viewport.height},
        device_scale_factor=1,
        has_touch=viewport.touch,
        is_mobile=viewport.touch,
        locale="en-GB",
        timezone_id="UTC",
        reduced_motion="reduce",
        # For the answers ``freeze`` fetches itself: Playwright fetches them from Node, whose
        # TLS does not know the run's CA (Chromium trusts the gateway's key either way).
        ignore_https_errors=True,
    )
    try:
        recorder = CspRecorder()
        await recorder.attach(context)
        volatile = {studio.user.name: FROZEN_USER}

        async def frozen(route: Route) -> None:
            if route.request.method != "GET":
                await route.fallback()
                return
            answer = await route.fetch()
            if "json" not in answer.headers.get("content-type", ""):
                await route.fulfill(response=answer)
                return
            await route.fulfill(response=answer, json=freeze(await answer.json(), volatile))

        await context.route(lambda url: FROZEN_PATHS.search(url) is not None, frozen)
        if signed_in:
            await context.add_cookies(studio.cookies)
        yield StudioPage(await context.new_page(), studio.origin, recorder)
        assert not recorder.violations, recorder.report()
    finally:
        await context.close()


_FONT_LOADED: Final = """async () => {
  await document.fonts.ready;
  return [...document.fonts].some(
    (face) => face.family.replaceAll('"', "") === "Inter Variable" && face.status === "loaded");
}"""


_RELAYOUT_SELECTS: Final = """() => {
  for (const select of document.querySelectorAll("select")) {
    select.style.display = "none";
    void select.offsetHeight;
    select.style.removeProperty("display");
  }
}"""


async def settle(page: Page) -> None:
    """Until the page is drawn as it will stay: the bundled font in, the live connection up
    (signed in), then two frames for the layout to settle."""
    assert await page.evaluate(_FONT_LOADED), "the bundled font (Inter Variable) is not in use"
    badge = page.locator("[data-live-state]")
    if await badge.count() > 0:
        await expect(badge).to_have_attribute("data-live-state", "live", timeout=UI_TIMEOUT_MS)
    # A <select> laid out before the font came may keep the fallback's line metrics (its text
    # a pixel off, now and then): each is laid out afresh, with the font in.
    await page.evaluate(_RELAYOUT_SELECTS)
    await page.evaluate(
        "() => new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(done)))"
    )


async def show(page: StudioPage, screen: str, studio: Studio) -> None:
    """Open ``screen`` and wait until what it shows is there."""
    p = page.page
    if screen == "signin":
        await page.goto("/signin")
        await expect(p.get_by_role("button", name="Sign in")).to_be_visible(timeout=UI_TIMEOUT_MS)
    elif screen == "canvases":
        await page.goto("/")
        for name in CANVAS_NAMES:
            await expect(p.get_by_text(name, exact=True)).to_be_visible(timeout=UI_TIMEOUT_MS)
    elif screen == "canvas":
        await page.goto(f"/canvases/{studio.canvas_id}")
        for node in GRAPH["nodes"]:
            await expect(p.get_by_test_id(f"rf__node-{node['id']}")).to_be_visible(
                timeout=UI_TIMEOUT_MS
            )
        await expect(p.get_by_role("status", name="Save state")).to_have_attribute(
            "data-save-state", "saved", timeout=UI_TIMEOUT_MS
        )
    elif screen == "keys":
        await page.goto("/keys")
        await expect(p.get_by_text(FROZEN_PREFIX, exact=False)).to_be_visible(timeout=UI_TIMEOUT_MS)
    else:
        raise ValueError(screen)
    await settle(p)


async def screenshot(page: Page) -> bytes:
    return await page.screenshot(animations="disabled", caret="hide", scale="css")


@pytest.mark.parametrize("size", list(VIEWPORTS))
@pytest.mark.parametrize("screen", SCREENS)
async def test_the_screen_matches_its_baseline(
    chromium: Browser, studio_setup: Studio, screen: str, size: str
) -> None:
    viewport = VIEWPORTS[size]
    async with screen_page(chromium, studio_setup, viewport, signed_in=screen != "signin") as page:
        await show(page, screen, studio_setup)
        visual.check_screen(f"{screen}-{size}", await screenshot(page.page))


async def test_a_one_pixel_wide_line_is_caught(chromium: Browser, studio_setup: Studio) -> None:
    """The control: the sign-in screen with a 1-px line drawn down it fails its baseline, and
    the diff image marks that line and nothing else."""
    name, column = "signin-desktop", 640
    baseline = visual.baseline_path(name)
    if visual.updating():
        pytest.skip("baselines are being written")
    assert baseline.is_file(), f"no baseline {baseline}: make it with `{visual.UPDATE_COMMAND}`"
    async with screen_page(chromium, studio_setup, VIEWPORTS["desktop"], signed_in=False) as page:
        await show(page, "signin", studio_setup)
        # Styles set through the CSSOM, which the Content-Security-Policy allows.
        await page.page.evaluate(
            """(column) => {
              const line = document.createElement("div");
              Object.assign(line.style, {
                position: "fixed", left: `${column}px`, top: "0", width: "1px",
                height: "100%", background: "#1d2129", zIndex: "2147483647",
              });
              document.body.append(line);
            }""",
            column,
        )
        shot = await screenshot(page.page)

    comparison = visual.compare(f"control-{name}", shot, baseline, visual.TOLERANCE)
    assert not comparison.matches, str(comparison)
    height = VIEWPORTS["desktop"].height
    # The line differs from what is under it almost everywhere (not where it crosses ink).
    assert height // 2 <= comparison.differing <= height, str(comparison)
    diff = pyvips.Image.new_from_file(str(visual.RESULTS / f"control-{name}-diff.png"))
    magenta = (diff[0] == 255) & (diff[1] == 0) & (diff[2] == 255)
    in_line = magenta.crop(column, 0, 1, height).avg() / 255 * height
    assert round(in_line) == comparison.differing, "every differing pixel is on the line"


async def test_a_missing_baseline_fails_saying_how_to_make_it() -> None:
    if visual.updating():
        pytest.skip("baselines are being written")
    picture = pyvips.Image.black(4, 4, bands=3).cast("uchar").pngsave_buffer()
    with pytest.raises(AssertionError, match=visual.UPDATE_VARIABLE) as failed:
        visual.check_screen("no-such-screen", picture)
    assert "no baseline" in str(failed.value)
