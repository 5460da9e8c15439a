"""The studio's flows end to end, in Chromium over HTTPS against the live platform: a canvas
drawn, wired, filled in, autosaved, executed with each node's state arriving live and the
storyboard frame drawn on the shot, then reloaded; two tabs of one user sharing one event
connection; a property value the schema refuses kept out of every request. Every test fails
on a Content-Security-Policy violation (the ``studio`` fixture).
"""

# The fixtures are imported from browser.py by name, which is how pytest finds them; a test's
# parameter of the same name is that fixture, not a redefinition.
# ruff: noqa: F811

from __future__ import annotations

import asyncio
import os
import re
import secrets
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, Final

import msgpack
import nats
import pyvips
from playwright.async_api import Locator, Page, WebSocket, expect

from libs.launcher import Platform
from services.fanout.presence import PRESENCE_BUCKET
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
    studio,
    studio_dist,
)

pytestmark = [NEEDS_CHROMIUM, IN_MODULE_LOOP]

# Execute renders a set piece with OpenSCAD, thumbnails and composes a frame: on a loaded
# 2-core machine that is the slow step of a flow.
EXECUTE_TIMEOUT_MS: Final = 120_000
# The states a node that runs passes through, in order: a quick one may skip "running", and a
# page may show only the last of several that came at once.
LIVE_ORDER: Final = ("queued", "running", "succeeded")


def set_piece(wall: str) -> str:
    """A small OpenSCAD set whose wall colour is a Customizer value: a colour of the test's
    own makes a render no earlier run has cached."""
    return (
        "// [Colours]\n"
        f'wall = "{wall}";\n'
        'floor = "#3c6e47";\n'
        "color(floor) cube([40, 40, 1]);\n"
        "color(wall) translate([0, 38, 0]) cube([40, 2, 20]);\n"
    )


def portrait_png() -> bytes:
    """A reference image of a colour no other run uploads (so its thumbnail is made, not
    cached)."""
    colour = [secrets.randbelow(256) for _ in range(3)]
    image = pyvips.Image.black(300, 400, bands=3).linear(1, colour)
    return bytes(image.cast("uchar").copy(interpretation="srgb").pngsave_buffer())


def random_colour() -> str:
    return f"#{secrets.token_hex(3)}"


# --- What the page shows ---------------------------------------------------------------------


def node_of(page: Page, node_id: str) -> Locator:
    return page.get_by_test_id(f"rf__node-{node_id}")


async def select(page: Page, node_id: str) -> None:
    """Select a node as a person would: a click on its title bar (not on a port)."""
    await node_of(page, node_id).locator(".sg-node__header").click()


def handle_of(page: Page, node_id: str, port: str, side: str) -> Locator:
    """A port's handle: React Flow names it by the node and the port (source: an output)."""
    kind = "source" if side == "output" else "target"
    return page.locator(
        f'.react-flow__handle.{kind}[data-nodeid="{node_id}"][data-handleid="{port}"]'
    )


def edge_of(page: Page, source: str, source_port: str, target: str, target_port: str) -> Locator:
    return page.get_by_test_id(f"rf__edge-{source}.{source_port}>{target}.{target_port}")


async def id_of_node(page: Page, name: str) -> str:
    """The id of the one node the canvas names ``name`` (a new node is named by its kind)."""
    found = await page.get_by_role("group", name=name, exact=True).get_attribute("data-id")
    assert found, name
    return found


async def drag(page: Page, start: Locator, end: Locator) -> None:
    """Press on ``start``, move to ``end`` in steps (as a hand would), release there."""
    start_box = await start.bounding_box()
    end_box = await end.bounding_box()
    assert start_box is not None and end_box is not None
    await page.mouse.move(
        start_box["x"] + start_box["width"] / 2, start_box["y"] + start_box["height"] / 2
    )
    await page.mouse.down()
    await page.mouse.move(
        end_box["x"] + end_box["width"] / 2, end_box["y"] + end_box["height"] / 2, steps=12
    )
    await page.mouse.up()


