"""OpenSCAD customizer parameters: the form a model offers, and the values a user fills in.

A model declares its parameters the way OpenSCAD's Customizer reads them: top-level literal
assignments above the first ``{`` or module/function definition, grouped into tabs by
``/* [Tab] */`` comments, described by a ``//`` comment on the line above, and shaped by a
trailing comment (``// [0:100]``, ``// [0:5:100]``, ``// [S:Small, M:Medium]``, ``// 8``).
On top of that, a string or RGB(A) vector handed to ``color()`` (or annotated ``// [colour]``)
is a colour, so the web form can offer a colour picker.

The model is read with a tokenizer, not an OpenSCAD grammar: enough to be honest about
comments, strings with escapes and nested brackets, and small enough to read in a sitting.
Values go back to OpenSCAD as ``-D name=value`` arguments whose literals are escaped for
OpenSCAD's own lexer, so a string value always stays one string.
"""

from __future__ import annotations

import json
import math
import re
from bisect import bisect_left
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple

from libs.errors import InvalidArgument
from libs.setpieces import source_too_large
from services.render.colours import normalise_colour

__all__ = [
    "MAX_PARAMETERS",
    "Choice",
    "Parameter",
    "ParameterType",
    "extract_parameters",
    "load_parameter_set",
    "to_openscad_defines",
    "validate_values",
]

MAX_PARAMETERS = 500
MAX_DEFINE_BYTES = 32 * 1024  # one argv string; Linux refuses any over 128 KiB
MAX_VECTOR_LENGTH = 4  # OpenSCAD's customizer offers vectors of 1 to 4 numbers
DEFAULT_GROUP = "Parameters"
HIDDEN_GROUP = "Hidden"

MSG_SOURCE_TYPE = "OpenSCAD source must be a string"
MSG_TOO_MANY_PARAMETERS = "model declares more than {limit} parameters"
MSG_UNTERMINATED_STRING = "unterminated string starting on line {line}"
MSG_VALUES_TYPE = "parameter values must be a JSON object"
MSG_UNKNOWN = "unknown parameter(s): {names}"
MSG_WRONG_TYPE = "parameter '{name}' expects {expected}, got {got}"
MSG_NOT_FINITE = "parameter '{name}' must be a finite number"
MSG_BELOW = "parameter '{name}' must be at least {minimum}, got {value}"
MSG_ABOVE = "parameter '{name}' must be at most {maximum}, got {value}"
MSG_VECTOR_LENGTH = "parameter '{name}' expects {length} numbers, got {got}"
MSG_TOO_LONG = "parameter '{name}' allows at most {max_length} characters, got {got}"
MSG_NOT_A_CHOICE = "parameter '{name}' must be one of {choices}, got {value}"
MSG_NUL = "parameter '{name}' contains a NUL character"
MSG_DOCUMENT_TYPE = "a parameter set must be a JSON object"
MSG_SETS_TYPE = "'parameterSets' must map set names to objects"
MSG_NO_SETS = "the document holds no parameter sets"
MSG_CHOOSE_SET = "the document holds several parameter sets; choose one of: {names}"
MSG_NO_SUCH_SET = "no parameter set named {name}; the document holds: {names}"
MSG_PLAIN_HAS_NO_SETS = "a plain parameter object has no named sets (asked for {name})"
MSG_UNDECODABLE = "parameter '{name}': {value} is not {expected}"
MSG_BAD_NAME = "{name} is not an OpenSCAD variable name"
MSG_UNSUPPORTED_VALUE = "parameter '{name}' holds {got}, which OpenSCAD cannot take here"
MSG_DEFINE_TOO_LONG = "parameter '{name}' is too long to pass to OpenSCAD ({size} bytes)"

ParameterType = Literal["number", "string", "boolean", "vector", "choice", "colour"]
Number = int | float

EXPECTED = {
    "number": "a number",
    "string": "a string",
    "boolean": "a boolean",
    "vector": "a vector of numbers",
    "choice": "one of its choices",
    "colour": 'a colour (a name like "red", #rgb, #rgba, #rrggbb, #rrggbbaa, or [r, g, b] or '
    "[r, g, b, a] in 0..1)",
}


@dataclass(frozen=True)
class Choice:
    """One entry of a dropdown: the value the model receives and the label the form shows."""

    value: Number | str
    label: str


