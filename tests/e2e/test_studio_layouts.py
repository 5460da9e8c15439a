"""The studio on a tablet (768x1024) and a phone (390x844) with a touch screen, and its
accessibility everywhere: in Chromium over HTTPS against the live platform.

- The phone's header folds its links into a menu; the canvas page's side panels fold into
  drawers (tablet) or sheets shown one at a time (phone) that their toggles open.
- Real touch gestures, sent through CDP's ``Input.dispatchTouchEvent`` (Playwright's
  touchscreen only taps): one finger pans the canvas, two pinch-zoom it, read back from React
  Flow's viewport transform; a tap on the palette adds a node where it can be seen.
- Every page, in every state listed in ``VISITS`` (add one there: a path and how to reach the
  state, a dialog open, say), at desktop, tablet and phone sizes: no horizontal scrolling;
  every control at least 44x44 CSS px under a finger; at desktop and phone sizes, axe-core
  (``web/node_modules/axe-core``, every rule it runs by default, none disabled) finds no
  serious or critical violation; at desktop size, Tab reaches every control and shows focus.
  A control test spoils a page on purpose and sees every one of these checks catch it.

axe is put into the page with ``page.evaluate`` of its file's text, under the page's real
Content-Security-Policy: an evaluation from the driver (CDP's ``Runtime.evaluate``) is not a
script the page loads, so the policy, which forbids inline scripts, does not govern it. A
``<script>`` tag would be refused, and a ``bypass_csp`` context would check a page the edge
never serves (inline styles and scripts allowed). Every context here still fails its test on
any CSP violation, so the check itself is seen to break nothing.
"""

# The fixtures are imported from browser.py by name, which is how pytest finds them; a test's
# parameter of the same name is that fixture, not a redefinition.
# ruff: noqa: F811

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import pytest
import pytest_asyncio
from playwright.async_api import Browser, CDPSession, Locator, Page, expect

from libs.launcher import Platform, ServiceProcess
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
    origin,
    studio_dist,
)

pytestmark = [NEEDS_CHROMIUM, IN_MODULE_LOOP]

AXE_SCRIPT: Final = Path(__file__).resolve().parents[2] / "web/node_modules/axe-core/axe.min.js"
# The impacts that fail the check; the others are printed.
FAILING_IMPACTS: Final = frozenset({"serious", "critical"})
# A fingertip's target (WCAG 2.5.5), in CSS px.
TOUCH_TARGET: Final = 44


@dataclass(frozen=True)
class Device:
    name: str
    width: int
    height: int
    touch: bool

    def context_options(self) -> dict[str, Any]:
        return {
            "viewport": {"width": self.width, "height": self.height},
            "has_touch": self.touch,
            "is_mobile": self.touch,
        }


DESKTOP: Final = Device("desktop", 1280, 800, touch=False)
TABLET: Final = Device("tablet", 768, 1024, touch=True)
PHONE: Final = Device("phone", 390, 844, touch=True)

# Two nodes far apart: fitted into view they sit in opposite corners, leaving the middle of the
# canvas empty pane for the gestures.
GRAPH: Final = {
    "nodes": [
        {
            "id": "ada",
            "type": "character",
            "position": {"x": 0, "y": 0},
            "properties": {"name": "Ada"},
        },
        {
            "id": "harbour",
            "type": "scene",
            "position": {"x": 720, "y": 560},
            "properties": {"location": "Harbour"},
        },
    ],
    "edges": [],
}


# --- Contexts of a device ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def user(platform: Platform) -> StudioUser:
    return create_studio_user(platform)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def looked_at(platform: Platform, user: StudioUser) -> str:
    """The canvas the pages' checks open (and do not change): its id."""
    return await new_canvas(platform, user, "Harbour at dusk")


async def new_canvas(platform: Platform, user: StudioUser, name: str) -> str:
    """A canvas of the user's holding GRAPH: its id."""
    async with StudioApi.open(platform.gateway_url, user.api_key) as api:
        return str((await api.canvas_with_graph(name, GRAPH))["id"])


