"""The Production Canvas through the gateway: typed graphs, versions, sharing and Execute.

Every bad input of the canvas issue is here as the browser sees it: a 422 listing each fault
with where it is, and nothing saved; the loser of two saves from one base gets a 409 it can
merge from; another user's canvas is a 404.
"""

from __future__ import annotations

import asyncio
import copy
import io
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, TypeVar

import aiohttp
import pytest
import pyvips

from libs.launcher import Platform
from libs.live.client import ApiKey, LiveClient
from libs.live.protocol import ServerMessage, Subscribed, Unsubscribed
from libs.setpieces import MAX_SOURCE_BYTES
from tests.e2e.conftest import next_event, problem, read_events

pytestmark = pytest.mark.e2e

EXECUTE_TIMEOUT_S = 120.0
FINAL = frozenset({"succeeded", "failed", "idle"})
SET_PIECE = (
    "// [Colours]\n"
    'wall = "#8a5a44";\n'
    'floor = "#3c6e47";\n'
    "color(floor) cube([40, 40, 1]);\n"
    "color(wall) translate([0, 38, 0]) cube([40, 2, 20]);\n"
)


def node(node_id: str, kind: str, properties: dict[str, Any], x: float = 0) -> dict[str, Any]:
    return {"id": node_id, "type": kind, "position": {"x": x, "y": 0}, "properties": properties}


def edge(source: str, source_port: str, target: str, target_port: str) -> dict[str, str]:
    return {
        "source": source,
        "source_port": source_port,
        "target": target,
        "target_port": target_port,
    }


def storyboard(reference: str | None = None, duration_s: float = 2.5) -> dict[str, Any]:
    """Ada and a scene with a set piece, wired into one shot."""
    ada: dict[str, Any] = {"name": "Ada", "attributes": {"coat": "red"}}
    if reference:
        ada["reference_images"] = [reference]
    return {
        "nodes": [
            node("ada", "character", ada),
            node(
                "yard",
                "scene",
                {
                    "location": "Courtyard",
                    "lighting": "golden-hour",
                    "mood": "warm",
                    "set_piece": {"source": SET_PIECE, "values": {"wall": "#aa3333"}},
                },
                200,
            ),
            node(
                "s010",
                "shot",
                {"name": "Ada enters", "framing": "wide", "duration_s": duration_s},
                400,
            ),
        ],
        "edges": [
            edge("ada", "character", "s010", "characters"),
            edge("yard", "scene", "s010", "scene"),
        ],
    }


async def create(http: aiohttp.ClientSession, name: str = "Episode 1") -> dict[str, Any]:
    response = await http.post("/v1/canvases", json={"name": name})
    assert response.status == 201, await response.text()
    return dict(await response.json())


async def save(
    http: aiohttp.ClientSession, canvas_id: str, base: int, graph: dict[str, Any], **extra: Any
) -> aiohttp.ClientResponse:
    return await http.post(
        f"/v1/canvases/{canvas_id}/versions",
        json={"base_version": base, "graph": graph, **extra},
    )


async def head(http: aiohttp.ClientSession, canvas_id: str) -> dict[str, Any]:
    response = await http.get(f"/v1/canvases/{canvas_id}")
    assert response.status == 200, await response.text()
    return dict(await response.json())


COLLEAGUE = "e2e-colleague"


@dataclass(frozen=True)
class Colleague:
    user_id: str
    key: str
    http: aiohttp.ClientSession


@pytest.fixture
async def colleague(platform: Platform) -> AsyncIterator[Colleague]:
    """A second user, by the name COLLEAGUE: their id, a key and a session as them."""
    key = await asyncio.to_thread(platform.create_api_key, COLLEAGUE)
    async with aiohttp.ClientSession(
        base_url=platform.gateway_url, headers={"Authorization": f"Bearer {key}"}
    ) as session:
        me = await (await session.get("/v1/auth/session")).json()
        yield Colleague(me["identity"]["user_id"], key, session)


