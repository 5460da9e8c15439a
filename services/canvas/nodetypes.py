"""Node types of the canvas: what each kind of node holds, and how nodes may connect.

A ``NodeType`` names its properties as a JSON Schema (draft 2020-12) and its input and output
ports; a UI builds its forms and connection rules from ``describe()``. graph.py and diff.py
know no type by name, so a new kind of node (audio, effect, composite) is one more
``register`` call. ``DEFAULT_TYPES`` holds the storyboard's own: character, scene and shot.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Final, TypeAlias

from jsonschema import Draft202012Validator, ValidationError

from libs.storyboard import (
    ANGLES,
    FRAMINGS,
    LIGHTING,
    MAX_CHARACTERS,
    MAX_DURATION_S,
    MAX_TITLE_CHARS,
    MIN_DURATION_S,
    MOODS,
)
from services.canvas.graph import Graph, Node, Problem

__all__ = [
    "CHARACTER",
    "DEFAULT_TYPES",
    "SCENE",
    "SHOT",
    "TIMES_OF_DAY",
    "NodeType",
    "NodeTypeRegistry",
    "Port",
    "Rule",
]

# An extra check a schema cannot say, such as one that looks at a node's neighbours.
Rule: TypeAlias = "Callable[[Node, Graph], list[Problem]]"


@dataclass(frozen=True)
class Port:
    """A connection point; an input takes ``min`` to ``max`` edges (``max`` None: any number).

    Outputs ignore ``min``/``max``: one output may feed any number of inputs.
    """

    name: str
    type: str
    min: int = 0
    max: int | None = None

    def __post_init__(self) -> None:
        if self.min < 0 or (self.max is not None and self.max < max(self.min, 1)):
            raise ValueError(f"port {self.name!r} cannot take {self.min} to {self.max} edges")

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "type": self.type, "min": self.min, "max": self.max}


@dataclass(frozen=True)
class NodeType:
    """A kind of node: its properties' JSON Schema, its ports and any extra rules."""

    name: str
    title: str
    description: str
    properties: Mapping[str, Any]
    inputs: tuple[Port, ...] = ()
    outputs: tuple[Port, ...] = ()
    rules: tuple[Rule, ...] = ()
    _validator: Draft202012Validator = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # A broken type fails when it is defined, not on the first request that uses it.
        Draft202012Validator.check_schema(self.properties)
        if self.properties.get("type") != "object":
            raise ValueError(f"node type {self.name!r}: its properties schema must be an object")
        for kind, ports in (("input", self.inputs), ("output", self.outputs)):
            names = [port.name for port in ports]
            if len(set(names)) != len(names):
                raise ValueError(f"node type {self.name!r} names an {kind} port twice")
        object.__setattr__(self, "_validator", Draft202012Validator(self.properties))

    def input(self, name: str) -> Port | None:
        return next((port for port in self.inputs if port.name == name), None)

    def output(self, name: str) -> Port | None:
        return next((port for port in self.outputs if port.name == name), None)

    def property_errors(self, properties: Mapping[str, Any]) -> Iterator[ValidationError]:
        """Every way ``properties`` breaks this type's schema."""
        return self._validator.iter_errors(properties)

    def describe(self) -> dict[str, Any]:
        """Everything a UI needs to draw this type's form and ports, as plain JSON."""
        return {
            "name": self.name,
            "title": self.title,
            "description": self.description,
            "properties": copy.deepcopy(dict(self.properties)),
            "inputs": [port.describe() for port in self.inputs],
            "outputs": [port.describe() for port in self.outputs],
        }


class NodeTypeRegistry:
    """The node types a canvas may use, by name, in the order they were registered."""

    def __init__(self, types: Iterable[NodeType] = ()) -> None:
        self._types: dict[str, NodeType] = {}
        for node_type in types:
            self.register(node_type)

    def register(self, node_type: NodeType) -> None:
        if node_type.name in self._types:
            raise ValueError(f"node type {node_type.name!r} is already registered")
        self._types[node_type.name] = node_type

    def get(self, name: str) -> NodeType | None:
        return self._types.get(name)

    def names(self) -> tuple[str, ...]:
        return tuple(self._types)

    def describe(self) -> list[dict[str, Any]]:
        return [node_type.describe() for node_type in self._types.values()]

    def __iter__(self) -> Iterator[NodeType]:
        return iter(tuple(self._types.values()))


def _text(description: str, max_length: int, *, min_length: int = 0) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "string", "description": description}
    if min_length:
        schema["minLength"] = min_length
    schema["maxLength"] = max_length
    return schema


def _choice(description: str, options: Iterable[str], default: str | None = None) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "string", "description": description, "enum": list(options)}
    if default is not None:
        schema["default"] = default
    return schema


def _blob_id(description: str) -> dict[str, Any]:
    # maxLength is not redundant: Python's ``$`` also matches before a final newline.
    return {
        "type": "string",
        "description": description,
        "pattern": "^[0-9a-f]{64}$",
        "maxLength": 64,
    }