@asynccontextmanager
async def device_page(
    browser: Browser,
    gateway: ServiceProcess,
    device: Device,
    *,
    signed_in: tuple[StudioUser, LocalCertificate] | None = None,
) -> AsyncIterator[StudioPage]:
    """A page of the studio in a fresh context the size of ``device`` (a touch screen when it
    has one), signed in as a user if given; AssertionError afterwards on any CSP violation."""
    context = await browser.new_context(**device.context_options())
    try:
        recorder = CspRecorder()
        await recorder.attach(context)
        studio = StudioPage(await context.new_page(), origin(gateway), recorder)
        if signed_in is not None:
            person, certificate = signed_in
            await studio.sign_in_by_api(person.name, person.password, certificate.client_context())
        yield studio
        assert not recorder.violations, recorder.report()
    finally:
        await context.close()


# --- What a page measures -------------------------------------------------------------------

# A mobile browser shrinks a page wider than the screen to fit it, widening the window it lays
# the page out in: so the window is held to the screen's width as well as the page to the window.
_OVERFLOW: Final = """(screenWidth) => {
  const wide = [];
  const root = document.documentElement;
  if (window.innerWidth > screenWidth) {
    wide.push(`the page: laid out ${window.innerWidth} px wide on a ${screenWidth} px screen`);
  }
  if (root.scrollWidth > window.innerWidth) {
    wide.push(`the page: ${root.scrollWidth} px in a ${window.innerWidth} px window`);
  }
  // The shell scrolls its pages inside <main>: a page wider than it scrolls sideways there.
  for (const main of document.querySelectorAll("main")) {
    if (main.scrollWidth > main.clientWidth) {
      wide.push(`<main class="${main.className}">: ${main.scrollWidth} px in ${main.clientWidth}`);
    }
  }
  return wide;
}"""

# Every control shown, with its box; a checkbox is measured by its label (which holds it and
# takes its taps), so is a file input (hidden; its label is the button a person taps), and a
# link inside running text is exempt (WCAG 2.5.5's inline exception).
_SMALL_TARGETS: Final = """(minimum) => {
  const small = [];
  const controls = document.querySelectorAll(
    "button, select, input, textarea, a[href], summary, [role=button]");
  for (const control of controls) {
    if (control.closest("p") !== null && control.matches("a")) continue;
    const target = control.matches("input[type=checkbox], input[type=radio]")
      ? (control.closest("label") ?? control)
      : control.matches("input[type=file]") ? (control.labels?.[0] ?? control) : control;
    const box = target.getBoundingClientRect();
    if (box.width === 0 && box.height === 0) continue;  // not shown
    if (box.width < minimum - 0.5 || box.height < minimum - 0.5) {
      const name = (control.getAttribute("aria-label") || control.labels?.[0]?.textContent
        || control.textContent || "").trim().slice(0, 40);
      const size = `${box.width.toFixed(1)}x${box.height.toFixed(1)}`;
      small.push(`${control.tagName.toLowerCase()} "${name}": ${size}`);
    }
  }
  return small;
}"""

