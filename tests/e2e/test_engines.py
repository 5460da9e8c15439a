"""The studio in every major engine Debian packages besides Chromium: Firefox ESR (Marionette)
and WebKitGTK (Selenium with WebKitWebDriver), both on an Xvfb display of this module's own,
against the session's HTTPS gateway. In each: the studio loads as a secure context, signs in
(the ``__Host-`` session cookie set), opens a canvas and shows its Scene node, with no
Content-Security-Policy violation reported on the way; then the Scene's coloured set piece
(the set-piece contract: region "Set piece", its preview image, the 3D viewer's
``data-viewer-state``), in WebGL where the engine has it here, else in the fallback image.

Which engine ran which check, and whether it had WebGL, is printed at the end of the run.
"""

# The fixtures are imported from browser.py by name, which is how pytest finds them; a test's
# parameter of the same name is that fixture, not a redefinition.
# ruff: noqa: F811

from __future__ import annotations

import asyncio
import json
import shutil
import threading
import time
from collections.abc import Coroutine, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, TypeVar

import pytest
import pyvips

from libs.launcher import Platform, ServiceProcess
from tests.e2e.browser import (  # noqa: F401
    SESSION_COOKIE,
    LocalCertificate,
    StudioApi,
    StudioUser,
    certificate,
    create_studio_user,
    https_gateway,
    origin,
    studio_dist,
)
from tests.e2e.engines import (
    ENGINES,
    FIREFOX,
    WEBGL_PROBE,
    WEBKIT_DRIVER,
    XVFB,
    EngineSession,
    wait_until,
    xvfb,
)

T = TypeVar("T")

INSTALLED: Final = {"firefox-esr": FIREFOX, "webkitgtk": WEBKIT_DRIVER}
pytestmark = pytest.mark.skipif(
    not Path(XVFB).exists(), reason="Xvfb is installed by `make bootstrap`"
)

# The set piece's one colour: pure red, so "red clearly dominates" is what shows it.
SET_PIECE_COLOUR: Final = "#ff0000"
SET_PIECE: Final = (
    f'// [Colours]\nwall = "{SET_PIECE_COLOUR}";\ncolor(wall) cube([30, 30, 30], center = true);\n'
)
SCENE_ID: Final = "scene-1"


# --- What each engine did, printed at the end of the run --------------------------------------


@dataclass(eq=False)  # a pytest plugin: pluggy keeps its plugins in sets
class EngineReport:
    """A pytest plugin: per engine, its version, its WebGL, the checks it passed and how each
    of its tests ended (an xfail with its reason)."""

    engines: dict[str, dict[str, Any]] = field(default_factory=dict)

    def engine(self, session: EngineSession) -> None:
        self.engines.setdefault(
            session.engine,
            {"version": session.version, "webgl": session.webgl, "checks": [], "tests": []},
        )

    def passed(self, session: EngineSession, check: str) -> None:
        self.engines[session.engine]["checks"].append(check)

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        test, _, param = report.nodeid.partition("[")
        seen = self.engines.get(param.rstrip("]"))
        if seen is None or not test.startswith(f"{__name__.replace('.', '/')}.py::"):
            return
        if report.when == "call" or (report.when == "setup" and not report.passed):
            outcome = "xfailed" if hasattr(report, "wasxfail") else report.outcome
            seen["tests"].append(f"{test.rpartition('::')[2]}: {outcome}")

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        terminalreporter.section("browser engines")
        for name, seen in self.engines.items():
            webgl = f"webgl ({seen['webgl']})" if seen["webgl"] else "no webgl"
            terminalreporter.write_line(f"{name} {seen['version']}: {webgl}")
            for check in seen["checks"]:
                terminalreporter.write_line(f"  passed: {check}")
            for test in seen["tests"]:
                terminalreporter.write_line(f"  {test}")


@pytest.fixture(scope="module")
def report(request: pytest.FixtureRequest) -> EngineReport:
    plugins = request.config.pluginmanager
    found = plugins.get_plugin("shotgraph-engine-report")
    if isinstance(found, EngineReport):
        return found
    made = EngineReport()
    plugins.register(made, "shotgraph-engine-report")
    return made


# --- Setup --------------------------------------------------------------------------------------


def run_async(coroutine: Coroutine[Any, Any, T]) -> T:
    """A coroutine run to its end on a loop of its own, in a thread of its own: the engines'
    clients block, so this module's tests are plain functions, and the thread keeps this
    loop apart from any loop pytest-asyncio keeps for other modules."""
    outcome: dict[str, Any] = {}

    def work() -> None:
        try:
            outcome["value"] = asyncio.run(coroutine)
        except BaseException as error:  # handed back to the caller
            outcome["error"] = error

    thread = threading.Thread(target=work)
    thread.start()
    thread.join()
    if "error" in outcome:
        raise outcome["error"]
    value: T = outcome["value"]
    return value


@dataclass(frozen=True)
class SceneCanvas:
    """The module's user and their canvas: one Scene with a red set piece."""

    user: StudioUser
    canvas_id: str
    name: str


