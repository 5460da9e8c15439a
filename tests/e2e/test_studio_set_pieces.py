"""A Scene's set piece in the studio, in Chromium over HTTPS against the live platform: a colour
picked in the customizer reaches the quick preview (its pixels have the hue) and a new 3D model
(the viewer is given the new render's GLB), whose PNG, GLB, 3MF and STL download; a syntax
error is marked on its line in the source editor and cleared once fixed; a colour typed by hand
that is not one is refused at its field and never sent. Every test fails on a Content-Security-
Policy violation (the ``studio`` fixture).
"""

# The fixtures are imported from browser.py by name, which is how pytest finds them; a test's
# parameter of the same name is that fixture, not a redefinition.
# ruff: noqa: F811

from __future__ import annotations

import secrets
from typing import Any, Final

from playwright.async_api import Locator, Page, Request, expect

from libs.launcher import Platform
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

# A full render (PNG, GLB, 3MF, STL) of a small model, queued behind whatever else the loaded
# 2-core machine runs.
RENDER_TIMEOUT_MS: Final = 60_000
SCENE: Final = "set"
CONTENT_TYPES: Final = {
    "PNG": ("png", "image/png"),
    "GLB": ("glb", "model/gltf-binary"),
    "3MF": ("3mf", "model/3mf"),
    "STL": ("stl", "model/stl"),
}


def block_model(tag: str) -> str:
    """One block filling the view, its colour a Customizer value. ``tag`` makes the model a
    test's own, so no earlier run's render is found in the cache."""
    return (
        f"// {tag}\n"
        "/* [Colours] */\n"
        "// The block's colour\n"
        'block = "#808080";\n'
        "color(block) cube([30, 30, 30], center = true);\n"
    )


def scene_graph(set_piece: dict[str, Any] | None) -> dict[str, Any]:
    properties: dict[str, Any] = {"location": "Yard"}
    if set_piece is not None:
        properties["set_piece"] = set_piece
    node = {"id": SCENE, "type": "scene", "position": {"x": 0, "y": 0}, "properties": properties}
    return {"nodes": [node], "edges": []}


async def open_scene(
    platform: Platform,
    certificate: LocalCertificate,
    studio: StudioPage,
    user: StudioUser,
    set_piece: dict[str, Any] | None,
) -> tuple[str, Locator]:
    """A canvas of one scene, opened signed in, the scene selected: (canvas id, its region)."""
    async with StudioApi.open(platform.gateway_url, user.api_key) as api:
        canvas = await api.canvas_with_graph("Set pieces", scene_graph(set_piece))
    await studio.sign_in_by_api(user.name, user.password, certificate.client_context())
    await studio.goto(f"/canvases/{canvas['id']}")
    page = studio.page
    await page.get_by_test_id(f"rf__node-{SCENE}").locator(".sg-node__header").click()
    region = page.get_by_role("region", name="Set piece")
    await expect(region).to_be_visible(timeout=UI_TIMEOUT_MS)
    return canvas["id"], region


async def loaded_picture(page: Page, picture: Locator, other_than: str | None = None) -> str:
    """Until ``picture`` shows a loaded image (with another ``src`` than ``other_than``); its
    ``src``."""
    if other_than is not None:
        await expect(picture).not_to_have_attribute("src", other_than, timeout=UI_TIMEOUT_MS)
    await expect(picture).to_be_visible(timeout=UI_TIMEOUT_MS)
    await page.wait_for_function(
        "(image) => image.complete && image.naturalWidth > 0",
        arg=await picture.element_handle(),
        timeout=UI_TIMEOUT_MS,
    )
    src = await picture.get_attribute("src")
    assert src is not None
    return src


# The share of an image's pixels in which one channel clearly dominates the other two, drawn
# from the page's own <img> onto a canvas.
_HUE_SHARE: Final = """([image, channel]) => {
  const canvas = document.createElement("canvas");
  canvas.width = image.naturalWidth;
  canvas.height = image.naturalHeight;
  const context = canvas.getContext("2d");
  context.drawImage(image, 0, 0);
  const pixels = context.getImageData(0, 0, canvas.width, canvas.height).data;
  let hits = 0;
  for (let i = 0; i < pixels.length; i += 4) {
    const value = pixels[i + channel];
    const others = [0, 1, 2].filter((c) => c !== channel).map((c) => pixels[i + c]);
    if (value > 90 && others.every((other) => value > 2 * other + 20)) hits += 1;
  }
  return hits / (pixels.length / 4);
}"""