# The controls the keyboard should reach (those shown and enabled; only the open modal
# dialog's while one is open), each marked with its index; and, from here on, every element
# that takes focus, with whether it shows it (an outline on it, or on its first child: a canvas
# node draws its focus on its card).
_START_FOCUS_WALK: Final = """() => {
  const named = (element) => {
    const name = element.getAttribute("aria-label") || element.labels?.[0]?.textContent
      || element.textContent || "";
    return `${element.tagName.toLowerCase()} "${name.trim().slice(0, 40)}"`;
  };
  const shown = (element) => !element.disabled && element.tabIndex >= 0
    && element.getClientRects().length > 0 && getComputedStyle(element).visibility !== "hidden";
  const outlined = (element) => {
    const style = getComputedStyle(element);
    return style.outlineStyle !== "none" && parseFloat(style.outlineWidth) >= 1;
  };
  for (const marked of document.querySelectorAll("[data-focus-walk]")) {
    delete marked.dataset.focusWalk;
  }
  const scope = document.querySelector("dialog:modal") ?? document;
  const selector = "a[href], button, input, select, textarea, [tabindex]";
  const controls = [...scope.querySelectorAll(selector)].filter(shown);
  controls.forEach((element, index) => { element.dataset.focusWalk = String(index); });
  window.__focusWalk = [];
  if (!window.__focusWalkHeard) {  // once a document: the studio's own routes keep it
    window.__focusWalkHeard = true;
    document.addEventListener("focusin", ({ target }) => {
      window.__focusWalk.push({
        index: target.dataset?.focusWalk ?? null,
        name: named(target),
        shown: [target, target.firstElementChild].some((e) => e !== null && outlined(e)),
      });
    });
  }
  return controls.map(named);
}"""


async def walk_with_tab(page: Page) -> list[str]:
    """Tab once round the page (from wherever focus is): the controls the keyboard did not
    reach, and those it reached without showing focus."""
    controls: list[str] = await page.evaluate(_START_FOCUS_WALK)
    # Enough presses for every control, a stop outside the page, and the way round again.
    for _ in range(len(controls) + 3):
        await page.keyboard.press("Tab")
    walk: list[dict[str, Any]] = await page.evaluate("() => window.__focusWalk")
    reached = {step["index"] for step in walk if step["index"] is not None}
    missed = [
        f"not reached by Tab: {name}"
        for index, name in enumerate(controls)
        if str(index) not in reached
    ]
    unseen = {f"focus not shown: {step['name']}" for step in walk if not step["shown"]}
    return missed + sorted(unseen)


_AXE_RUN: Final = """async () => {
  // Every rule axe runs by default; only the report is narrowed to what failed.
  const results = await window.axe.run(document, { resultTypes: ["violations"] });
  return results.violations.map((violation) => ({
    id: violation.id,
    impact: violation.impact,
    help: violation.help,
    nodes: violation.nodes.map((node) => ({
      target: node.target.join(" "),
      summary: node.failureSummary,
    })),
  }));
}"""


async def axe_violations(page: Page) -> list[dict[str, Any]]:
    """What axe-core finds wrong with the page as it is now (put into the page first if this
    document does not have it yet)."""
    if not await page.evaluate("() => typeof window.axe === 'object'"):
        # The file's text as a program (its value discarded: not a function to call).
        await page.evaluate(AXE_SCRIPT.read_text() + "\n;true")
    return list(await page.evaluate(_AXE_RUN))


def describe_violations(where: str, violations: Sequence[dict[str, Any]]) -> list[str]:
    lines = []
    for violation in violations:
        lines.append(f"{where}: [{violation['impact']}] {violation['id']}: {violation['help']}")
        lines += [f"    {node['target']}: {node['summary']}" for node in violation["nodes"]]
    return lines


async def viewport_transform(page: Page) -> tuple[float, float, float]:
    """React Flow's viewport: its translation (x, y) and zoom, from the transform it sets."""
    transform = await page.locator(".react-flow__viewport").evaluate(
        "(element) => element.style.transform"
    )
    match = re.fullmatch(r"translate\((-?[\d.]+)px, (-?[\d.]+)px\) scale\(([\d.]+)\)", transform)
    assert match is not None, transform
    return float(match[1]), float(match[2]), float(match[3])


Point = tuple[float, float]


async def assert_on_pane(page: Page, *points: Point) -> None:
    """Each point is empty canvas (the pane), not a node, a panel or a control."""
    for x, y in points:
        hit = await page.evaluate(
            "([x, y]) => document.elementFromPoint(x, y)?.className?.toString() ?? null", [x, y]
        )
        assert hit is not None and "react-flow__pane" in hit, (x, y, hit)


