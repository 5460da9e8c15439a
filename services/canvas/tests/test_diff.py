"""Graph diffs: what a version history shows between two saves of a canvas."""

from __future__ import annotations

import json
from typing import Any

from services.canvas.diff import GraphDiff, NodeChange, diff
from services.canvas.graph import Edge, Graph, Node
from services.canvas.kinds import DEFAULT_TYPES
from services.canvas.nodetypes import NodeType, NodeTypeRegistry, Port
from services.canvas.validation import validate

ADA = Node("ada", "character", 0.0, 0.0, {"name": "Ada", "description": "A keeper."})
BO = Node("bo", "character", 0.0, 80.0, {"name": "Bo"})
SEA = Node("sea", "scene", 200.0, 0.0, {"location": "the sea", "backdrop": "f" * 64})
SHOT = Node("s1", "shot", 400.0, 0.0, {"name": "One", "framing": "wide", "duration_s": 2})
ADA_IN_SHOT = Edge("ada", "character", "s1", "characters")
BO_IN_SHOT = Edge("bo", "character", "s1", "characters")
SEA_IN_SHOT = Edge("sea", "scene", "s1", "scene")

BEFORE = Graph((ADA, SEA, SHOT), (ADA_IN_SHOT, SEA_IN_SHOT))


def with_properties(node: Node, **changes: Any) -> Node:
    properties = {**node.properties, **changes}
    return Node(node.id, node.type, node.x, node.y, properties)


def test_a_graph_against_itself_is_empty() -> None:
    change = diff(BEFORE, BEFORE)

    assert change.empty
    assert change == GraphDiff()
    assert change.as_dict() == {
        "nodes_added": [],
        "nodes_removed": [],
        "nodes_changed": [],
        "edges_added": [],
        "edges_removed": [],
    }


def test_an_equal_graph_read_again_is_empty() -> None:
    again, problems = validate(BEFORE.to_json())
    assert problems == [] and again is not None

    assert diff(BEFORE, again).empty


def test_added_and_removed_nodes_and_edges_are_sorted() -> None:
    after = Graph((SHOT, BO, ADA), (BO_IN_SHOT, ADA_IN_SHOT))

    change = diff(BEFORE, after)

    assert change.nodes_added == ("bo",)
    assert change.nodes_removed == ("sea",)
    assert change.nodes_changed == ()
    assert change.edges_added == (BO_IN_SHOT,)
    assert change.edges_removed == (SEA_IN_SHOT,)
    assert not change.empty


def test_a_moved_node_changes_its_position() -> None:
    moved = Node("s1", "shot", 420.0, 10.0, SHOT.properties)

    change = diff(BEFORE, Graph((ADA, SEA, moved), BEFORE.edges))

    assert change.nodes_changed == (NodeChange("s1", ("position",)),)


def test_each_added_removed_or_changed_property_is_named() -> None:
    edited = Node(
        "ada",
        "character",
        0.0,
        0.0,
        {"name": "Ada Lovelace", "lora": {"name": "ada-v2"}},  # description dropped
    )
    sea = with_properties(SEA, backdrop="e" * 64)

    change = diff(BEFORE, Graph((edited, sea, SHOT), BEFORE.edges))

    assert change.nodes_changed == (
        NodeChange("ada", ("properties.description", "properties.lora", "properties.name")),
        NodeChange("sea", ("properties.backdrop",)),
    )


def test_a_change_of_type_is_named() -> None:
    retyped = Node("sea", "backdrop", SEA.x, SEA.y, SEA.properties)

    change = diff(BEFORE, Graph((ADA, retyped, SHOT), BEFORE.edges))

    assert change.nodes_changed == (NodeChange("sea", ("type",)),)


def test_true_and_one_are_different_values() -> None:
    old = Graph((Node("n", "effect", 0, 0, {"on": 1, "depth": [1, 2]}),))
    new = Graph((Node("n", "effect", 0, 0, {"on": True, "depth": [1, 2]}),))

    assert diff(old, new).nodes_changed == (NodeChange("n", ("properties.on",)),)


def test_edge_to_json_is_the_wire_form() -> None:
    assert BO_IN_SHOT.to_json() == {
        "source": "bo",
        "source_port": "character",
        "target": "s1",
        "target_port": "characters",
    }


def test_as_dict_is_plain_json_with_edges_in_their_wire_form() -> None:
    after = Graph((ADA, with_properties(SEA, mood="noir"), SHOT, BO), (SEA_IN_SHOT, BO_IN_SHOT))

    described = json.loads(json.dumps(diff(BEFORE, after).as_dict()))

    assert described == {
        "nodes_added": ["bo"],
        "nodes_removed": [],
        "nodes_changed": [{"node": "sea", "fields": ["properties.mood"]}],
        "edges_added": [BO_IN_SHOT.to_json()],
        "edges_removed": [ADA_IN_SHOT.to_json()],
    }


def test_a_new_node_type_diffs_without_code_changes() -> None:
    audio = NodeType(
        "audio",
        "Audio",
        "Sound laid under frames.",
        {
            "type": "object",
            "additionalProperties": False,
            "properties": {"volume": {"type": "number", "minimum": 0, "maximum": 1}},
        },
        inputs=(Port("frames", "image"),),
    )
    registry = NodeTypeRegistry([*DEFAULT_TYPES, audio])
    wire = BEFORE.to_json()
    wire["nodes"].append(
        {"id": "score", "type": "audio", "position": {"x": 600, "y": 0}, "properties": {}}
    )
    wire["edges"].append(
        {"source": "s1", "source_port": "frame", "target": "score", "target_port": "frames"}
    )
    with_audio, problems = validate(wire, registry)
    assert problems == [] and with_audio is not None
    wire["nodes"][-1]["properties"]["volume"] = 0.5
    louder, problems = validate(wire, registry)
    assert problems == [] and louder is not None

    assert diff(BEFORE, with_audio).nodes_added == ("score",)
    assert diff(BEFORE, with_audio).edges_added == (Edge("s1", "frame", "score", "frames"),)
    assert diff(with_audio, louder).nodes_changed == (NodeChange("score", ("properties.volume",)),)
