"""Reading a client's graph: every problem that keeps it from being saved or executed.

``validate`` reads the JSON a client sends into a ``Graph`` and lists every problem with it,
each a typed record a UI can mark. Nothing here names a node type: what a node holds and how
it connects comes from a ``NodeTypeRegistry`` (see nodetypes.py).
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from collections.abc import Sequence
from typing import Any, TypeGuard

from jsonschema import ValidationError

from services.canvas.graph import (
    Edge,
    Graph,
    GraphLimits,
    Node,
    Problem,
    canonical_json,
    cycle_path,
    cycles,
)
from services.canvas.kinds import DEFAULT_TYPES
from services.canvas.nodetypes import NodeType, NodeTypeRegistry

__all__ = ["validate"]

_DEFAULT_LIMITS = GraphLimits()
_ID = re.compile(r"[A-Za-z0-9_.:-]+")
_NODE_KEYS = ("id", "type", "position", "properties")
_EDGE_KEYS = ("source", "source_port", "target", "target_port")
_SHOWN_KEYS = 5  # unknown keys named in one message


def validate(
    data: object,
    registry: NodeTypeRegistry = DEFAULT_TYPES,
    limits: GraphLimits = _DEFAULT_LIMITS,
) -> tuple[Graph | None, list[Problem]]:
    """Read a graph's wire form and list every problem with it; never raises for bad input.

    The graph is None when its shape is broken (an ``invalid_graph`` problem) or it is too
    large; otherwise it is returned even with other problems, so an unfinished canvas can be
    kept and its problems shown. Problems come in a fixed order: the shape and size of the
    whole, then nodes, then edges, then connection counts, properties and cycles.
    """
    if not isinstance(data, dict):
        return None, [Problem("invalid_graph", f"a graph must be an object, not {_kind(data)}")]
    try:
        return _validate(data, registry, limits)
    except RecursionError:
        # json and jsonschema recurse once per level of nesting; only a hostile body gets here.
        return None, [Problem("invalid_graph", "the graph is nested too deeply")]


def _validate(
    data: dict[Any, Any], registry: NodeTypeRegistry, limits: GraphLimits
) -> tuple[Graph | None, list[Problem]]:
    # Sizes first: nothing below should run over a body too large to keep anyway, and the
    # counts come before the encoding, which costs time in proportion to the body.
    too_many = _count_problems(data, limits)
    if too_many:
        return None, too_many
    problems = []
    try:
        encoded = canonical_json(data)
    except (TypeError, ValueError) as error:
        message = f"the graph is not plain JSON: {_shorten(str(error))}"
        problems.append(Problem("invalid_graph", message))
    else:
        if len(encoded) > limits.max_bytes:
            message = f"the graph is {len(encoded)} bytes of JSON; the limit is {limits.max_bytes}"
            return None, [Problem("graph_too_large", message)]
        # Read a private copy, so the graph shares no dict with the caller's data.
        data = json.loads(encoded)
    problems.extend(_whole_shape_problems(data))
    raw_nodes, raw_edges = data.get("nodes"), data.get("edges")
    if not isinstance(raw_nodes, list) or not isinstance(raw_edges, list):
        return None, problems

    nodes, unjudged, unread = _read_nodes(raw_nodes, limits, problems)
    edges = _read_edges(raw_edges, limits, problems)
    graph = Graph(tuple(nodes), tuple(edge for _, edge in edges))
    for node in nodes:
        if registry.get(node.type) is None:
            problems.append(
                Problem(
                    "unknown_node_type",
                    f"node {node.id!r} has the unknown type {_quote(node.type)}",
                    node=node.id,
                )
            )
    connections, arcs = _check_edges(graph, edges, registry, unjudged, problems)
    _check_connections(graph, registry, connections, problems)
    for node in nodes:
        node_type = registry.get(node.type)
        if node_type is not None and node.id not in unread:
            problems.extend(_property_problems(node, node_type))
            for rule in node_type.rules:
                problems.extend(rule(node, graph))
    for cycle in cycles(graph.nodes, arcs):
        message = f"the graph has a cycle: {cycle_path(cycle)}"
        problems.append(Problem("cycle", message, node=cycle[0]))

    shapeless = any(problem.kind == "invalid_graph" for problem in problems)
    return (None if shapeless else graph), problems


def _count_problems(data: dict[Any, Any], limits: GraphLimits) -> list[Problem]:
    problems = []
    for name, limit in (("nodes", limits.max_nodes), ("edges", limits.max_edges)):
        items = data.get(name)
        if isinstance(items, list) and len(items) > limit:
            message = f"the graph has {len(items)} {name}; the limit is {limit}"
            problems.append(Problem("graph_too_large", message, field=name))
    return problems


def _whole_shape_problems(data: dict[Any, Any]) -> list[Problem]:
    problems = []
    unknown = [key for key in data if key not in ("nodes", "edges")]
    if unknown:
        problems.append(Problem("invalid_graph", f"the graph has {_unknown_keys(unknown)}"))
    for name in ("nodes", "edges"):
        if name not in data:
            problems.append(Problem("invalid_graph", f"the graph has no {name!r}", field=name))
        elif not isinstance(data[name], list):
            message = f"{name!r} must be a list, not {_kind(data[name])}"
            problems.append(Problem("invalid_graph", message, field=name))
    return problems


def _read_nodes(
    raw_nodes: list[Any], limits: GraphLimits, problems: list[Problem]
) -> tuple[list[Node], set[str], set[str]]:
    """The usable nodes; the ids of nodes too broken to judge; those with unreadable properties.

    A node with a good id and type is kept even if its position or properties are broken (the
    graph is then not returned), so that edges and counts around it are still judged.
    """
    nodes: list[Node] = []
    seen: set[str] = set()
    unjudged: set[str] = set()
    unread: set[str] = set()
    for index, raw in enumerate(raw_nodes):
        if not isinstance(raw, dict):
            message = f"node #{index} must be an object, not {_kind(raw)}"
            problems.append(Problem("invalid_graph", message))
            continue
        raw_id = raw.get("id")
        node_id = raw_id if _is_id(raw_id, limits) else None
        name = f"node #{index}" if node_id is None else f"node {node_id!r}"

        def bad(message: str, field: str | None, pin: str | None = node_id) -> None:
            problems.append(Problem("invalid_graph", message, node=pin, field=field))

        if "id" not in raw:
            bad(f"{name} has no id", "id")
        elif node_id is None:
            bad(f"{name}: id {_id_rule(raw_id, limits)}", "id")
        unknown = [key for key in raw if key not in _NODE_KEYS]
        if unknown:
            bad(f"{name} has {_unknown_keys(unknown)}", None)
        node_type = raw.get("type")
        if "type" not in raw:
            bad(f"{name} has no type", "type")
        elif not isinstance(node_type, str):
            bad(f"{name}: type must be a string, not {_kind(node_type)}", "type")
        position = _read_position(raw.get("position"))
        if "position" not in raw:
            bad(f"{name} has no position", "position")
        elif position is None:
            bad(f'{name}: position must be {{"x": number, "y": number}} (finite)', "position")
        properties = raw.get("properties", {})
        if not isinstance(properties, dict):
            bad(f"{name}: properties must be an object, not {_kind(properties)}", "properties")

        if node_id is None:
            continue
        if node_id in seen:
            message = f"two nodes have the id {node_id!r}"
            problems.append(Problem("duplicate_node", message, node=node_id))
            continue
        seen.add(node_id)
        if not isinstance(node_type, str):
            unjudged.add(node_id)
            continue
        if not isinstance(properties, dict):
            unread.add(node_id)
            properties = {}
        x, y = position or (0.0, 0.0)
        nodes.append(Node(node_id, node_type, x, y, properties))
    return nodes, unjudged, unread


def _read_edges(
    raw_edges: list[Any], limits: GraphLimits, problems: list[Problem]
) -> list[tuple[int, Edge]]:
    """The well-formed edges, each with its index as sent."""
    edges: list[tuple[int, Edge]] = []
    for index, raw in enumerate(raw_edges):
        if not isinstance(raw, dict):
            message = f"edge #{index} must be an object, not {_kind(raw)}"
            problems.append(Problem("invalid_graph", message, edge=index))
            continue
        readable = True
        unknown = [key for key in raw if key not in _EDGE_KEYS]
        if unknown:
            message = f"edge #{index} has {_unknown_keys(unknown)}"
            problems.append(Problem("invalid_graph", message, edge=index))
            readable = False
        for key in _EDGE_KEYS:
            if key not in raw:
                message = f"edge #{index} has no {key}"
            elif not _is_id(raw[key], limits):
                message = f"edge #{index}: {key} {_id_rule(raw[key], limits)}"
            else:
                continue
            problems.append(Problem("invalid_graph", message, edge=index, field=key))
            readable = False
        if readable:
            edges.append((index, Edge(*(raw[key] for key in _EDGE_KEYS))))
    return edges


def _check_edges(
    graph: Graph,
    edges: Sequence[tuple[int, Edge]],
    registry: NodeTypeRegistry,
    unjudged: set[str],
    problems: list[Problem],
) -> tuple[Counter[tuple[str, str]], list[Edge]]:
    """Judge each edge; return the edge count of each (node, input port) and the node-to-node
    arcs the cycle check follows.

    An edge counts towards its input port even when its source is wrong, so one mistake is
    not reported again as a missing connection.
    """
    seen: set[Edge] = set()
    connections: Counter[tuple[str, str]] = Counter()
    arcs: list[Edge] = []
    for index, edge in edges:
        if edge in seen:
            message = f"edge #{index} repeats an earlier edge {_arrow(edge)}"
            problems.append(Problem("duplicate_edge", message, edge=index))
            continue
        seen.add(edge)
        for end in (edge.source, edge.target):
            if graph.node(end) is None and end not in unjudged:
                message = f"edge #{index} {_arrow(edge)} names the missing node {end!r}"
                problems.append(Problem("dangling_edge", message, node=end, edge=index))
        source, target = graph.node(edge.source), graph.node(edge.target)
        output = input_ = None
        if source is not None and (source_type := registry.get(source.type)) is not None:
            output = source_type.output(edge.source_port)
            if output is None:
                message = f"{source.type} {source.id!r} has no output {edge.source_port!r}"
                problems.append(
                    Problem(
                        "unknown_port", message, node=source.id, port=edge.source_port, edge=index
                    )
                )
        if target is not None and (target_type := registry.get(target.type)) is not None:
            input_ = target_type.input(edge.target_port)
            if input_ is None:
                message = f"{target.type} {target.id!r} has no input {edge.target_port!r}"
                problems.append(
                    Problem(
                        "unknown_port", message, node=target.id, port=edge.target_port, edge=index
                    )
                )
            else:
                connections[target.id, input_.name] += 1
        if output is not None and input_ is not None and output.type != input_.type:
            message = (
                f"edge #{index} {_arrow(edge)} joins a {output.type!r} output"
                f" to a {input_.type!r} input"
            )
            problems.append(
                Problem(
                    "port_type_mismatch",
                    message,
                    node=edge.target,
                    port=edge.target_port,
                    edge=index,
                )
            )
        if source is not None and target is not None:
            arcs.append(edge)
    return connections, arcs


def _check_connections(
    graph: Graph,
    registry: NodeTypeRegistry,
    connections: Counter[tuple[str, str]],
    problems: list[Problem],
) -> None:
    for node in graph.nodes:
        node_type = registry.get(node.type)
        if node_type is None:
            continue
        for port in node_type.inputs:
            count = connections[node.id, port.name]
            if port.min == port.max and count != port.min:
                kind = "missing_connection" if count < port.min else "too_many_connections"
                needs, bound = "needs exactly", port.min
            elif count < port.min:
                kind, needs, bound = "missing_connection", "needs at least", port.min
            elif port.max is not None and count > port.max:
                kind, needs, bound = "too_many_connections", "takes at most", port.max
            else:
                continue
            noun = "input" if bound == 1 else "inputs"
            message = f"{node.type} {node.id!r} {needs} {bound} {port.name!r} {noun}, has {count}"
            problems.append(Problem(kind, message, node=node.id, port=port.name))


def _property_problems(node: Node, node_type: NodeType) -> list[Problem]:
    """The node type's schema, broken down into one problem per property at fault."""
    problems: list[Problem] = []
    missing: set[str] = set()
    for error in node_type.property_errors(node.properties):
        path = [_shorten(str(part), 100) for part in error.absolute_path]
        if error.validator == "required":
            # jsonschema reports each missing key apart but says which only in its message.
            for key in error.validator_value:
                field = ".".join([*path, key])
                if key not in error.instance and field not in missing:
                    missing.add(field)
                    problems.append(
                        Problem("required_property", f"{field} is required", node.id, field=field)
                    )
        elif error.validator == "additionalProperties" and error.validator_value is False:
            for key in _unexpected_keys(error):
                field = ".".join([*path, _shorten(str(key), 100)])
                problems.append(
                    Problem("invalid_property", f"{field} is not a property", node.id, field=field)
                )
        else:
            at = ".".join(path) or None
            rule = _rule(error)
            if "propertyNames" in error.relative_schema_path:
                rule = f"key {_quote(error.instance)} {rule}"
            message = f"{at or 'properties'} {rule}"
            problems.append(Problem("invalid_property", message, node.id, field=at))
    return problems