async def touch_gesture(
    cdp: CDPSession, paths: Sequence[tuple[Point, Point]], steps: int = 10
) -> None:
    """Fingers down at each path's start, moved together in ``steps`` to its end, lifted: real
    touch events, as a touch screen sends them."""

    def points(fraction: float) -> list[dict[str, float]]:
        return [
            {
                "x": start[0] + (end[0] - start[0]) * fraction,
                "y": start[1] + (end[1] - start[1]) * fraction,
                "id": finger,
            }
            for finger, (start, end) in enumerate(paths)
        ]

    await cdp.send("Input.dispatchTouchEvent", {"type": "touchStart", "touchPoints": points(0)})
    for step in range(1, steps + 1):
        await cdp.send(
            "Input.dispatchTouchEvent", {"type": "touchMove", "touchPoints": points(step / steps)}
        )
    await cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})


async def box_of(locator: Locator) -> dict[str, float]:
    box = await locator.bounding_box()
    assert box is not None, locator
    return box


def inside(inner: dict[str, float], outer: dict[str, float]) -> bool:
    return (
        inner["x"] >= outer["x"] - 0.5
        and inner["y"] >= outer["y"] - 0.5
        and inner["x"] + inner["width"] <= outer["x"] + outer["width"] + 0.5
        and inner["y"] + inner["height"] <= outer["y"] + outer["height"] + 0.5
    )


# --- The pages --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Visit:
    """One page in one state: where to go, and how to reach the state from there (waiting
    until it shows). Add a page or a state (a dialog open, a panel shown) as one more."""

    name: str
    path: str  # "{canvas}" stands for the id of the user's canvas
    reach: Callable[[Page], Awaitable[None]]
    signed_in: bool = True
    devices: frozenset[str] = frozenset({DESKTOP.name, TABLET.name, PHONE.name})


def heading(name: str) -> Callable[[Page], Awaitable[None]]:
    async def shown(page: Page) -> None:
        await expect(page.get_by_role("heading", name=name, exact=True)).to_be_visible(
            timeout=UI_TIMEOUT_MS
        )

    return shown


async def share_dialog(page: Page) -> None:
    await heading("Canvases")(page)
    await page.get_by_role("button", name=re.compile(r"^Share ")).first.click()
    await expect(page.get_by_role("dialog")).to_be_visible()


async def header_menu(page: Page) -> None:
    await heading("Canvases")(page)
    await page.get_by_role("button", name="Menu").click()
    await expect(page.get_by_role("link", name="API keys")).to_be_visible()


async def history_open(page: Page) -> None:
    """The canvas's History panel shown, its versions listed."""
    await expect(page.get_by_test_id("rf__node-ada")).to_be_visible(timeout=UI_TIMEOUT_MS)
    await page.get_by_role("button", name="History").click()
    await expect(page.get_by_role("list", name="Versions")).to_be_visible()


async def node_selected(page: Page) -> None:
    """A node selected, its properties showing (opened first where they are a drawer)."""
    node = page.get_by_test_id("rf__node-ada")
    await expect(node).to_be_visible(timeout=UI_TIMEOUT_MS)
    toggle = page.get_by_role("button", name="Properties")
    if await toggle.is_visible():
        await toggle.click()
    await node.locator(".sg-node__header").click()
    properties = page.get_by_role("region", name="Properties")
    await expect(properties.get_by_role("heading", name="Character")).to_be_visible()


VISITS: Final = (
    Visit("sign in", "/signin", heading("Shotgraph Studio"), signed_in=False),
    Visit(
        "invitation",
        "/invite#token=layout-check",
        heading("Accept your invitation"),
        signed_in=False,
    ),
    Visit("canvases", "/", heading("Canvases")),
    Visit("header menu", "/", header_menu, devices=frozenset({PHONE.name})),
    Visit("share dialog", "/", share_dialog),
    Visit("API keys", "/keys", heading("API keys")),
    Visit("reference images", "/uploads", heading("Reference images")),
    Visit("queue", "/queue", heading("Queue")),
    Visit("canvas", "/canvases/{canvas}", node_selected),
    Visit("canvas history", "/canvases/{canvas}", history_open),
    Visit("not found", "/no-such-page", heading("Page not found")),
)