def _object(
    description: str, properties: dict[str, Any], required: Iterable[str] = ()
) -> dict[str, Any]:
    schema: dict[str, Any] = {
        "type": "object",
        "description": description,
        "additionalProperties": False,
        "properties": properties,
    }
    if required:
        schema["required"] = list(required)
    return schema


TIMES_OF_DAY: Final = ("dawn", "morning", "midday", "afternoon", "dusk", "night")

CHARACTER = NodeType(
    name="character",
    title="Character",
    description="A person or creature who appears in shots.",
    properties=_object(
        "A character's look, in words and reference images.",
        {
            "name": _text("What the character is called.", 200, min_length=1),
            "description": _text("Appearance and costume, as the image model reads it.", 4000),
            "reference_images": {
                "type": "array",
                "description": "Uploaded images of the character.",
                "maxItems": 20,
                "uniqueItems": True,
                "items": _blob_id("An uploaded image's blob id."),
            },
            "lora": _object(
                "A LoRA adapter trained on this character.",
                {
                    "name": _text("The adapter's name.", 200, min_length=1),
                    "weight": {
                        "type": "number",
                        "description": "How strongly the adapter applies.",
                        "minimum": -2,
                        "maximum": 2,
                        "default": 1.0,
                    },
                },
                required=["name"],
            ),
            "attributes": {
                "type": "object",
                "description": "Free-form traits, such as hair colour or height.",
                "maxProperties": 50,
                "propertyNames": {"minLength": 1, "maxLength": 100},
                "additionalProperties": {"type": "string", "maxLength": 500},
            },
        },
        required=["name"],
    ),
    outputs=(Port("character", "character"),),
)


def _scene_needs_a_set(node: Node, graph: Graph) -> list[Problem]:
    """A scene that feeds a shot must give the shot something to stand in."""
    if "backdrop" in node.properties or "set_piece" in node.properties:
        return []
    targets = (graph.node(edge.target) for edge in graph.edges_from(node.id))
    if not any(target is not None and target.type == SHOT.name for target in targets):
        return []
    return [
        Problem(
            kind="required_property",
            message="a scene that feeds a shot needs a backdrop image or a set piece",
            node=node.id,
            field="backdrop",
        )
    ]


SCENE = NodeType(
    name="scene",
    title="Scene",
    description="Where shots take place: a location with its light, mood and set.",
    properties=_object(
        "A place, its light and what stands in it.",
        {
            "location": _text("Where the scene is, such as 'a lighthouse'.", 200, min_length=1),
            "environment": _text("What surrounds the action, in words.", 2000),
            "time_of_day": _choice("When the scene happens.", TIMES_OF_DAY),
            "lighting": _choice("The light the frames are drawn in.", LIGHTING, "day"),
            "mood": _choice("The colour mood of the frames.", MOODS, "neutral"),
            "backdrop": _blob_id("An uploaded background image's blob id."),
            "set_piece": _object(
                "A 3D set, as an OpenSCAD program rendered behind the characters.",
                {
                    "source": _text("The OpenSCAD program.", 262_144, min_length=1),
                    "values": {
                        "type": "object",
                        "description": "Customizer values, by parameter name.",
                        "propertyNames": {"minLength": 1, "maxLength": 200},
                        # Each keyword applies only to its own type: strings of up to 1000
                        # characters, vectors of up to 16 numbers.
                        "additionalProperties": {
                            "type": ["number", "string", "boolean", "array"],
                            "maxLength": 1000,
                            "maxItems": 16,
                            "items": {"type": "number"},
                        },
                    },
                    "parameter_set": _text("A parameter set of the program to start from.", 200),
                },
                required=["source"],
            ),
        },
        required=["location"],
    ),
    outputs=(Port("scene", "scene"),),
    rules=(_scene_needs_a_set,),
)

SHOT = NodeType(
    name="shot",
    title="Shot",
    description="One storyboard frame: a scene, the characters in it and the camera.",
    properties=_object(
        "How the shot is framed and how long it lasts.",
        {
            "name": _text("The shot's caption.", MAX_TITLE_CHARS, min_length=1),
            "camera_angle": _choice("Where the camera looks from.", ANGLES, "eye-level"),
            "framing": _choice("How much of the scene the frame holds.", FRAMINGS),
            "duration_s": {
                "type": "number",
                "description": "How long the shot lasts, in seconds.",
                "minimum": MIN_DURATION_S,
                "maximum": MAX_DURATION_S,
            },
            "notes": _text("Directions for whoever draws or films it.", 4000),
        },
        required=["name", "framing", "duration_s"],
    ),
    inputs=(
        Port("characters", "character", min=0, max=MAX_CHARACTERS),
        Port("scene", "scene", min=1, max=1),
    ),
    outputs=(Port("frame", "image"),),
)

DEFAULT_TYPES = NodeTypeRegistry([CHARACTER, SCENE, SHOT])