async def hue_share(picture: Locator, channel: int) -> float:
    return float(await picture.evaluate(f"(image) => ({_HUE_SHARE})([image, {channel}])"))


# A download fetched by the page itself, with its cookies: (status, content type, size).
_FETCHED: Final = """async (url) => {
  const answer = await fetch(url);
  const body = await answer.arrayBuffer();
  return [answer.status, (answer.headers.get("Content-Type") ?? "").split(";")[0], body.byteLength];
}"""


# What a paste from the clipboard hands the page: the text, in a paste event's DataTransfer.
_PASTE: Final = """(element, text) => {
  const data = new DataTransfer();
  data.setData("text/plain", text);
  element.dispatchEvent(
    new ClipboardEvent("paste", { clipboardData: data, bubbles: true, cancelable: true }));
}"""


async def viewer_state(region: Locator) -> str:
    """The viewer's state once it has settled (no longer loading)."""
    viewer = region.locator("[data-viewer-state]")
    await expect(viewer).to_have_count(1, timeout=RENDER_TIMEOUT_MS)
    await expect(viewer).not_to_have_attribute(
        "data-viewer-state", "loading", timeout=UI_TIMEOUT_MS
    )
    state = await viewer.get_attribute("data-viewer-state")
    assert state is not None
    return state


async def glb_url(region: Locator, other_than: str | None = None) -> str:
    """The GLB the viewer is given, once there is one (another than ``other_than``)."""
    model = region.get_by_role("region", name="3D model")
    await model.page.wait_for_function(
        "([model, before]) => { const url = model.getAttribute('data-glb-url');"
        " return url !== null && url !== before; }",
        arg=[await model.element_handle(), other_than],
        timeout=RENDER_TIMEOUT_MS,
    )
    url = await model.get_attribute("data-glb-url")
    assert url is not None and url.startswith("/v1/renders/") and url.endswith("/glb"), url
    return url


# --- 1. A colour picked: the preview and the 3D model follow; the files download -------------


async def test_a_picked_colour_reaches_the_preview_and_a_new_3d_model_whose_files_download(
    platform: Platform, certificate: LocalCertificate, studio: StudioPage
) -> None:
    user = create_studio_user(platform)
    source = block_model(secrets.token_hex(4))
    canvas_id, region = await open_scene(
        platform, certificate, studio, user, {"source": source, "values": {}}
    )
    page = studio.page
    preview = region.get_by_role("img", name="Set piece preview")
    downloads = region.get_by_role("list", name="Downloads")

    # The grey block previews; its files wait for the render, saying why.
    first_src = await loaded_picture(page, preview)
    assert await hue_share(preview, 0) < 0.01
    png = downloads.get_by_role("link", name="PNG")
    await expect(png).to_have_attribute("aria-disabled", "true")
    await expect(region.get_by_text("Downloads wait for the render")).to_be_visible()
    first_glb = await glb_url(region)
    assert await viewer_state(region) in ("webgl", "no-webgl")

    # Red, picked with the browser's colour picker: the preview shows it, the node keeps it.
    await region.get_by_label("block colour").fill("#e01b1b")
    await expect(region.get_by_label("block hex")).to_have_value("#e01b1b")
    await loaded_picture(page, preview, other_than=first_src)
    share = await hue_share(preview, 0)
    assert share > 0.05, f"only {share:.1%} of the preview is red"

    # A new render: the viewer is given its GLB, and loads it.
    second_glb = await glb_url(region, other_than=first_glb)
    assert second_glb != first_glb
    assert await viewer_state(region) in ("webgl", "no-webgl")

    # Its four files, each a link that downloads and answers with its type.
    await expect(png).to_have_attribute("href", second_glb.removesuffix("glb") + "png")
    render_url = second_glb.removesuffix("/glb")
    for name, (fmt, content_type) in CONTENT_TYPES.items():
        link = downloads.get_by_role("link", name=name)
        await expect(link).to_have_attribute("href", f"{render_url}/{fmt}")
        await expect(link).to_have_attribute("download", f"set-piece.{fmt}")
        status, kind, size = await page.evaluate(_FETCHED, f"{render_url}/{fmt}")
        assert (status, kind) == (200, content_type), (name, status, kind)
        assert size > 0, name

    # Autosaved through the editor's own path: the server's scene holds the colour.
    await expect(page.get_by_role("status", name="Save state")).to_have_attribute(
        "data-save-state", "saved", timeout=UI_TIMEOUT_MS
    )
    async with StudioApi.open(platform.gateway_url, user.api_key) as api:
        saved = (await api.canvas(canvas_id))["graph"]["nodes"][0]["properties"]["set_piece"]
    assert saved == {"source": source, "values": {"block": "#e01b1b"}}