@pytest.fixture
async def other(platform: Platform) -> AsyncIterator[tuple[str, aiohttp.ClientSession]]:
    """A second user: their user id and a session as them."""
    key = await asyncio.to_thread(platform.create_api_key, "e2e-colleague")
    async with aiohttp.ClientSession(
        base_url=platform.gateway_url, headers={"Authorization": f"Bearer {key}"}
    ) as session:
        canvas = await create(session, "mine")
        yield canvas["owner_id"], session


# --- the registry and validation -------------------------------------------------------------


async def test_node_types_describe_their_forms_and_ports(http: aiohttp.ClientSession) -> None:
    response = await http.get("/v1/canvas-node-types")
    assert response.status == 200
    types = {t["name"]: t for t in (await response.json())["node_types"]}
    assert {"character", "scene", "shot"} <= set(types)
    shot = types["shot"]
    assert "framing" in shot["properties"]["required"]
    inputs = {p["name"]: p for p in shot["inputs"]}
    assert (
        inputs["scene"]["type"] == "scene" and inputs["scene"]["min"] == inputs["scene"]["max"] == 1
    )
    again = await http.get(
        "/v1/canvas-node-types", headers={"If-None-Match": response.headers["ETag"]}
    )
    assert again.status == 304


BAD_GRAPHS: list[tuple[str, Any, list[dict[str, Any]]]] = []


def _bad(name: str, change: Any, *expected: dict[str, Any]) -> None:
    BAD_GRAPHS.append((name, change, list(expected)))


def _with(mutate: Any) -> dict[str, Any]:
    graph = storyboard()
    mutate(graph)
    return graph


_bad(
    "unknown node type",
    _with(lambda g: g["nodes"].append(node("fx", "lens-flare", {}))),
    {"kind": "unknown_node_type", "node": "fx"},
)
_bad(
    "edge to a missing node",
    _with(lambda g: g["edges"].append(edge("ghost", "character", "s010", "characters"))),
    {"kind": "dangling_edge", "node": "ghost", "edge": 2},
)
_bad(
    "edge to a missing port",
    _with(lambda g: g["edges"].append(edge("ada", "character", "s010", "props"))),
    {"kind": "unknown_port", "node": "s010", "port": "props"},
)
_bad(
    "wrong port type",
    _with(lambda g: g["edges"].append(edge("ada", "character", "s010", "scene"))),
    {"kind": "port_type_mismatch", "node": "s010", "port": "scene"},
)
_bad(
    "a second scene on one shot",
    _with(
        lambda g: (
            g["nodes"].append(
                node("yard2", "scene", {**g["nodes"][1]["properties"], "location": "Street"})
            ),
            g["edges"].append(edge("yard2", "scene", "s010", "scene")),
        )
    ),
    {"kind": "too_many_connections", "node": "s010", "port": "scene"},
)
_bad(
    "a property of the wrong type",
    _with(lambda g: g["nodes"][2]["properties"].update(duration_s="long")),
    {"kind": "invalid_property", "node": "s010", "field": "duration_s"},
)
_bad(
    "a cycle",
    {
        "nodes": [
            node("a", "shot", {"name": "A", "framing": "wide", "duration_s": 1}),
            node("b", "shot", {"name": "B", "framing": "wide", "duration_s": 1}),
        ],
        "edges": [edge("a", "frame", "b", "scene"), edge("b", "frame", "a", "scene")],
    },
    {"kind": "cycle"},
)
_bad(
    "more nodes than the limit (500)",
    {"nodes": [node(f"c{i}", "character", {"name": f"C{i}"}) for i in range(501)], "edges": []},
    {"kind": "graph_too_large"},
)


