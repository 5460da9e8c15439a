"""A Locust scenario of a production team working on its canvases through the gateway.

``python -m loadtests.locust_canvas`` starts the platform and runs this file for you. By hand:
``locust -f loadtests/locustfile.py --headless -u 50 -r 10 -t 60s --host http://127.0.0.1:8080``
with ``SHOTGRAPH_API_KEYS`` set to the team's keys, comma-separated (or ``SHOTGRAPH_API_KEY``
to one key: a team of one, which shares nothing).

Each simulated user is a session of one team member (the keys are dealt round-robin). It
creates a canvas of its own holding a complete storyboard (a character, a scene with an
OpenSCAD set piece, a shot wired to both), and every second user shares that canvas with two
team mates, one to write and one to read, so several sessions open, and some edit, the same
canvas. Then, between 1 and 3 s apart (2 s on average, about 0.5 actions a second), it does:

=====================  ======  =================================================================
action                 weight  why that often
=====================  ======  =================================================================
autosave               45      an editor autosaves every few seconds while someone works: here
                               every ~4.5 s, a small edit (a node moved; one in four the shot's
                               notes changed) from the version last seen; on 409 the client
                               merges (re-reads, re-applies its edit) and saves once more
open a canvas          26      tab focus and navigation: 3 in 4 revalidate the open canvas with
                               ``If-None-Match`` (a 304 when nobody changed it), 1 in 4 switch
                               to another canvas from the listing or back to one's own
list canvases          12      the canvas browser, 10 a page, following ``next_page_token``
                               (up to 3 pages); it is also how shared canvases are found
list versions          10      the history panel, 20 a page, sometimes one page further
named save             6       "Save" with a message, about every 35 s of work
execute                1       about once every 3 minutes per user, then the results polled
                               twice, 1 s apart: it really runs jobs on the platform's workers;
                               after the first runs nearly every node is cached (moving a node
                               changes nothing it makes, and the notes have four values)
=====================  ======  =================================================================

A session on a canvas shared with it to read does not edit it (autosave, save and execute skip).
Statistics are grouped by endpoint template (``/v1/canvases/{id}``), with autosaves and named
saves apart. Any status other than the expected ones is a failure; a 409 on a raced save is
expected and handled, and counted apart (conflicts, merges, merges that raced again).

``SHOTGRAPH_REFERENCE_IMAGE`` (optional) is the sha256 of an uploaded image, used as the
character's reference image. The scenario's own counts are logged when Locust quits;
``SHOTGRAPH_LOCUST_SUMMARY`` (optional) names a file to write them to, as JSON, with the final
statistics: what ``loadtests/locust_canvas.py`` reads.
"""

from __future__ import annotations

import copy
import itertools
import json
import logging
import os
import random
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any, Final

from locust import HttpUser, between, events, task
from locust.clients import ResponseContextManager
from locust.env import Environment
from locust.runners import MasterRunner
from locust.stats import StatsEntry

API_KEYS: Final = [
    key.strip()
    for key in (
        os.environ.get("SHOTGRAPH_API_KEYS") or os.environ.get("SHOTGRAPH_API_KEY", "")
    ).split(",")
    if key.strip()
]
REFERENCE_IMAGE: Final = os.environ.get("SHOTGRAPH_REFERENCE_IMAGE", "")
SUMMARY_PATH: Final = os.environ.get("SHOTGRAPH_LOCUST_SUMMARY", "")

CANVAS_PAGE, MAX_CANVAS_PAGES = 10, 3
VERSION_PAGE = 20
SHARE_EVERY = 2  # every second user shares its canvas
RESULT_POLLS, RESULT_POLL_S = 2, 1.0
NOTES_SHARE = 0.25  # of edits: the rest move a node
NOTES: Final = (
    "Hold on the doorway.",
    "Ada stops, looks up.",
    "Slow push in.",
    "Cut on the turn.",
)
SET_PIECE: Final = (
    "// [Colours]\n"
    'wall = "#8a5a44";\n'
    'floor = "#3c6e47";\n'
    "color(floor) cube([40, 40, 1]);\n"
    "color(wall) translate([0, 38, 0]) cube([40, 2, 20]);\n"
)
WRITERS: Final = ("owner", "write")

Graph = dict[str, Any]
Edit = Callable[[Graph], None]  # applied in place; applying it again gives the same graph

