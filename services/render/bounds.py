"""Axis-aligned bounding boxes of CSG nodes, computed from their arguments without rendering.

The colour split (`services.render.csg`) lets a later sibling of another colour own the
volume it shares with an earlier one, by subtracting it. Most siblings share no volume at all
(two towers at either end of a wall), and every needless subtraction makes CGAL do the work
of both operands again. A box that is certainly at least as large as the material lets the
split skip the siblings that cannot touch.

Boxes are conservative: when a node's extent cannot be told from its arguments (``text``,
``import``, ``surface``, ``resize``, anything unreadable) it has no box (None), which counts
as overlapping everything.

`later_overlaps` finds, among the children of one union, every pair that may touch. Comparing
each child with every later one is quadratic in Python (a one-colour wall of 5,000 bricks took
15 s of split); a sweep along the axis where the boxes overlap least, in numpy, compares only
the pairs that overlap on that axis.
"""

from __future__ import annotations

import ast
import contextlib
import json
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import product
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

if TYPE_CHECKING:  # csg.py uses this module: import its Node for typing only
    from services.render.csg import Node

__all__ = ["MIXED", "Bounds", "Box", "later_overlaps"]

# Whatever the CSG export writes that Python's literal syntax does not know.
_LITERAL_WORDS = re.compile(r"\b(true|false|undef|inf|nan)\b")
_WORD_VALUES = {"true": "True", "false": "False", "undef": "None", "inf": "1e999", "nan": "None"}
# The same words for JSON, which reads the common case of numbers and lists 4-9x faster than
# Python's parser; nan stays unknown (None), as a NaN extent would compare as "no overlap".
_JSON_WORDS = re.compile(r"\b(undef|inf|nan)\b")
_JSON_VALUES = {"undef": "null", "inf": "Infinity", "nan": "null"}
_KEYWORD = re.compile(r"(^|,)\s*(\$?[A-Za-z_][A-Za-z0-9_]*)\s*=")
# Touching boxes share a face, not volume, but rounding in the CSG export's six-digit numbers
# must not turn a real overlap into a gap.
_SLACK = 1e-6
MIXED = -1  # the group of a child of several colours: it may cover, or be covered by, any other
_PAIRS_PER_STEP = 1 << 20  # candidate pairs compared at once: ~50 MB of numpy temporaries


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
    if '"' not in args:  # no string whose text could look like a keyword
        with contextlib.suppress(ValueError, RecursionError):
            return _json_arguments(args)
    return _python_arguments(args)


def _json_arguments(args: str) -> dict[str, Any]:
    text = _JSON_WORDS.sub(lambda m: _JSON_VALUES[m.group(1)], args).strip()
    if text.startswith("["):  # multmatrix: one positional matrix
        return {"": json.loads(text)}
    keywords = _KEYWORD.sub(lambda m: f'{m.group(1)}"{m.group(2).replace("$", "S_")}":', text)
    values = json.loads("{" + keywords + "}")
    if not isinstance(values, dict):
        raise ValueError("not keyword arguments")
    return values


def _python_arguments(args: str) -> dict[str, Any] | None:
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


def later_overlaps(
    boxes: Sequence[Box | None], groups: Sequence[int], limit: int
) -> list[list[int]] | None:
    """For each box, the later boxes (by index) that may overlap it; None past ``limit`` pairs.

    A pair of one group (children of one colour) is left out: neither covers the other. A box
    of group MIXED pairs with every group, and a None box overlaps everything.
    """
    count = len(boxes)
    later: list[list[int]] = [[] for _ in range(count)]
    group = np.asarray(groups, dtype=np.int64)
    if count < 2 or (group.min() >= 0 and group.min() == group.max()):
        return later  # one colour throughout: nothing covers anything
    low, high = _box_arrays(boxes)
    order, ends = _sweep(low, high)
    found_earlier: list[NDArray[np.int64]] = []
    found_later: list[NDArray[np.int64]] = []
    found = 0
    for first, second in _candidate_pairs(ends):
        a, b = order[first], order[second]
        touch = (low[a] <= high[b] + _SLACK).all(axis=1) & (low[b] <= high[a] + _SLACK).all(axis=1)
        touch &= (group[a] != group[b]) | (group[a] == MIXED) | (group[b] == MIXED)
        a, b = a[touch], b[touch]
        found += len(a)
        if found > limit:
            return None
        found_earlier.append(np.minimum(a, b))
        found_later.append(np.maximum(a, b))
    if found:
        earlier, after = np.concatenate(found_earlier), np.concatenate(found_later)
        for index in np.lexsort((after, earlier)):
            later[int(earlier[index])].append(int(after[index]))
    return later


def _box_arrays(boxes: Sequence[Box | None]) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """(n, 3) lows and highs; an unknown or inside-out box becomes all of space."""
    low = np.full((len(boxes), 3), -np.inf)
    high = np.full((len(boxes), 3), np.inf)
    for index, box in enumerate(boxes):
        if box is not None and all(a <= b for a, b in zip(box.low, box.high, strict=True)):
            low[index], high[index] = box.low, box.high
    return low, high


def _sweep(
    low: NDArray[np.float64], high: NDArray[np.float64]
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """The boxes sorted by their low end on the axis where the fewest pairs overlap, and for
    each sorted position the end of the run of later ones that overlap it on that axis."""
    best: tuple[int, NDArray[np.int64], NDArray[np.int64]] | None = None
    for axis in range(3):
        order = np.argsort(low[:, axis], kind="stable")
        starts = low[order, axis]
        ends = np.searchsorted(starts, high[order, axis] + _SLACK, side="right")
        ends = np.maximum(ends, np.arange(1, len(order) + 1))
        pairs = int((ends - np.arange(1, len(order) + 1)).sum())
        if best is None or pairs < best[0]:
            best = (pairs, order, ends)
    assert best is not None
    return best[1], best[2]


def _candidate_pairs(
    ends: NDArray[np.int64],
) -> Iterable[tuple[NDArray[np.int64], NDArray[np.int64]]]:
    """Sorted positions (p, q), p < q < ends[p], a bounded number at a time."""
    counts = ends - np.arange(1, len(ends) + 1)
    cumulative = np.cumsum(counts)
    position = 0
    while position < len(ends):
        # As many positions as fit in one step, but always at least one.
        done = int(cumulative[position - 1]) if position else 0
        limit = np.searchsorted(cumulative, done + _PAIRS_PER_STEP, side="right")
        stop = max(position + 1, int(limit))
        step = counts[position:stop]
        total = int(step.sum())
        if total:
            first = np.repeat(np.arange(position, stop), step)
            offsets = np.arange(total) - np.repeat(np.cumsum(step) - step, step)
            yield first, first + 1 + offsets
        position = stop