async def flow_position(node: Locator) -> dict[str, float]:
    """Where React Flow draws a node, in the canvas's coordinates (its transform)."""
    transform = await node.evaluate("(element) => element.style.transform")
    match = re.fullmatch(r"translate\((-?[\d.]+)px, (-?[\d.]+)px\)", transform)
    assert match is not None, transform
    return {"x": float(match[1]), "y": float(match[2])}


async def wait_for_picture(page: Page, picture: Locator) -> tuple[int, int]:
    """Until ``picture`` has loaded and decoded; its natural size."""
    await expect(picture).to_be_visible(timeout=UI_TIMEOUT_MS)
    element = await picture.element_handle()
    await page.wait_for_function(
        "(image) => image.complete && image.naturalWidth > 0",
        arg=element,
        timeout=UI_TIMEOUT_MS,
    )
    width, height = await picture.evaluate("(image) => [image.naturalWidth, image.naturalHeight]")
    return int(width), int(height)


async def press_execute(page: Page, canvas_id: str) -> dict[str, Any]:
    """Press Execute; the execution the gateway accepted (202), as the page received it."""
    path = f"/v1/canvases/{canvas_id}/execute"
    async with page.expect_response(
        lambda response: response.url.endswith(path) and response.status == 202,
        timeout=UI_TIMEOUT_MS,
    ) as accepted:
        await page.get_by_role("button", name="Execute").click()
    return dict(await (await accepted.value).json())


def save_state(page: Page) -> Locator:
    return page.get_by_role("status", name="Save state")


# Every change of a node's data-node-state, in order, from the moment it is installed.
_RECORD_NODE_STATES: Final = """() => {
  window.__nodeStates = [];
  new MutationObserver((mutations) => {
    for (const mutation of mutations) {
      const state = mutation.target.getAttribute("data-node-state");
      if (state !== null && state !== mutation.oldValue) {
        window.__nodeStates.push([mutation.target.dataset.id, state]);
      }
    }
  }).observe(document.body, {
    subtree: true,
    attributes: true,
    attributeOldValue: true,
    attributeFilter: ["data-node-state"],
  });
}"""


async def recorded_states(page: Page) -> dict[str, list[str]]:
    """The states each node passed through since _RECORD_NODE_STATES was installed."""
    log: list[list[str]] = await page.evaluate("() => window.__nodeStates")
    states: dict[str, list[str]] = {}
    for node_id, state in log:
        states.setdefault(node_id, []).append(state)
    return states


# --- The event connection, as the browser sees it --------------------------------------------


@dataclass
class LiveSockets:
    """The live WebSockets a page opens and every message they bring (each frame is a
    MessagePack array of the server's messages)."""

    sockets: list[WebSocket] = field(default_factory=list)
    messages: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def watch(cls, page: Page) -> LiveSockets:
        """Listen before the page opens anything: a socket opened earlier is not seen."""
        recorder = cls()
        page.on("websocket", recorder._opened)
        return recorder

    def _opened(self, socket: WebSocket) -> None:
        if "/v1/ws" not in socket.url:
            return
        self.sockets.append(socket)
        socket.on("framereceived", self._frame)

    def _frame(self, payload: str | bytes) -> None:
        if isinstance(payload, bytes):
            self.messages.extend(msgpack.unpackb(payload))

    def events(self, kind: str, canvas_id: str) -> list[dict[str, Any]]:
        """The events of type ``kind`` about canvas ``canvas_id`` that arrived so far."""
        return [
            message["event"]
            for message in self.messages
            if message.get("type") == "event"
            and message["event"].get("type") == kind
            and message["event"].get("canvas_id") == canvas_id
        ]

    def node_states(self, canvas_id: str, batch_id: str) -> dict[str, list[str]]:
        """The states each node of one execution was said to be in by ``canvas.nodes``
        events, in the order they came."""
        states: dict[str, list[str]] = {}
        for event in self.events("canvas.nodes", canvas_id):
            if event.get("batch_id") == batch_id:
                for node in event["nodes"]:
                    states.setdefault(node["node_id"], []).append(node["state"])
        return states


# --- Fan-out's count of a user's connections -------------------------------------------------