def _unexpected_keys(error: ValidationError) -> list[Any]:
    schema = error.schema
    known = schema.get("properties", {})
    patterns = schema.get("patternProperties", {})
    return [
        key
        for key in error.instance
        if key not in known and not any(re.search(pattern, key) for pattern in patterns)
    ]


_TYPE_NAMES = {
    "array": "a list",
    "boolean": "true or false",
    "integer": "a whole number",
    "null": "null",
    "number": "a number",
    "object": "an object",
    "string": "a string",
}


def _rule(error: ValidationError) -> str:
    """What the value must be, in words; never the (maybe huge) value itself."""
    value = error.validator_value
    match error.validator:
        case "type":
            types = [value] if isinstance(value, str) else value
            return "must be " + " or ".join(_TYPE_NAMES.get(name, name) for name in types)
        case "enum":
            return "must be one of " + ", ".join(_shorten(str(option), 40) for option in value)
        case "minLength" if value == 1:
            return "must not be empty"
        case "minLength":
            return f"must be at least {value} characters"
        case "maxLength":
            return f"must be at most {value} characters"
        case "minimum":
            return f"must be at least {value}"
        case "maximum":
            return f"must be at most {value}"
        case "exclusiveMinimum":
            return f"must be more than {value}"
        case "exclusiveMaximum":
            return f"must be less than {value}"
        case "pattern":
            return f"must match {value}"
        case "minItems":
            return f"must have at least {value} items"
        case "maxItems":
            return f"must have at most {value} items"
        case "uniqueItems":
            return "must not list an item twice"
        case "minProperties":
            return f"must have at least {value} keys"
        case "maxProperties":
            return f"must have at most {value} keys"
    return _shorten(error.message)


