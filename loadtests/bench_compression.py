"""How much smaller are the API's real responses compressed, and what does that cost the gateway?

``python -m loadtests.bench_compression [--versions 6] [--repeat 50]`` starts the whole platform,
creates a canvas of some 50 Character, Scene and Shot nodes from the node types the API lists,
saves ``--versions`` versions of it, then fetches the canvas, its version list and the node
types with ``Accept-Encoding`` identity, gzip and br. It prints each response's bytes on the
wire and how much smaller than identity it is (the target: at least 70 % with brotli), and the
time the gateway's own encoder (``services.gateway.compression.encode``, at the qualities the
gateway uses) takes for that body: the median of ``--repeat`` runs in this process. Run time is
dominated by starting the platform, about half a minute.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

from libs.launcher import Platform
from libs.ratelimit import generous_policies
from loadtests.common import print_result, stopped_at_exit
from services.gateway.compression import BROTLI_QUALITY, GZIP_LEVEL, Coding, encode

TARGET_BR_SAVING = 0.70
CODINGS = (Coding.IDENTITY, Coding.GZIP, Coding.BR)
SET_PIECE = (
    "// [Colours]\n"
    'wall = "#8a5a44";\n'
    'floor = "#3c6e47";\n'
    "color(floor) cube([40, 40, 1]);\n"
    "color(wall) translate([0, 38, 0]) cube([40, 2, 20]);\n"
)


@dataclass(frozen=True)
class Measured:
    response: str
    coding: Coding
    wire_bytes: int
    identity_bytes: int
    encode_ms: float

    @property
    def saving(self) -> float:
        return 1 - self.wire_bytes / self.identity_bytes


def _node(node_id: str, kind: str, x: float, y: float, **properties: Any) -> dict[str, Any]:
    return {"id": node_id, "type": kind, "position": {"x": x, "y": y}, "properties": properties}


def _edge(source: str, port: str, target: str, target_port: str) -> dict[str, str]:
    return {"source": source, "source_port": port, "target": target, "target_port": target_port}


def production(revision: int) -> dict[str, Any]:
    """A production's graph: 10 characters, 8 scenes and 32 shots, each shot wired to its scene
    and two characters; ``revision`` renames and moves things, as an editing session does."""
    characters = [
        _node(
            f"char-{i}",
            "character",
            40.0 + revision,
            120.0 * i,
            name=f"Character {i} (rev {revision})",
            attributes={"coat": ("red", "navy", "olive")[i % 3], "age": str(20 + i)},
        )
        for i in range(10)
    ]
    scenes = [
        _node(
            f"scene-{i}",
            "scene",
            400.0,
            150.0 * i + revision,
            location=f"Location {i}",
            lighting="golden-hour",
            mood="warm",
            set_piece={"source": SET_PIECE, "values": {"wall": f"#{i:02x}3333"}},
        )
        for i in range(8)
    ]
    shots = [
        _node(
            f"shot-{i:03d}",
            "shot",
            800.0 + 10 * revision,
            60.0 * i,
            name=f"Shot {i:03d}: take {revision}",
            framing="wide",
            duration_s=2.5 + (i % 4) * 0.5,
        )
        for i in range(32)
    ]
    edges = []
    for i in range(32):
        edges.append(_edge(f"scene-{i % 8}", "scene", f"shot-{i:03d}", "scene"))
        for c in (i % 10, (i + 3) % 10):
            edges.append(_edge(f"char-{c}", "character", f"shot-{i:03d}", "characters"))
    return {"nodes": characters + scenes + shots, "edges": edges}


async def _checked(response: aiohttp.ClientResponse, status: int) -> Any:
    body = await response.json()
    if response.status != status:
        raise SystemExit(f"{response.method} {response.url}: {response.status} {body}")
    return body


async def prepare(session: aiohttp.ClientSession, versions: int) -> str:
    """A canvas with ``versions`` saved versions of a production on top of its first; its id."""
    types = await _checked(await session.get("/v1/canvas-node-types"), 200)
    listed = {kind.get("name") for kind in types["node_types"]}
    if not {"character", "scene", "shot"} <= listed:
        raise SystemExit(f"the graph below needs node types the API does not list: {listed}")
    canvas = await _checked(await session.post("/v1/canvases", json={"name": "Episode 1"}), 201)
    for base in range(1, versions + 1):
        body = {"base_version": base, "graph": production(base), "message": f"Pass {base}"}
        await _checked(await session.post(f"/v1/canvases/{canvas['id']}/versions", json=body), 201)
    return str(canvas["id"])


async def measure(
    session: aiohttp.ClientSession, name: str, path: str, repeat: int
) -> list[Measured]:
    raw: dict[Coding, bytes] = {}
    for coding in CODINGS:
        async with session.get(
            path, headers={"Accept-Encoding": coding}, auto_decompress=False
        ) as response:
            if response.status != 200:
                raise SystemExit(f"GET {path}: {response.status} {await response.text()}")
            sent = response.headers.get("Content-Encoding", Coding.IDENTITY)
            if sent != coding:
                raise SystemExit(f"GET {path} asked for {coding}, was sent {sent}")
            raw[coding] = await response.read()
    identity = raw[Coding.IDENTITY]
    measured = []
    for coding in CODINGS:
        times = []
        for _ in range(repeat):
            started = time.perf_counter()
            encode(identity, coding)
            times.append(time.perf_counter() - started)
        measured.append(
            Measured(name, coding, len(raw[coding]), len(identity), statistics.median(times) * 1e3)
        )
    return measured


async def run(base_url: str, key: str, versions: int, repeat: int) -> list[Measured]:
    headers = {"Authorization": f"Bearer {key}"}
    async with aiohttp.ClientSession(base_url, headers=headers) as session:
        canvas_id = await prepare(session, versions)
        found: list[Measured] = []
        for name, path in (
            ("canvas", f"/v1/canvases/{canvas_id}"),
            ("version list", f"/v1/canvases/{canvas_id}/versions"),
            ("node types", "/v1/canvas-node-types"),
        ):
            found += await measure(session, name, path, repeat)
        return found


def report(found: list[Measured]) -> None:
    print(f"\nbrotli quality {BROTLI_QUALITY}, gzip level {GZIP_LEVEL}")
    print(f"{'response':<14}{'coding':<10}{'bytes':>9}{'smaller':>10}{'encode ms':>11}")
    for m in found:
        smaller = "" if m.coding is Coding.IDENTITY else f"{m.saving:.1%}"
        encode_ms = "" if m.coding is Coding.IDENTITY else f"{m.encode_ms:.3f}"
        print(f"{m.response:<14}{m.coding:<10}{m.wire_bytes:>9,}{smaller:>10}{encode_ms:>11}")
    brotli = [m for m in found if m.coding is Coding.BR]
    met = all(m.saving >= TARGET_BR_SAVING for m in brotli)
    print(f"\nbrotli at least {TARGET_BR_SAVING:.0%} smaller on every response: {met}")
    print_result(
        {
            m.response: {
                c.coding.value: {"bytes": c.wire_bytes, "encode_ms": round(c.encode_ms, 3)}
                for c in found
                if c.response == m.response
            }
            for m in found
        }
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--versions", type=int, default=6, help="versions to save (1-50)")
    parser.add_argument("--repeat", type=int, default=50, help="encodings timed per body")
    args = parser.parse_args()
    if not 1 <= args.versions <= 50 or not 1 <= args.repeat <= 1000:
        parser.error("--versions must be 1-50 and --repeat 1-1000")
    with tempfile.TemporaryDirectory(prefix="shotgraph-bench-") as root:
        system = Platform(
            root=Path(root) / "platform", env={"SHOTGRAPH_RATE_LIMITS": generous_policies()}
        )
        with stopped_at_exit(system):
            print("starting the platform...", flush=True)
            system.start()
            key = system.create_api_key("bench")
            report(asyncio.run(run(system.gateway_url, key, args.versions, args.repeat)))


if __name__ == "__main__":
    main()