# What the scenario counts beside Locust's statistics (one process: greenlets, no threads).
TALLY: Counter[str] = Counter()
# Team member number -> user id, learned from each member's first canvas; sharing needs it.
TEAM: dict[int, str] = {}
_user_numbers = itertools.count()

log = logging.getLogger("shotgraph.locust")


@events.init.add_listener
def _require_keys(environment: Environment, **_: Any) -> None:
    """Stop at once rather than report a test full of 401s (a master sends no requests)."""
    if not API_KEYS and not isinstance(environment.runner, MasterRunner):
        raise SystemExit("set SHOTGRAPH_API_KEYS (comma-separated) or SHOTGRAPH_API_KEY")


@events.quitting.add_listener
def _write_summary(environment: Environment, **_: Any) -> None:
    """Log the scenario's counts; with ``SHOTGRAPH_LOCUST_SUMMARY``, write them and the final
    statistics (per endpoint, percentiles, failures, exceptions) to that file as JSON."""
    log.info("scenario tally: %s", json.dumps(dict(sorted(TALLY.items()))))
    if SUMMARY_PATH:
        with open(SUMMARY_PATH, "w") as out:
            json.dump(summary(environment), out)


def summary(environment: Environment) -> dict[str, Any]:
    """Locust's final statistics and the scenario's counts, as one JSON document."""
    stats = environment.stats
    exceptions = environment.runner.exceptions.values() if environment.runner else ()
    return {
        "endpoints": [_figures(entry) for entry in stats.entries.values() if entry.num_requests],
        "total": _figures(stats.total),
        "failures": [
            {"endpoint": f"{e.method} {e.name}", "error": e.to_name(), "count": e.occurrences}
            for e in stats.errors.values()
        ],
        "exceptions": [{"message": e["msg"], "count": e["count"]} for e in exceptions],
        "tally": dict(TALLY),
    }


def _figures(entry: StatsEntry) -> dict[str, Any]:
    def percentile(share: float) -> int | None:
        return int(entry.get_response_time_percentile(share)) if entry.num_requests else None

    return {
        "name": f"{entry.method} {entry.name}" if entry.method else "all",
        "requests": entry.num_requests,
        "failures": entry.num_failures,
        "rps": round(entry.total_rps, 2),
        "p50_ms": percentile(0.50),
        "p95_ms": percentile(0.95),
        "p99_ms": percentile(0.99),
    }


def storyboard(reference: str = "") -> Graph:
    """Ada and a courtyard with a set piece, wired into one shot: a graph Execute accepts.

    Node positions vary from canvas to canvas; the properties do not, so every canvas's nodes
    have the same keys and what one execution made, the others find cached.
    """
    ada: dict[str, Any] = {"name": "Ada", "attributes": {"coat": "red"}}
    if reference:
        ada["reference_images"] = [reference]
    scene = {
        "location": "Courtyard",
        "lighting": "golden-hour",
        "mood": "warm",
        "set_piece": {"source": SET_PIECE, "values": {"wall": "#aa3333"}},
    }
    shot = {"name": "Ada enters", "framing": "wide", "duration_s": 2.5}
    return {
        "nodes": [
            _node("ada", "character", ada, 0),
            _node("yard", "scene", scene, 200),
            _node("s010", "shot", shot, 400),
        ],
        "edges": [
            _edge("ada", "character", "s010", "characters"),
            _edge("yard", "scene", "s010", "scene"),
        ],
    }


def _node(node_id: str, kind: str, properties: dict[str, Any], x: float) -> dict[str, Any]:
    position = {"x": x + random.randint(-40, 40), "y": random.randint(-40, 40)}
    return {"id": node_id, "type": kind, "position": position, "properties": properties}


def _edge(source: str, source_port: str, target: str, target_port: str) -> dict[str, str]:
    return {
        "source": source,
        "source_port": source_port,
        "target": target,
        "target_port": target_port,
    }


def small_edit() -> Edit:
    """What someone does between two autosaves: moves a node, or now and then rewrites the
    shot's notes (which changes what Execute would make for it)."""
    if random.random() < NOTES_SHARE:
        return partial(_write_notes, random.choice(NOTES))
    node_id = random.choice(("ada", "yard", "s010"))
    return partial(_move, node_id, random.randint(0, 600), random.randint(-200, 200))


def _write_notes(notes: str, graph: Graph) -> None:
    for node in graph["nodes"]:
        if node["type"] == "shot":
            node["properties"]["notes"] = notes