@dataclass(frozen=True)
class Parameter:
    """One customizer parameter of a model, as the web form draws it."""

    name: str
    type: ParameterType
    default: Any  # a JSON value; colours are "#rrggbb" or "#rrggbbaa"
    description: str = ""
    group: str = DEFAULT_GROUP
    minimum: Number | None = None
    maximum: Number | None = None
    step: Number | None = None
    choices: tuple[Choice, ...] | None = None
    max_length: int | None = None
    length: int | None = None  # vectors: how many numbers
    original: Any = None  # colours: the default as the source spells it, "SteelBlue" or [1, 0, 0]

    def to_json(self) -> dict[str, Any]:
        """The parameter as a JSON object; optional fields appear only when they apply."""
        document: dict[str, Any] = {
            "name": self.name,
            "type": self.type,
            "default": _copy(self.default),
            "description": self.description,
            "group": self.group,
        }
        optional = {
            "minimum": self.minimum,
            "maximum": self.maximum,
            "step": self.step,
            "max_length": self.max_length,
            "length": self.length,
            "original": self.original,
        }
        document.update((key, _copy(value)) for key, value in optional.items() if value is not None)
        if self.choices is not None:
            document["choices"] = [{"value": c.value, "label": c.label} for c in self.choices]
        return document


# --- colours ---------------------------------------------------------------------------------


def _colour_vector(colour: str, length: int) -> list[Number]:
    """A normalised colour as the [r, g, b(, a)] vector a model declared its default as."""
    digits = colour[1:]
    channels = [int(digits[i : i + 2], 16) for i in range(0, len(digits), 2)]
    if len(channels) == 3 and length == 4:
        channels.append(255)
    return [_number(round(c / 255, 6)) for c in channels]


# --- tokenizer -------------------------------------------------------------------------------


class _Token(NamedTuple):
    kind: Literal["number", "string", "ident", "op", "line_comment", "block_comment"]
    text: str
    line: int
    start: int