@dataclass
class CanvasViewers:
    """The live connections that view one canvas, as fan-out's presence bucket holds them: a
    key ``<canvas>.<user>.<connection>`` per connection, whichever fan-out process holds it,
    followed through a watch of the bucket (puts, deletes, and expiries)."""

    watcher: Any
    connections: set[tuple[str, str]] = field(default_factory=set)  # (user id, connection id)
    current: bool = False  # the keys the bucket held when the watch began have all arrived

    @classmethod
    @asynccontextmanager
    async def watch(cls, platform: Platform, canvas_id: str) -> AsyncIterator[CanvasViewers]:
        url = platform.stack.nats_url if platform.stack else os.environ["SHOTGRAPH_NATS_URL"]
        client = await nats.connect(url)
        try:
            board = await client.jetstream().key_value(PRESENCE_BUCKET)
            watcher = await board.watch(f"{canvas_id}.>", meta_only=True)
            try:
                yield cls(watcher)
            finally:
                await watcher.stop()
        finally:
            await client.close()

    async def until(
        self,
        condition: Callable[[frozenset[tuple[str, str]]], bool],
        what: str,
        timeout_s: float = UI_TIMEOUT_MS / 1000,
    ) -> frozenset[tuple[str, str]]:
        """The connections once ``condition`` holds of them; AssertionError naming ``what``
        if it does not within ``timeout_s``."""
        try:
            async with asyncio.timeout(timeout_s):
                while not (self.current and condition(frozenset(self.connections))):
                    self._apply(await anext(self.watcher))
        except TimeoutError:
            raise AssertionError(f"{what}: fan-out shows {self.connections}") from None
        return frozenset(self.connections)

    def _apply(self, entry: Any) -> None:
        if entry is None:
            self.current = True
            return
        _, user, connection = entry.key.split(".")
        if entry.operation is None:
            self.connections.add((user, connection))
        else:
            self.connections.discard((user, connection))


# --- 1. Draw, save, Execute, reload ----------------------------------------------------------


