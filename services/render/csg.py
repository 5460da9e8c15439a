"""Split an evaluated OpenSCAD CSG tree into one CSG program per colour of material.

OpenSCAD 2021.01 drops colour on every mesh export, but ``openscad -o model.csg`` writes the
evaluated tree with every ``color()`` resolved to ``color([r, g, b, a])`` (names and hex
strings already turned into numbers). `split_by_colour` turns that tree into one program per
colour whose render is exactly the material of that colour; the caller renders each to a mesh
and assembles a coloured GLB/3MF.

Colour semantics. Shotgraph's rule for nesting is the one designers expect; everything else
follows OpenSCAD 2021.01's F5 preview, checked pixel for pixel against the real binary:

- The INNERMOST ``color()`` wins: ``color("red") { cube(); color("blue") sphere(); }`` has a
  red cube and a blue sphere. 2021.01's own preview lets the outermost one win, so no picture
  Shotgraph makes is that preview of the model: the quick preview and the full render's PNG
  alike draw the split programs, each inside ``color()`` of its own colour (`recoloured`),
  and the outermost colour OpenSCAD honours is then the one this rule chose. It
  wins channel by channel: a channel OpenSCAD could not resolve (an unknown name gives
  ``[-1, -1, -1, 1]``; ``color(alpha=a)`` gives ``[-1, -1, -1, a]``) keeps the channel of
  the colour around it, so ``color("red") color(alpha=0.5) cube()`` is half-transparent red.
- Uncoloured material gets `DEFAULT_COLOUR`, the face colour of the default "Cornfield"
  scheme, #f9d72c with alpha 1. The preview of an uncoloured cube is pixel-identical to
  ``color("#f9d72c")``. A channel below 0 (or NaN) takes the default's channel, and a
  channel above 1 is clamped to 1, as OpenGL does when it draws the preview.
- Alpha is part of the colour: ``[0, 0, 1, 0.5]`` and ``[0, 0, 1, 1]`` are two materials.
- The preview colours whole primitives. Any node that OpenSCAD evaluates to a single mesh
  (primitives, ``linear_extrude``, ``rotate_extrude``, ``hull``, ``minkowski``, ``resize``,
  ``render``, ``projection``, ``offset``, ``import``, ``surface``, ``text``) takes the
  colour in force where it stands. Any ``color()`` inside it is ignored:
  ``linear_extrude(1) color("blue") square(1)`` has the default colour.
- ``difference()``: the cutters (2nd and later children) never add material. The result has
  the colour(s) of the first child's material. The preview paints cut faces in the cutter's
  colour, but a mesh face takes the colour of the material it bounds. So the part of colour
  C is ``difference() { first child restricted to C; every other child, unrestricted }``.
- ``intersection()``: likewise, the part of colour C is the first child's colour-C material
  intersected with the other children, unrestricted.
- Union (``union``, ``group``, the top level and the implicit union of any node's children):
  where differently coloured children overlap, the LATER child owns the shared volume, so
  no volume is in two meshes and nothing z-fights. Child i's contribution to colour C is
  ``difference() { child i restricted to C; every later sibling holding another colour }``,
  leaving out the siblings whose bounding boxes cannot reach child i (`services.render.bounds`).
  The preview z-fights in such overlaps; last-drawn-wins is our choice, not OpenSCAD's.
- Background (``%``) children are not material. OpenSCAD's render skips them, and so does
  the split. Highlight (``#``) does not change a material's colour.

`split_by_colour` returns ``{}`` when the model has no material at all; the caller decides
whether that is an error. A part may still render empty, for example when later siblings
cover all of a colour or a cutter removes it, so the caller should skip any part whose
render is empty. The union rule can cost time quadratic in the number of differently coloured
siblings that touch, because each part subtracts every later one of another colour it may meet;
siblings far apart (two towers at either end of a wall) cost nothing.

OpenSCAD 2021.01 writes strings into CSG unescaped, so a ``text()`` or ``import()`` string
that contains a double quote produces CSG that neither OpenSCAD nor `parse_csg` can read.
`parse_csg` raises `CsgError` for it. Relative ``import()``/``surface()`` paths resolve
against the directory of the .csg file, so parts must be rendered from the model's directory.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import NoReturn

from services.render.bounds import MIXED, Bounds, later_overlaps
from services.render.scad import LimitExceeded

__all__ = [
    "DEFAULT_COLOUR",
    "MAX_COLOURS",
    "MAX_CSG_BYTES",
    "MAX_CSG_NODES",
    "MAX_DEPTH",
    "MAX_PART_NODES",
    "CsgError",
    "CsgTooLarge",
    "Node",
    "Rgba",
    "check_csg_size",
    "format_csg",
    "parse_csg",
    "recoloured",
    "split_by_colour",
]

MSG_UNEXPECTED = "line {line}: expected {expected}, found {found}"
MSG_UNKNOWN_NODE = "line {line}: unsupported CSG node {name!r}"
MSG_MODIFIER = "line {line}: unsupported modifier {modifier!r} (OpenSCAD writes only % and #)"
MSG_UNTERMINATED = "line {line}: unterminated {what}"
MSG_BAD_STRING = (
    "line {line}: malformed string argument; OpenSCAD 2021.01 writes quotes inside "
    "text() and import() strings unescaped, which makes the CSG unreadable"
)
MSG_BAD_COLOUR = "line {line}: color() arguments are not [r, g, b, a] numbers: {args!r}"
MSG_TOO_MANY_BYTES = "the model's CSG is {size} bytes; at most {limit} bytes are rendered"
MSG_TOO_MANY_NODES = "the model's CSG has more than {limit} nodes; at most {limit} are rendered"
MSG_TOO_DEEP = "the model's CSG nests more than {limit} levels deep; at most {limit} are rendered"
MSG_TOO_MANY_COLOURS = "the model has {count} colours; at most {limit} are rendered"
MSG_PARTS_TOO_LARGE = (
    "split by colour, the model's parts hold {count} CSG nodes; at most {limit} are rendered "
    "(differently coloured parts that touch are subtracted from each other)"
)
MSG_PARTS_OVERLAP = (
    "split by colour, the model's parts hold more than {limit} CSG nodes; at most {limit} are "
    "rendered (differently coloured parts that touch are subtracted from each other)"
)

# Nodes whose children are (implicitly) unioned and carry colour down to them.
UNION_NODES = frozenset({"group", "union", "multmatrix", "color"})
# Nodes whose material (and colour) is the first child's; the others only cut it.
FIRST_CHILD_NODES = frozenset({"difference", "intersection"})
# Nodes the preview draws as one mesh in one colour; color() inside them is ignored.
SOLID_NODES = frozenset(
    {
        "cube",
        "sphere",
        "cylinder",
        "polyhedron",
        "square",
        "circle",
        "polygon",
        "text",
        "import",
        "surface",
        "linear_extrude",
        "rotate_extrude",
        "projection",
        "offset",
        "hull",
        "minkowski",
        "resize",
        "render",
    }
)
KNOWN_NODES = UNION_NODES | FIRST_CHILD_NODES | SOLID_NODES
NOT_MATERIAL = "%"  # background: shown in the preview, skipped by the render
MODIFIERS = "%#"  # what 2021.01's CSG export writes; it resolves ! and * itself

# What the split takes on, measured on a 2-core machine (loadtests/bench_render_bounds.py has
# the job-level figures). A real set piece is far below each: tests/models/set_piece.scad
# exports 1.4 kB of CSG, 26 nodes, 7 levels, 4 colours. Past them a model would hold a worker
# for minutes or its memory for gigabytes, and OpenSCAD could not render it in time anyway.
# Parsing and splitting recurse once or twice per level; this keeps them off Python's limit.
MAX_DEPTH = 200
# Each colour is one OpenSCAD process (~50 ms sandboxed before any geometry) and one material;
# slicers load 16 filaments at most. 5,000 colours: ~4 min of process starts, and a split
# that compares every colour's parts with the others'.
MAX_COLOURS = 256
# OpenSCAD 2021.01 takes 20 s to render 500 cubes and 117 s for 2,000, so a renderable model
# has a few thousand primitives (more inside hull() or render()). 50,000 nodes parse and split
# in ~5 s of a worker thread (16,000 coloured cubes in a grid: 0.9 s + 4.6 s, ~190 MB).
MAX_CSG_NODES = 50_000
# 50,000 nodes of the longest common kind (multmatrix, ~110 bytes) fit; a polyhedron carries
# its points here, and 7.3 MB of them parse and get their box in 1.9 s and ~70 MB.
MAX_CSG_BYTES = 8 << 20
# The colour programs together: each part repeats the differently coloured siblings that may
# touch it, so a model of many touching colours grows here quadratically (a 2-colour grid of
# 16,000 touching cubes would write 426,000 nodes for CGAL to subtract).
MAX_PART_NODES = 2 * MAX_CSG_NODES

_NUMBER = r"\s*([-+]?(?:nan|inf|\d+(?:\.\d*)?(?:e[-+]?\d+)?|\.\d+(?:e[-+]?\d+)?))\s*"
_COLOUR_ARGS = re.compile(rf"\[{_NUMBER},{_NUMBER},{_NUMBER},{_NUMBER}\]", re.IGNORECASE)
_NAME = re.compile(r"[A-Za-z_$][A-Za-z0-9_$]*")
_ARGS_SPECIAL = re.compile(r'["()\[\]{};]')
_STRING_SPECIAL = re.compile(r'["\\]')

RawColour = tuple[float, float, float, float]  # as written; a channel < 0 means "unset"


@dataclass(frozen=True)
class Rgba:
    """A material colour, each channel in 0..1."""

    r: float
    g: float
    b: float
    a: float

    def hex(self) -> str:
        """The colour as ``#rrggbbaa``."""
        return "#" + "".join(f"{round(c * 255):02x}" for c in (self.r, self.g, self.b, self.a))


