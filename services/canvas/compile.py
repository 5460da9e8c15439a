"""Execute, worked out: a graph compiled into one batch of jobs, reusing what is already made.

Every node has a **key**: the SHA-256 of its type, its properties and, port by port, the keys of
the nodes wired into it. A node's result is kept under its key, so a node whose key has a
result is "cached" and makes no job, and a change anywhere upstream changes the keys downstream
and re-runs exactly those nodes.

What a node type makes is its ``NodeCompiler``: the jobs for one node, given what its inputs
made or will make. The engine (``plan``) knows no node type by name; a type without a
compiler makes nothing ("idle"), and a new type is one more entry in ``COMPILERS``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from services.canvas.graph import Graph, Node, canonical_json, topological_order

__all__ = [
    "COMPILERS",
    "FRAME_SIZE",
    "Made",
    "NodeJob",
    "Plan",
    "node_keys",
    "node_output",
    "plan",
]

THUMBNAIL_SIZE: Final = 512  # character cards are drawn at most about this big
FRAME_SIZE: Final = (1280, 720)
RENDER_VIEW: Final = {"width": 1280, "height": 720}


@dataclass(frozen=True)
class Made:
    """What an input node made or will make, as a compiler sees it."""

    node: Node
    output: Mapping[str, Any] | None  # its result, when it is cached
    jobs: tuple[str, ...]  # else the keys of the jobs making it, in this batch

    def image(self, *names: str) -> str | dict[str, str] | None:
        """The node's image: a blob, ``{"from": job}`` until made, or None if it makes none."""
        if self.output is not None:
            for name in names:
                if isinstance(self.output.get(name), str):
                    return str(self.output[name])
            return None
        return {"from": self.jobs[0]} if self.jobs else None


@dataclass(frozen=True)
class NodeJob:
    """One job of a node: a batch ``JobSpec`` whose key is ``<node id>/<step>``."""

    key: str
    function: str
    input: dict[str, Any]
    depends_on: tuple[str, ...] = ()


@dataclass(frozen=True)
class Plan:
    keys: dict[str, str]  # node id -> node key
    cached: dict[str, Mapping[str, Any]]  # node id -> its kept result
    jobs: dict[str, tuple[NodeJob, ...]] = field(default_factory=dict)  # node id -> its jobs
    idle: tuple[str, ...] = ()  # nodes that make nothing (nothing to make from)

    @property
    def batch(self) -> list[NodeJob]:
        return [job for jobs in self.jobs.values() for job in jobs]


NodeCompiler = Callable[[Node, Mapping[str, list[Made]]], list[NodeJob]]


def node_keys(graph: Graph) -> dict[str, str]:
    """Every node's key, inputs first (the graph has been validated: it has no cycle)."""
    nodes = {node.id: node for node in graph.nodes}
    keys: dict[str, str] = {}
    for node_id in topological_order(graph):
        node = nodes[node_id]
        inputs = {
            port: [keys[source] for source in sources]
            for port, sources in graph.inputs_of(node_id).items()
        }
        described = {"type": node.type, "properties": node.properties, "inputs": inputs}
        keys[node_id] = hashlib.sha256(canonical_json(described)).hexdigest()
    return keys


def plan(
    graph: Graph,
    results: Mapping[str, Mapping[str, Any]],
    compilers: Mapping[str, NodeCompiler] | None = None,
    *,
    keys: Mapping[str, str] | None = None,
) -> Plan:
    """The jobs that make every node not yet made, ``results`` being what is kept by key
    (looked up with ``keys``, the graph's ``node_keys``, when the caller has them already)."""
    compilers = COMPILERS if compilers is None else compilers
    nodes = {node.id: node for node in graph.nodes}
    keys = dict(keys) if keys is not None else node_keys(graph)
    cached: dict[str, Mapping[str, Any]] = {}
    jobs: dict[str, tuple[NodeJob, ...]] = {}
    idle: list[str] = []
    for node_id in topological_order(graph):
        node = nodes[node_id]
        if keys[node_id] in results:
            cached[node_id] = results[keys[node_id]]
            continue
        inputs = {
            port: [
                Made(nodes[source], cached.get(source), tuple(j.key for j in jobs.get(source, ())))
                for source in sources
            ]
            for port, sources in graph.inputs_of(node_id).items()
        }
        compiler = compilers.get(node.type)
        made_jobs = tuple(compiler(node, inputs)) if compiler else ()
        if made_jobs:
            jobs[node_id] = made_jobs
        else:
            idle.append(node_id)
    return Plan(keys=keys, cached=cached, jobs=jobs, idle=tuple(idle))


