"""A canvas's history and who else views it, in Chromium over HTTPS against the live platform:
two versions' diff drawn on the graph (added, changed and removed, each in words and by its
outline), an old version restored and autosave carrying on from it, and a second person's
arrival and departure seen live. Every test fails on a Content-Security-Policy violation (the
``studio`` fixture).
"""

# The fixtures are imported from browser.py by name, which is how pytest finds them; a test's
# parameter of the same name is that fixture, not a redefinition.
# ruff: noqa: F811

from __future__ import annotations

import re
from typing import Any, Final

from playwright.async_api import Browser, Locator, Page, expect

from libs.launcher import Platform, ServiceProcess
from tests.e2e.browser import (  # noqa: F401
    IN_MODULE_LOOP,
    NEEDS_CHROMIUM,
    UI_TIMEOUT_MS,
    LocalCertificate,
    StudioApi,
    StudioPage,
    certificate,
    chromium,
    create_studio_user,
    https_gateway,
    open_studio_page,
    origin,
    studio,
    studio_dist,
)

pytestmark = [NEEDS_CHROMIUM, IN_MODULE_LOOP]


def node(node_id: str, kind: str, x: int, y: int, **properties: Any) -> dict[str, Any]:
    return {"id": node_id, "type": kind, "position": {"x": x, "y": y}, "properties": properties}


def edge(source: str, source_port: str, target: str, target_port: str) -> dict[str, str]:
    return {
        "source": source,
        "source_port": source_port,
        "target": target,
        "target_port": target_port,
    }


# Version 1: Ada and the yard feed the opening shot. Version 2: Ada renamed, the yard gone
# (its edge with it), a close-up added and fed by Ada; the opening shot untouched.
OPENING: Final = node("s1", "shot", 320, 0, name="Opening", framing="wide", duration_s=3)
VERSION_1: Final = {
    "nodes": [
        node("ada", "character", 0, 0, name="Ada"),
        node("yard", "scene", 0, 240, location="Yard"),
        OPENING,
    ],
    "edges": [
        edge("ada", "character", "s1", "characters"),
        edge("yard", "scene", "s1", "scene"),
    ],
}
VERSION_2: Final = {
    "nodes": [
        node("ada", "character", 0, 0, name="Ada Lovelace"),
        OPENING,
        node("s2", "shot", 320, 240, name="Close-up", framing="close-up", duration_s=2),
    ],
    "edges": [
        edge("ada", "character", "s1", "characters"),
        edge("ada", "character", "s2", "characters"),
    ],
}


def as_sets(graph: dict[str, Any]) -> tuple[dict[str, Any], list[dict[str, str]]]:
    """A graph's nodes by id and its edges in one order: two equal graphs compare equal."""
    edges = sorted(graph["edges"], key=lambda e: (e["source"], e["target"], e["target_port"]))
    return {n["id"]: n for n in graph["nodes"]}, edges


def node_of(scope: Page | Locator, node_id: str) -> Locator:
    return scope.get_by_test_id(f"rf__node-{node_id}")


def edge_of(
    scope: Page | Locator, source: str, port: str, target: str, target_port: str
) -> Locator:
    return scope.get_by_test_id(f"rf__edge-{source}.{port}>{target}.{target_port}")


async def outline_of(card: Locator) -> str:
    return str(await card.evaluate("(element) => getComputedStyle(element).outlineStyle"))


def save_state(page: Page) -> Locator:
    return page.get_by_role("status", name="Save state")


# --- 1. Two versions compared, one restored ---------------------------------------------------