# --- 2. Bad input: a typed colour that is not one, a syntax error -------------------------


async def test_a_bad_typed_colour_is_refused_at_its_field_and_a_syntax_error_marked_on_its_line(
    platform: Platform, certificate: LocalCertificate, studio: StudioPage
) -> None:
    user = create_studio_user(platform)
    canvas_id, region = await open_scene(platform, certificate, studio, user, None)
    page = studio.page
    sent: list[str] = []

    def record(request: Request) -> None:
        if request.method == "POST" and "/v1/" in request.url:
            sent.append(request.post_data or "")

    page.on("request", record)

    # A scene without a set piece offers one: the default model, with colours to pick.
    await region.get_by_role("button", name="Add set piece").click()
    hex_field = region.get_by_label("wall_colour hex")
    await expect(hex_field).to_have_value("#c0392b", timeout=UI_TIMEOUT_MS)
    await loaded_picture(page, region.get_by_role("img", name="Set piece preview"))

    # A colour typed by hand that is not one: refused at its field, saying why; the picker
    # keeps the last good colour.
    await hex_field.fill("#12345g")
    await expect(hex_field).to_have_attribute("aria-invalid", "true")
    message = region.get_by_text("“#12345g” is not a colour")
    await expect(message).to_be_visible()
    described = await hex_field.get_attribute("aria-describedby")
    assert described is not None and await message.get_attribute("id") in described.split()
    await expect(region.get_by_label("wall_colour colour")).to_have_value("#c0392b")

    # A good colour typed next is sent (previewed, then saved); the bad one never is.
    async with page.expect_request(
        lambda r: r.url.endswith("/v1/render/preview") and "#2a9d8f" in (r.post_data or ""),
        timeout=UI_TIMEOUT_MS,
    ):
        await hex_field.fill("#2a9d8f")
    await expect(hex_field).not_to_have_attribute("aria-invalid", "true")
    await expect(message).to_have_count(0)

    # The source, in the editor: a line that loses its closing parenthesis is marked.
    await region.get_by_role("button", name="Edit source").click()
    editor = region.get_by_role("textbox", name="OpenSCAD source")
    await expect(editor).to_be_visible(timeout=UI_TIMEOUT_MS)
    lines = await editor.locator(".cm-line").all_text_contents()
    source = "\n".join(lines)
    number = next(i for i, line in enumerate(lines, 1) if line.startswith("color(floor_colour)"))
    broken_line = lines[number - 1].replace("1]);", "1];")
    await editor.click()
    await page.keyboard.press("ControlOrMeta+a")
    await editor.evaluate(_PASTE, source.replace(lines[number - 1], broken_line))
    alert = region.get_by_role("alert")
    await expect(alert).to_contain_text(f"Line {number}:", timeout=UI_TIMEOUT_MS)
    marked = region.locator(".cm-line.sp-error-line")
    await expect(marked).to_have_count(1)
    await expect(marked).to_have_text(broken_line)
    shown = await editor.locator(".cm-line").all_text_contents()
    assert shown.index(broken_line) == number - 1, shown
    await expect(region.locator(".sp-error-marker")).to_have_count(1)
    await expect(region.get_by_role("link", name="GLB")).to_have_attribute("aria-disabled", "true")

    # Fixed, by typing the parenthesis back: the mark and the alert go.
    await editor.get_by_text(broken_line).click()
    await page.keyboard.press("End")
    await page.keyboard.press("ArrowLeft")
    await page.keyboard.type(")")
    await expect(marked).to_have_count(0, timeout=UI_TIMEOUT_MS)
    await expect(alert).to_have_count(0)
    await expect(region.locator(".sp-error-marker")).to_have_count(0)

    # What the server keeps is the good colour and the fixed source.
    await expect(page.get_by_role("status", name="Save state")).to_have_attribute(
        "data-save-state", "saved", timeout=UI_TIMEOUT_MS
    )
    assert sent and not [body for body in sent if "12345g" in body]
    async with StudioApi.open(platform.gateway_url, user.api_key) as api:
        saved = (await api.canvas(canvas_id))["graph"]["nodes"][0]["properties"]["set_piece"]
    assert saved == {"source": source, "values": {"wall_colour": "#2a9d8f"}}