DEFAULT_COLOUR = Rgba(0xF9 / 255, 0xD7 / 255, 0x2C / 255, 1.0)


class CsgError(ValueError):
    """The CSG text is malformed or uses something this module does not support."""


class CsgTooLarge(LimitExceeded):
    """The model is over one of the split's limits (colours, CSG size, nesting): a 422 naming
    the limit and the model's figure, and a failed job without a retry."""


@dataclass(frozen=True)
class Node:
    """One CSG statement: ``modifier name(args) { children }`` with args kept verbatim."""

    name: str
    args: str
    children: tuple[Node, ...] = ()
    modifier: str = ""


def parse_csg(text: str) -> Node:
    """Parse OpenSCAD CSG into a ``group`` node whose children are the top-level statements.

    CPU-bound: seconds for a tree near the limits, so callers on an event loop run it in a
    thread. Raises CsgTooLarge past MAX_CSG_BYTES, MAX_CSG_NODES or MAX_DEPTH.
    """
    check_csg_size(len(text.encode()))
    return Node("group", "", _Parser(text).program())


def check_csg_size(size: int) -> None:
    """Raise CsgTooLarge for a CSG export of ``size`` bytes past MAX_CSG_BYTES; callers with
    the file check it before reading it."""
    if size > MAX_CSG_BYTES:
        raise CsgTooLarge(MSG_TOO_MANY_BYTES.format(size=size, limit=MAX_CSG_BYTES))