# --- Tests ------------------------------------------------------------------------------------


async def test_the_phone_header_folds_its_links_into_a_menu(
    chromium: Browser,
    https_gateway: ServiceProcess,
    user: StudioUser,
    certificate: LocalCertificate,
) -> None:
    async with device_page(chromium, https_gateway, PHONE, signed_in=(user, certificate)) as studio:
        page = studio.page
        await studio.goto("/")
        await heading("Canvases")(page)
        menu = page.get_by_role("button", name="Menu")
        keys = page.get_by_role("link", name="API keys")
        await expect(menu).to_have_attribute("aria-expanded", "false")
        await expect(keys).to_be_hidden()
        await expect(page.get_by_role("button", name="Sign out")).to_be_hidden()

        await menu.tap()
        await expect(menu).to_have_attribute("aria-expanded", "true")
        await expect(keys).to_be_visible()
        await expect(page.get_by_role("button", name="Sign out")).to_be_visible()
        # Escape closes it, focus back on its button.
        await keys.focus()
        await page.keyboard.press("Escape")
        await expect(menu).to_have_attribute("aria-expanded", "false")
        await expect(menu).to_be_focused()
        await expect(keys).to_be_hidden()

        # A link followed closes it.
        await menu.tap()
        await keys.tap()
        await heading("API keys")(page)
        await expect(menu).to_have_attribute("aria-expanded", "false")
        await expect(keys).to_be_hidden()


