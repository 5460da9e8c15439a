"""The 3D viewer in Chromium over HTTPS against the live platform: a model coloured pure red is
rendered through the API, and its render page shows it with WebGL (not the PNG it falls back
to) in the colour picked, read from the canvas's pixels; a GLB that cannot be loaded (bad
bytes, a 404) leaves the PNG in its place and an alert saying why. Every test fails on a
Content-Security-Policy violation (the ``studio`` fixture).
"""

# The fixtures are imported from browser.py by name, which is how pytest finds them; a test's
# parameter of the same name is that fixture, not a redefinition.
# ruff: noqa: F811

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass
from typing import Any, Final

import pytest_asyncio
import pyvips
from playwright.async_api import Locator, Page, Route, expect

from libs.launcher import Platform, ServiceProcess
from tests.e2e.browser import (  # noqa: F401
    IN_MODULE_LOOP,
    NEEDS_CHROMIUM,
    UI_TIMEOUT_MS,
    LocalCertificate,
    StudioApi,
    StudioPage,
    StudioUser,
    certificate,
    chromium,
    create_studio_user,
    https_gateway,
    studio,
    studio_dist,
)

pytestmark = [NEEDS_CHROMIUM, IN_MODULE_LOOP]

# A slab and a tower in the one colour picked: flat faces turned every way, so some face the
# light whichever way the camera looks.
RED_MODEL: Final = (
    '// [Colours]\nbody = "#ff0000";\n'
    "color(body) { cube([30, 30, 8]); translate([8, 8, 8]) cube([14, 14, 20]); }\n"
)
RENDER_TIMEOUT_S: Final = 90.0
FINAL: Final = frozenset({"succeeded", "failed", "cancelled", "skipped"})
MODEL_LABEL: Final = "The render's model in 3D"
PICTURE_LABEL: Final = "The render's picture"
# A pixel where red clearly dominates: bright, and green and blue well under it.
RED_AT_LEAST: Final = 120
OTHERS_AT_MOST: Final = 0.45  # of the red
RED_SHARE_AT_LEAST: Final = 0.05  # of the canvas's pixels

# Resolves once the viewer's frame count has not moved for 20 animation frames: the view has
# settled and nothing draws on its own. Resolves with that count.
_SETTLED_FRAMES: Final = """(root) => new Promise((resolve) => {
  let last = root.dataset.frames, still = 0;
  const tick = () => {
    const now = root.dataset.frames;
    still = now === last ? still + 1 : 0;
    last = now;
    if (still >= 20) resolve(Number(now)); else requestAnimationFrame(tick);
  };
  requestAnimationFrame(tick);
})"""
# What the canvas holds: a live WebGL 2 context (the viewer's own: asking a canvas for the type
# it already has returns that one; a canvas without one, or with a 2D one, gives null).
_WEBGL_CONTEXT: Final = """(canvas) => {
  const gl = canvas.getContext("webgl2");
  if (gl === null) return null;
  return { lost: gl.isContextLost(), width: gl.drawingBufferWidth,
           height: gl.drawingBufferHeight, version: gl.getParameter(gl.VERSION) };
}"""


@dataclass(frozen=True)
class RedRender:
    user: StudioUser
    render: dict[str, Any]


async def start_render(api: StudioApi, source: str, formats: list[str]) -> str:
    """The id of a new render of ``source`` into ``formats``."""
    async with api.http.post("/v1/renders", json={"source": source, "formats": formats}) as sent:
        body = await sent.text()
        assert sent.status in (200, 202), body
        return str(json.loads(body)["id"])


async def finished(api: StudioApi, render_id: str) -> dict[str, Any]:
    """The render once it is final."""
    deadline = time.monotonic() + RENDER_TIMEOUT_S
    while True:
        async with api.http.get(f"/v1/renders/{render_id}") as response:
            render = dict(await response.json())
        if render["state"] in FINAL:
            return render
        assert time.monotonic() < deadline, f"the render never finished: {render}"
        await asyncio.sleep(0.2)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def red_render_started(platform: Platform) -> tuple[StudioUser, str]:
    """A user, and the id of their render of the red model (PNG and GLB), which goes on while
    the module's gateway starts."""
    user = create_studio_user(platform)
    async with StudioApi.open(platform.gateway_url, user.api_key) as api:
        return user, await start_render(api, RED_MODEL, ["png", "glb"])


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def red_render(
    platform: Platform,
    red_render_started: tuple[StudioUser, str],
    https_gateway: ServiceProcess,
) -> RedRender:
    """The red render, finished, with its PNG and GLB."""
    user, render_id = red_render_started
    async with StudioApi.open(platform.gateway_url, user.api_key) as api:
        render = await finished(api, render_id)
    assert render["state"] == "succeeded", render
    assert set(render["outputs"]) == {"png", "glb"}
    assert render["colours"] == ["#ff0000ff"]
    return RedRender(user, render)


async def open_render_page(
    studio: StudioPage, certificate: LocalCertificate, red: RedRender
) -> Locator:
    """The red render's page, signed in; its viewer's root element."""
    await studio.sign_in_by_api(red.user.name, red.user.password, certificate.client_context())
    await studio.goto(f"/renders/{red.render['id']}")
    viewer = studio.page.locator("[data-viewer-state]")
    await expect(viewer).to_be_attached(timeout=UI_TIMEOUT_MS)
    return viewer