async def test_two_versions_diff_on_the_graph_and_an_old_one_is_restored(
    platform: Platform, certificate: LocalCertificate, studio: StudioPage
) -> None:
    user = create_studio_user(platform)
    async with StudioApi.open(platform.gateway_url, user.api_key) as api:
        canvas = await api.canvas_with_graph("Lighthouse history", VERSION_1)
        second = await api.save_graph(canvas["id"], VERSION_2, base_version=canvas["version"])
    # A new canvas starts at an empty version 1: the two graphs are the versions after it.
    canvas_id, old, new = canvas["id"], canvas["version"], second["number"]
    assert (old, new) == (2, 3)
    await studio.sign_in_by_api(user.name, user.password, certificate.client_context())
    page = studio.page
    await studio.goto(f"/canvases/{canvas_id}")
    editor = page.locator(".sg-editor:not(.is-diff)")
    await expect(node_of(editor, "s2")).to_be_visible(timeout=UI_TIMEOUT_MS)

    # The history lists the versions, newest first; the two are compared.
    toggle = page.get_by_role("button", name="History", exact=True)
    await toggle.click()
    await expect(toggle).to_have_attribute("aria-expanded", "true")
    history = page.get_by_role("region", name="History", exact=True)
    versions = history.get_by_role("list", name="Versions").get_by_role("listitem")
    await expect(versions).to_have_count(3, timeout=UI_TIMEOUT_MS)
    await expect(versions.nth(0)).to_contain_text(f"Version {new}")
    await expect(versions.nth(0)).to_contain_text("by you")
    await history.get_by_role("checkbox", name=f"Version {new}", exact=True).check()
    await history.get_by_role("checkbox", name=f"Version {old}", exact=True).check()
    await history.get_by_role("button", name=f"Compare {old} and {new}").click()

    # The newer graph, read-only, with what changed marked in words and by outline; the live
    # editor (with its palette) is put aside meanwhile.
    legend = page.get_by_role("region", name=f"Changes from version {old} to version {new}")
    await expect(legend).to_be_visible(timeout=UI_TIMEOUT_MS)
    await expect(legend.get_by_role("listitem")).to_have_text(
        ["added 1 node, 1 edge", "changed 1 node", "removed 1 node, 1 edge"]
    )
    diff = page.locator(".sg-editor.is-diff")
    await expect(page.get_by_role("region", name="Node palette")).to_be_hidden()
    marks = {"s2": "added", "ada": "changed", "yard": "removed"}
    for node_id, kind in marks.items():
        badge = node_of(diff, node_id).locator(".sg-node__diff")
        await expect(badge).to_contain_text(kind, timeout=UI_TIMEOUT_MS)
    await expect(node_of(diff, "ada").locator(".sg-node__diff")).to_contain_text("name")
    await expect(node_of(diff, "s1").locator(".sg-node__diff")).to_have_count(0)
    outlines = {
        node_id: await outline_of(node_of(diff, node_id).locator(".sg-node")) for node_id in marks
    }
    assert outlines == {"s2": "solid", "ada": "dashed", "yard": "dotted"}, outlines
    assert await outline_of(node_of(diff, "s1").locator(".sg-node")) == "none"
    added = edge_of(diff, "ada", "character", "s2", "characters")
    removed = edge_of(diff, "yard", "scene", "s1", "scene")
    await expect(added).to_have_class(re.compile(r"\bis-added\b"))
    await expect(added).to_contain_text("added")
    await expect(removed).to_have_class(re.compile(r"\bis-removed\b"))
    await expect(removed).to_contain_text("removed")
    await expect(edge_of(diff, "ada", "character", "s1", "characters")).not_to_have_class(
        re.compile(r"sg-diff-edge")
    )

    # Back to editing: the live canvas as it was.
    await legend.get_by_role("button", name="Back to editing").click()
    await expect(legend).to_have_count(0)
    await expect(page.get_by_role("region", name="Node palette")).to_be_visible()
    await expect(editor.locator(".react-flow__node")).to_have_count(3)
    await expect(node_of(editor, "yard")).to_have_count(0)

    # The old version restored: the editor shows it, and the server's newest version holds it.
    await history.get_by_role("button", name=f"Restore version {old}").click()
    dialog = page.get_by_role("dialog", name=f"Restore version {old}?")
    async with page.expect_response(
        lambda r: r.url.endswith(f"/v1/canvases/{canvas_id}/versions/{old}/restore"),
        timeout=UI_TIMEOUT_MS,
    ) as answer:
        await dialog.get_by_role("button", name="Restore").click()
    assert (await answer.value).status == 201
    await expect(dialog).to_have_count(0, timeout=UI_TIMEOUT_MS)
    await expect(node_of(editor, "yard")).to_be_visible()
    await expect(node_of(editor, "s2")).to_have_count(0)
    await expect(editor.locator(".react-flow__node")).to_have_count(3)
    await expect(save_state(page)).to_have_attribute("data-save-state", "saved")
    await expect(versions.nth(0)).to_contain_text(f"Restored version {old}", timeout=UI_TIMEOUT_MS)
    async with StudioApi.open(platform.gateway_url, user.api_key) as api:
        restored = await api.canvas(canvas_id)
    assert restored["version"] == new + 1
    assert as_sets(restored["graph"]) == as_sets(VERSION_1)

    # Autosave carries on from the restored version: an edit saves on it, with no conflict.
    await history.get_by_role("button", name="Close history").click()
    await expect(history).to_have_count(0)
    await expect(toggle).to_be_focused()
    await node_of(editor, "ada").locator(".sg-node__header").click()
    properties = page.get_by_role("region", name="Properties")
    await properties.get_by_label("name", exact=True).fill("Ada, restored")
    await expect(save_state(page)).to_have_attribute(
        "data-save-state", "saved", timeout=UI_TIMEOUT_MS
    )
    async with StudioApi.open(platform.gateway_url, user.api_key) as api:
        edited = await api.canvas(canvas_id)
    assert edited["version"] == new + 2
    nodes, edges = as_sets(edited["graph"])
    assert nodes["ada"]["properties"] == {"name": "Ada, restored"}
    assert (set(nodes), edges) == ({"ada", "yard", "s1"}, as_sets(VERSION_1)[1])
    await expect(page.get_by_role("dialog")).to_have_count(0)  # no merge was asked for