@pytest.mark.parametrize("device", [TABLET, PHONE], ids=lambda device: device.name)
async def test_on_a_touch_screen_the_canvas_pans_pinches_and_folds_its_panels(
    platform: Platform,
    chromium: Browser,
    https_gateway: ServiceProcess,
    user: StudioUser,
    certificate: LocalCertificate,
    device: Device,
) -> None:
    canvas_id = await new_canvas(platform, user, f"Touch on a {device.name}")
    async with device_page(
        chromium, https_gateway, device, signed_in=(user, certificate)
    ) as studio:
        page = studio.page
        await studio.goto(f"/canvases/{canvas_id}")
        await expect(page.get_by_test_id("rf__node-harbour")).to_be_visible(timeout=UI_TIMEOUT_MS)
        palette = page.get_by_role("region", name="Node palette")
        properties = page.get_by_role("region", name="Properties")
        add = page.get_by_role("button", name="Add node")
        show_properties = page.get_by_role("button", name="Properties")
        canvas = page.locator(".sg-canvas")

        # The panels folded away: the canvas has the whole width.
        await expect(palette).to_be_hidden()
        await expect(properties).to_be_hidden()
        await expect(add).to_have_attribute("aria-expanded", "false")
        await expect(show_properties).to_have_attribute("aria-expanded", "false")
        pane = await box_of(page.locator(".react-flow__pane"))
        assert pane["width"] >= device.width - 2, pane

        # One finger drags the view along with it; the zoom stays.
        cdp = await page.context.new_cdp_session(page)
        centre = (pane["x"] + pane["width"] / 2, pane["y"] + pane["height"] / 2)
        x0, y0, zoom0 = await viewport_transform(page)
        await assert_on_pane(page, centre)
        await touch_gesture(cdp, [(centre, (centre[0] - 60, centre[1] + 80))])
        x1, y1, zoom1 = await viewport_transform(page)
        assert (round(x1 - x0), round(y1 - y0)) == (-60, 80), (x0, y0, x1, y1)
        assert zoom1 == zoom0

        # Two fingers closing to half their distance: the view zooms out by half about the
        # point between them (the canvas point under it stays); opening again zooms back in.
        def under_centre(x: float, y: float, zoom: float) -> Point:
            return ((centre[0] - pane["x"] - x) / zoom, (centre[1] - pane["y"] - y) / zoom)

        fingers = [
            ((centre[0] - 80, centre[1]), (centre[0] - 40, centre[1])),
            ((centre[0] + 80, centre[1]), (centre[0] + 40, centre[1])),
        ]
        await assert_on_pane(page, *(start for start, _ in fingers))
        await touch_gesture(cdp, fingers)
        x2, y2, zoom2 = await viewport_transform(page)
        assert zoom2 == pytest.approx(zoom1 / 2, rel=0.03), (zoom1, zoom2)
        assert under_centre(x2, y2, zoom2) == pytest.approx(under_centre(x1, y1, zoom1), abs=2)
        await touch_gesture(cdp, [(end, start) for start, end in fingers])
        _, _, zoom3 = await viewport_transform(page)
        assert zoom3 == pytest.approx(zoom1, rel=0.03), (zoom1, zoom3)
        # The page itself neither scrolled nor zoomed.
        assert await page.evaluate("() => [scrollX, scrollY, visualViewport.scale]") == [0, 0, 1]
        await cdp.detach()

        # Each toggle opens its panel.
        await add.tap()
        await expect(palette).to_be_visible()
        await expect(add).to_have_attribute("aria-expanded", "true")
        await show_properties.tap()
        await expect(properties).to_be_visible()
        await expect(show_properties).to_have_attribute("aria-expanded", "true")
        canvas_box = await box_of(canvas)
        if device is PHONE:
            # One sheet at a time, under the graph, which keeps most of the height.
            await expect(palette).to_be_hidden()
            await expect(add).to_have_attribute("aria-expanded", "false")
            assert canvas_box["height"] >= 0.35 * device.height, canvas_box
            assert (await box_of(properties))["y"] >= canvas_box["y"] + canvas_box["height"] - 1
            await add.tap()
            await expect(properties).to_be_hidden()
            await expect(palette).to_be_visible()
        else:
            # Both drawers beside the canvas, which keeps the width between them.
            await expect(palette).to_be_visible()
            assert canvas_box["width"] >= 0.4 * device.width, canvas_box
        assert await page.evaluate(_OVERFLOW, device.width) == []

        # A tap on a kind of node adds one, selected, where the canvas shows it.
        nodes = page.locator(".react-flow__node")
        await expect(nodes).to_have_count(2)
        await palette.get_by_role("button", name="Shot", exact=True).tap()
        await expect(nodes).to_have_count(3)
        added = page.locator(".react-flow__node.selected")
        await expect(added).to_have_count(1)
        await expect(added).to_contain_text("Shot")
        assert inside(await box_of(added), await box_of(canvas))

        # Closed again, the palette folds away.
        await add.tap()
        await expect(palette).to_be_hidden()
        await expect(add).to_have_attribute("aria-expanded", "false")


async def open_in_app(page: Page, path: str) -> None:
    """Go to ``path`` inside the running studio, as its links do (the router follows the
    history; no page load)."""
    await page.evaluate(
        """(path) => {
          history.pushState(null, "", path);
          window.dispatchEvent(new PopStateEvent("popstate"));
        }""",
        path,
    )


@dataclass
class Findings:
    """What the checks of one device found: failures, and axe's lesser findings."""

    problems: list[str] = field(default_factory=list)
    lesser: list[str] = field(default_factory=list)