def red_share(png: bytes) -> tuple[float, int]:
    """The share of a screenshot's pixels where red clearly dominates, and the brightest red."""
    image = pyvips.Image.new_from_buffer(png, "")[0:3].cast("float")
    red, green, blue = image[0], image[1], image[2]
    reddish = (
        (red >= RED_AT_LEAST) & (green <= red * OTHERS_AT_MOST) & (blue <= red * OTHERS_AT_MOST)
    )
    return float(reddish.avg()) / 255.0, int((red * (reddish / 255.0)).max())


async def until_loaded(page: Page, picture: Locator) -> None:
    """Until ``picture`` has loaded and decoded."""
    await expect(picture).to_be_visible(timeout=UI_TIMEOUT_MS)
    await page.wait_for_function(
        "(image) => image.complete && image.naturalWidth > 0",
        arg=await picture.element_handle(),
        timeout=UI_TIMEOUT_MS,
    )


async def touch_drag(page: Page, target: Locator) -> None:
    """One finger pressed on ``target``'s centre, moved 80 px right in steps, lifted."""
    box = await target.bounding_box()
    assert box is not None
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    cdp = await page.context.new_cdp_session(page)
    try:
        await cdp.send(
            "Input.dispatchTouchEvent", {"type": "touchStart", "touchPoints": [{"x": x, "y": y}]}
        )
        for step in range(1, 9):
            await cdp.send(
                "Input.dispatchTouchEvent",
                {"type": "touchMove", "touchPoints": [{"x": x + 10 * step, "y": y}]},
            )
        await cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})
    finally:
        await cdp.detach()


async def test_a_red_model_is_drawn_red_with_webgl_and_turns_with_the_keys(
    red_render: RedRender, studio: StudioPage, certificate: LocalCertificate
) -> None:
    page = studio.page
    viewer = await open_render_page(studio, certificate, red_render)
    await expect(viewer).to_have_attribute("data-viewer-state", "webgl", timeout=UI_TIMEOUT_MS)

    # WebGL, not the fallback: a canvas named for the model with a live WebGL 2 context, and
    # no picture inside the viewer.
    canvas = page.get_by_role("img", name=MODEL_LABEL)
    await expect(canvas).to_have_js_property("tagName", "CANVAS")
    context = await canvas.evaluate(_WEBGL_CONTEXT)
    assert context is not None and not context["lost"], context
    assert context["width"] > 0 and context["height"] > 0, context
    assert context["version"].startswith("WebGL 2.0"), context
    await expect(viewer.locator("img")).to_have_count(0)
    await expect(page.get_by_role("alert")).to_have_count(0)
    drawn = await viewer.evaluate(_SETTLED_FRAMES)
    assert drawn >= 1

    # The picked hue on screen: many of the canvas's pixels are clearly red, the brightest of
    # them near full red (sRGB output: linear 1.0 is 255, not the darker linear value).
    share, brightest = red_share(await canvas.screenshot())
    assert share >= RED_SHARE_AT_LEAST, f"only {share:.1%} of the canvas is red"
    assert brightest >= 230, f"the brightest red is {brightest}: the colour is drawn too dark"
    # The keyboard: the canvas is in the Tab order, arrow keys turn the model and + zooms (each
    # draws new frames), then it settles and draws nothing more by itself.
    await expect(canvas).to_have_attribute("tabindex", "0")
    await canvas.focus()
    await expect(canvas).to_be_focused()
    before = await canvas.screenshot()
    await page.keyboard.press("ArrowLeft")
    await page.keyboard.press("+")
    turned = await viewer.evaluate(_SETTLED_FRAMES)
    assert turned > drawn
    assert await canvas.screenshot() != before

    # One finger turns it too (touch events as a tablet sends them, through the DevTools
    # protocol: Playwright's touchscreen only taps).
    await touch_drag(page, canvas)
    touched = await viewer.evaluate(_SETTLED_FRAMES)
    assert touched > turned

    # Each file the render made is offered for download.
    for fmt in ("png", "glb"):
        link = page.get_by_role("link", name=f"Download {fmt.upper()}")
        await expect(link).to_have_attribute("href", f"/v1/renders/{red_render.render['id']}/{fmt}")
        await expect(link).to_have_attribute("download", f"render-{red_render.render['id']}.{fmt}")


async def test_a_glb_that_cannot_be_loaded_leaves_the_png_and_says_why(
    red_render: RedRender, studio: StudioPage, certificate: LocalCertificate
) -> None:
    page = studio.page
    glb_url = f"**{red_render.render['outputs']['glb']['url']}"

    async def garbage(route: Route) -> None:
        await route.fulfill(body=b"<html>a proxy's error page</html>", content_type="text/html")

    await page.route(glb_url, garbage)
    viewer = await open_render_page(studio, certificate, red_render)
    await expect(viewer).to_have_attribute("data-viewer-state", "failed", timeout=UI_TIMEOUT_MS)
    await expect(viewer.get_by_role("alert")).to_have_text(
        "The 3D model could not be loaded: the file is not a GLB model."
    )
    await expect(viewer.locator("canvas")).to_have_count(0)
    fallback = viewer.get_by_role("img", name=MODEL_LABEL)
    await until_loaded(page, fallback)
    assert await fallback.get_attribute("src") == red_render.render["outputs"]["png"]["url"]