async def test_a_canvas_drawn_in_the_studio_saves_executes_live_and_reloads_as_it_was(
    platform: Platform, studio: StudioPage
) -> None:
    user = create_studio_user(platform)
    async with StudioApi.open(platform.gateway_url, user.api_key) as api:
        reference = await api.upload(portrait_png())
    page = studio.page
    live = LiveSockets.watch(page)

    # Sign in, then a new canvas from the list; it opens.
    await studio.goto("/")
    await studio.sign_in(user.name, user.password)
    await page.get_by_role("button", name="New canvas").click()
    await page.get_by_label("Name", exact=True).fill("Lighthouse, scene 1")
    await page.get_by_role("button", name="Create").click()
    await expect(page).to_have_url(re.compile(r"/canvases/[^/]+$"), timeout=UI_TIMEOUT_MS)
    canvas_id = studio.path.removeprefix("/canvases/")
    palette = page.get_by_role("region", name="Node palette")
    await expect(palette).to_be_visible(timeout=UI_TIMEOUT_MS)

    # The character clicked in (at the view's centre); the scene and the shot dragged in to
    # either side of it, apart enough that none covers another once results make them taller.
    await palette.get_by_role("button", name="Character", exact=True).click()
    pane = page.locator(".react-flow__pane")
    box = await pane.bounding_box()
    assert box is not None
    for kind, x in (("Scene", 0.2), ("Shot", 0.8)):
        await palette.get_by_role("button", name=kind, exact=True).drag_to(
            pane, target_position={"x": box["width"] * x, "y": box["height"] * 0.3}
        )
    await expect(page.locator(".react-flow__node")).to_have_count(3)
    ada, yard, shot = [await id_of_node(page, name) for name in ("Character", "Scene", "Shot")]

    # A character into the shot's scene input is refused, and says why.
    await drag(
        page, handle_of(page, ada, "character", "output"), handle_of(page, shot, "scene", "input")
    )
    hint = page.get_by_role("status", name="Connection")
    await expect(hint).to_have_text("Shot.scene takes a scene, not a character")
    await expect(page.locator(".react-flow__edge")).to_have_count(0)

    # The right ports connect.
    await drag(
        page,
        handle_of(page, ada, "character", "output"),
        handle_of(page, shot, "characters", "input"),
    )
    await drag(
        page, handle_of(page, yard, "scene", "output"), handle_of(page, shot, "scene", "input")
    )
    await expect(edge_of(page, ada, "character", shot, "characters")).to_be_attached()
    await expect(edge_of(page, yard, "scene", shot, "scene")).to_be_attached()
    await expect(page.locator(".react-flow__edge")).to_have_count(2)

    # What each node needs to Execute, typed into its properties.
    source = set_piece(random_colour())
    caption = f"Ada at the door {secrets.token_hex(2)}"
    properties = page.get_by_role("region", name="Properties")
    await select(page, ada)
    await properties.get_by_label("name", exact=True).fill("Ada")
    await properties.get_by_role("button", name="Add to reference_images").click()
    await properties.get_by_label("reference_images 1", exact=True).fill(reference)
    await select(page, yard)
    await properties.get_by_label("location", exact=True).fill("Lighthouse")
    await properties.get_by_role("button", name="Add set_piece").click()
    await properties.get_by_label("source", exact=True).fill(source)
    await select(page, shot)
    await properties.get_by_label("name", exact=True).fill(caption)
    await properties.get_by_label("framing", exact=True).select_option(label="wide")
    await properties.get_by_label("duration_s", exact=True).fill("2.5")

    # Autosaved: the server holds what was drawn.
    await expect(save_state(page)).to_have_attribute(
        "data-save-state", "saved", timeout=UI_TIMEOUT_MS
    )
    await expect(save_state(page)).to_have_text("Saved")
    drawn = {
        ada: {"name": "Ada", "reference_images": [reference]},
        yard: {
            "location": "Lighthouse",
            "lighting": "day",
            "mood": "neutral",
            "set_piece": {"source": source},
        },
        shot: {"name": caption, "camera_angle": "eye-level", "framing": "wide", "duration_s": 2.5},
    }
    kinds = {ada: "character", yard: "scene", shot: "shot"}
    async with StudioApi.open(platform.gateway_url, user.api_key) as api:
        saved = (await api.canvas(canvas_id))["graph"]
    assert {n["id"]: n["properties"] for n in saved["nodes"]} == drawn
    assert {n["id"]: n["type"] for n in saved["nodes"]} == kinds
    for node in saved["nodes"]:
        assert node["position"] == await flow_position(node_of(page, node["id"])), node
    assert sorted(saved["edges"], key=lambda e: e["target_port"]) == [
        {"source": ada, "source_port": "character", "target": shot, "target_port": "characters"},
        {"source": yard, "source_port": "scene", "target": shot, "target_port": "scene"},
    ]

    # Execute: every node's state arrives live, until all have succeeded.
    await page.evaluate(_RECORD_NODE_STATES)
    execution = await press_execute(page, canvas_id)
    assert {n["node_id"]: n["state"] for n in execution["nodes"]} == dict.fromkeys(kinds, "queued")
    for node_id in kinds:
        await expect(node_of(page, node_id)).to_have_attribute(
            "data-node-state", "succeeded", timeout=EXECUTE_TIMEOUT_MS
        )
    # Each node moved forward through the live states, never back, as the page showed them
    # and as they came over the one event connection (Execute's answer said only "queued").
    assert len(live.sockets) == 1, [socket.url for socket in live.sockets]
    shown = await recorded_states(page)
    heard = live.node_states(canvas_id, execution["batch_id"])
    for node_id in kinds:
        for states in (shown.get(node_id, []), heard.get(node_id, [])):
            assert states and states[-1] == "succeeded", (node_id, shown, heard)
            ranks = [LIVE_ORDER.index(state) for state in states]
            assert ranks == sorted(ranks), (node_id, shown, heard)

    # The storyboard frame is drawn on the shot (and each node's picture on its own).
    frame = node_of(page, shot).get_by_role("img", name="Storyboard frame")
    assert await wait_for_picture(page, frame) == (1280, 720)
    await wait_for_picture(page, node_of(page, ada).get_by_role("img", name="Reference thumbnail"))
    await wait_for_picture(page, node_of(page, yard).get_by_role("img", name="Set-piece preview"))

    # A reload shows the same canvas: nodes, edges, properties, states and the frame.
    await page.reload()
    for node_id in kinds:
        await expect(node_of(page, node_id)).to_have_attribute(
            "data-node-state", "succeeded", timeout=UI_TIMEOUT_MS
        )
    await expect(page.locator(".react-flow__node")).to_have_count(3)
    await expect(page.locator(".react-flow__edge")).to_have_count(2)
    await expect(edge_of(page, ada, "character", shot, "characters")).to_be_attached()
    await expect(edge_of(page, yard, "scene", shot, "scene")).to_be_attached()
    await expect(save_state(page)).to_have_attribute("data-save-state", "saved")
    await expect(page.get_by_role("note")).to_have_count(0)  # no draft to restore
    assert await wait_for_picture(page, frame) == (1280, 720)
    await select(page, shot)
    await expect(properties.get_by_label("name", exact=True)).to_have_value(caption)
    framing = properties.get_by_label("framing", exact=True)
    await expect(framing.locator("option:checked")).to_have_text("wide")
    await expect(properties.get_by_label("duration_s", exact=True)).to_have_value("2.5")
    await select(page, yard)
    await expect(properties.get_by_label("location", exact=True)).to_have_value("Lighthouse")
    await expect(properties.get_by_label("source", exact=True)).to_have_value(source)
    await select(page, ada)
    await expect(properties.get_by_label("name", exact=True)).to_have_value("Ada")
    await expect(properties.get_by_label("reference_images 1", exact=True)).to_have_value(reference)