def _read_position(value: object) -> tuple[float, float] | None:
    if not isinstance(value, dict) or set(value) != {"x", "y"}:
        return None
    coordinates = []
    for axis in ("x", "y"):
        number = value[axis]
        if isinstance(number, bool) or not isinstance(number, int | float):
            return None
        try:
            number = float(number)
        except OverflowError:  # an integer beyond a float's range
            return None
        if not math.isfinite(number):
            return None
        coordinates.append(number)
    return coordinates[0], coordinates[1]


def _is_id(value: object, limits: GraphLimits) -> TypeGuard[str]:
    return (
        isinstance(value, str)
        and len(value) <= limits.max_id_length
        and _ID.fullmatch(value) is not None
    )


def _id_rule(value: object, limits: GraphLimits) -> str:
    shown = _quote(value) if isinstance(value, str) else _kind(value)
    return f"must be 1 to {limits.max_id_length} of the characters A-Z a-z 0-9 _ . : -, not {shown}"


def _kind(value: object) -> str:
    """A value's JSON type, in words."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true or false"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def _unknown_keys(keys: Sequence[object]) -> str:
    shown = ", ".join(_quote(key) for key in keys[:_SHOWN_KEYS])
    more = f" and {len(keys) - _SHOWN_KEYS} more" if len(keys) > _SHOWN_KEYS else ""
    return f"unknown key{'s' if len(keys) > 1 else ''} {shown}{more}"


def _arrow(edge: Edge) -> str:
    return f"{edge.source}.{edge.source_port} → {edge.target}.{edge.target_port}"


def _quote(value: object) -> str:
    return _shorten(repr(value), 60)


def _shorten(text: str, limit: int = 200) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
