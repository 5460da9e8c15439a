"""The node graph of a canvas: its model, the problems found in one, and its order.

Nothing here names a node type. ``validation.py`` reads a client's JSON into a ``Graph``;
``topological_order`` says which node to work on first, and ``cycles`` names the loops that
make an order impossible.
"""

from __future__ import annotations

import dataclasses
import heapq
import json
from collections import deque
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "Edge",
    "Graph",
    "GraphLimits",
    "Node",
    "Problem",
    "canonical_json",
    "cycle_path",
    "cycles",
    "topological_order",
]


@dataclass(frozen=True)
class Node:
    id: str
    type: str
    x: float
    y: float
    properties: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "type": self.type,
            "position": {"x": self.x, "y": self.y},
            "properties": self.properties,
        }


@dataclass(frozen=True, order=True)
class Edge:
    """A connection from an output port of ``source`` to an input port of ``target``."""

    source: str
    source_port: str
    target: str
    target_port: str

    def to_json(self) -> dict[str, str]:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class Graph:
    nodes: tuple[Node, ...] = ()
    edges: tuple[Edge, ...] = ()
    _by_id: dict[str, Node] = field(init=False, repr=False, compare=False)
    _from: dict[str, tuple[Edge, ...]] = field(init=False, repr=False, compare=False)
    _to: dict[str, tuple[Edge, ...]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        by_id: dict[str, Node] = {}
        for node in self.nodes:
            by_id.setdefault(node.id, node)  # the first of a duplicated id, as validate keeps it
        outgoing: dict[str, list[Edge]] = {}
        incoming: dict[str, list[Edge]] = {}
        for edge in self.edges:
            outgoing.setdefault(edge.source, []).append(edge)
            incoming.setdefault(edge.target, []).append(edge)
        object.__setattr__(self, "_by_id", by_id)
        object.__setattr__(self, "_from", {key: tuple(v) for key, v in outgoing.items()})
        object.__setattr__(self, "_to", {key: tuple(v) for key, v in incoming.items()})

    def node(self, node_id: str) -> Node | None:
        return self._by_id.get(node_id)

    def edges_from(self, node_id: str) -> tuple[Edge, ...]:
        """The edges leaving ``node_id``, in the graph's edge order."""
        return self._from.get(node_id, ())

    def edges_to(self, node_id: str) -> tuple[Edge, ...]:
        """The edges entering ``node_id``, in the graph's edge order."""
        return self._to.get(node_id, ())

    def inputs_of(self, node_id: str) -> dict[str, list[str]]:
        """The ids of the nodes feeding each input port of ``node_id``, in edge order."""
        inputs: dict[str, list[str]] = {}
        for edge in self.edges_to(node_id):
            inputs.setdefault(edge.target_port, []).append(edge.source)
        return inputs

    def to_json(self) -> dict[str, Any]:
        """The wire form: ``{"nodes": [...], "edges": [...]}`` in the graph's own order."""
        return {
            "nodes": [node.to_json() for node in self.nodes],
            "edges": [edge.to_json() for edge in self.edges],
        }


@dataclass(frozen=True)
class GraphLimits:
    max_nodes: int = 500
    max_edges: int = 2000
    max_bytes: int = 1_048_576  # of canonical_json(graph)
    max_id_length: int = 64  # node ids and port names


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a graph, pinned to what a UI can highlight.

    ``kind`` is one of: invalid_graph, graph_too_large, duplicate_node, unknown_node_type,
    dangling_edge, unknown_port, port_type_mismatch, duplicate_edge, too_many_connections,
    missing_connection, cycle, required_property, invalid_property. ``field`` is a dotted path
    into the node's properties (or the wire field, for invalid_graph); ``edge`` an index into
    the edges as sent.
    """

    kind: str
    message: str
    node: str | None = None
    port: str | None = None
    field: str | None = None
    edge: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return {key: value for key, value in dataclasses.asdict(self).items() if value is not None}


_SHOWN_CYCLE = 20  # nodes named in one cycle's message


def canonical_json(value: object) -> bytes:
    """Compact, key-sorted UTF-8 JSON: one encoding per value, for hashes and size limits.

    Raises ValueError for NaN, infinities and lone surrogates, TypeError for non-JSON types.
    """
    text = json.dumps(
        value, ensure_ascii=False, sort_keys=True, separators=(",", ":"), allow_nan=False
    )
    return text.encode()


def topological_order(graph: Graph) -> list[str]:
    """Node ids, each after every node that feeds it; ties keep the graph's node order.

    Raises ValueError if the graph has a cycle. Edges to missing nodes are ignored.
    """
    position: dict[str, int] = {}
    for index, node in enumerate(graph.nodes):
        position.setdefault(node.id, index)
    successors = _successors(position, graph.edges)
    waiting = dict.fromkeys(position, 0)
    for targets in successors.values():
        for target in targets:
            waiting[target] += 1
    ready = [position[node_id] for node_id, count in waiting.items() if count == 0]
    heapq.heapify(ready)
    order: list[str] = []
    while ready:
        node_id = graph.nodes[heapq.heappop(ready)].id
        order.append(node_id)
        for target in successors[node_id]:
            waiting[target] -= 1
            if waiting[target] == 0:
                heapq.heappush(ready, position[target])
    if len(order) < len(position):
        cycle = cycles(graph.nodes, graph.edges)[0]
        raise ValueError(f"the graph has a cycle: {cycle_path(cycle)}")
    return order


def _successors(node_ids: Iterable[str], edges: Iterable[Edge]) -> dict[str, dict[str, None]]:
    """Each node's distinct targets, in edge order (a dict as an ordered set)."""
    successors: dict[str, dict[str, None]] = {node_id: {} for node_id in node_ids}
    for edge in edges:
        if edge.source in successors and edge.target in successors:
            successors[edge.source][edge.target] = None
    return successors


def cycles(nodes: Sequence[Node], edges: Iterable[Edge]) -> list[list[str]]:
    """One cycle per strongly connected part of the graph, as node ids from its first node.

    Listing every elementary cycle could take exponential time, so each tangle is named once,
    by its shortest cycle through the node that comes first in the graph.
    """
    position: dict[str, int] = {}
    for index, node in enumerate(nodes):
        position.setdefault(node.id, index)
    successors = _successors(position, edges)
    cycles = []
    for component in _strong_components(successors):
        start = min(component, key=position.__getitem__)
        if len(component) > 1 or start in successors[start]:
            cycles.append(_shortest_cycle(start, set(component), successors))
    cycles.sort(key=lambda cycle: position[cycle[0]])
    return cycles


def _strong_components(successors: Mapping[str, Iterable[str]]) -> list[list[str]]:
    """Tarjan's algorithm, with an explicit stack: graphs may be deeper than Python recurses."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []
    for root in successors:
        if root in index:
            continue
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        work: list[tuple[str, Iterator[str]]] = [(root, iter(successors[root]))]
        while work:
            node, targets = work[-1]
            for target in targets:
                if target not in index:
                    index[target] = low[target] = len(index)
                    stack.append(target)
                    on_stack.add(target)
                    work.append((target, iter(successors[target])))
                    break
                if target in on_stack:
                    low[node] = min(low[node], index[target])
            else:
                work.pop()
                if work:
                    parent = work[-1][0]
                    low[parent] = min(low[parent], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    components.append(component)
    return components


def _shortest_cycle(
    start: str, members: set[str], successors: Mapping[str, Iterable[str]]
) -> list[str]:
    parents: dict[str, str] = {}
    queue = deque([start])
    while queue:
        current = queue.popleft()
        for target in successors[current]:
            if target == start:
                cycle = [current]
                while cycle[-1] != start:
                    cycle.append(parents[cycle[-1]])
                return cycle[::-1]
            if target in members and target not in parents:
                parents[target] = current
                queue.append(target)
    raise AssertionError(f"{start!r} lies on no cycle")  # callers pass a node on a cycle


def cycle_path(cycle: Sequence[str]) -> str:
    shown = [*cycle[:_SHOWN_CYCLE], cycle[0]]
    if len(cycle) > _SHOWN_CYCLE:
        shown[-1:-1] = [f"… ({len(cycle) - _SHOWN_CYCLE} more)"]
    return " → ".join(shown)