@pytest.mark.parametrize(
    ("graph", "expected"), [(g, e) for _, g, e in BAD_GRAPHS], ids=[n for n, _, _ in BAD_GRAPHS]
)
async def test_a_bad_graph_is_a_422_naming_each_fault_and_saves_nothing(
    http: aiohttp.ClientSession, graph: dict[str, Any], expected: list[dict[str, Any]]
) -> None:
    canvas = await create(http)
    body = await problem(await save(http, canvas["id"], 1, graph), 422)
    for wanted in expected:
        assert any(wanted.items() <= p.items() for p in body["problems"]), body["problems"]
    assert all(p["message"] for p in body["problems"])
    assert (await head(http, canvas["id"]))["version"] == 1, "nothing saved"
    checked = await http.post("/v1/graphs/validate", json={"graph": graph})
    assert checked.status == 200 and not (await checked.json())["executable"]


def set_piece_of(size: int, pad: str) -> dict[str, Any]:
    """The storyboard with its set piece padded by a comment of ``pad`` characters (topped up
    with "x") to exactly ``size`` bytes of UTF-8."""
    room = size - len(SET_PIECE.encode()) - len("//")
    width = len(pad.encode())
    source = SET_PIECE + "//" + pad * (room // width) + "x" * (room % width)
    assert len(source.encode()) == size
    return _with(lambda g: g["nodes"][1]["properties"]["set_piece"].update(source=source))


@pytest.mark.parametrize(
    ("graph", "says"),
    [
        (set_piece_of(MAX_SOURCE_BYTES, "é"), None),
        (set_piece_of(MAX_SOURCE_BYTES + 1, "x"), "at most 262144 characters"),
        (set_piece_of(MAX_SOURCE_BYTES + 1, "é"), "the limit is 262144 bytes (256 KiB)"),
    ],
    ids=["exactly-the-limit", "one-byte-over", "under-in-characters-over-in-bytes"],
)
async def test_a_set_piece_is_held_to_the_renderers_limit_in_bytes(
    http: aiohttp.ClientSession, graph: dict[str, Any], says: str | None
) -> None:
    canvas = await create(http)
    response = await save(http, canvas["id"], 1, graph)
    if says is None:
        assert response.status == 201, await response.text()
        return
    body = await problem(response, 422)
    assert [(p["kind"], p["node"], p["field"]) for p in body["problems"]] == [
        ("invalid_property", "yard", "set_piece.source")
    ]
    assert says in body["problems"][0]["message"]


async def test_every_fault_is_listed_not_only_the_first(http: aiohttp.ClientSession) -> None:
    graph = storyboard()
    graph["nodes"].append(node("fx", "lens-flare", {}))
    graph["edges"].append(edge("ghost", "character", "s010", "characters"))
    graph["nodes"][2]["properties"]["duration_s"] = "long"
    canvas = await create(http)
    body = await problem(await save(http, canvas["id"], 1, graph), 422)
    kinds = {p["kind"] for p in body["problems"]}
    assert {"unknown_node_type", "dangling_edge", "invalid_property"} <= kinds


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"base_version": 1}, 400),  # no graph
        ({"base_version": 0, "graph": {"nodes": [], "edges": []}}, 400),
        ({"base_version": "1", "graph": {"nodes": [], "edges": []}}, 400),
        ({"base_version": 1, "graph": {"nodes": [], "edges": []}, "colour": "red"}, 400),
        ({"base_version": 1, "graph": {"nodes": [], "edges": []}, "autosave": "yes"}, 400),
    ],
    ids=["no graph", "version 0", "version as a string", "unknown field", "autosave not a bool"],
)
async def test_malformed_saves_are_400s(
    http: aiohttp.ClientSession, body: dict[str, Any], status: int
) -> None:
    canvas = await create(http)
    await problem(await http.post(f"/v1/canvases/{canvas['id']}/versions", json=body), status)