# --- 2. Two tabs, one connection -------------------------------------------------------------


def lone_character(reference: str) -> dict[str, Any]:
    """A canvas of one character with one reference image: Execute thumbnails it."""
    properties = {"name": "Ada", "reference_images": [reference]}
    node = {
        "id": "ada",
        "type": "character",
        "position": {"x": 0, "y": 0},
        "properties": properties,
    }
    return {"nodes": [node], "edges": []}


async def test_two_tabs_of_one_user_share_one_connection_and_the_other_takes_over(
    platform: Platform, certificate: LocalCertificate, studio: StudioPage
) -> None:
    user = create_studio_user(platform)
    async with StudioApi.open(platform.gateway_url, user.api_key) as api:
        user_id = (await api.identity())["user_id"]
        canvas = await api.canvas_with_graph(
            "Two tabs", lone_character(await api.upload(portrait_png()))
        )
    canvas_id = canvas["id"]
    await studio.sign_in_by_api(user.name, user.password, certificate.client_context())
    first = studio.page
    second = await studio.context.new_page()
    first_sockets, second_sockets = LiveSockets.watch(first), LiveSockets.watch(second)

    async with CanvasViewers.watch(platform, canvas_id) as viewers:
        await viewers.until(lambda now: not now, "nobody views the new canvas yet")
        # Both tabs open the canvas; the first holds the connection, the second shares it.
        for page in (first, second):
            await page.goto(f"{studio.origin}/canvases/{canvas_id}")
            await expect(page.locator(".live-badge")).to_have_attribute(
                "data-live-state", "live", timeout=UI_TIMEOUT_MS
            )
            await expect(node_of(page, "ada")).to_be_visible()

        # An Execute in the first tab reaches both: the second, which has no connection of
        # its own, hears it from the first.
        # (The second tab's start renewed the session's CSRF token: the first tab's call is
        # refused once, and made again with the token it then fetches.)
        batch_id = (await press_execute(first, canvas_id))["batch_id"]
        for page in (first, second):
            await expect(node_of(page, "ada")).to_have_attribute(
                "data-node-state", "succeeded", timeout=EXECUTE_TIMEOUT_MS
            )
        assert len(first_sockets.sockets) == 1 and second_sockets.sockets == []
        assert first_sockets.node_states(canvas_id, batch_id)["ada"][-1] == "succeeded"
        # Fan-out counts one connection for the user, though both tabs follow the canvas.
        held = await viewers.until(bool, "the first tab's connection views the canvas")
        assert {user for user, _ in held} == {user_id} and len(held) == 1, held

        # The holder closes: the other tab connects in its place and stays live.
        async with second.expect_websocket(lambda s: "/v1/ws" in s.url, timeout=UI_TIMEOUT_MS):
            await first.close()
        await expect(second.locator(".live-badge")).to_have_attribute(
            "data-live-state", "live", timeout=UI_TIMEOUT_MS
        )
        now = await viewers.until(
            lambda now: len(now) == 1 and now != held,
            "the second tab's connection replaces the first's",
        )
        assert {user for user, _ in now} == {user_id} and len(second_sockets.sockets) == 1

        # Still live: a run started elsewhere (through the API, with another reference
        # image) brings its thumbnail to the tab.
        thumbnail = node_of(second, "ada").get_by_role("img", name="Reference thumbnail")
        before = await thumbnail.get_attribute("src")
        async with StudioApi.open(platform.gateway_url, user.api_key) as api:
            changed = lone_character(await api.upload(portrait_png()))
            await api.save_graph(canvas_id, changed, base_version=canvas["version"])
            execution = await api.execute(canvas_id)
            await expect(thumbnail).not_to_have_attribute(
                "src", before or "", timeout=EXECUTE_TIMEOUT_MS
            )
            made = (await api.results(canvas_id))["ada"]
        assert made["state"] == "succeeded"
        await expect(thumbnail).to_have_attribute("src", f"/v1/blobs/{made['output']['image']}")
        await wait_for_picture(second, thumbnail)
        heard = second_sockets.node_states(canvas_id, execution["batch_id"])
        assert heard["ada"][-1] == "succeeded", heard
        assert viewers.connections == set(now)