@pytest.fixture(scope="module")
def scene_canvas(platform: Platform) -> SceneCanvas:
    """A user and their canvas holding one Scene with a red set piece."""
    user = create_studio_user(platform)
    graph = {
        "nodes": [
            {
                "id": SCENE_ID,
                "type": "scene",
                "position": {"x": 0, "y": 0},
                "properties": {
                    "location": "a red room",
                    "set_piece": {"source": SET_PIECE, "values": {"wall": SET_PIECE_COLOUR}},
                },
            }
        ],
        "edges": [],
    }

    async def make() -> dict[str, Any]:
        async with StudioApi.open(platform.gateway_url, user.api_key) as api:
            return await api.canvas_with_graph("Every engine's canvas", graph)

    canvas = run_async(make())
    return SceneCanvas(user, canvas["id"], canvas["name"])


@pytest.fixture(scope="module")
def display() -> Iterator[str]:
    with xvfb() as name:
        yield name


@pytest.fixture(scope="module", params=list(ENGINES))
def engine(
    request: pytest.FixtureRequest,
    display: str,
    https_gateway: ServiceProcess,
    report: EngineReport,
) -> Iterator[EngineSession]:
    """One engine at a time (the machine has two cores), on the module's display; what WebGL
    it offers the studio's origin is asked once, first."""
    name = request.param
    if shutil.which(INSTALLED[name]) is None:
        pytest.skip(f"{INSTALLED[name]} is installed by `make bootstrap`")
    with ENGINES[name](display) as session:
        session.goto(f"{origin(https_gateway)}/")
        session.webgl = session.run(WEBGL_PROBE)
        report.engine(session)
        yield session


# --- The pages, as a person uses them -----------------------------------------------------------

# Every Content-Security-Policy violation the page reports from now on, kept on the root
# element (the DOM is what the engines' script sandboxes and the page share).
_RECORD_CSP: Final = """
const root = document.documentElement;
if (root.dataset.testCsp !== undefined) return;
root.dataset.testCsp = "[]";
window.addEventListener("securitypolicyviolation", (event) => {
  const seen = JSON.parse(root.dataset.testCsp);
  seen.push(event.effectiveDirective + " blocked " + event.blockedURI + " at " +
    event.sourceFile + ":" + event.lineNumber);
  root.dataset.testCsp = JSON.stringify(seen);
}, true);
"""


def csp_violations(session: EngineSession) -> list[str]:
    recorded = session.run("return document.documentElement.dataset.testCsp ?? '[]'")
    return list(json.loads(recorded))


def visible(selector: str) -> str:
    """A condition: an element matching ``selector`` is in the page and drawn."""
    return (
        f"const found = document.querySelector({json.dumps(selector)});"
        " return found !== null && found.getClientRects().length > 0;"
    )


def by_label(label: str) -> str:
    return f"//label[contains(normalize-space(.), '{label}')]//input"


def button(name: str) -> str:
    return f"//button[normalize-space(.)='{name}']"


def sign_in(session: EngineSession, studio_origin: str, user: StudioUser) -> None:
    session.goto(f"{studio_origin}/")
    session.run(_RECORD_CSP)
    wait_until(session, visible("input[name=user_name]"), "the sign-in form")
    session.find(by_label("User name")).send_keys(user.name)
    session.find(by_label("Password")).send_keys(user.password)
    session.find(button("Sign in")).click()
    wait_until(
        session,
        "return [...document.querySelectorAll('button')]"
        ".some((b) => b.textContent.trim() === 'Sign out')",
        "the signed-in shell (its Sign out button)",
    )


def open_canvas(session: EngineSession, studio_origin: str, canvas: SceneCanvas) -> None:
    """From the canvas list, as a person would: the canvas's link."""
    if session.run("return location.pathname") != "/":
        session.goto(f"{studio_origin}/")
        session.run(_RECORD_CSP)
    link = f'a[href="/canvases/{canvas.canvas_id}"]'
    wait_until(session, visible(link), "the canvas's link")
    assert session.run(f"return document.querySelector('{link}').textContent") == canvas.name
    session.select(link).click()
    wait_until(session, visible(f'[data-testid="rf__node-{SCENE_ID}"]'), "the Scene node")


def select_scene(session: EngineSession) -> None:
    """A click on the Scene's title bar, as a person selects it; until its form shows."""
    session.select(f'[data-testid="rf__node-{SCENE_ID}"] .sg-node__header').click()
    wait_until(
        session,
        "return document.querySelector('[aria-label=\"Properties\"] .sg-form__header h3')"
        "?.textContent === 'Scene'",
        "the Scene's properties",
    )


def red_share(png: bytes) -> float:
    """The share of an image's pixels where red clearly dominates."""
    image = pyvips.Image.new_from_buffer(png, "")
    red, green, blue = (image[band].cast("int") for band in range(3))
    clearly = (red > 120) & (red - green > 60) & (red - blue > 60)
    return float(clearly.avg()) / 255.0


