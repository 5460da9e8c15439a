"""The studio when things go wrong, in Chromium over HTTPS under the edge's Content-Security-
Policy: two people save the same canvas, the session ends mid-edit, the network drops while a
save is on its way, and a canvas is deleted, unshared or never existed. Each test fails if any
page it opened reported a CSP violation.

A save's timing is the test's to decide where it matters: the page's saves go through a gate
(``SaveGate``, a network as slow as the test says), never through a sleep.
"""

# The fixtures are imported from browser.py by name, which is how pytest finds them; a test's
# parameter of the same name is that fixture, not a redefinition.
# ruff: noqa: F811

from __future__ import annotations

import asyncio
import json
import re
import ssl
import uuid
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any, Final

import aiohttp
import pytest
import pytest_asyncio
from playwright.async_api import Browser, Locator, Page, Response, Route, expect

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
    open_studio_page,
    origin,
    studio,
    studio_dist,
)

pytestmark = [NEEDS_CHROMIUM, IN_MODULE_LOOP]

GONE: Final = "This canvas was deleted or is no longer shared with you."
# Where the page keeps a canvas's unsaved graph: web/src/saving/drafts.ts.
DRAFT_PREFIX: Final = "shotgraph.draft.v1:"
READ_DRAFT: Final = """([prefix, canvasId]) => {
    const key = Object.keys(localStorage).find(
        (k) => k.startsWith(prefix) && k.endsWith(":" + canvasId));
    return key === undefined ? null : JSON.parse(localStorage.getItem(key));
}"""
SAVES: Final = "**/v1/canvases/*/versions"
SAVE_PATH: Final = re.compile(r"/v1/canvases/[^/]+/versions$")


# --- setting up through the API --------------------------------------------------------------


def character(node_id: str, name: str, x: float = 0) -> dict[str, Any]:
    return {
        "id": node_id,
        "type": "character",
        "position": {"x": x, "y": 0},
        "properties": {"name": name},
    }


def scene(node_id: str, location: str, x: float = 0) -> dict[str, Any]:
    return {
        "id": node_id,
        "type": "scene",
        "position": {"x": x, "y": 0},
        "properties": {"location": location},
    }


async def call(api: StudioApi, method: str, path: str, status: int, body: Any = None) -> Any:
    """One call of the API as ``api``'s user; the answer's JSON (None when empty)."""
    async with api.http.request(method, path, json=body) as response:
        text = await response.text()
        assert response.status == status, f"{method} {path}: {response.status}: {text}"
        return json.loads(text) if text else None


async def share(api: StudioApi, canvas_id: str, user: StudioUser, access: str) -> None:
    await call(
        api, "POST", f"/v1/canvases/{canvas_id}/shares", 200, {"user": user.name, "access": access}
    )


async def sign_out_everywhere_else(platform: Platform, user: StudioUser) -> int:
    """What "sign out everywhere else" does on another device of the user's: a session signed in
    there ends every other one. How many it ended."""
    site = {"Origin": platform.gateway_url, "Sec-Fetch-Site": "same-origin"}
    async with aiohttp.ClientSession(
        base_url=platform.gateway_url, cookie_jar=aiohttp.CookieJar(unsafe=True)
    ) as http:
        credentials = {"user_name": user.name, "password": user.password}
        async with http.post("/v1/auth/login", json=credentials, headers=site) as signed_in:
            assert signed_in.status == 200, await signed_in.text()
            csrf = (await signed_in.json())["csrf_token"]
        async with http.delete("/v1/sessions", headers={**site, "X-CSRF-Token": csrf}) as ended:
            assert ended.status == 200, await ended.text()
            return int((await ended.json())["sessions_revoked"])


async def server_graph(api: StudioApi, canvas_id: str) -> dict[str, Any]:
    """The canvas's newest graph, as the server holds it."""
    canvas = await call(api, "GET", f"/v1/canvases/{canvas_id}", 200)
    return dict(canvas["graph"])