def format_csg(root: Node) -> str:
    """The CSG program whose top-level statements are root's children (inverse of parse_csg)."""
    lines: list[str] = []
    for child in root.children:
        _format(child, 0, lines)
    return "".join(line + "\n" for line in lines)


def split_by_colour(tree: Node) -> dict[Rgba, str]:
    """Colour -> CSG program rendering exactly the material of that colour.

    tree is a root as returned by parse_csg. Colours come in order of first appearance.
    CPU-bound like parse_csg. Raises CsgTooLarge past MAX_COLOURS or MAX_PART_NODES.
    """
    walk = _ColourWalk()
    colours = walk.colours(tree, None)
    if len(colours) > MAX_COLOURS:
        raise CsgTooLarge(MSG_TOO_MANY_COLOURS.format(count=len(colours), limit=MAX_COLOURS))
    parts = {}
    for colour in colours:
        part = walk.restrict(tree, colour, None)
        if part is not None:
            parts[colour] = part
    count = sum(walk.size(part) for part in parts.values())
    if count > MAX_PART_NODES:
        raise CsgTooLarge(MSG_PARTS_TOO_LARGE.format(count=count, limit=MAX_PART_NODES))
    return {colour: format_csg(part) for colour, part in parts.items()}


def recoloured(programs: Mapping[Rgba, str]) -> str:
    """One program drawing each colour's program (from `split_by_colour`) in that colour.

    OpenSCAD's preview lets the outermost ``color()`` win, so wrapping each program in its
    own colour makes the preview show the colours this module chose, whatever the ``color()``
    nodes inside it say.
    """
    return "\n".join(
        f"color([{c.r!r}, {c.g!r}, {c.b!r}, {c.a!r}]) {{\n{program}}}\n"
        for c, program in programs.items()
    )