def node_output(node_id: str, outputs: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """A node's result from its jobs' outputs (by job key), once every one has succeeded."""
    prefix = f"{node_id}/"
    steps = {
        key.removeprefix(prefix): out for key, out in outputs.items() if key.startswith(prefix)
    }
    combined: dict[str, Any] = {}
    if "render" in steps:
        combined["render"] = dict(steps["render"])
        if isinstance(steps["render"].get("png"), str):
            combined["image"] = steps["render"]["png"]
    thumbnails = [
        steps[step]["thumbnail"]
        for step in sorted((s for s in steps if s.startswith("thumbnail/")), key=_step_number)
    ]
    if thumbnails:
        combined["thumbnails"] = thumbnails
        combined["image"] = thumbnails[0]
    if "frame" in steps:
        combined["frame"] = steps["frame"]["frame"]
        combined["image"] = steps["frame"]["frame"]
    return combined


def _step_number(step: str) -> int:
    return int(step.rsplit("/", 1)[1])


# --- the node types' compilers -----------------------------------------------------------------


def _character(node: Node, inputs: Mapping[str, list[Made]]) -> list[NodeJob]:
    """Each reference image thumbnailed; the first one is the character's card in frames."""
    return [
        NodeJob(
            f"{node.id}/thumbnail/{index}",
            "image.thumbnail",
            {"blob": blob, "size": THUMBNAIL_SIZE, "format": "png"},
        )
        for index, blob in enumerate(node.properties.get("reference_images", []))
    ]


def _scene(node: Node, inputs: Mapping[str, list[Made]]) -> list[NodeJob]:
    """The set piece rendered with its colours: a PNG to stage shots in, and a GLB to view."""
    set_piece = node.properties.get("set_piece")
    if not set_piece:
        return []
    job_input: dict[str, Any] = {
        "source": set_piece["source"],
        "parameters": set_piece.get("values", {}),
        "formats": ["png", "glb"],
        "view": RENDER_VIEW,
    }
    if set_piece.get("parameter_set"):
        job_input["parameter_set"] = set_piece["parameter_set"]
    return [NodeJob(f"{node.id}/render", "render.scad", job_input)]


def _shot(node: Node, inputs: Mapping[str, list[Made]]) -> list[NodeJob]:
    """The storyboard frame: the scene's backdrop (its image, else its set piece's render),
    each character's card, graded by the scene's lighting and mood."""
    scenes = inputs.get("scene", [])
    if not scenes:
        return []
    scene = scenes[0]
    backdrop = scene.node.properties.get("backdrop") or scene.image("image")
    if backdrop is None:
        return []
    characters = [c.image("image") for c in inputs.get("characters", [])]
    refs = [image for image in characters if image is not None]
    job_input = {
        "backdrop": backdrop,
        "characters": refs,
        "framing": node.properties["framing"],
        "angle": node.properties.get("camera_angle", "eye-level"),
        "lighting": scene.node.properties.get("lighting", "day"),
        "mood": scene.node.properties.get("mood", "neutral"),
        "title": node.properties["name"],
        "duration_s": node.properties["duration_s"],
        "size": list(FRAME_SIZE),
    }
    depends_on = tuple(ref["from"] for ref in (backdrop, *refs) if isinstance(ref, dict))
    return [NodeJob(f"{node.id}/frame", "image.frame", job_input, depends_on)]


COMPILERS: Final[Mapping[str, NodeCompiler]] = {
    "character": _character,
    "scene": _scene,
    "shot": _shot,
}
