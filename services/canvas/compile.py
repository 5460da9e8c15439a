"""Execute, worked out: a graph compiled into one batch of jobs, reusing what is already made.

Every node has a **key**: the SHA-256 of its type, its properties and, port by port, the keys of
the nodes wired into it. A node's result is kept under its key, so a node whose key has a
result is "cached" and makes no job, and a change anywhere upstream changes the keys downstream
and re-runs exactly those nodes.

What a node makes is its type's to say (``NodeType.compile`` and ``NodeType.result``, see
nodetypes.py); the engine here knows no type by name and asks the registry. A node whose type
compiles to no job makes nothing ("idle").
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from services.canvas.graph import Graph, canonical_json, topological_order
from services.canvas.kinds import DEFAULT_TYPES
from services.canvas.nodetypes import Made, NodeJob, NodeType, NodeTypeRegistry

__all__ = ["Plan", "node_keys", "node_output", "plan"]


@dataclass(frozen=True)
class Plan:
    keys: dict[str, str]  # node id -> node key
    cached: dict[str, Mapping[str, Any]]  # node id -> its kept result
    jobs: dict[str, tuple[NodeJob, ...]] = field(default_factory=dict)  # node id -> its jobs
    idle: tuple[str, ...] = ()  # nodes that make nothing (nothing to make from)

    @property
    def batch(self) -> list[NodeJob]:
        return [job for jobs in self.jobs.values() for job in jobs]


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
    registry: NodeTypeRegistry = DEFAULT_TYPES,
    *,
    keys: Mapping[str, str] | None = None,
) -> Plan:
    """The jobs that make every node not yet made, ``results`` being what is kept by key
    (looked up with ``keys``, the graph's ``node_keys``, when the caller has them already)."""
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
        node_type = registry.get(node.type)
        compiler = node_type.compile if node_type is not None else None
        made_jobs = tuple(compiler(node, inputs)) if compiler is not None else ()
        strays = [job.key for job in made_jobs if not job.key.startswith(f"{node_id}/")]
        if strays:  # a type's bug: its result could not be assembled from its jobs
            raise ValueError(f"{node.type} {node_id!r} compiled jobs of another node: {strays}")
        if made_jobs:
            jobs[node_id] = made_jobs
        else:
            idle.append(node_id)
    return Plan(keys=keys, cached=cached, jobs=jobs, idle=tuple(idle))


def node_output(
    node_type: NodeType, node_id: str, outputs: Mapping[str, Mapping[str, Any]]
) -> dict[str, Any]:
    """A node's result from its jobs' outputs (by job key), once every one has succeeded;
    MissingOutput when an output lacks what the result is made of."""
    if node_type.result is None:
        return {}
    prefix = f"{node_id}/"
    steps = {
        key.removeprefix(prefix): out for key, out in outputs.items() if key.startswith(prefix)
    }
    return node_type.result(steps)
