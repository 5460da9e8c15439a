"""What changed between two versions of a canvas's graph.

Nodes are matched by id and edges by their four values; a changed node lists the fields that
changed, so a version history can say "moved c1" or "changed s1's lighting". Like graph.py,
nothing here names a node type.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from services.canvas.graph import Edge, Graph, Node, canonical_json

__all__ = ["GraphDiff", "NodeChange", "diff"]


@dataclass(frozen=True)
class NodeChange:
    """A node in both graphs; ``fields`` are "type", "position" and "properties.<key>"."""

    node: str
    fields: tuple[str, ...]


@dataclass(frozen=True)
class GraphDiff:
    nodes_added: tuple[str, ...] = ()
    nodes_removed: tuple[str, ...] = ()
    nodes_changed: tuple[NodeChange, ...] = ()
    edges_added: tuple[Edge, ...] = ()
    edges_removed: tuple[Edge, ...] = ()

    @property
    def empty(self) -> bool:
        return not (
            self.nodes_added
            or self.nodes_removed
            or self.nodes_changed
            or self.edges_added
            or self.edges_removed
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "nodes_added": list(self.nodes_added),
            "nodes_removed": list(self.nodes_removed),
            "nodes_changed": [
                {"node": change.node, "fields": list(change.fields)}
                for change in self.nodes_changed
            ],
            "edges_added": [edge.to_json() for edge in self.edges_added],
            "edges_removed": [edge.to_json() for edge in self.edges_removed],
        }


def diff(old: Graph, new: Graph) -> GraphDiff:
    """What turns ``old`` into ``new``; every part sorted, so equal changes compare equal."""
    old_nodes = {node.id: node for node in old.nodes}
    new_nodes = {node.id: node for node in new.nodes}
    changes = []
    for node_id in sorted(old_nodes.keys() & new_nodes.keys()):
        fields = _changed_fields(old_nodes[node_id], new_nodes[node_id])
        if fields:
            changes.append(NodeChange(node_id, fields))
    old_edges, new_edges = set(old.edges), set(new.edges)
    return GraphDiff(
        nodes_added=tuple(sorted(new_nodes.keys() - old_nodes.keys())),
        nodes_removed=tuple(sorted(old_nodes.keys() - new_nodes.keys())),
        nodes_changed=tuple(changes),
        edges_added=tuple(sorted(new_edges - old_edges)),
        edges_removed=tuple(sorted(old_edges - new_edges)),
    )


def _changed_fields(old: Node, new: Node) -> tuple[str, ...]:
    fields = []
    if old.type != new.type:
        fields.append("type")
    if (old.x, old.y) != (new.x, new.y):
        fields.append("position")
    for key in sorted(old.properties.keys() | new.properties.keys()):
        # Values compare as stored and hashed: Python's == would call true and 1 the same.
        if (
            key not in old.properties
            or key not in new.properties
            or canonical_json(old.properties[key]) != canonical_json(new.properties[key])
        ):
            fields.append(f"properties.{key}")
    return tuple(fields)
