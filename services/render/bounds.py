"""Axis-aligned bounding boxes of CSG nodes, computed from their arguments without rendering.

The colour split (`services.render.csg`) lets a later sibling of another colour own the
volume it shares with an earlier one, by subtracting it. Most siblings share no volume at all
(two towers at either end of a wall), and every needless subtraction makes CGAL do the work
of both operands again. A box that is certainly at least as large as the material lets the
split skip the siblings that cannot touch.

Boxes are conservative: when a node's extent cannot be told from its arguments (``text``,
``import``, ``surface``, ``resize``, anything unreadable) it has no box (None), which counts
as overlapping everything.
"""

from __future__ import annotations

import ast
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import product
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # csg.py uses this module: import its Node for typing only
    from services.render.csg import Node

__all__ = ["Bounds", "Box"]

# Whatever the CSG export writes that Python's literal syntax does not know.
_LITERAL_WORDS = re.compile(r"\b(true|false|undef|inf|nan)\b")
_WORD_VALUES = {"true": "True", "false": "False", "undef": "None", "inf": "1e999", "nan": "None"}
# Touching boxes share a face, not volume, but rounding in the CSG export's six-digit numbers
# must not turn a real overlap into a gap.
_SLACK = 1e-6


@dataclass(frozen=True)
class Box:
    low: tuple[float, float, float]
    high: tuple[float, float, float]

    def overlaps(self, other: Box) -> bool:
        return all(
            a_low <= b_high + _SLACK and b_low <= a_high + _SLACK
            for a_low, a_high, b_low, b_high in zip(
                self.low, self.high, other.low, other.high, strict=True
            )
        )

    def corners(self) -> Iterable[tuple[float, float, float]]:
        return product(*zip(self.low, self.high, strict=True))  # type: ignore[return-value]


def _box(points: Iterable[Sequence[float]]) -> Box | None:
    xyz = [tuple(float(c) for c in (*p, 0.0, 0.0)[:3]) for p in points]
    if not xyz or not all(math.isfinite(c) for p in xyz for c in p):
        return None
    low = (min(p[0] for p in xyz), min(p[1] for p in xyz), min(p[2] for p in xyz))
    high = (max(p[0] for p in xyz), max(p[1] for p in xyz), max(p[2] for p in xyz))
    return Box(low, high)


def _union(boxes: Iterable[Box | None]) -> Box | None:
    """The box around all of ``boxes``; None if any is unknown. No boxes: an empty node."""
    found = list(boxes)
    if any(box is None for box in found):
        return None
    known = [box for box in found if box is not None]
    if not known:
        return Box((0.0, 0.0, 0.0), (0.0, 0.0, 0.0))
    return _box([corner for box in known for corner in (box.low, box.high)])


def _arguments(args: str) -> dict[str, Any] | None:
    """``name = value, ...`` as a dict of Python values; None when any value is unreadable."""
    # "$fn = 0" is not a Python keyword argument; "S_fn = 0" is.
    text = _LITERAL_WORDS.sub(lambda m: _WORD_VALUES[m.group(1)], args.replace("$", "S_"))
    try:
        call = ast.parse(f"f({text})", mode="eval").body
        if not isinstance(call, ast.Call):
            return None
        values = {kw.arg or "": ast.literal_eval(kw.value) for kw in call.keywords}
        if call.args:
            values[""] = ast.literal_eval(call.args[0])
    except (SyntaxError, ValueError, TypeError, MemoryError, RecursionError):
        return None
    return values


