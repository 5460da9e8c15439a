"""Graph validation: each bad input a client can send, named, and the problems it gets back."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest

from libs.setpieces import MAX_SOURCE_BYTES
from services.canvas.graph import (
    Edge,
    Graph,
    GraphLimits,
    Node,
    Problem,
    canonical_json,
    topological_order,
)
from services.canvas.kinds import DEFAULT_TYPES
from services.canvas.nodetypes import NodeType, NodeTypeRegistry, Port
from services.canvas.tests.test_compile import AUDIO
from services.canvas.validation import validate

BLOB = "0123456789abcdef" * 4
OBJECT: dict[str, Any] = {"type": "object", "additionalProperties": False, "properties": {}}
# An image-to-image node: the default types cannot loop, so cycles are built from these.
EFFECT = NodeType(
    "effect",
    "Effect",
    "Changes an image.",
    OBJECT,
    inputs=(Port("image", "image", min=0, max=1),),
    outputs=(Port("image", "image"),),
)
WITH_EFFECTS = NodeTypeRegistry([*DEFAULT_TYPES, EFFECT])


def node(node_id: str, node_type: str, **properties: Any) -> dict[str, Any]:
    return {
        "id": node_id,
        "type": node_type,
        "position": {"x": 10, "y": 20},
        "properties": properties,
    }


def edge(source: str, source_port: str, target: str, target_port: str) -> dict[str, str]:
    return {
        "source": source,
        "source_port": source_port,
        "target": target,
        "target_port": target_port,
    }


def shot(node_id: str, **properties: Any) -> dict[str, Any]:
    return node(
        node_id, "shot", **{"name": node_id, "framing": "wide", "duration_s": 2.5} | properties
    )


def story() -> dict[str, Any]:
    """Two characters in a lighthouse, built as a set piece, in two shots."""
    return {
        "nodes": [
            node(
                "ada",
                "character",
                name="Ada",
                description="A keeper in a yellow oilskin.",
                reference_images=[BLOB],
                lora={"name": "ada-v2", "weight": 0.8},
                attributes={"hair": "grey"},
            ),
            node("bo", "character", name="Bo"),
            node(
                "lighthouse",
                "scene",
                location="a lighthouse",
                time_of_day="dusk",
                lighting="golden-hour",
                mood="tense",
                set_piece={
                    "source": "tower_height = 30;\ncylinder(h=tower_height, r=5);",
                    "values": {"tower_height": 40, "label": "north", "lit": True, "at": [1, 2]},
                },
            ),
            shot("shot-1", camera_angle="low", notes="Storm coming."),
            shot("shot-2", framing="close-up"),
        ],
        "edges": [
            edge("ada", "character", "shot-1", "characters"),
            edge("bo", "character", "shot-1", "characters"),
            edge("lighthouse", "scene", "shot-1", "scene"),
            edge("ada", "character", "shot-2", "characters"),
            edge("lighthouse", "scene", "shot-2", "scene"),
        ],
    }


def one_shot(**properties: Any) -> dict[str, Any]:
    """A shot in a scene with a backdrop: the smallest valid graph with a shot."""
    return {
        "nodes": [
            node("sea", "scene", location="the sea", backdrop=BLOB),
            shot("s1", **properties),
        ],
        "edges": [edge("sea", "scene", "s1", "scene")],
    }


def kinds(problems: list[Problem]) -> list[str]:
    return [problem.kind for problem in problems]


def test_a_realistic_storyboard_has_no_problems() -> None:
    graph, problems = validate(story())

    assert problems == []
    assert graph is not None
    assert [node.id for node in graph.nodes] == ["ada", "bo", "lighthouse", "shot-1", "shot-2"]
    assert graph.inputs_of("shot-1") == {"characters": ["ada", "bo"], "scene": ["lighthouse"]}


def test_the_wire_form_round_trips() -> None:
    graph, _ = validate(story())
    assert graph is not None

    assert graph.to_json() == story()
    assert validate(graph.to_json()) == (graph, [])


def test_every_problem_is_listed() -> None:
    data = story()
    data["nodes"].append(node("x1", "hologram"))
    data["edges"].append(edge("ghost", "character", "shot-2", "characters"))
    data["nodes"][3]["properties"]["duration_s"] = "long"

    _, problems = validate(data)

    assert kinds(problems) == ["unknown_node_type", "dangling_edge", "invalid_property"]


def test_problems_come_in_the_same_order_every_time() -> None:
    data = story()
    data["nodes"].append(node("x1", "hologram"))
    data["edges"].append(edge("ghost", "character", "shot-2", "characters"))
    data["edges"].append(edge("ada", "character", "shot-2", "scene"))

    assert validate(data)[1] == validate(json.loads(json.dumps(data)))[1]


@pytest.mark.parametrize("data", [None, [], "graph", 42, True], ids=repr)
def test_input_that_is_not_an_object_is_an_invalid_graph(data: object) -> None:
    graph, problems = validate(data)

    assert graph is None
    assert kinds(problems) == ["invalid_graph"]
    assert "must be an object" in problems[0].message


def test_a_graph_without_lists_of_nodes_and_edges_is_an_invalid_graph() -> None:
    graph, problems = validate({"nodes": {}, "links": []})

    assert graph is None
    assert [(p.kind, p.field) for p in problems] == [
        ("invalid_graph", None),  # the unknown key "links"
        ("invalid_graph", "nodes"),
        ("invalid_graph", "edges"),
    ]


@pytest.mark.parametrize(
    ("broken", "field"),
    [
        ({"type": "shot", "position": {"x": 0, "y": 0}}, "id"),
        ({"id": "s1", "position": {"x": 0, "y": 0}}, "type"),
        ({"id": "s1", "type": 7, "position": {"x": 0, "y": 0}}, "type"),
        ({"id": "s1", "type": "shot"}, "position"),
        ({"id": "s1", "type": "shot", "position": {"x": 0}}, "position"),
        ({"id": "s1", "type": "shot", "position": {"x": 0, "y": 0, "z": 0}}, "position"),
        ({"id": "s1", "type": "shot", "position": {"x": "0", "y": 0}}, "position"),
        ({"id": "s1", "type": "shot", "position": {"x": True, "y": 0}}, "position"),
        ({"id": "s1", "type": "shot", "position": {"x": math.inf, "y": 0}}, "position"),
        ({"id": "s1", "type": "shot", "position": {"x": 10**400, "y": 0}}, "position"),
        (
            {"id": "s1", "type": "shot", "position": {"x": 0, "y": 0}, "properties": []},
            "properties",
        ),
        ({"id": "s1", "type": "shot", "position": {"x": 0, "y": 0}, "colour": "red"}, None),
    ],
    ids=[
        "no id",
        "no type",
        "type not a string",
        "no position",
        "position without y",
        "position with z",
        "position x a string",
        "position x a boolean",
        "position x infinite",
        "position x beyond a float",
        "properties a list",
        "unknown node key",
    ],
)
def test_a_malformed_node_is_an_invalid_graph(broken: dict[str, Any], field: str | None) -> None:
    graph, problems = validate({"nodes": [broken], "edges": []})

    assert graph is None
    assert field in [p.field for p in problems if p.kind == "invalid_graph"]


def test_a_node_that_is_not_an_object_is_an_invalid_graph() -> None:
    graph, problems = validate({"nodes": ["s1"], "edges": []})

    assert graph is None
    assert [(p.kind, p.message) for p in problems] == [
        ("invalid_graph", "node #0 must be an object, not a string")
    ]


@pytest.mark.parametrize(
    "bad_id",
    ["", "a" * 65, "shot 1", "shot\n", "s/1", "é", 7, None],
    ids=["empty", "65 chars", "space", "newline", "slash", "non-ascii", "number", "null"],
)
def test_a_bad_node_id_is_an_invalid_graph(bad_id: object) -> None:
    data = one_shot()
    data["nodes"][1]["id"] = bad_id

    graph, problems = validate(data)

    assert graph is None
    (problem,) = [p for p in problems if p.kind == "invalid_graph"]
    assert problem.field == "id"
    assert problem.node is None
    assert "node #1" in problem.message


def test_the_longest_id_allowed_is_64_characters() -> None:
    long_id = "n." + "x" * 62
    data = one_shot()
    data["nodes"][1]["id"] = long_id
    data["edges"][0]["target"] = long_id

    assert validate(data)[1] == []


@pytest.mark.parametrize(
    ("key", "value"),
    [("source", None), ("target_port", ""), ("source_port", "scene out"), ("target", 3)],
)
def test_a_malformed_edge_is_an_invalid_graph(key: str, value: object) -> None:
    data = one_shot()
    if value is None:
        del data["edges"][0][key]
    else:
        data["edges"][0][key] = value

    graph, problems = validate(data)

    assert graph is None
    assert [(p.kind, p.edge, p.field) for p in problems if p.kind == "invalid_graph"] == [
        ("invalid_graph", 0, key)
    ]


def test_an_edge_that_is_not_an_object_or_has_unknown_keys_is_an_invalid_graph() -> None:
    data = one_shot()
    data["edges"].append(["sea", "s1"])
    data["edges"].append(edge("sea", "scene", "s1", "scene") | {"weight": 1})

    graph, problems = validate(data)

    assert graph is None
    assert [(p.kind, p.edge) for p in problems if p.kind == "invalid_graph"] == [
        ("invalid_graph", 1),
        ("invalid_graph", 2),
    ]


def test_a_graph_holding_nan_is_not_plain_json() -> None:
    graph, problems = validate(one_shot(duration_s=math.nan))

    assert graph is None
    assert "not plain JSON" in problems[0].message


def test_a_graph_nested_deeper_than_python_recurses_is_an_invalid_graph() -> None:
    deep: list[Any] = []
    for _ in range(100_000):
        deep = [deep]

    graph, problems = validate(one_shot(notes=deep))

    assert graph is None
    assert kinds(problems)[0] == "invalid_graph"


def test_an_unknown_node_type() -> None:
    data = one_shot()
    data["nodes"].append(node("h1", "hologram", glow=1))

    graph, problems = validate(data)

    assert graph is not None  # kept: the type may be registered later
    assert [(p.kind, p.node) for p in problems] == [("unknown_node_type", "h1")]
    assert "'hologram'" in problems[0].message


def test_duplicate_node_ids() -> None:
    data = one_shot()
    data["nodes"].append(node("sea", "character", name="Sea"))

    graph, problems = validate(data)

    assert [(p.kind, p.node) for p in problems] == [("duplicate_node", "sea")]
    kept = graph.node("sea") if graph else None
    assert kept is not None and kept.type == "scene"


def test_an_edge_to_a_missing_node() -> None:
    data = one_shot()
    data["edges"].append(edge("ghost", "character", "s1", "characters"))

    _, problems = validate(data)

    assert [(p.kind, p.node, p.edge) for p in problems] == [("dangling_edge", "ghost", 1)]


def test_an_edge_between_two_missing_nodes_names_both() -> None:
    data = one_shot()
    data["edges"].append(edge("ghost", "character", "phantom", "characters"))

    _, problems = validate(data)

    assert [(p.kind, p.node) for p in problems] == [
        ("dangling_edge", "ghost"),
        ("dangling_edge", "phantom"),
    ]


def test_an_edge_from_a_missing_output_port() -> None:
    data = one_shot()
    data["edges"][0]["source_port"] = "backdrop"

    _, problems = validate(data)

    assert [(p.kind, p.node, p.port, p.edge) for p in problems] == [
        ("unknown_port", "sea", "backdrop", 0)
    ]


def test_an_edge_to_a_missing_input_port() -> None:
    data = one_shot()
    data["edges"][0]["target_port"] = "location"

    _, problems = validate(data)

    assert [(p.kind, p.node, p.port) for p in problems] == [
        ("unknown_port", "s1", "location"),
        ("missing_connection", "s1", "scene"),
    ]


def test_an_edge_between_ports_of_different_types() -> None:
    data = one_shot()
    data["nodes"].append(node("ada", "character", name="Ada"))
    data["edges"].append(edge("ada", "character", "s1", "scene"))

    _, problems = validate(data)

    assert kinds(problems) == ["port_type_mismatch", "too_many_connections"]
    mismatch = problems[0]
    assert (mismatch.node, mismatch.port, mismatch.edge) == ("s1", "scene", 1)
    assert "'character' output" in mismatch.message and "'scene' input" in mismatch.message


def test_a_duplicate_edge() -> None:
    data = one_shot()
    data["edges"].append(edge("sea", "scene", "s1", "scene"))

    _, problems = validate(data)

    # Counted once: the repeat is not also a second scene.
    assert [(p.kind, p.edge) for p in problems] == [("duplicate_edge", 1)]


def test_a_second_scene_on_one_shot() -> None:
    data = one_shot()
    data["nodes"].append(node("moon", "scene", location="the moon", backdrop=BLOB))
    data["edges"].append(edge("moon", "scene", "s1", "scene"))

    _, problems = validate(data)

    assert [(p.kind, p.node, p.port) for p in problems] == [("too_many_connections", "s1", "scene")]
    assert problems[0].message == "shot 's1' needs exactly 1 'scene' input, has 2"


def test_a_shot_with_no_scene() -> None:
    graph, problems = validate({"nodes": [shot("s1")], "edges": []})

    assert graph is not None  # an unfinished canvas is kept, with its problems
    assert [(p.kind, p.node, p.port) for p in problems] == [("missing_connection", "s1", "scene")]


def test_a_shot_with_more_characters_than_a_frame_holds() -> None:
    data = one_shot()
    for index in range(7):
        data["nodes"].append(node(f"c{index}", "character", name=f"C{index}"))
        data["edges"].append(edge(f"c{index}", "character", "s1", "characters"))

    _, problems = validate(data)

    assert [(p.kind, p.port) for p in problems] == [("too_many_connections", "characters")]
    assert "at most 6" in problems[0].message


def test_a_cycle_is_reported_once_naming_its_nodes_in_order() -> None:
    data = {
        "nodes": [node(name, "effect") for name in ("blur", "glow", "grain", "tint")],
        "edges": [
            edge("glow", "image", "grain", "image"),
            edge("blur", "image", "glow", "image"),
            edge("grain", "image", "blur", "image"),
            edge("grain", "image", "tint", "image"),
        ],
    }

    _, problems = validate(data, WITH_EFFECTS)

    assert [(p.kind, p.node) for p in problems] == [("cycle", "blur")]
    assert problems[0].message == "the graph has a cycle: blur → glow → grain → blur"


def test_a_self_loop_is_a_cycle() -> None:
    data = {"nodes": [node("blur", "effect")], "edges": [edge("blur", "image", "blur", "image")]}

    _, problems = validate(data, WITH_EFFECTS)

    assert [(p.kind, p.node, p.message) for p in problems] == [
        ("cycle", "blur", "the graph has a cycle: blur → blur")
    ]


def test_two_separate_cycles_are_both_reported() -> None:
    data = {
        "nodes": [node(name, "effect") for name in ("a", "b", "c")],
        "edges": [
            edge("c", "image", "c", "image"),
            edge("a", "image", "b", "image"),
            edge("b", "image", "a", "image"),
        ],
    }

    _, problems = validate(data, WITH_EFFECTS)

    assert [(p.kind, p.node) for p in problems] == [("cycle", "a"), ("cycle", "c")]


def test_a_property_of_the_wrong_type() -> None:
    _, problems = validate(one_shot(duration_s="long"))

    assert [(p.kind, p.node, p.field, p.message) for p in problems] == [
        ("invalid_property", "s1", "duration_s", "duration_s must be a number")
    ]


@pytest.mark.parametrize(
    ("properties", "field"),
    [
        ({"duration_s": 0.05}, "duration_s"),
        ({"duration_s": 3601}, "duration_s"),
        ({"framing": "extreme-wide"}, "framing"),
        ({"camera_angle": "worm"}, "camera_angle"),
        ({"name": ""}, "name"),
        ({"name": "n" * 121}, "name"),
    ],
    ids=["too short", "too long", "unknown framing", "unknown angle", "empty name", "long name"],
)
def test_a_shot_property_out_of_bounds(properties: dict[str, Any], field: str) -> None:
    _, problems = validate(one_shot(**properties))

    assert [(p.kind, p.field) for p in problems] == [("invalid_property", field)]


def test_a_missing_required_property() -> None:
    data = one_shot()
    del data["nodes"][1]["properties"]["framing"]
    del data["nodes"][1]["properties"]["duration_s"]

    _, problems = validate(data)

    assert [(p.kind, p.field, p.message) for p in problems] == [
        ("required_property", "framing", "framing is required"),
        ("required_property", "duration_s", "duration_s is required"),
    ]


def test_an_unknown_property_key() -> None:
    _, problems = validate(one_shot(colour="red"))

    assert [(p.kind, p.field) for p in problems] == [("invalid_property", "colour")]


def test_nested_property_problems_name_their_path() -> None:
    data = story()
    ada = data["nodes"][0]["properties"]
    ada["lora"] = {"weight": 3, "rank": 4}
    ada["reference_images"] = [BLOB, BLOB.upper(), BLOB + "\n", BLOB]
    ada["attributes"] = {"hair": 1, "k" * 101: "x"}
    data["nodes"][2]["properties"]["set_piece"]["values"]["at"] = list(range(17))

    _, problems = validate(data)

    assert [(p.kind, p.node, p.field) for p in problems] == [
        ("invalid_property", "ada", "reference_images"),  # BLOB twice
        ("invalid_property", "ada", "reference_images.1"),
        ("invalid_property", "ada", "reference_images.2"),
        ("invalid_property", "ada", "lora.rank"),
        ("invalid_property", "ada", "lora.weight"),
        ("required_property", "ada", "lora.name"),
        ("invalid_property", "ada", "attributes"),  # the key's length
        ("invalid_property", "ada", "attributes.hair"),
        ("invalid_property", "lighthouse", "set_piece.values.at"),
    ]


def test_a_huge_bad_value_is_not_echoed_in_the_message() -> None:
    _, problems = validate(one_shot(notes="x" * 100_000, camera_angle="y" * 100_000))

    assert {p.field for p in problems} == {"notes", "camera_angle"}
    assert all(len(p.message) < 300 for p in problems)


def test_a_scene_that_feeds_a_shot_needs_a_backdrop_or_a_set_piece() -> None:
    data = one_shot()
    del data["nodes"][0]["properties"]["backdrop"]
    data["nodes"].append(node("void", "scene", location="nowhere"))  # feeds nothing: fine

    _, problems = validate(data)

    assert [(p.kind, p.node, p.field) for p in problems] == [
        ("required_property", "sea", "backdrop")
    ]
    assert "backdrop image or a set piece" in problems[0].message


def set_piece_of(size: int, pad: str = "x") -> dict[str, Any]:
    """The smallest graph with a scene whose set piece is exactly ``size`` bytes of UTF-8: a
    cube and a comment of ``pad`` characters, topped up with "x"."""
    room = size - len("cube(1);//")
    width = len(pad.encode())
    source = "cube(1);//" + pad * (room // width) + "x" * (room % width)
    assert len(source.encode()) == size
    scene = node("yard", "scene", location="Yard", set_piece={"source": source})
    return {"nodes": [scene], "edges": []}


@pytest.mark.parametrize("pad", ["x", "é", "€"], ids=["ascii", "two-byte", "three-byte"])
def test_a_set_piece_of_exactly_the_byte_limit_is_fine(pad: str) -> None:
    graph, problems = validate(set_piece_of(MAX_SOURCE_BYTES, pad))

    assert graph is not None and problems == []


@pytest.mark.parametrize(
    ("data", "says"),
    [
        (set_piece_of(MAX_SOURCE_BYTES + 1), "must be at most 262144 characters"),
        (
            set_piece_of(MAX_SOURCE_BYTES + 1, "é"),
            "262145 bytes of UTF-8; the limit is 262144 bytes",
        ),
        (
            set_piece_of(MAX_SOURCE_BYTES + 1, "€"),
            "262145 bytes of UTF-8; the limit is 262144 bytes",
        ),
    ],
    ids=["one-ascii-byte-over", "two-byte-characters-one-byte-over", "euro-signs-one-byte-over"],
)
def test_a_set_piece_over_the_byte_limit_is_one_problem_naming_the_limit(
    data: dict[str, Any], says: str
) -> None:
    _, problems = validate(data)

    assert [(p.kind, p.node, p.field) for p in problems] == [
        ("invalid_property", "yard", "set_piece.source")
    ]
    assert says in problems[0].message


@pytest.mark.parametrize(
    ("limits", "field", "message"),
    [
        (GraphLimits(max_nodes=2), "nodes", "the graph has 3 nodes; the limit is 2"),
        (GraphLimits(max_edges=1), "edges", "the graph has 2 edges; the limit is 1"),
        (GraphLimits(max_bytes=100), None, "bytes of JSON; the limit is 100"),
    ],
    ids=["nodes", "edges", "bytes"],
)
def test_a_graph_over_a_size_limit(limits: GraphLimits, field: str | None, message: str) -> None:
    data = one_shot()
    data["nodes"].append(node("ada", "character", name="Ada"))
    data["edges"].append(edge("ada", "character", "s1", "characters"))

    graph, problems = validate(data, limits=limits)

    assert graph is None
    assert [(p.kind, p.field) for p in problems] == [("graph_too_large", field)]
    assert message in problems[0].message


def test_a_graph_over_the_limits_is_not_read_any_further() -> None:
    data = {"nodes": [{"id": "bad id"}] * 501, "edges": [7] * 2001, "extra": 1}

    graph, problems = validate(data)

    assert graph is None
    assert kinds(problems) == ["graph_too_large", "graph_too_large"]


def test_the_default_byte_limit_is_one_mebibyte() -> None:
    data = one_shot(notes="x" * 4000)
    data["nodes"][0]["properties"]["environment"] = "y" * (1_048_576 - 4000)

    _, problems = validate(data)

    assert kinds(problems)[0] == "graph_too_large"


def test_a_new_node_type_works_without_code_changes() -> None:
    registry = NodeTypeRegistry([*DEFAULT_TYPES, AUDIO])
    data = one_shot()
    data["nodes"].append(node("score", "audio", track=BLOB))
    data["edges"].append(edge("s1", "frame", "score", "frames"))

    graph, problems = validate(data, registry)
    assert problems == []
    assert graph is not None and graph.inputs_of("score") == {"frames": ["s1"]}

    data["edges"].append(edge("sea", "scene", "score", "frames"))
    data["nodes"].append(node("silence", "audio"))
    _, problems = validate(data, registry)
    assert [(p.kind, p.node) for p in problems] == [
        ("port_type_mismatch", "score"),
        ("missing_connection", "silence"),
        ("required_property", "silence"),
    ]


def test_topological_order_puts_what_feeds_a_node_first() -> None:
    graph, _ = validate(
        {
            "nodes": [
                shot("shot-1"),
                node("ada", "character", name="Ada"),
                node("sea", "scene", location="sea", backdrop=BLOB),
                node("bo", "character", name="Bo"),
                shot("shot-2"),
            ],
            "edges": [
                edge("bo", "character", "shot-1", "characters"),
                edge("sea", "scene", "shot-1", "scene"),
                edge("sea", "scene", "shot-2", "scene"),
            ],
        }
    )
    assert graph is not None

    assert topological_order(graph) == ["ada", "sea", "bo", "shot-1", "shot-2"]


def test_topological_order_refuses_a_cycle() -> None:
    graph = Graph(
        (Node("a", "effect", 0, 0, {}), Node("b", "effect", 0, 0, {})),
        (Edge("a", "image", "b", "image"), Edge("b", "image", "a", "image")),
    )

    with pytest.raises(ValueError, match="a → b → a"):
        topological_order(graph)


def test_graph_lookups() -> None:
    graph, _ = validate(story())
    assert graph is not None

    assert graph.node("bo") == Node("bo", "character", 10.0, 20.0, {"name": "Bo"})
    assert graph.node("nobody") is None
    assert [e.target for e in graph.edges_from("ada")] == ["shot-1", "shot-2"]
    assert [e.source for e in graph.edges_to("shot-2")] == ["ada", "lighthouse"]
    assert graph.inputs_of("ada") == {}


def test_a_problem_as_a_dict_leaves_out_what_it_does_not_name() -> None:
    problem = Problem("dangling_edge", "edge #0 names the missing node 'x'", node="x", edge=0)

    assert problem.as_dict() == {
        "kind": "dangling_edge",
        "message": "edge #0 names the missing node 'x'",
        "node": "x",
        "edge": 0,
    }


def test_canonical_json_is_compact_sorted_utf8() -> None:
    assert canonical_json({"b": [1, 2.5], "a": "café"}) == '{"a":"café","b":[1,2.5]}'.encode()
    with pytest.raises(ValueError):
        canonical_json({"x": math.nan})


def test_the_graph_shares_nothing_with_the_data_it_was_read_from() -> None:
    data = one_shot()
    graph, _ = validate(data)
    assert graph is not None

    data["nodes"][1]["properties"]["name"] = "Changed"

    assert graph.node("s1") == Node("s1", "shot", 10.0, 20.0, one_shot()["nodes"][1]["properties"])


def test_a_node_with_a_broken_position_still_has_its_edges_judged() -> None:
    data = one_shot()
    data["nodes"][0]["position"] = "top left"
    data["nodes"][1]["type"] = ["shot"]
    data["edges"].append(edge("sea", "scene", "ghost", "scene"))

    graph, problems = validate(data)

    assert graph is None
    assert [(p.kind, p.node, p.field) for p in problems] == [
        ("invalid_graph", "sea", "position"),
        ("invalid_graph", "s1", "type"),
        ("dangling_edge", "ghost", None),  # but s1, whose type is unreadable, is not missing
    ]