def _format(node: Node, depth: int, lines: list[str]) -> None:
    indent = "\t" * depth
    head = f"{indent}{node.modifier}{node.name}({node.args})"
    if not node.children:
        lines.append(head + ";")
        return
    lines.append(head + " {")
    for child in node.children:
        _format(child, depth + 1, lines)
    lines.append(indent + "}")


def _raw_colour(args: str) -> RawColour | None:
    match = _COLOUR_ARGS.fullmatch(args.strip())
    if match is None:
        return None
    r, g, b, a = (float(channel) for channel in match.groups())
    return r, g, b, a


def _is_set(colour: RawColour | None) -> bool:
    """OpenSCAD's Color4f::isValid: a colour counts only when every channel is >= 0."""
    return colour is not None and all(channel >= 0 for channel in colour)


def _resolve(colour: RawColour | None) -> Rgba:
    """The colour drawn: unset channels (< 0 or NaN) from the default, the rest clamped."""
    if colour is None:
        return DEFAULT_COLOUR
    default = (DEFAULT_COLOUR.r, DEFAULT_COLOUR.g, DEFAULT_COLOUR.b, DEFAULT_COLOUR.a)
    r, g, b, a = (
        min(channel, 1.0) if channel >= 0 else fallback
        for channel, fallback in zip(colour, default, strict=True)
    )
    return Rgba(r, g, b, a)


def _material(children: tuple[Node, ...]) -> tuple[Node, ...]:
    return tuple(child for child in children if NOT_MATERIAL not in child.modifier)


@dataclass
class _Union:
    """What the split needs of one union node's material children, under one inherited colour."""

    children: tuple[Node, ...]
    inside: RawColour | None  # the colour in force for the children
    colours: tuple[tuple[Rgba, ...], ...]  # each child's
    holders: dict[Rgba, list[int]]  # colour -> the children holding it, in order
    covers: list[list[int]] | None = field(default=None)  # later siblings that may touch each