async def test_a_graph_nested_too_deep_or_over_the_body_limit_is_refused(
    http: aiohttp.ClientSession,
) -> None:
    canvas = await create(http)
    deep: Any = "bottom"
    for _ in range(200):
        deep = {"x": deep}
    graph = _with(lambda g: g["nodes"][0]["properties"]["attributes"].update(deep=deep))
    await problem(await save(http, canvas["id"], 1, graph), 400)
    huge = _with(lambda g: g["nodes"][0]["properties"].update(description="x" * 1_100_000))
    body = io.BytesIO(json.dumps({"base_version": 1, "graph": huge}).encode())
    over = await http.post(
        f"/v1/canvases/{canvas['id']}/versions",
        data=body,
        headers={"Content-Type": "application/json"},
    )
    await problem(over, 413)
    assert (await head(http, canvas["id"]))["version"] == 1


# --- versions --------------------------------------------------------------------------------


async def test_saves_make_versions_with_etags_pages_diffs_and_restores(
    http: aiohttp.ClientSession,
) -> None:
    canvas = await create(http)
    first = await save(http, canvas["id"], 1, storyboard(), message="Blocking")
    assert first.status == 201, await first.text()
    assert (await first.json())["number"] == 2
    changed = storyboard(duration_s=4)
    changed["nodes"].append(node("bo", "character", {"name": "Bo"}))
    second = await save(http, canvas["id"], 2, changed, message="Longer")
    assert second.status == 201

    response = await http.get(f"/v1/canvases/{canvas['id']}")
    assert response.status == 200 and (await response.json())["graph"]["nodes"][3]["id"] == "bo"
    etag = response.headers["ETag"]
    cached = await http.get(f"/v1/canvases/{canvas['id']}", headers={"If-None-Match": etag})
    assert cached.status == 304

    page = await (await http.get(f"/v1/canvases/{canvas['id']}/versions?limit=2")).json()
    assert [v["number"] for v in page["versions"]] == [3, 2] and page["next_page_token"]
    rest = await (
        await http.get(
            f"/v1/canvases/{canvas['id']}/versions?limit=2&cursor={page['next_page_token']}"
        )
    ).json()
    assert [v["number"] for v in rest["versions"]] == [1] and not rest["next_page_token"]

    diff = await (await http.get(f"/v1/canvases/{canvas['id']}/diff?from=2&to=3")).json()
    assert diff["nodes_added"] == ["bo"]
    assert diff["nodes_changed"] == [{"node": "s010", "fields": ["properties.duration_s"]}]

    restored = await http.post(
        f"/v1/canvases/{canvas['id']}/versions/2/restore", json={"base_version": 3}
    )
    assert restored.status == 201, await restored.text()
    assert (await restored.json())["message"] == "Restored version 2"
    now = await head(http, canvas["id"])
    assert now["version"] == 4 and len(now["graph"]["nodes"]) == 3
    assert (
        await http.get(f"/v1/canvases/{canvas['id']}", headers={"If-None-Match": etag})
    ).status == 200
    await problem(await http.get(f"/v1/canvases/{canvas['id']}/versions/99"), 404)


async def test_two_saves_from_one_base_one_wins_the_other_gets_a_409_to_merge_from(
    http: aiohttp.ClientSession,
) -> None:
    canvas = await create(http)
    mine, theirs = storyboard(duration_s=3), storyboard(duration_s=5)
    responses = await asyncio.gather(
        save(http, canvas["id"], 1, mine), save(http, canvas["id"], 1, theirs)
    )
    statuses = sorted(r.status for r in responses)
    assert statuses == [201, 409]
    loser = next(r for r in responses if r.status == 409)
    conflict = await problem(loser, 409)
    assert conflict["current_version"] == 2 and conflict["base_version"] == 1
    assert set(conflict["changes"]["nodes_added"]) == {"ada", "yard", "s010"}
    # The loser merges onto the current version and saves again.
    merged = copy.deepcopy(storyboard(duration_s=4))
    again = await save(http, canvas["id"], conflict["current_version"], merged)
    assert again.status == 201 and (await again.json())["number"] == 3


