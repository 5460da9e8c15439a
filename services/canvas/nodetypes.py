"""Node types of the canvas: what each kind of node holds, how nodes may connect, and what a
node makes when its canvas is executed.

A ``NodeType`` is everything about one kind of node: its properties as a JSON Schema (draft
2020-12), its input and output ports, the rules a schema cannot say, how it compiles into batch
jobs and how its result is assembled from those jobs' outputs. A UI builds its forms and
connection rules from ``describe()``. Validation, graph.py, diff.py and the Execute engine
(compile.py, execution.py) know no type by name, so a new kind of node (audio, effect,
composite) is one ``NodeType`` registered. The storyboard's own kinds, character, scene and
shot, are in ``services/canvas/kinds/``.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeAlias

from jsonschema import Draft202012Validator, ValidationError

from libs.jobs import IMAGE_FIELD, output_image
from services.canvas.graph import Graph, Node, Problem

__all__ = [
    "Compiler",
    "Made",
    "MissingOutput",
    "NodeJob",
    "NodeType",
    "NodeTypeRegistry",
    "Port",
    "ResultAssembler",
    "Rule",
    "declared_image",
]

# An extra check a schema cannot say, such as one that looks at a node's neighbours.
Rule: TypeAlias = "Callable[[Node, Graph], list[Problem]]"


@dataclass(frozen=True)
class Made:
    """What an input node made or will make, as a compiler sees it."""

    node: Node
    output: Mapping[str, Any] | None  # its result, when it is kept
    jobs: tuple[str, ...]  # else the keys of the jobs making it, in this batch

    def image(self) -> str | dict[str, str] | None:
        """The node's image: the one its result declares, or until it is made ``{"from": job}``
        (the image its first job declares); None if it makes none."""
        if self.output is not None:
            return output_image(self.output)
        return {"from": self.jobs[0]} if self.jobs else None


@dataclass(frozen=True)
class NodeJob:
    """One job of a node: a batch ``JobSpec`` whose key is ``<node id>/<step>``."""

    key: str
    function: str
    input: dict[str, Any]
    depends_on: tuple[str, ...] = ()


# The jobs that make one node, given what its inputs (by port) made or will make.
Compiler: TypeAlias = "Callable[[Node, Mapping[str, list[Made]]], list[NodeJob]]"
# A node's result from its jobs' outputs, by step (a job's key after "<node id>/"), once every
# one has succeeded. The result declares its image like a job's output (libs.jobs.IMAGE_FIELD).
ResultAssembler: TypeAlias = "Callable[[Mapping[str, Mapping[str, Any]]], dict[str, Any]]"


class MissingOutput(ValueError):
    """A job's output lacks what its node's result is made of (say, one made before its worker
    declared its image): that result is not kept, so the next Execute makes the node again."""


def declared_image(output: Mapping[str, Any], step: str) -> str:
    """The image a step's output declares; MissingOutput when it declares none."""
    image = output_image(output)
    if image is None:
        raise MissingOutput(f"step {step!r} declared no {IMAGE_FIELD!r} in its output")
    return image


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
    """A kind of node: its properties' JSON Schema, its ports, any extra rules, and what it
    makes: ``compile`` gives its jobs and ``result`` assembles their outputs into the node's
    result. A type without them makes nothing (an "idle" node, such as a note)."""

    name: str
    title: str
    description: str
    properties: Mapping[str, Any]
    inputs: tuple[Port, ...] = ()
    outputs: tuple[Port, ...] = ()
    rules: tuple[Rule, ...] = ()
    compile: Compiler | None = None
    result: ResultAssembler | None = None
    _validator: Draft202012Validator = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # A broken type fails when it is defined, not on the first request that uses it.
        Draft202012Validator.check_schema(self.properties)
        if self.properties.get("type") != "object":
            raise ValueError(f"node type {self.name!r}: its properties schema must be an object")
        if (self.compile is None) != (self.result is None):
            raise ValueError(
                f"node type {self.name!r}: a type that makes jobs says how its result is"
                " assembled from them, and only such a type"
            )
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