class _ColourWalk:
    """Colour queries over one tree; colours() is memoised because unions ask it repeatedly."""

    def __init__(self) -> None:
        self._colours: dict[tuple[int, RawColour | None], tuple[Rgba, ...]] = {}
        self._unions: dict[tuple[int, RawColour | None], _Union] = {}
        self._sizes: dict[int, int] = {}
        self._keep: list[Node] = []  # nodes made by restrict whose ids key _sizes
        self._pairs = 0  # touching pairs of differently coloured siblings, in all unions
        self._bounds = Bounds()

    def colours(self, node: Node, inherited: RawColour | None) -> tuple[Rgba, ...]:
        """The colours of node's material, in order of first appearance."""
        key = (id(node), inherited)
        if key not in self._colours:
            self._colours[key] = self._find_colours(node, inherited)
        return self._colours[key]

    def _find_colours(self, node: Node, inherited: RawColour | None) -> tuple[Rgba, ...]:
        if NOT_MATERIAL in node.modifier:
            return ()
        if node.name in SOLID_NODES:
            return (_resolve(inherited),)
        children = _material(node.children)
        if node.name in FIRST_CHILD_NODES:
            return self.colours(children[0], inherited) if children else ()
        inherited = self._inside(node, inherited)
        found = (colour for child in children for colour in self.colours(child, inherited))
        return tuple(dict.fromkeys(found))

    def restrict(self, node: Node, colour: Rgba, inherited: RawColour | None) -> Node | None:
        """node cut down to its material of the given colour, or None if it has none."""
        if colour not in self.colours(node, inherited):
            return None
        if node.name in SOLID_NODES:
            return node
        if node.name in FIRST_CHILD_NODES:
            children = _material(node.children)
            first = self.restrict(children[0], colour, inherited)
            return None if first is None else replace(node, children=(first, *children[1:]))
        union = self._union(node, inherited)
        covers = self._covers(union)
        kept = []
        for i in union.holders[colour]:
            part = self.restrict(union.children[i], colour, union.inside)
            if part is None:
                continue
            # Later siblings of another colour own the volume they share with this one; one
            # that cannot reach this child is left out, or CGAL would render it for nothing.
            covering = [
                union.children[j]
                for j in covers[i]
                if any(other != colour for other in union.colours[j])
            ]
            kept.append(Node("difference", "", (part, *covering)) if covering else part)
        return replace(node, children=tuple(kept))

    def size(self, node: Node) -> int:
        """The nodes in node's tree, each shared subtree counted as often as it is written."""
        key = id(node)
        if key not in self._sizes:
            self._sizes[key] = 1 + sum(self.size(child) for child in node.children)
            self._keep.append(node)  # its id must stay unique while it is a key
        return self._sizes[key]

    def _union(self, node: Node, inherited: RawColour | None) -> _Union:
        key = (id(node), inherited)
        if key not in self._unions:
            children = _material(node.children)
            inside = self._inside(node, inherited)
            colours = tuple(self.colours(child, inside) for child in children)
            holders: dict[Rgba, list[int]] = {}
            for index, held in enumerate(colours):
                for colour in held:
                    holders.setdefault(colour, []).append(index)
            self._unions[key] = _Union(children, inside, colours, holders)
        return self._unions[key]

    def _covers(self, union: _Union) -> list[list[int]]:
        """For each child, the later siblings that may touch it and hold another colour."""
        if union.covers is None:
            union.covers = [[] for _ in union.children]
            holding = [i for i, held in enumerate(union.colours) if held]
            ids: dict[Rgba, int] = {}
            groups = [
                ids.setdefault(held[0], len(ids)) if len(held) == 1 else MIXED
                for held in (union.colours[i] for i in holding)
            ]
            if len(ids) < 2 and MIXED not in groups:
                return union.covers  # one colour throughout: no boxes needed
            found = later_overlaps(
                [self._bounds.of(union.children[i]) for i in holding],
                groups,
                MAX_PART_NODES - self._pairs,  # each pair writes a sibling into a part again
            )
            if found is None:
                raise CsgTooLarge(MSG_PARTS_OVERLAP.format(limit=MAX_PART_NODES))
            self._pairs += sum(len(later) for later in found)
            for position, later in enumerate(found):
                union.covers[holding[position]] = [holding[j] for j in later]
        return union.covers

    @staticmethod
    def _inside(node: Node, inherited: RawColour | None) -> RawColour | None:
        """The colour in force for node's children: the innermost colour wins, channel by
        channel, so ``color(alpha=0.5)`` inside red is half-transparent red."""
        if node.name != "color":
            return inherited
        own = _raw_colour(node.args)
        if own is None or inherited is None:
            return own if own is not None else inherited
        r, g, b, a = (
            mine if mine >= 0 else theirs for mine, theirs in zip(own, inherited, strict=True)
        )
        return r, g, b, a