async def test_autosaves_coalesce_and_an_unchanged_one_saves_nothing(
    http: aiohttp.ClientSession,
) -> None:
    canvas = await create(http)
    await save(http, canvas["id"], 1, storyboard(), message="Named")
    one = await save(http, canvas["id"], 2, storyboard(duration_s=3), autosave=True)
    two = await save(http, canvas["id"], 3, storyboard(duration_s=4), autosave=True)
    assert (one.status, two.status) == (201, 201)
    assert (await two.json())["parent"] == 2
    same = await save(http, canvas["id"], 4, storyboard(duration_s=4), autosave=True)
    assert same.status == 200 and (await same.json())["unchanged"]
    listed = await (await http.get(f"/v1/canvases/{canvas['id']}/versions")).json()
    assert [(v["number"], v["autosave"]) for v in listed["versions"]] == [
        (4, True),
        (2, False),
        (1, False),
    ]


async def test_an_incomplete_graph_saves_with_warnings_but_does_not_execute(
    http: aiohttp.ClientSession,
) -> None:
    canvas = await create(http)
    graph = storyboard()
    graph["edges"] = graph["edges"][:1]  # the shot has lost its scene
    saved = await save(http, canvas["id"], 1, graph)
    assert saved.status == 201
    warnings = (await saved.json())["warnings"]
    assert any(w["kind"] == "missing_connection" and w["port"] == "scene" for w in warnings)
    refused = await problem(await http.post(f"/v1/canvases/{canvas['id']}/execute"), 422)
    assert any(p["kind"] == "missing_connection" for p in refused["problems"])
    results = await (await http.get(f"/v1/canvases/{canvas['id']}/results")).json()
    assert {n["state"] for n in results["nodes"]} == {"not_run"}
    # An editor opening it reads the same problems with the canvas, in one call.
    opened = await (await http.get(f"/v1/canvases/{canvas['id']}?with=problems")).json()
    assert opened["problems"] == warnings
    plain = await (await http.get(f"/v1/canvases/{canvas['id']}")).json()
    assert plain["problems"] == []


# --- ownership -------------------------------------------------------------------------------


async def test_another_users_canvas_is_a_404_until_shared(
    http: aiohttp.ClientSession, other: tuple[str, aiohttp.ClientSession]
) -> None:
    colleague_id, colleague = other
    canvas = await create(http, "private")
    url = f"/v1/canvases/{canvas['id']}"
    for response in (
        await colleague.get(url),
        await colleague.get(f"{url}/versions"),
        await save(colleague, canvas["id"], 1, storyboard()),
        await colleague.post(f"{url}/execute"),
    ):
        await problem(response, 404)
    mine = await (await colleague.get("/v1/canvases")).json()
    assert canvas["id"] not in {c["id"] for c in mine["canvases"]}

    for bad in (
        {"user_id": colleague_id, "access": "admin"},
        {"user_id": "x" * 201, "access": "read"},
        {"user_id": "", "access": "read"},
        {"user_id": canvas["owner_id"], "access": "read"},
    ):
        await problem(await http.post(f"{url}/shares", json=bad), 400)
    await http.post(f"{url}/shares", json={"user_id": colleague_id, "access": "read"})
    shared = await colleague.get(url)
    assert shared.status == 200 and (await shared.json())["access"] == "read"
    await problem(await save(colleague, canvas["id"], 1, storyboard()), 403)
    await problem(
        await colleague.post(f"{url}/shares", json={"user_id": colleague_id, "access": "write"}),
        403,
    )
    await http.post(f"{url}/shares", json={"user_id": colleague_id, "access": "write"})
    assert (await save(colleague, canvas["id"], 1, storyboard())).status == 201
    await http.post(f"{url}/shares", json={"user_id": colleague_id, "access": "none"})
    await problem(await colleague.get(url), 404)


