"""Node types: what a UI reads from describe(), and types that refuse to be defined badly."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

import pytest
from jsonschema.exceptions import SchemaError

from libs.storyboard import MAX_CHARACTERS
from services.canvas.kinds import CHARACTER, DEFAULT_TYPES, SCENE, SHOT
from services.canvas.nodetypes import NodeType, NodeTypeRegistry, Port

OBJECT: dict[str, Any] = {"type": "object", "additionalProperties": False, "properties": {}}


def _subschemas(schema: Mapping[str, Any]) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """Every named property schema under ``schema``, with its dotted path."""
    for name, subschema in schema.get("properties", {}).items():
        yield name, subschema
        for path, inner in _subschemas(subschema):
            yield f"{name}.{path}", inner


def test_the_default_types_are_character_scene_and_shot() -> None:
    assert DEFAULT_TYPES.names() == ("character", "scene", "shot")
    assert DEFAULT_TYPES.get("shot") is SHOT
    assert DEFAULT_TYPES.get("audio") is None


def test_describe_is_plain_json_with_forms_and_connection_rules() -> None:
    described = json.loads(json.dumps(DEFAULT_TYPES.describe()))

    shot = next(entry for entry in described if entry["name"] == "shot")
    assert shot["title"] == "Shot"
    assert shot["properties"]["required"] == ["name", "framing", "duration_s"]
    assert shot["inputs"] == [
        {"name": "characters", "type": "character", "min": 0, "max": MAX_CHARACTERS},
        {"name": "scene", "type": "scene", "min": 1, "max": 1},
    ]
    assert shot["outputs"] == [{"name": "frame", "type": "image", "min": 0, "max": None}]


def test_describe_hands_out_a_copy_of_the_schema() -> None:
    SCENE.describe()["properties"]["properties"].clear()

    assert "location" in SCENE.describe()["properties"]["properties"]


def test_forms_get_defaults_where_natural() -> None:
    assert SHOT.properties["properties"]["camera_angle"]["default"] == "eye-level"
    assert SCENE.properties["properties"]["lighting"]["default"] == "day"
    assert SCENE.properties["properties"]["mood"]["default"] == "neutral"
    lora = CHARACTER.properties["properties"]["lora"]
    assert lora["properties"]["weight"]["default"] == 1.0


def test_every_property_is_described_and_every_string_is_bounded() -> None:
    for node_type in DEFAULT_TYPES:
        for path, schema in _subschemas(node_type.properties):
            where = f"{node_type.name}.{path}"
            assert schema.get("description"), f"{where} has no description"
            if schema.get("type") == "string":
                assert "maxLength" in schema or "enum" in schema, f"{where} has no maxLength"


def test_ports_are_found_by_name() -> None:
    assert SHOT.input("scene") == Port("scene", "scene", min=1, max=1)
    assert SHOT.input("frame") is None
    assert SHOT.output("frame") == Port("frame", "image")
    assert CHARACTER.output("character") == Port("character", "character")


def test_a_type_registered_twice_is_refused() -> None:
    registry = NodeTypeRegistry(DEFAULT_TYPES)

    with pytest.raises(ValueError, match="already registered"):
        registry.register(NodeType("shot", "Shot again", "", OBJECT))


def test_a_new_type_joins_a_copy_of_the_defaults_without_changing_them() -> None:
    audio = NodeType(
        "audio", "Audio", "Sound under frames.", OBJECT, inputs=(Port("frames", "image"),)
    )
    registry = NodeTypeRegistry(DEFAULT_TYPES)

    registry.register(audio)

    assert registry.names() == ("character", "scene", "shot", "audio")
    assert DEFAULT_TYPES.get("audio") is None
    assert json.dumps(registry.describe())


@pytest.mark.parametrize(
    "made",
    [{"compile": lambda node, inputs: []}, {"result": lambda steps: {}}],
    ids=["compile-without-result", "result-without-compile"],
)
def test_a_type_that_makes_jobs_says_how_their_result_is_assembled(made: Any) -> None:
    with pytest.raises(ValueError, match="says how its result is assembled"):
        NodeType("audio", "Audio", "", OBJECT, **made)


def test_a_type_with_a_broken_schema_fails_when_defined() -> None:
    with pytest.raises(SchemaError):
        NodeType("bad", "Bad", "", {"type": "object", "properties": {"x": {"type": "colour"}}})


def test_a_type_whose_properties_are_not_an_object_is_refused() -> None:
    with pytest.raises(ValueError, match="must be an object"):
        NodeType("bad", "Bad", "", {"type": "string"})


def test_a_type_naming_an_input_twice_is_refused() -> None:
    with pytest.raises(ValueError, match="input port twice"):
        NodeType("bad", "Bad", "", OBJECT, inputs=(Port("in", "image"), Port("in", "scene")))


@pytest.mark.parametrize(("low", "high"), [(-1, None), (2, 1), (0, 0)])
def test_a_port_with_impossible_bounds_is_refused(low: int, high: int | None) -> None:
    with pytest.raises(ValueError, match="cannot take"):
        Port("in", "image", min=low, max=high)