async def check_every_visit(
    browser: Browser,
    gateway: ServiceProcess,
    device: Device,
    user: StudioUser,
    certificate: LocalCertificate,
    canvas_id: str,
) -> Findings:
    """Each visit of VISITS on ``device``, in one context (the signed-out pages first, then it
    signs in), going from page to page inside the studio where it can."""
    found = Findings()
    async with device_page(browser, gateway, device) as studio:
        page = studio.page
        loaded_as: bool | None = None  # signed in or not when the studio last loaded
        for visit in sorted(VISITS, key=lambda visit: visit.signed_in):
            if device.name not in visit.devices:
                continue
            path = visit.path.format(canvas=canvas_id)
            if loaded_as == visit.signed_in:
                await open_in_app(page, path)
            else:
                if visit.signed_in:
                    await studio.sign_in_by_api(
                        user.name, user.password, certificate.client_context()
                    )
                await studio.goto(path)
                loaded_as = visit.signed_in
            await visit.reach(page)
            where = f"{device.name} {visit.name}"
            wide = await page.evaluate(_OVERFLOW, device.width)
            found.problems += [f"{where}: scrolls sideways: {what}" for what in wide]
            if device.touch:
                small = await page.evaluate(_SMALL_TARGETS, TOUCH_TARGET)
                found.problems += [f"{where}: under {TOUCH_TARGET} px: {what}" for what in small]
            if device is DESKTOP:
                found.problems += [f"{where}: {what}" for what in await walk_with_tab(page)]
            # axe's rules see nothing at a tablet's size that the other two miss.
            if device is not TABLET:
                violations = await axe_violations(page)
                failing = [v for v in violations if v["impact"] in FAILING_IMPACTS]
                found.problems += describe_violations(where, failing)
                found.lesser += describe_violations(
                    where, [v for v in violations if v not in failing]
                )
    return found


async def test_every_page_fits_every_screen_and_axe_finds_no_serious_violation(
    chromium: Browser,
    https_gateway: ServiceProcess,
    user: StudioUser,
    looked_at: str,
    certificate: LocalCertificate,
) -> None:
    """Every visit at every size: no sideways scrolling; under a finger, no control smaller
    than 44x44; at desktop and phone sizes, no serious or critical axe violation; at desktop
    size, the Tab key reaches every control and shows where focus is. The three sizes are
    checked at once, each in its own context."""
    per_device = await asyncio.gather(
        *(
            check_every_visit(chromium, https_gateway, device, user, certificate, looked_at)
            for device in (DESKTOP, TABLET, PHONE)
        )
    )
    lesser = [line for found in per_device for line in found.lesser]
    if lesser:
        print("axe's lesser findings (not failing):\n" + "\n".join(lesser))
    problems = [line for found in per_device for line in found.problems]
    assert not problems, "\n".join(problems)


async def test_the_checks_catch_what_they_look_for(
    chromium: Browser, https_gateway: ServiceProcess
) -> None:
    """The control: a page spoiled on purpose (through the CSSOM, which the CSP allows) fails
    every check the pages above pass, so their passing means something."""
    async with device_page(chromium, https_gateway, PHONE) as studio:
        page = studio.page
        await studio.goto("/signin")
        await heading("Shotgraph Studio")(page)
        await page.evaluate(
            """() => {
              const form = document.querySelector("form");
              const add = (tag, text, style = {}) => {
                const element = document.createElement(tag);
                element.textContent = text;
                Object.assign(element.style, style);
                return element;
              };
              form.append(add("div", "Too wide", { width: "600px" }));
              // No name, and too small for a finger.
              const tiny = { minHeight: "0", padding: "0", width: "20px", height: "20px" };
              form.append(add("button", "", tiny));
              form.append(add("button", "No ring", { outline: "none" }));
              const fenced = form.appendChild(document.createElement("div"));
              fenced.inert = true;
              fenced.append(add("button", "Fenced off"));
            }"""
        )
        wide = await page.evaluate(_OVERFLOW, PHONE.width)
        assert [found.split(":")[0] for found in wide] == ["the page", '<main class="auth-page">']
        assert "on a 390 px screen" in wide[0], wide
        assert await page.evaluate(_SMALL_TARGETS, TOUCH_TARGET) == ['button "": 20.0x20.0']
        violations = await axe_violations(page)
        assert "button-name" in {v["id"] for v in violations if v["impact"] in FAILING_IMPACTS}
        assert await walk_with_tab(page) == [
            'not reached by Tab: button "Fenced off"',
            'focus not shown: button "No ring"',
        ]