# --- 3. A value the schema refuses -----------------------------------------------------------


async def test_a_property_value_the_schema_refuses_is_marked_and_never_sent(
    platform: Platform, certificate: LocalCertificate, studio: StudioPage
) -> None:
    user = create_studio_user(platform)
    shot = {"name": "Opening", "framing": "wide", "duration_s": 3}
    graph = {
        "nodes": [{"id": "s010", "type": "shot", "position": {"x": 0, "y": 0}, "properties": shot}],
        "edges": [],
    }
    async with StudioApi.open(platform.gateway_url, user.api_key) as api:
        canvas = await api.canvas_with_graph("Refusals", graph)
    canvas_id = canvas["id"]
    await studio.sign_in_by_api(user.name, user.password, certificate.client_context())
    page = studio.page
    bodies: list[str] = []
    page.on("request", lambda request: bodies.append(request.post_data or ""))
    await studio.goto(f"/canvases/{canvas_id}")
    await select(page, "s010")
    properties = page.get_by_role("region", name="Properties")
    duration = properties.get_by_label("duration_s", exact=True)
    name = properties.get_by_label("name", exact=True)
    state = save_state(page)

    async def saved_shot() -> dict[str, Any]:
        async with StudioApi.open(platform.gateway_url, user.api_key) as api:
            (node,) = (await api.canvas(canvas_id))["graph"]["nodes"]
        return dict(node["properties"])

    # The control: a value the schema accepts is sent and saved.
    await duration.fill("4")
    await expect(state).to_have_attribute("data-save-state", "saved", timeout=UI_TIMEOUT_MS)
    assert (await saved_shot())["duration_s"] == 4
    assert any('"duration_s":4' in body for body in bodies)

    # Above the schema's maximum, and a caption longer than allowed: each marked on its field
    # with the message it is described by, kept in the field, and not sent.
    too_long = "A caption far longer than any storyboard frame can hold " * 3
    for refused_input, value, message in (
        (duration, "7200", "At most 3600"),
        (name, too_long, "At most 120 characters"),
    ):
        await refused_input.fill(value)
        await expect(refused_input).to_have_attribute("aria-invalid", "true")
        await expect(refused_input).to_have_accessible_description(re.compile(re.escape(message)))
        await expect(refused_input).to_have_value(value)
        await expect(state).to_have_attribute("data-save-state", "saved")

    # A later edit the schema accepts is saved, with the last valid values beside it.
    await properties.get_by_label("camera_angle", exact=True).select_option(label="low")
    await expect(state).to_have_attribute("data-save-state", "saved", timeout=UI_TIMEOUT_MS)
    assert await saved_shot() == {**shot, "duration_s": 4, "camera_angle": "low"}
    assert any('"camera_angle":"low"' in body for body in bodies)
    sent_duration = re.compile(r'"duration_s":\s*7200\b')
    refused = [b for b in bodies if sent_duration.search(b) or too_long.strip() in b]
    assert refused == [], refused