async def server_graph_when(
    api: StudioApi,
    canvas_id: str,
    holds: Callable[[Mapping[str, Any]], bool],
    timeout_s: float = UI_TIMEOUT_MS / 1000,
) -> dict[str, Any]:
    """The newest graph once it ``holds``; fails with the last one seen after ``timeout_s``."""
    graph = await server_graph(api, canvas_id)
    try:
        async with asyncio.timeout(timeout_s):
            while not holds(graph):
                await asyncio.sleep(0.1)  # a poll of the server, not a wait for time to pass
                graph = await server_graph(api, canvas_id)
    except TimeoutError:
        pytest.fail(f"the server's graph never came to hold what was expected: {graph}")
    return graph


def nodes_of(graph: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    return {node["id"]: node for node in graph["nodes"]}


# --- the studio's pages ----------------------------------------------------------------------


@pytest_asyncio.fixture(loop_scope="module")
async def other_studio(
    chromium: Browser, https_gateway: ServiceProcess
) -> AsyncIterator[StudioPage]:
    """A second person's page of the studio, in a context of its own; as ``studio``, the test
    fails if any of its pages reported a Content-Security-Policy violation."""
    async with open_studio_page(chromium, origin(https_gateway)) as page:
        yield page
        violations = page.csp.report() if page.csp.violations else None
    if violations is not None:
        pytest.fail(violations, pytrace=False)


def save_state(page: Page) -> Locator:
    return page.get_by_role("status", name="Save state")


def node(page: Page, node_id: str) -> Locator:
    return page.get_by_test_id(f"rf__node-{node_id}")


async def open_canvas(
    studio: StudioPage, user: StudioUser, canvas_id: str, certificate: LocalCertificate
) -> Page:
    """``user`` signed in and on the canvas's page, with everything shown saved."""
    await studio.sign_in_by_api(user.name, user.password, certificate.client_context())
    await studio.goto(f"/canvases/{canvas_id}")
    page = studio.page
    await expect(page.get_by_role("region", name="Node palette")).to_be_visible(
        timeout=UI_TIMEOUT_MS
    )
    await expect(save_state(page)).to_have_attribute("data-save-state", "saved")
    return page


async def set_property(page: Page, node_id: str, label: str, value: str) -> None:
    """Selects the node and types ``value`` into its property's field."""
    await node(page, node_id).click()
    field = page.get_by_role("region", name="Properties").get_by_label(label, exact=True)
    await field.fill(value)
    await expect(field).to_have_value(value)


async def draft_of(page: Page, canvas_id: str) -> dict[str, Any] | None:
    """The canvas's draft in the page's localStorage, or None."""
    draft: dict[str, Any] | None = await page.evaluate(READ_DRAFT, [DRAFT_PREFIX, canvas_id])
    return draft


class SaveGate:
    """Holds the page's saves (``POST .../versions``) until ``open()``: a network as slow as
    the test says, so that a save reaches the server only when the test lets it."""

    def __init__(self) -> None:
        self._held = asyncio.Event()
        self._open = asyncio.Event()

    async def install(self, page: Page) -> None:
        await page.route(SAVES, self._handle)

    async def until_held(self) -> None:
        """Until the page has sent a save that the gate holds."""
        async with asyncio.timeout(UI_TIMEOUT_MS / 1000):
            await self._held.wait()

    def open(self) -> None:
        self._open.set()

    async def _handle(self, route: Route) -> None:
        if route.request.method == "POST":
            self._held.set()
            await self._open.wait()
        await route.continue_()


def is_save(response: Response) -> bool:
    """Whether ``response`` answers a save of a canvas."""
    return response.request.method == "POST" and SAVE_PATH.search(response.url) is not None


# --- the tests -------------------------------------------------------------------------------


async def test_a_conflicting_save_is_merged_with_the_other_persons_changes(
    platform: Platform,
    certificate: LocalCertificate,
    studio: StudioPage,
    other_studio: StudioPage,
) -> None:
    """A and B edit one canvas; B saves first, so A's save is refused (409): A's page says
    "Conflict", shows what B changed, lets A pick a side where both changed one property, and
    saves the merge, which keeps B's other change, A's own, and the side picked."""
    owner, writer = create_studio_user(platform), create_studio_user(platform)
    graph = {"nodes": [character("ada", "Ada"), scene("dock", "a dock", x=320)], "edges": []}
    async with StudioApi.open(platform.gateway_url, owner.api_key) as api:
        canvas = await api.canvas_with_graph("Harbour at dawn", graph)
        await share(api, canvas["id"], writer, "write")
        mine = await open_canvas(studio, owner, canvas["id"], certificate)
        theirs = await open_canvas(other_studio, writer, canvas["id"], certificate)

        # B: the description one way, and a new scene; both saved.
        await set_property(theirs, "ada", "description", "B: a red coat")
        await (
            theirs.get_by_role("region", name="Node palette")
            .get_by_role("button", name="Scene")
            .click()
        )
        saved_by_b = await server_graph_when(
            api,
            canvas["id"],
            lambda g: (
                len(g["nodes"]) == 3
                and nodes_of(g)["ada"]["properties"].get("description") == "B: a red coat"
            ),
        )
        (added,) = set(nodes_of(saved_by_b)) - {"ada", "dock"}

        # A, from the version B built on: the same description another way, and the dock's
        # location. A's saves wait until both edits are made, as on a slow network.
        gate = SaveGate()
        await gate.install(mine)
        await set_property(mine, "ada", "description", "A: a blue coat")
        await set_property(mine, "dock", "location", "a fog-bound dock")
        async with mine.expect_response(is_save) as refused:
            gate.open()
        assert (await refused.value).status == 409

        await expect(save_state(mine)).to_have_attribute("data-save-state", "conflict")
        await expect(save_state(mine)).to_have_text("Conflict")
        merge = mine.get_by_role("dialog", name="Merge changes")
        await expect(merge).to_be_visible(timeout=UI_TIMEOUT_MS)
        their_changes = merge.get_by_role("region", name="Their changes")
        await expect(their_changes.get_by_role("listitem")).to_contain_text(
            ["Set Character “Ada”'s description to “B: a red coat”", "Added Scene"]
        )
        conflicts = merge.get_by_role("region", name="Conflicts").get_by_role("group")
        await expect(conflicts).to_have_count(1)
        await expect(conflicts).to_contain_text("description")
        await conflicts.get_by_role("radio", name=re.compile(r"^Theirs")).check()
        await merge.get_by_role("button", name="Save merged").click()

        await expect(merge).to_be_hidden(timeout=UI_TIMEOUT_MS)
        await expect(save_state(mine)).to_have_attribute(
            "data-save-state", "saved", timeout=UI_TIMEOUT_MS
        )
        await expect(node(mine, added)).to_be_visible()
        merged = nodes_of(await server_graph(api, canvas["id"]))
    assert set(merged) == {"ada", "dock", added}
    assert merged["ada"]["properties"] == {"name": "Ada", "description": "B: a red coat"}
    assert merged["dock"]["properties"]["location"] == "a fog-bound dock"
    assert merged[added]["type"] == "scene"


async def test_an_edit_made_as_the_session_ends_is_kept_and_saved_after_signing_in_again(
    platform: Platform, certificate: LocalCertificate, studio: StudioPage
) -> None:
    """A's sessions are ended from elsewhere while A's edit is on its way: the save is refused
    (401), the edit stays on screen and in the page's draft, the "Sign in again" dialog opens
    over the page, and once A signs in the same save goes through."""
    user = create_studio_user(platform)
    graph = {"nodes": [character("ada", "Ada")], "edges": []}
    async with StudioApi.open(platform.gateway_url, user.api_key) as api:
        canvas = await api.canvas_with_graph("Night shoot", graph)
        page = await open_canvas(studio, user, canvas["id"], certificate)
        live = page.get_by_title("Live updates")
        await expect(live).to_have_attribute("data-live-state", "live", timeout=UI_TIMEOUT_MS)

        gate = SaveGate()
        await gate.install(page)
        await set_property(page, "ada", "description", "Soaked to the bone")
        await gate.until_held()
        assert await sign_out_everywhere_else(platform, user) == 1
        # The server closes the live connection with the session; connecting again asks the
        # person to sign in, which proves the gateway knows the session has ended.
        dialog = page.get_by_role("dialog", name="Sign in again")
        await expect(dialog).to_be_visible(timeout=UI_TIMEOUT_MS)
        async with page.expect_response(is_save) as refused:
            gate.open()
        assert (await refused.value).status == 401

        await expect(dialog).to_be_visible()
        await expect(save_state(page)).not_to_have_attribute("data-save-state", "saved")
        field = page.get_by_role("region", name="Properties").get_by_label(
            "description", exact=True
        )
        await expect(field).to_have_value("Soaked to the bone")
        draft = await draft_of(page, canvas["id"])
        assert draft is not None, "no draft of the unsaved graph in localStorage"
        assert nodes_of(draft["graph"])["ada"]["properties"]["description"] == "Soaked to the bone"
        assert (
            "description"
            not in nodes_of(await server_graph(api, canvas["id"]))["ada"]["properties"]
        )

        await dialog.get_by_label("User name").fill(user.name)
        await dialog.get_by_label("Password").fill(user.password)
        await dialog.get_by_role("button", name="Sign in").click()
        await expect(dialog).to_be_hidden(timeout=UI_TIMEOUT_MS)
        await expect(save_state(page)).to_have_attribute(
            "data-save-state", "saved", timeout=UI_TIMEOUT_MS
        )
        await expect(live).to_have_attribute("data-live-state", "live", timeout=UI_TIMEOUT_MS)
        saved = nodes_of(await server_graph(api, canvas["id"]))
    assert saved["ada"]["properties"] == {"name": "Ada", "description": "Soaked to the bone"}
    assert await draft_of(page, canvas["id"]) is None, "the draft outlived the save"


async def deliver(route: Route, ssl_context: ssl.SSLContext) -> int:
    """Sends the request the page made, as it made it, from here: the server answers this
    test, and the page hears nothing yet. The answer's status."""
    request = route.request
    headers = {k: v for k, v in (await request.all_headers()).items() if not k.startswith(":")}
    async with (
        aiohttp.ClientSession() as http,
        http.request(
            request.method,
            request.url,
            data=request.post_data_buffer,
            headers=headers,
            ssl=ssl_context,
        ) as answer,
    ):
        return answer.status


@pytest.mark.parametrize("lost", ["request", "answer"])
async def test_edits_made_while_the_network_is_down_are_saved_when_it_returns(
    platform: Platform, certificate: LocalCertificate, studio: StudioPage, lost: str
) -> None:
    """The network drops as an autosave is sent: before the save reaches the server, or once
    the server has saved it but before its answer is back. The page says "Offline — changes
    kept", editing goes on, and when the network is back every edit is saved (with no merge of
    the page's own save)."""
    user = create_studio_user(platform)
    graph = {"nodes": [character("ada", "Ada"), scene("dock", "a dock", x=320)], "edges": []}
    async with StudioApi.open(platform.gateway_url, user.api_key) as api:
        canvas = await api.canvas_with_graph("Storm", graph)
        page = await open_canvas(studio, user, canvas["id"], certificate)

        # What the server answered the save the network dropped (0: it never got it).
        dropped: list[int] = []

        async def drop_the_network(route: Route) -> None:
            if route.request.method != "POST" or dropped:
                await route.continue_()
                return
            reached = lost == "answer"
            dropped.append(await deliver(route, certificate.client_context()) if reached else 0)
            await studio.context.set_offline(True)
            await route.abort("internetdisconnected")

        await page.route(SAVES, drop_the_network)
        await set_property(page, "ada", "description", "Hood up against the rain")
        await expect(save_state(page)).to_have_attribute(
            "data-save-state", "offline", timeout=UI_TIMEOUT_MS
        )
        await expect(save_state(page)).to_have_text("Offline — changes kept")
        on_server = nodes_of(await server_graph(api, canvas["id"]))["ada"]["properties"]
        if lost == "answer":
            assert dropped == [201]
            assert on_server["description"] == "Hood up against the rain"
        else:
            assert dropped == [0]
            assert "description" not in on_server

        # Editing goes on while offline, kept in the page's draft.
        await set_property(page, "dock", "location", "a storm-lashed dock")
        palette = page.get_by_role("region", name="Node palette")
        await palette.get_by_role("button", name="Shot").click()
        await expect(page.locator(".react-flow__node")).to_have_count(3)
        await expect(save_state(page)).to_have_attribute("data-save-state", "offline")
        await page.wait_for_function(
            f"(args) => ({READ_DRAFT})(args)?.graph.nodes.length === 3",
            arg=[DRAFT_PREFIX, canvas["id"]],
            timeout=UI_TIMEOUT_MS,
        )

        await studio.context.set_offline(False)
        await expect(save_state(page)).to_have_attribute(
            "data-save-state", "saved", timeout=UI_TIMEOUT_MS
        )
        await expect(page.get_by_role("dialog", name="Merge changes")).to_have_count(0)
        saved = nodes_of(await server_graph(api, canvas["id"]))
    assert len(saved) == 3
    assert saved["ada"]["properties"]["description"] == "Hood up against the rain"
    assert saved["dock"]["properties"]["location"] == "a storm-lashed dock"
    assert [n["type"] for n in saved.values() if n["id"] not in ("ada", "dock")] == ["shot"]
    assert await draft_of(page, canvas["id"]) is None, "the draft outlived the save"


async def take_away(api: StudioApi, canvas_id: str, reader: StudioUser, how: str) -> None:
    if how == "deleted":
        await call(api, "DELETE", f"/v1/canvases/{canvas_id}", 204)
    else:
        await share(api, canvas_id, reader, "none")


@pytest.mark.parametrize("how", ["deleted", "unshared"])
async def test_a_canvas_taken_away_while_open_says_so(
    platform: Platform, certificate: LocalCertificate, studio: StudioPage, how: str
) -> None:
    """The owner deletes the canvas, or stops sharing it, while another person has it open:
    that person's page says so plainly, with the way back, instead of an editor that can no
    longer save."""
    owner, viewer = create_studio_user(platform), create_studio_user(platform)
    graph = {"nodes": [character("ada", "Ada")], "edges": []}
    async with StudioApi.open(platform.gateway_url, owner.api_key) as api:
        canvas = await api.canvas_with_graph("Lighthouse", graph)
        await share(api, canvas["id"], viewer, "write")
        page = await open_canvas(studio, viewer, canvas["id"], certificate)
        await expect(node(page, "ada")).to_be_visible()
        await take_away(api, canvas["id"], viewer, how)

    alert = page.get_by_role("alert")
    await expect(alert).to_contain_text(GONE, timeout=UI_TIMEOUT_MS)
    await expect(alert.get_by_role("heading")).to_have_text("“Lighthouse” is not available")
    await expect(page.get_by_role("region", name="Node palette")).to_have_count(0)
    await alert.get_by_role("link", name="Back to your canvases").click()
    await expect(page.get_by_role("heading", name="Canvases")).to_be_visible(timeout=UI_TIMEOUT_MS)
    await expect(page.get_by_role("link", name="Lighthouse")).to_have_count(0)


async def test_a_canvas_link_to_nothing_says_so(
    platform: Platform, certificate: LocalCertificate, studio: StudioPage
) -> None:
    """A link to a canvas that never existed (or a mangled one) gets the same plain message,
    not a blank page or an error to retry."""
    user = create_studio_user(platform)
    await studio.sign_in_by_api(user.name, user.password, certificate.client_context())
    for canvas_id in (str(uuid.uuid4()), "not-a-canvas"):
        await studio.goto(f"/canvases/{canvas_id}")
        alert = studio.page.get_by_role("alert")
        await expect(alert).to_contain_text(GONE, timeout=UI_TIMEOUT_MS)
        await expect(alert.get_by_role("link", name="Back to your canvases")).to_be_visible()
        await expect(studio.page.get_by_role("button", name="Try again")).to_have_count(0)