# --- 2. Who else is here ----------------------------------------------------------------------


async def test_the_canvas_shows_who_else_views_it_as_they_come_and_go(
    platform: Platform,
    certificate: LocalCertificate,
    chromium: Browser,
    https_gateway: ServiceProcess,
    studio: StudioPage,
) -> None:
    owner, guest = create_studio_user(platform), create_studio_user(platform)
    async with StudioApi.open(platform.gateway_url, owner.api_key) as api:
        canvas = await api.canvas_with_graph("Shared lighthouse", VERSION_1)
        async with api.http.post(
            f"/v1/canvases/{canvas['id']}/shares", json={"user": guest.name, "access": "read"}
        ) as shared:
            assert shared.status == 200, await shared.text()
    path = f"/canvases/{canvas['id']}"
    await studio.sign_in_by_api(owner.name, owner.password, certificate.client_context())
    page = studio.page
    await studio.goto(path)
    await expect(page.locator(".live-badge")).to_have_attribute(
        "data-live-state", "live", timeout=UI_TIMEOUT_MS
    )
    here = page.get_by_role("status", name="Also here")
    await expect(here.get_by_role("listitem")).to_have_count(0)  # the owner is not listed

    # The guest opens the canvas in a browser of their own: the owner sees them arrive, and
    # they see the owner.
    async with open_studio_page(chromium, origin(https_gateway)) as visit:
        await visit.sign_in_by_api(guest.name, guest.password, certificate.client_context())
        await visit.goto(path)
        await expect(here.get_by_role("listitem")).to_contain_text(
            [guest.name], timeout=UI_TIMEOUT_MS
        )
        await expect(here).to_contain_text("Also here:")
        theirs = visit.page.get_by_role("status", name="Also here")
        await expect(theirs.get_by_role("listitem")).to_contain_text(
            [owner.name], timeout=UI_TIMEOUT_MS
        )
        assert visit.csp.violations == [], visit.csp.report()

    # The guest's browser closed: they are gone from the owner's page.
    await expect(here.get_by_role("listitem")).to_have_count(0, timeout=UI_TIMEOUT_MS)
    await expect(here).to_have_text("")