class _Parser:
    """Recursive descent over the subset of OpenSCAD that 2021.01's CSG export writes.

    Line numbers are counted only for an error message: counting them for every statement
    made parsing quadratic (an 800 kB export took 7 s).
    """

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0
        self.depth = 0
        self.nodes = 0

    def program(self) -> tuple[Node, ...]:
        statements = self._statements()
        if self.pos < len(self.text):
            self._fail("a module name", self.text[self.pos])
        return statements

    def _statements(self) -> tuple[Node, ...]:
        statements: list[Node] = []
        while True:
            char = self._skip_space()
            if char == ";":
                self.pos += 1
            elif char == "" or char == "}":
                return tuple(statements)
            else:
                statements.append(self._statement())

    def _statement(self) -> Node:
        start = self.pos
        self.nodes += 1
        if self.nodes > MAX_CSG_NODES:
            raise CsgTooLarge(MSG_TOO_MANY_NODES.format(limit=MAX_CSG_NODES))
        modifier = ""
        while self.pos < len(self.text) and self.text[self.pos] in "%#!*":
            modifier += self.text[self.pos]
            self.pos += 1
            self._skip_space()
        if any(char not in MODIFIERS for char in modifier):
            raise CsgError(MSG_MODIFIER.format(line=self._line(start), modifier=modifier))
        match = _NAME.match(self.text, self.pos)
        if match is None:
            self._fail("a module name", self.text[self.pos : self.pos + 1])
        name = match.group()
        self.pos = match.end()
        if name not in KNOWN_NODES:
            raise CsgError(MSG_UNKNOWN_NODE.format(line=self._line(start), name=name))
        self._expect("(")
        args = self._args()
        if name == "color" and _raw_colour(args) is None:
            raise CsgError(MSG_BAD_COLOUR.format(line=self._line(start), args=args))
        if self._skip_space() == ";":
            self.pos += 1
            return Node(name, args, (), modifier)
        self._expect("{")
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise CsgTooLarge(MSG_TOO_DEEP.format(limit=MAX_DEPTH))
        children = self._statements()
        self.depth -= 1
        self._expect("}")
        return Node(name, args, children, modifier)

    def _args(self) -> str:
        """The text up to the matching ``)``, which is consumed, honouring strings and nesting."""
        start = self.pos
        closers: list[str] = []
        while True:
            # Jump over numbers and separators: a polyhedron's points are megabytes of them.
            special = _ARGS_SPECIAL.search(self.text, self.pos)
            if special is None:
                break
            char = special.group()
            self.pos = special.end()
            if char == '"':
                self._string()
            elif char in "([":
                closers.append(")" if char == "(" else "]")
            elif char in ")]":
                if not closers and char == ")":
                    return self.text[start : self.pos - 1].strip()
                if not closers or closers.pop() != char:
                    self._fail("balanced brackets", char)
            elif char in "{};":
                self._fail("')'", char)
        raise CsgError(MSG_UNTERMINATED.format(line=self._line(start), what="argument list"))

    def _string(self) -> None:
        """Skip a string literal whose opening quote was consumed; a value must follow it."""
        start = self.pos
        while (special := _STRING_SPECIAL.search(self.text, self.pos)) is not None:
            self.pos = special.end() + (1 if special.group() == "\\" else 0)
            if special.group() == '"':
                following = self._skip_space()
                if following not in (",", "]", ")"):
                    raise CsgError(MSG_BAD_STRING.format(line=self._line(self.pos)))
                return
        self.pos = len(self.text)
        raise CsgError(MSG_UNTERMINATED.format(line=self._line(start), what="string"))

    def _skip_space(self) -> str:
        """Skip whitespace; return the next character, or "" at the end."""
        while self.pos < len(self.text) and self.text[self.pos].isspace():
            self.pos += 1
        return self.text[self.pos : self.pos + 1]

    def _expect(self, char: str) -> None:
        found = self._skip_space()
        if found != char:
            self._fail(repr(char), found)
        self.pos += 1

    def _line(self, pos: int) -> int:
        return self.text.count("\n", 0, pos) + 1

    def _fail(self, expected: str, found: str) -> NoReturn:
        shown = repr(found) if found else "end of file"
        line = self._line(self.pos)
        raise CsgError(MSG_UNEXPECTED.format(line=line, expected=expected, found=shown))