# --- execute ---------------------------------------------------------------------------------


async def results_when_done(http: aiohttp.ClientSession, canvas_id: str) -> dict[str, Any]:
    """Node results, polled until every node is final (or the deadline fails the test)."""
    deadline = time.monotonic() + EXECUTE_TIMEOUT_S
    while True:
        response = await http.get(f"/v1/canvases/{canvas_id}/results")
        assert response.status == 200, await response.text()
        results = {n["node_id"]: n for n in (await response.json())["nodes"]}
        if all(n["state"] in FINAL for n in results.values()):
            return results
        assert time.monotonic() < deadline, results
        await asyncio.sleep(0.5)


async def test_execute_makes_frames_and_reruns_only_what_changed(
    http: aiohttp.ClientSession,
) -> None:
    portrait = pyvips.Image.black(300, 400, bands=3).linear(1, [180, 60, 40])
    png = portrait.cast("uchar").copy(interpretation="srgb").pngsave_buffer()
    upload = await http.post("/v1/blobs", data=png)
    assert upload.status in (200, 201), await upload.text()
    reference = (await upload.json())["sha256"]

    canvas = await create(http)
    assert (await save(http, canvas["id"], 1, storyboard(reference))).status == 201
    events: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    stream = await http.get("/v1/events", timeout=aiohttp.ClientTimeout(total=180))
    assert stream.status == 200
    reader = asyncio.create_task(read_events(stream, events))
    try:
        started = await http.post(f"/v1/canvases/{canvas['id']}/execute")
        assert started.status == 202, await started.text()
        execution = await started.json()
        assert execution["batch_id"]
        assert {n["node_id"]: n["state"] for n in execution["nodes"]} == {
            "ada": "queued",
            "yard": "queued",
            "s010": "queued",
        }
        # Pressed again while it runs: the same batch, nothing submitted twice (or, had it
        # already finished, everything cached).
        twice = await (await http.post(f"/v1/canvases/{canvas['id']}/execute")).json()
        assert twice["batch_id"] in (execution["batch_id"], "")
        # The browser hears of it through fan-out: the execution, then each node's jobs.
        announced = await next_event(events, "canvas.execution")
        assert announced["batch_id"] == execution["batch_id"]
        finished_nodes: set[str] = set()
        while finished_nodes != {"ada", "yard", "s010"}:
            progress = await next_event(events, "batch.progress")
            for job in progress["jobs"]:
                if job["state"] == "succeeded":
                    finished_nodes.add(job["key"].split("/")[0])
    finally:
        reader.cancel()
        stream.close()

    done = await results_when_done(http, canvas["id"])
    assert {n: r["state"] for n, r in done.items()} == dict.fromkeys(done, "succeeded"), done
    frame = done["s010"]["output"]["frame"]
    image = pyvips.Image.new_from_buffer(await (await http.get(f"/v1/blobs/{frame}")).read(), "")
    assert (image.width, image.height) == (1280, 720)
    assert done["yard"]["output"]["render"]["glb"]
    assert len(done["ada"]["output"]["thumbnails"]) == 1

    again = await (await http.post(f"/v1/canvases/{canvas['id']}/execute")).json()
    assert not again["batch_id"], "nothing to make"
    assert {n["state"] for n in again["nodes"]} == {"cached"}

    await save(http, canvas["id"], 2, storyboard(reference, duration_s=6))
    rerun = await (await http.post(f"/v1/canvases/{canvas['id']}/execute")).json()
    states = {n["node_id"]: n["state"] for n in rerun["nodes"]}
    assert states == {"ada": "cached", "yard": "cached", "s010": "queued"}
    redone = await results_when_done(http, canvas["id"])
    assert redone["s010"]["state"] == "succeeded"
    assert redone["s010"]["output"]["frame"] != frame, "a new caption, a new frame"