def _number(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError("not a number")
    return float(value)


def _vector(value: Any, length: int) -> list[float]:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return [float(value)] * length
    if not isinstance(value, list) or len(value) != length:
        raise ValueError("not a vector")
    return [_number(v) for v in value]


class Bounds:
    """Boxes of the nodes of one tree, each computed once."""

    def __init__(self) -> None:
        self._boxes: dict[int, Box | None] = {}
        self._nodes: list[Node] = []  # keeps ids stable while they are keys

    def of(self, node: Node) -> Box | None:
        key = id(node)
        if key not in self._boxes:
            self._nodes.append(node)
            try:
                self._boxes[key] = self._measure(node)
            except (ValueError, TypeError, KeyError, IndexError, OverflowError):
                self._boxes[key] = None
        return self._boxes[key]

    def _children(self, node: Node) -> Box | None:
        return _union(self.of(child) for child in node.children if "%" not in child.modifier)

    def _measure(self, node: Node) -> Box | None:
        name = node.name
        if name in {"group", "union", "color", "render", "hull"}:
            return self._children(node)
        if name == "difference":
            material = [c for c in node.children if "%" not in c.modifier]
            return self.of(material[0]) if material else _union([])
        if name == "intersection":
            return self._children(node)  # the union is a (loose) superset of the intersection
        args = _arguments(node.args)
        if args is None:
            return None
        if name == "multmatrix":
            return self._transformed(node, args[""])
        if name == "minkowski":
            # The Minkowski sum of boxes is the box of the sums.
            found = [self.of(child) for child in node.children if "%" not in child.modifier]
            boxes = [box for box in found if box is not None]
            if not boxes or len(boxes) < len(found):
                return None
            low = [sum(box.low[i] for box in boxes) for i in range(3)]
            high = [sum(box.high[i] for box in boxes) for i in range(3)]
            return Box((low[0], low[1], low[2]), (high[0], high[1], high[2]))
        return self._primitive(node, args)

    def _transformed(self, node: Node, matrix: Any) -> Box | None:
        inner = self._children(node)
        if inner is None:
            return None
        rows = [_vector(row, 4) for row in matrix[:3]]
        corners = [
            [sum(row[i] * (*corner, 1.0)[i] for i in range(4)) for row in rows]
            for corner in inner.corners()
        ]
        return _box(corners)

    def _primitive(self, node: Node, args: dict[str, Any]) -> Box | None:
        name = node.name
        if name in {"cube", "square"}:
            size = [*_vector(args["size"], 3 if name == "cube" else 2), 0.0]
            return _placed((size[0], size[1], size[2] if name == "cube" else 0.0), args)
        if name in {"sphere", "circle"}:
            r = _number(args["r"])
            return Box(
                (-r, -r, -r if name == "sphere" else 0.0), (r, r, r if name == "sphere" else 0.0)
            )
        if name == "cylinder":
            r = max(_number(args["r1"]), _number(args["r2"]))
            h = _number(args["h"])
            z0 = -h / 2 if args.get("center") else 0.0
            return Box((-r, -r, min(z0, z0 + h)), (r, r, max(z0, z0 + h)))
        if name in {"polyhedron", "polygon"}:
            return _box(args["points"])
        if name == "linear_extrude":
            return self._extruded(node, args)
        if name == "rotate_extrude":
            profile = self._children(node)
            if profile is None:
                return None
            r = max(abs(profile.low[0]), abs(profile.high[0]))
            return Box((-r, -r, profile.low[1]), (r, r, profile.high[1]))
        if name == "offset":
            grow = abs(_number(args.get("r") if args.get("r") is not None else args["delta"]))
            inner = self._children(node)
            if inner is None:
                return None
            return Box(
                (inner.low[0] - grow, inner.low[1] - grow, 0.0),
                (inner.high[0] + grow, inner.high[1] + grow, 0.0),
            )
        if name == "projection":
            inner = self._children(node)
            return None if inner is None else Box((*inner.low[:2], 0.0), (*inner.high[:2], 0.0))
        return None  # text, import, surface, resize and anything new: unknown extent

    def _extruded(self, node: Node, args: dict[str, Any]) -> Box | None:
        profile = self._children(node)
        if profile is None:
            return None
        h = _number(args["height"])
        z0 = -h / 2 if args.get("center") else 0.0
        scale = max([*_vector(args.get("scale", 1.0), 2), 1.0])
        twisted = _number(args.get("twist", 0.0)) != 0.0
        if twisted or scale != 1.0:
            # Twist turns the profile about z and scale grows it: the circle around it covers both.
            r = scale * max(math.hypot(x, y) for x, y, _ in profile.corners())
            return Box((-r, -r, z0), (r, r, z0 + h))
        return Box((profile.low[0], profile.low[1], z0), (profile.high[0], profile.high[1], z0 + h))


def _placed(size: tuple[float, float, float], args: dict[str, Any]) -> Box:
    if args.get("center"):
        return Box(
            (-size[0] / 2, -size[1] / 2, -size[2] / 2), (size[0] / 2, size[1] / 2, size[2] / 2)
        )
    return Box(
        (min(0.0, size[0]), min(0.0, size[1]), min(0.0, size[2])),
        (max(0.0, size[0]), max(0.0, size[1]), max(0.0, size[2])),
    )