def _move(node_id: str, x: int, y: int, graph: Graph) -> None:
    for node in graph["nodes"]:
        if node["id"] == node_id:
            node["position"] = {"x": x, "y": y}


@dataclass
class OpenCanvas:
    """The canvas a session has open, as it last saw it."""

    id: str
    access: str
    version: int
    graph: Graph

    @property
    def writable(self) -> bool:
        return self.access in WRITERS


class TeamMember(HttpUser):
    """One session of a team member, working on a canvas."""

    wait_time = between(1, 3)

    def on_start(self) -> None:
        number = next(_user_numbers)
        self.member = number % len(API_KEYS)
        self.client.headers["Authorization"] = f"Bearer {API_KEYS[self.member]}"
        # The browser's HTTP cache: canvas id -> (ETag, body), for If-None-Match.
        self.seen: dict[str, tuple[str, dict[str, Any]]] = {}
        self.listed: dict[str, str] = {}  # canvas id -> access, from the canvas browser
        self.current: OpenCanvas | None = None
        self.own = self._create_canvas(f"Sequence {number:03d}")
        if not self.own:
            return
        self._save(self.current, "/v1/canvases/{id}/versions (save)", self._replace, "Storyboard")
        if number % SHARE_EVERY == 0:
            self._share_with_team_mates()

    # -- the actions ---------------------------------------------------------------------

    @task(45)
    def autosave(self) -> None:
        if self.current is not None and self.current.writable:
            self._save(self.current, "/v1/canvases/{id}/versions (autosave)", small_edit())

    @task(26)
    def open_canvas(self) -> None:
        others = [c for c in self.listed if self.current is None or c != self.current.id]
        if self.current is None or (others and random.random() < 0.25):
            target = random.choice(others) if others and random.random() < 0.5 else self.own
            if target:
                self._open(target)
        else:
            self._open(self.current.id)

    @task(12)
    def list_canvases(self) -> None:
        cursor = ""
        for _ in range(MAX_CANVAS_PAGES):
            params = {"limit": str(CANVAS_PAGE)} | ({"cursor": cursor} if cursor else {})
            name = "/v1/canvases?cursor" if cursor else "/v1/canvases"
            with self.client.get(
                "/v1/canvases", params=params, name=name, catch_response=True
            ) as response:
                if not _expect(response, 200):
                    return
                page = response.json()
                response.success()
            for canvas in page["canvases"]:
                self.listed[canvas["id"]] = canvas["access"]
            cursor = page.get("next_page_token", "")
            if not cursor:
                return

    @task(10)
    def list_versions(self) -> None:
        if self.current is None:
            return
        url = f"/v1/canvases/{self.current.id}/versions"
        params = {"limit": str(VERSION_PAGE)}
        with self.client.get(
            url, params=params, name="/v1/canvases/{id}/versions", catch_response=True
        ) as response:
            if not _expect(response, 200):
                return
            cursor = response.json().get("next_page_token", "")
            response.success()
        if cursor and random.random() < 0.3:
            with self.client.get(
                url,
                params=params | {"cursor": cursor},
                name="/v1/canvases/{id}/versions?cursor",
                catch_response=True,
            ) as response:
                if _expect(response, 200):
                    response.success()

    @task(6)
    def named_save(self) -> None:
        if self.current is not None and self.current.writable:
            message = f"Pass {random.randint(1, 99)}"
            self._save(self.current, "/v1/canvases/{id}/versions (save)", small_edit(), message)

    @task(1)
    def execute(self) -> None:
        if self.current is None or not self.current.writable:
            return
        canvas_id = self.current.id
        with self.client.post(
            f"/v1/canvases/{canvas_id}/execute",
            name="/v1/canvases/{id}/execute",
            catch_response=True,
        ) as response:
            if not _expect(response, 202):
                return
            execution = response.json()
            response.success()
        states = Counter(node["state"] for node in execution["nodes"])
        TALLY["executes"] += 1
        TALLY["executes_all_cached" if not execution["batch_id"] else "executes_submitted"] += 1
        TALLY["execute_nodes_cached"] += states["cached"]
        TALLY["execute_nodes_queued"] += states["queued"]
        for _ in range(RESULT_POLLS):  # the results panel, until the user looks away
            time.sleep(RESULT_POLL_S)
            with self.client.get(
                f"/v1/canvases/{canvas_id}/results",
                name="/v1/canvases/{id}/results",
                catch_response=True,
            ) as response:
                if _expect(response, 200):
                    response.success()

    # -- the parts -----------------------------------------------------------------------

    def _create_canvas(self, name: str) -> str:
        with self.client.post(
            "/v1/canvases", json={"name": name}, name="/v1/canvases", catch_response=True
        ) as response:
            if not _expect(response, 201):
                return ""
            canvas = response.json()
            response.success()
        TEAM.setdefault(self.member, canvas["owner_id"])
        self.current = OpenCanvas(canvas["id"], canvas["access"], canvas["version"], {})
        return str(canvas["id"])

    def _replace(self, graph: Graph) -> None:
        """The first save: the storyboard, in place of the new canvas's empty graph."""
        graph.clear()
        graph.update(storyboard(REFERENCE_IMAGE))

    def _share_with_team_mates(self) -> None:
        """Share with two team mates whose user ids are known: one to write, one to read."""
        mates = [user for member, user in TEAM.items() if member != self.member]
        chosen = random.sample(mates, min(2, len(mates)))
        for user_id, access in zip(chosen, ("write", "read"), strict=False):
            with self.client.post(
                f"/v1/canvases/{self.own}/shares",
                json={"user_id": user_id, "access": access},
                name="/v1/canvases/{id}/shares",
                catch_response=True,
            ) as response:
                if _expect(response, 200):
                    response.success()
                    TALLY[f"shared_{access}"] += 1

    def _open(self, canvas_id: str) -> dict[str, Any] | None:
        """GET the canvas, revalidating what the browser has; it becomes the open one."""
        etag, cached = self.seen.get(canvas_id, ("", {}))
        headers = {"If-None-Match": etag} if etag else {}
        with self.client.get(
            f"/v1/canvases/{canvas_id}",
            headers=headers,
            name="/v1/canvases/{id}",
            catch_response=True,
        ) as response:
            if not _expect(response, 200, 304):
                return None
            if response.status_code == 304:
                TALLY["revalidated_304"] += 1
                canvas = cached
            else:
                canvas = response.json()
                self.seen[canvas_id] = (response.headers.get("ETag", ""), canvas)
            response.success()
        self.current = OpenCanvas(
            canvas["id"], canvas["access"], canvas["version"], canvas.get("graph") or {}
        )
        return canvas

    def _save(self, canvas: OpenCanvas | None, name: str, edit: Edit, message: str = "") -> None:
        """Save ``edit`` from the version last seen; on 409, merge and save once more."""
        if canvas is None:
            return
        kind = "save" if message else "autosave"
        graph = copy.deepcopy(canvas.graph)
        edit(graph)
        if self._post_version(canvas, name, graph, message) != 409:
            return
        TALLY[f"{kind}_conflicts"] += 1
        # The merge: re-read the canvas (its current_version or a newer one), edit it again.
        if self._open(canvas.id) is None or self.current is None:
            TALLY[f"{kind}_merges_failed"] += 1
            return
        graph = copy.deepcopy(self.current.graph)
        edit(graph)
        status = self._post_version(self.current, name, graph, message)
        # Raced again: left for the next save, which starts from the version just read.
        TALLY[f"{kind}_merges_saved" if status in (200, 201) else f"{kind}_merges_raced"] += 1

    def _post_version(self, canvas: OpenCanvas, name: str, graph: Graph, message: str) -> int:
        """POST a version from ``canvas.version``; its status (a 409 is not a failure)."""
        body: dict[str, Any] = {"base_version": canvas.version, "graph": graph}
        body |= {"message": message} if message else {"autosave": True}
        with self.client.post(
            f"/v1/canvases/{canvas.id}/versions", json=body, name=name, catch_response=True
        ) as response:
            if not _expect(response, 201, 200, 409):
                return int(response.status_code)
            answer = response.json()
            response.success()
        if response.status_code == 201:
            canvas.version, canvas.graph = answer["number"], graph
        elif response.status_code == 200:
            TALLY["autosaves_unchanged"] += 1
        return int(response.status_code)


def _expect(response: ResponseContextManager, *statuses: int) -> bool:
    """Whether the status is one of ``statuses``; otherwise the request is marked failed, with
    the problem's title so that failures of one kind group together."""
    if response.status_code in statuses:
        return True
    try:
        title = f": {response.json().get('title', '')}"
    except (ValueError, AttributeError, TypeError):  # not JSON, or no response
        title = ""
    expected = "/".join(map(str, statuses))
    response.failure(f"expected {expected}, got {response.status_code}{title}")
    return False