def red_on_screen(
    session: EngineSession, selector: str, what: str, share: float = 0.05, timeout_s: float = 15
) -> float:
    """Until the element at ``selector`` shows the set piece's red in at least ``share`` of
    its pixels on screen (a picture is drawn a frame or more after it loads, a model after the
    viewer says WebGL); that share. Screenshots are taken again every 250 ms until then."""
    deadline = time.monotonic() + timeout_s
    while True:
        seen = red_share(session.element_png(session.select(selector)))
        if seen >= share:
            return seen
        if time.monotonic() > deadline:
            raise AssertionError(
                f"{session.engine}: {what} shows red in {seen:.1%} of its pixels, not {share:.0%}"
            )
        time.sleep(0.25)


def signed_in(session: EngineSession, studio_origin: str, canvas: SceneCanvas) -> None:
    """Signed in as the canvas's owner, whether an earlier test of the engine left it so."""
    session.goto(f"{studio_origin}/")
    session.run(_RECORD_CSP)
    wait_until(
        session,
        "return document.querySelector('input[name=user_name]') !== null ||"
        " [...document.querySelectorAll('button')]"
        ".some((b) => b.textContent.trim() === 'Sign out')",
        "the sign-in form or the signed-in shell",
    )
    if session.run("return document.querySelector('input[name=user_name]') !== null"):
        sign_in(session, studio_origin, canvas.user)


# --- Tests --------------------------------------------------------------------------------------


def test_the_studio_loads_signs_in_and_opens_a_canvas(
    engine: EngineSession,
    https_gateway: ServiceProcess,
    scene_canvas: SceneCanvas,
    report: EngineReport,
) -> None:
    studio_origin = origin(https_gateway)
    engine.goto(f"{studio_origin}/")
    assert engine.run("return window.isSecureContext") is True, "the https page is secure"
    wait_until(engine, visible("#root > *"), "the studio drawn into the page")
    report.passed(engine, "loads over https as a secure context")

    sign_in(engine, studio_origin, scene_canvas.user)
    (session,) = [c for c in engine.cookies() if c["name"] == SESSION_COOKIE]
    assert session["secure"] is True and session["httpOnly"] is True, session
    report.passed(engine, "signs in (the __Host- session cookie, Secure and HttpOnly)")

    open_canvas(engine, studio_origin, scene_canvas)
    node = f'[data-testid="rf__node-{SCENE_ID}"]'
    title = engine.run(f"return document.querySelector('{node} .sg-node__title').textContent")
    assert title == "Scene"
    # Drawn on screen, not only in the DOM: its screenshot (how the set piece's pixels are
    # read, too) has the node's size and something drawn in it.
    drawn = pyvips.Image.new_from_buffer(engine.element_png(engine.select(node)), "")
    assert drawn.width > 100 and drawn.height > 40 and drawn.deviate() > 10, (
        drawn.width,
        drawn.height,
        drawn.deviate(),
    )
    report.passed(engine, "opens a canvas and shows its Scene node")

    select_scene(engine)
    report.passed(engine, "selects the Scene (its Properties show)")

    assert csp_violations(engine) == [], "Content-Security-Policy violations"
    report.passed(engine, "no CSP violation")


def test_the_scene_shows_its_coloured_set_piece(
    engine: EngineSession,
    https_gateway: ServiceProcess,
    scene_canvas: SceneCanvas,
    report: EngineReport,
) -> None:
    studio_origin = origin(https_gateway)
    signed_in(engine, studio_origin, scene_canvas)
    open_canvas(engine, studio_origin, scene_canvas)
    select_scene(engine)
    region = '[role="region"][aria-label="Set piece"]'
    wait_until(engine, visible(region), "the Set piece region")

    preview = f'{region} img[alt="Set piece preview"]'
    wait_until(
        engine,
        f"const image = document.querySelector({json.dumps(preview)});"
        " return image !== null && image.complete && image.naturalWidth > 0;",
        "the set piece's preview, loaded",
        timeout_s=60,
    )
    shown = red_on_screen(engine, preview, "the set piece's preview")
    report.passed(engine, f"set piece preview in its colour ({shown:.0%} red)")

    viewer = f"{region} [data-viewer-state]"
    state = wait_until(
        engine,
        f"const viewer = document.querySelector({json.dumps(viewer)});"
        " const state = viewer?.dataset.viewerState;"
        " return state === undefined || state === 'loading' ? null : state;",
        "the 3D viewer settled",
        timeout_s=120,
    )
    if engine.webgl:
        assert state == "webgl", f"{engine.engine} has WebGL here, the viewer says {state}"
        on_screen = red_on_screen(engine, f"{viewer} canvas", "the 3D viewer's canvas")
    else:
        assert state == "no-webgl", f"{engine.engine} has no WebGL here, the viewer says {state}"
        on_screen = red_on_screen(engine, f"{viewer} img", "the viewer's fallback picture")
    report.passed(engine, f"set piece in the 3D viewer ({state}, {on_screen:.0%} red)")
    assert csp_violations(engine) == [], "Content-Security-Policy violations"