# One alternative per token kind, tried in order. Numbers and identifiers follow flex's
# longest match: "1.5x" is a number then x, "1e5x" is one identifier, "1e5" a number.
_TOKEN = re.compile(
    r"""
    (?P<space>[ \t\r\n\u00a0]+)
    |(?P<line_comment>//[^\n]*)
    |(?P<block_comment>/\*.*?(?:\*/|\Z))
    |(?P<string>"[^"\\]*(?:\\.[^"\\]*)*")
    |(?P<unterminated>")
    |(?P<library>(?:include|use)[ \t\r\n]*<[^\t\r\n>]*>?)  # a path, not code
    |(?P<number>
        [0-9]*\.[0-9]+(?:[eE][+-]?[0-9]+)?
        |[0-9]+\.[0-9]*(?:[eE][+-]?[0-9]+)?
        |[0-9]+[eE][+-][0-9]+
        |[0-9]+(?:[eE][0-9]+)?(?![A-Za-z0-9_]))
    |(?P<ident>\$?[A-Za-z0-9_]+)
    |(?P<op><=|>=|==|!=|&&|\|\||.)
    """,
    re.S | re.X,
)
_NUMBER = re.compile(r"(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_IDENT = re.compile(r"\$?[A-Za-z0-9_]+")
_ESCAPE = re.compile(r"\\(x[0-7][0-9A-Fa-f]|u[0-9A-Fa-f]{4}|U[0-9A-Fa-f]{6}|.)|[\r\n]", re.S)
_SIMPLE_ESCAPES = {"n": "\n", "t": "\t", "r": "\r"}
_KEYWORDS = frozenset(
    {"module", "function", "if", "else", "let", "for", "each", "true", "false", "undef"}
)


def _tokenize(source: str) -> list[_Token]:
    """OpenSCAD tokens, comments included, each with the line it starts on."""
    tokens: list[_Token] = []
    line = 1
    for match in _TOKEN.finditer(source):
        kind, text = match.lastgroup, match.group()
        if kind == "unterminated":
            raise InvalidArgument(MSG_UNTERMINATED_STRING.format(line=line))
        if kind not in ("space", "library"):
            tokens.append(_Token(kind, text, line, match.start()))  # type: ignore[arg-type]
        if kind in ("space", "line_comment", "block_comment", "string", "library"):
            line += text.count("\n")
    return tokens


def _unescape(match: re.Match[str]) -> str:
    escape = match.group(1)
    if escape is None or escape in ("\r", "\n"):
        return ""  # OpenSCAD drops raw line breaks inside a string literal
    if len(escape) > 1:  # \xHH, \uHHHH, \UHHHHHH; OpenSCAD turns NUL and non-characters into " "
        code = int(escape[1:], 16)
        return chr(code) if 0 < code < 0x110000 and not 0xD800 <= code <= 0xDFFF else " "
    return _SIMPLE_ESCAPES.get(escape, escape)  # an unknown escape loses its backslash


def _string_value(token: _Token) -> str:
    return _ESCAPE.sub(_unescape, token.text[1:-1])


def _starts_statement(previous: _Token | None) -> bool:
    return previous is None or previous.text in (";", "}")


def _depth_change(token: _Token) -> int:
    if token.kind != "op":
        return 0
    return 1 if token.text in ("(", "[", "{") else -1 if token.text in (")", "]", "}") else 0


def _closing_brackets(tokens: Sequence[_Token]) -> dict[int, int]:
    """For each opening bracket, the index of the bracket that closes it (or the end)."""
    closing: dict[int, int] = {}
    open_brackets: list[int] = []
    for index, token in enumerate(tokens):
        change = _depth_change(token)
        if change > 0:
            open_brackets.append(index)
        elif change < 0 and open_brackets:
            closing[open_brackets.pop()] = index
    closing.update((index, len(tokens)) for index in open_brackets)
    return closing


def _split_arguments(
    tokens: Sequence[_Token], open_index: int, closing: Mapping[int, int]
) -> list[list[_Token]]:
    """The comma-separated arguments of the call whose "(" is at ``open_index``.

    A bracketed part of an argument is stepped over, kept only as its opening bracket: enough
    to tell a bare name from an expression, and every token is visited once per call.
    """
    arguments: list[list[_Token]] = [[]]
    index, end = open_index + 1, closing[open_index]
    while index < end:
        token = tokens[index]
        if token.text == ",":
            arguments.append([])
        else:
            arguments[-1].append(token)
        index = closing.get(index, index) + 1
    return [argument for argument in arguments if argument]


# --- the model's statements ------------------------------------------------------------------


class _Assignment(NamedTuple):
    line: int
    value: list[_Token]


def _stop_line(code: Sequence[_Token]) -> int:
    """The line at which OpenSCAD stops looking for parameters: the first "{" or definition."""
    previous = None
    for token in code:
        if token.text == "{" and token.kind == "op":
            return token.line
        if token.text in ("module", "function") and _starts_statement(previous):
            return token.line
        previous = token
    return code[-1].line + 1 if code else 1


def _top_level_assignments(code: Sequence[_Token]) -> dict[str, _Assignment]:
    """Top-level ``name = value;`` statements; a later assignment overrides, as in OpenSCAD."""
    found: dict[str, _Assignment] = {}
    depth, index, previous = 0, 0, None
    while index < len(code):
        token = code[index]
        is_assignment = (
            depth == 0
            and token.kind == "ident"
            and token.text not in _KEYWORDS
            and _starts_statement(previous)
            and index + 1 < len(code)
            and code[index + 1].text == "="
        )
        if not is_assignment:
            depth = max(depth + _depth_change(token), 0)
            previous, index = token, index + 1
            continue
        end, inner = index + 2, 0
        while end < len(code) and not (inner == 0 and code[end].text == ";"):
            inner += _depth_change(code[end])
            end += 1
        if end == len(code):
            break  # no ";": not a statement OpenSCAD would accept
        found[token.text] = _Assignment(token.line, list(code[index + 2 : end]))
        previous, index = code[end], end + 1
    return found


def _colour_arguments(code: Sequence[_Token]) -> set[str]:
    """Names passed on their own as the colour of a call: ``color(x)``, ``color(c=x)``."""
    names: set[str] = set()
    closing = _closing_brackets(code)
    for index, token in enumerate(code[:-1]):
        if token.text != "color" or token.kind != "ident" or code[index + 1].text != "(":
            continue
        if index > 0 and code[index - 1].text in ("module", "function"):
            continue
        colour: list[_Token] | None = None
        for argument in _split_arguments(code, index + 1, closing):
            named = len(argument) > 1 and argument[0].kind == "ident" and argument[1].text == "="
            if named and argument[0].text == "c":
                colour = argument[2:]
            elif not named and colour is None:
                colour = argument
        if colour and len(colour) == 1 and colour[0].kind == "ident":
            names.add(colour[0].text)
    return names


_NOT_LITERAL = object()


def _signed_number(tokens: Sequence[_Token]) -> Number | None:
    sign = 1.0
    if len(tokens) == 2 and tokens[0].text in ("-", "+"):
        sign = -1.0 if tokens[0].text == "-" else 1.0
        tokens = tokens[1:]
    if len(tokens) != 1 or tokens[0].kind != "number":
        return None
    value = sign * float(tokens[0].text)
    return _number(value) if math.isfinite(value) else None


def _literal(tokens: Sequence[_Token]) -> Any:
    """The value of a literal the customizer shows (number, string, boolean, vector of numbers)."""
    number = _signed_number(tokens)
    if number is not None:
        return number
    if len(tokens) == 1 and tokens[0].kind == "string":
        return _string_value(tokens[0])
    if len(tokens) == 1 and tokens[0].text in ("true", "false"):
        return tokens[0].text == "true"
    if len(tokens) > 2 and tokens[0].text == "[" and tokens[-1].text == "]":
        items: list[list[_Token]] = [[]]
        for token in tokens[1:-1]:
            if token.text == ",":
                items.append([])
            else:
                items[-1].append(token)
        numbers = [_signed_number(item) for item in items]
        if all(n is not None for n in numbers):
            return numbers
    return _NOT_LITERAL


# --- the trailing annotation comment ---------------------------------------------------------


class _Range(NamedTuple):
    minimum: float
    step: float | None
    maximum: float


_Item = float | str
_Annotation = float | str | _Range | list[_Item | tuple[_Item, _Item]] | None

_ANNOTATION_NUMBER = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_ANNOTATION_WORD = re.compile(r'[^()\[\] \t,":]+')
_ANNOTATION_STRING = re.compile(r'"((?:[^"\\]|\\.)*)"?', re.S)
_ANNOTATION_ESCAPE = re.compile(r"\\(.)", re.S)


class _Unparsable(Exception):
    """The trailing comment is not an annotation; OpenSCAD then ignores it too."""


def _annotation_tokens(text: str) -> list[tuple[str, Any]]:
    """Tokens of OpenSCAD's comment grammar: numbers, words, quoted strings and ``[ ] , :``."""
    tokens: list[tuple[str, Any]] = []
    pos = 0
    while pos < len(text):
        char = text[pos]
        if char in " \t()":  # OpenSCAD's comment lexer skips parentheses as well as blanks
            pos += 1
        elif char in "[],:":
            tokens.append((char, char))
            pos += 1
        elif char == '"':
            quoted = _ANNOTATION_STRING.match(text, pos)
            assert quoted is not None
            body = _ANNOTATION_ESCAPE.sub(lambda m: _SIMPLE_ESCAPES.get(m[1], m[1]), quoted[1])
            tokens.append(("word", body))
            pos = quoted.end()
        else:
            number = _ANNOTATION_NUMBER.match(text, pos)
            word = _ANNOTATION_WORD.match(text, pos)
            if number and (word is None or number.end() >= word.end()):
                value = float(number.group())
                if not math.isfinite(value):
                    raise _Unparsable
                tokens.append(("num", value))
                pos = number.end()
            else:
                assert word is not None
                tokens.append(("word", word.group()))
                pos = word.end()
    return tokens


def _annotation_item(tokens: Sequence[tuple[str, Any]]) -> _Item:
    """A number, or a word: a run of words and numbers ("Dark Red", "M8 bolt")."""
    if not tokens or any(kind not in ("num", "word") for kind, _ in tokens):
        raise _Unparsable
    if len(tokens) == 1 and tokens[0][0] == "num":
        return float(tokens[0][1])
    if all(kind == "num" for kind, _ in tokens):
        raise _Unparsable
    return " ".join(f"{value:g}" if kind == "num" else value for kind, value in tokens)


def _split_tokens(tokens: Sequence[tuple[str, Any]], separator: str) -> list[list[Any]]:
    parts: list[list[Any]] = [[]]
    for token in tokens:
        if token[0] == separator:
            parts.append([])
        else:
            parts[-1].append(token)
    return parts


def _parse_annotation(text: str) -> _Annotation:
    """``[0:100]``, ``[0:5:100]``, ``[10, 20]``, ``[S:Small, M:Medium]``, ``8`` ...; else None."""
    try:
        tokens = _annotation_tokens(text)
        if not tokens:
            return None
        if tokens[0][0] != "[":
            return _annotation_item(tokens)
        if tokens[-1][0] != "]":
            raise _Unparsable
        inner = tokens[1:-1]
        kinds = [kind for kind, _ in inner]
        if kinds == ["num", ":", "num"]:
            return _Range(inner[0][1], None, inner[2][1])
        if kinds == ["num", ":", "num", ":", "num"]:
            return _Range(inner[0][1], inner[2][1], inner[4][1])
        items: list[_Item | tuple[_Item, _Item]] = []
        for part in _split_tokens(inner, ","):
            pieces = _split_tokens(part, ":")
            if len(pieces) > 2:
                raise _Unparsable
            values = [_annotation_item(piece) for piece in pieces]
            items.append(values[0] if len(values) == 1 else (values[0], values[1]))
        return items
    except _Unparsable:
        return None


def _is_colour_annotation(annotation: _Annotation) -> bool:
    return (
        isinstance(annotation, list)
        and len(annotation) == 1
        and isinstance(annotation[0], str)
        and annotation[0].lower() in ("color", "colour")
    )


def _label(value: _Item) -> str:
    return f"{value:g}" if isinstance(value, float) else value


def _choice_value(value: _Item) -> Number | str:
    return _number(value) if isinstance(value, float) else value


def _choices(annotation: _Annotation, default: Number | str) -> tuple[Choice, ...] | None:
    """Dropdown entries, with the default first if the list leaves it out (as OpenSCAD does)."""
    if not isinstance(annotation, list):
        return None
    if len(annotation) == 1 and isinstance(annotation[0], float):
        return None  # [50] is a slider's maximum, not a one-entry dropdown
    choices = []
    for item in annotation:
        value, label = item if isinstance(item, tuple) else (item, item)
        choices.append(Choice(_choice_value(value), _label(label)))
    if not any(_same_value(choice.value, default) for choice in choices):
        choices.insert(0, Choice(default, default if isinstance(default, str) else f"{default:g}"))
    return tuple(choices)


def _limits(
    annotation: _Annotation, values: Sequence[Number]
) -> tuple[Number | None, Number | None, Number | None]:
    """Minimum, maximum and step from ``[max]``, ``[min:max]``, ``[min:step:max]`` or ``step``."""
    minimum: float | None = None
    maximum: float | None = None
    step: float | None = None
    if isinstance(annotation, float):
        step = annotation
    elif isinstance(annotation, list) and len(annotation) == 1 and isinstance(annotation[0], float):
        minimum, maximum = 0.0, annotation[0]
    elif isinstance(annotation, _Range):
        minimum, maximum = sorted((annotation.minimum, annotation.maximum))
        step = annotation.step
    if minimum is not None and maximum is not None:  # the default always fits, as in OpenSCAD
        minimum, maximum = min(minimum, *values), max(maximum, *values)
    return (
        None if minimum is None else _number(minimum),
        None if maximum is None else _number(maximum),
        _number(step) if step is not None and step > 0 else None,
    )


def _parameter(
    name: str,
    value: Any,
    annotation: _Annotation,
    description: str,
    group: str,
    used_as_colour: bool,
) -> Parameter | None:
    """The parameter a literal assignment makes, or None if the customizer would not show it."""
    wants_colour = used_as_colour or _is_colour_annotation(annotation)
    if _is_colour_annotation(annotation):
        annotation = None
    if isinstance(value, bool):
        return Parameter(name, "boolean", value, description, group)
    if isinstance(value, str | int | float) and (choices := _choices(annotation, value)):
        return Parameter(name, "choice", value, description, group, choices=choices)
    if wants_colour and (colour := normalise_colour(value)) is not None:
        return Parameter(name, "colour", colour, description, group, original=value)
    if isinstance(value, str):
        limit = None
        if isinstance(annotation, float) and annotation >= 0:
            limit = max(int(annotation), len(value))
        return Parameter(name, "string", value, description, group, max_length=limit)
    values = value if isinstance(value, list) else [value]
    if not 1 <= len(values) <= MAX_VECTOR_LENGTH:
        return None
    minimum, maximum, step = _limits(annotation, values)
    kind: ParameterType = "vector" if isinstance(value, list) else "number"
    return Parameter(
        name,
        kind,
        value,
        description,
        group,
        minimum=minimum,
        maximum=maximum,
        step=step,
        length=len(value) if isinstance(value, list) else None,
    )


# --- extraction ------------------------------------------------------------------------------

_GROUP_NAME = re.compile(r"\[(.*?)\]")


def _groups(comments: Iterable[_Token]) -> list[tuple[int, str]]:
    """``/* [Tab name] */`` comments on a single line, with the line each one sits on."""
    groups = []
    for comment in comments:
        if comment.kind == "block_comment" and "\n" not in comment.text:
            names = _GROUP_NAME.findall(comment.text[2:-2])
            if names:
                groups.append((comment.line, "-".join(names).strip() or DEFAULT_GROUP))
    return groups


def _description(comment: _Token | None) -> str:
    return "" if comment is None else comment.text[2:].replace("//", " ").strip()


def extract_parameters(source: str) -> list[Parameter]:
    """The customizer parameters of an OpenSCAD model, in the order the source declares them."""
    if not isinstance(source, str):
        raise InvalidArgument(MSG_SOURCE_TYPE)
    too_large = source_too_large(source)
    if too_large:
        raise InvalidArgument(too_large)
    tokens = _tokenize(source)
    code = [t for t in tokens if t.kind not in ("line_comment", "block_comment")]
    trailing_comments: dict[int, _Token] = {}
    own_line_comments: dict[int, _Token] = {}  # a description must have its line to itself
    previous_end_line = 0
    for token in tokens:
        if token.kind == "line_comment":
            trailing_comments[token.line] = token
            if previous_end_line < token.line:
                own_line_comments[token.line] = token
        previous_end_line = token.line + token.text.count("\n")
    semicolons = Counter(token.line for token in code if token.text == ";")
    groups = _groups(tokens)
    group_lines = [line for line, _ in groups]
    stop_line = _stop_line(code)
    colour_names = _colour_arguments(code)

    parameters: list[Parameter] = []
    for name, assignment in _top_level_assignments(code).items():
        line = assignment.line
        value = _literal(assignment.value)
        if line >= stop_line or value is _NOT_LITERAL:
            continue
        group_index = bisect_left(group_lines, line) - 1  # the last tab opened above the line
        group = groups[group_index][1] if group_index >= 0 else DEFAULT_GROUP
        if group == HIDDEN_GROUP:
            continue
        annotation = None
        trailing = trailing_comments.get(line)
        # Like OpenSCAD, a comment after two statements on one line annotates neither.
        if trailing is not None and semicolons[line] <= 1:
            annotation = _parse_annotation(trailing.text[2:].rstrip())  # CRLF sources too
        description = _description(own_line_comments.get(line - 1))
        parameter = _parameter(name, value, annotation, description, group, name in colour_names)
        if parameter is None:
            continue
        if len(parameters) == MAX_PARAMETERS:
            raise InvalidArgument(MSG_TOO_MANY_PARAMETERS.format(limit=MAX_PARAMETERS))
        parameters.append(parameter)
    return parameters


# --- parameter sets --------------------------------------------------------------------------

_DECIMAL = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")


def _decimal(text: str) -> Number | None:
    text = text.strip()
    if not _DECIMAL.fullmatch(text):
        return None
    value = float(text)
    return _number(value) if math.isfinite(value) else None


def _decimal_vector(text: str) -> list[Number] | None:
    text = text.replace(" ", "")
    if len(text) < 2 or text[0] != "[" or text[-1] != "]":
        return None
    numbers: list[Number] = []
    for item in text[1:-1].split(","):
        number = _decimal(item)
        if number is None:
            return None
        numbers.append(number)
    return numbers


def _decode(parameter: Parameter, text: str) -> Any:
    """A value as OpenSCAD writes it into a parameter file ("10", "true", "[1, 2]") → JSON."""
    decoded: Any = text
    if parameter.type == "number":
        decoded = _decimal(text)
    elif parameter.type == "boolean":
        decoded = {"true": True, "false": False, "1": True, "0": False}.get(text.strip())
    elif parameter.type == "vector" or (parameter.type == "colour" and text.lstrip()[:1] == "["):
        decoded = _decimal_vector(text)
    elif parameter.type == "choice" and parameter.choices:
        number = _decimal(text)
        for choice in parameter.choices:
            if choice.value == text or _same_value(choice.value, number):
                return choice.value
    if decoded is None:
        raise InvalidArgument(
            MSG_UNDECODABLE.format(
                name=parameter.name, value=_show(text), expected=EXPECTED[parameter.type]
            )
        )
    return decoded


def load_parameter_set(
    document: Mapping[str, Any], name: str | None, parameters: Sequence[Parameter]
) -> dict[str, Any]:
    """The complete, checked values of one parameter set (see validate_values).

    ``document`` is OpenSCAD's customizer file, ``{"parameterSets": {set name: {parameter:
    "value as text"}}, "fileFormatVersion": "1"}``, from which ``name`` picks a set (it may be
    None when there is only one); or a plain ``{parameter: JSON value}`` object, with name None.
    Like OpenSCAD, a set's entries for parameters the model no longer has are ignored: saved
    sets outlive edits to the model. A plain object is checked strictly.
    """
    if not isinstance(document, Mapping):
        raise InvalidArgument(MSG_DOCUMENT_TYPE)
    if "parameterSets" not in document:
        if name is not None:
            raise InvalidArgument(MSG_PLAIN_HAS_NO_SETS.format(name=_show(name)))
        return validate_values(parameters, document)
    sets = document["parameterSets"]
    if not isinstance(sets, Mapping) or not all(isinstance(s, Mapping) for s in sets.values()):
        raise InvalidArgument(MSG_SETS_TYPE)
    names = ", ".join(_show(set_name) for set_name in sets)
    if name is None:
        if len(sets) != 1:
            raise InvalidArgument(MSG_CHOOSE_SET.format(names=names) if sets else MSG_NO_SETS)
        (chosen,) = sets.values()
    elif name in sets:
        chosen = sets[name]
    else:
        raise InvalidArgument(MSG_NO_SUCH_SET.format(name=_show(name), names=names or "none"))
    by_name = {parameter.name: parameter for parameter in parameters}
    values = {
        key: _decode(by_name[key], value) if isinstance(value, str) else value
        for key, value in chosen.items()
        if key in by_name
    }
    return validate_values(parameters, values)


# --- validation ------------------------------------------------------------------------------


def validate_values(parameters: Sequence[Parameter], values: Mapping[str, Any]) -> dict[str, Any]:
    """Every parameter's value for a render: the given ones checked, defaults for the rest.

    Numbers come back as ints when whole, choices as the choice's own value, and colours as
    ``"#rrggbb"`` or ``"#rrggbbaa"``, whichever form they were given in.
    """
    if not isinstance(values, Mapping):
        raise InvalidArgument(MSG_VALUES_TYPE)
    known = {parameter.name for parameter in parameters}
    unknown = [_show(key) for key in values if key not in known]
    if unknown:
        raise InvalidArgument(MSG_UNKNOWN.format(names=", ".join(sorted(unknown))))
    return {
        p.name: _checked(p, values[p.name]) if p.name in values else _copy(p.default)
        for p in parameters
    }


def _checked(parameter: Parameter, value: Any) -> Any:
    name, kind = parameter.name, parameter.type
    if kind == "boolean" and isinstance(value, bool):
        return value
    if kind == "number" and _is_numeric(value):
        return _in_range(parameter, value)
    if kind == "string" and isinstance(value, str):
        if "\0" in value:
            raise InvalidArgument(MSG_NUL.format(name=name))
        if parameter.max_length is not None and len(value) > parameter.max_length:
            raise InvalidArgument(
                MSG_TOO_LONG.format(name=name, max_length=parameter.max_length, got=len(value))
            )
        return value
    if kind == "vector" and isinstance(value, list | tuple) and all(map(_is_numeric, value)):
        if len(value) != parameter.length:
            raise InvalidArgument(
                MSG_VECTOR_LENGTH.format(name=name, length=parameter.length, got=len(value))
            )
        return [_in_range(parameter, item) for item in value]
    if kind == "choice" and parameter.choices is not None:
        for choice in parameter.choices:
            if _same_value(choice.value, value):
                return choice.value
        shown = ", ".join(_show(choice.value) for choice in parameter.choices)
        raise InvalidArgument(MSG_NOT_A_CHOICE.format(name=name, choices=shown, value=_show(value)))
    if kind == "colour" and (colour := normalise_colour(value)) is not None:
        return colour
    raise InvalidArgument(
        MSG_WRONG_TYPE.format(name=name, expected=EXPECTED[kind], got=_describe(value))
    )


def _in_range(parameter: Parameter, value: Number) -> Number:
    if not _is_number(value):
        raise InvalidArgument(MSG_NOT_FINITE.format(name=parameter.name))
    value = _number(value)
    if parameter.minimum is not None and value < parameter.minimum:
        raise InvalidArgument(
            MSG_BELOW.format(name=parameter.name, minimum=parameter.minimum, value=value)
        )
    if parameter.maximum is not None and value > parameter.maximum:
        raise InvalidArgument(
            MSG_ABOVE.format(name=parameter.name, maximum=parameter.maximum, value=value)
        )
    return value


# --- the openscad command line ---------------------------------------------------------------

_STRING_SPECIALS = re.compile(r'[\\"\x00-\x1f\x7f]')
_STRING_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\t": "\\t", "\r": "\\r"}


def to_openscad_defines(
    values: Mapping[str, Any], *, parameters: Iterable[Parameter] = ()
) -> list[str]:
    """``["-D", "name=literal", ...]`` for the openscad command line, one literal per value.

    Strings are escaped for OpenSCAD's lexer, so each stays one string literal whatever it
    holds. Pass the model's ``parameters`` to hand a colour back as the [r, g, b(, a)] vector
    its default was, rather than as a "#rrggbb" string.
    """
    vector_colours = {
        p.name: len(p.original)
        for p in parameters
        if p.type == "colour" and isinstance(p.original, list)
    }
    arguments: list[str] = []
    for name, value in values.items():
        if not isinstance(name, str) or not _is_identifier(name):
            raise InvalidArgument(MSG_BAD_NAME.format(name=_show(name)))
        if name in vector_colours and (colour := normalise_colour(value)) is not None:
            value = _colour_vector(colour, vector_colours[name])
        define = f"{name}={_openscad_literal(name, value)}"
        if len(define.encode()) > MAX_DEFINE_BYTES:
            raise InvalidArgument(MSG_DEFINE_TOO_LONG.format(name=name, size=len(define.encode())))
        arguments += ["-D", define]
    return arguments


def _is_identifier(name: str) -> bool:
    return (
        _IDENT.fullmatch(name) is not None
        and name not in _KEYWORDS
        and _NUMBER.fullmatch(name) is None  # "12" or "1e5" would lex as a number
    )


def _openscad_literal(name: str, value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        if "\0" in value:
            raise InvalidArgument(MSG_NUL.format(name=name))
        if not _encodable(value):
            raise InvalidArgument(
                MSG_WRONG_TYPE.format(name=name, expected="text", got="a lone surrogate")
            )
        escaped = _STRING_SPECIALS.sub(
            lambda m: _STRING_ESCAPES.get(m[0], f"\\x{ord(m[0]):02x}"), value
        )
        return f'"{escaped}"'
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_number_literal(name, item) for item in value) + "]"
    return _number_literal(name, value)


def _number_literal(name: str, value: Any) -> str:
    if not _is_numeric(value):
        raise InvalidArgument(MSG_UNSUPPORTED_VALUE.format(name=name, got=_describe(value)))
    if not _is_number(value):
        raise InvalidArgument(MSG_NOT_FINITE.format(name=name))
    return str(value) if isinstance(value, int) else repr(value)


# --- small shared pieces ---------------------------------------------------------------------


def _is_numeric(value: object) -> bool:
    """An int or float, but not a bool (which Python counts as an int)."""
    return isinstance(value, int | float) and not isinstance(value, bool)


def _is_number(value: object) -> bool:
    """A finite int or float (not a bool)."""
    if not _is_numeric(value):
        return False
    try:
        return math.isfinite(value)  # type: ignore[arg-type]
    except OverflowError:  # an int too large for a double
        return False


def _number(value: float) -> Number:
    """OpenSCAD has only doubles; whole ones read better as JSON integers."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)
    return value


def _same_value(a: object, b: object) -> bool:
    if isinstance(a, str) or isinstance(b, str):
        return isinstance(a, str) and isinstance(b, str) and a == b
    return _is_number(a) and _is_number(b) and a == b


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _copy(value: Any) -> Any:
    return list(value) if isinstance(value, list) else value


def _describe(value: object) -> str:
    """The JSON type of a value, for error messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if _is_numeric(value):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list | tuple):
        return "an array"
    if isinstance(value, Mapping):
        return "an object"
    return type(value).__name__


def _show(value: object, limit: int = 60) -> str:
    """A value quoted for an error message, cut short so a huge input stays out of logs."""
    text = json.dumps(value, ensure_ascii=False, default=repr)
    return text if len(text) <= limit else text[: limit - 1] + "…"