# --- rename, share by name, delete ----------------------------------------------------------


async def test_a_canvas_is_shared_by_name_and_renamed_by_a_writer(
    http: aiohttp.ClientSession, colleague: Colleague
) -> None:
    canvas = await create(http, "Pilot")
    url = f"/v1/canvases/{canvas['id']}"

    shared = await http.post(f"{url}/shares", json={"user": COLLEAGUE.upper(), "access": "write"})
    assert shared.status == 200, await shared.text()
    assert await shared.json() == {
        "canvas_id": canvas["id"],
        "user_id": colleague.user_id,
        "user_name": COLLEAGUE,
        "access": "write",
    }
    listed = await (await http.get(f"{url}/shares")).json()
    assert listed["shares"] == [
        {"canvas_id": canvas["id"], "user_id": colleague.user_id, "user_name": COLLEAGUE,
         "access": "write"}
    ]  # fmt: skip
    await problem(await colleague.http.get(f"{url}/shares"), 403)
    unknown = await http.post(f"{url}/shares", json={"user": "no-such-person", "access": "read"})
    assert (await problem(unknown, 404))["detail"] == "no user with that name or email"
    me = (await (await http.get("/v1/auth/session")).json())["identity"]["user_name"]
    await problem(await http.post(f"{url}/shares", json={"user": me, "access": "read"}), 400)

    renamed = await colleague.http.patch(url, json={"name": "  Pilot, second cut  "})
    assert renamed.status == 200, await renamed.text()
    assert (await renamed.json())["name"] == "Pilot, second cut"
    assert (await head(http, canvas["id"]))["name"] == "Pilot, second cut"
    for bad in ("", "   ", "x" * 201, "Pilot\nsecond cut", "Pilot\x00"):
        await problem(await colleague.http.patch(url, json={"name": bad}), 400)
    await problem(await http.post("/v1/canvases", json={"name": "Pilot\tcut"}), 400)
    assert (await head(http, canvas["id"]))["name"] == "Pilot, second cut"


async def test_a_deleted_canvas_is_gone_for_everyone_and_its_viewers_lose_it(
    platform: Platform, http: aiohttp.ClientSession, colleague: Colleague
) -> None:
    canvas = await create(http, "Doomed")
    url, topic = f"/v1/canvases/{canvas['id']}", f"canvas:{canvas['id']}"
    assert (await save(http, canvas["id"], 1, storyboard())).status == 201
    shared = await http.post(f"{url}/shares", json={"user": COLLEAGUE, "access": "write"})
    assert shared.status == 200, await shared.text()

    async with LiveClient(
        platform.gateway_url, auth=ApiKey(colleague.key), topics=[topic]
    ) as viewer:
        assert (await next_of(viewer, Subscribed)).topic == topic
        await problem(await colleague.http.delete(url), 403)  # a writer, not the owner
        deleted = await http.delete(url)
        assert deleted.status == 204, await deleted.text()
        lost = await next_of(viewer, Unsubscribed)
        assert (lost.topic, lost.reason) == (topic, "access_lost")

    for session in (http, colleague.http):
        for read in (url, f"{url}/versions", f"{url}/versions/2", f"{url}/results"):
            await problem(await session.get(read), 404)
        mine = await (await session.get("/v1/canvases")).json()
        assert canvas["id"] not in {c["id"] for c in mine["canvases"]}
    await problem(await save(colleague.http, canvas["id"], 2, storyboard()), 404)
    await problem(await http.delete(url), 404)


M = TypeVar("M", bound=ServerMessage)


async def next_of(client: LiveClient, kind: type[M], timeout_s: float = 30.0) -> M:
    """The next message of ``kind`` the live client receives."""
    async with asyncio.timeout(timeout_s):
        async for message in client:
            if isinstance(message, kind):
                return message
    raise AssertionError(f"the live connection ended before a {kind.__name__}")
