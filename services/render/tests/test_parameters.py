"""Tests for services.render.parameters: the customizer form, parameter sets, values, defines.

Where OpenSCAD itself is the judge (colour names, parameter files, -D escaping) the tests run
the real ``openscad`` binary on trusted fixture models, writing CSG (no display needed).
"""

from __future__ import annotations

import json
import math
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

from libs.errors import InvalidArgument
from libs.setpieces import MAX_SOURCE_BYTES
from services.render.colours import CSS_COLOURS, normalise_colour
from services.render.parameters import (
    MAX_PARAMETERS,
    Choice,
    Parameter,
    extract_parameters,
    load_parameter_set,
    to_openscad_defines,
    validate_values,
)

MODELS = Path(__file__).parent / "models"
SET_PIECE_PATH = MODELS / "set_piece.scad"
SET_PIECE = SET_PIECE_PATH.read_text()
SET_PIECE_SETS = json.loads((MODELS / "set_piece.json").read_text())


def by_name(source: str) -> dict[str, Parameter]:
    return {parameter.name: parameter for parameter in extract_parameters(source)}


def openscad(tmp_path: Path, model: Path | str, *arguments: str) -> tuple[str, str]:
    """Run openscad on a model (a path, or source to write first); return (CSG, stderr)."""
    if isinstance(model, str):
        path = tmp_path / "model.scad"
        path.write_text(model)
        model = path
    # openscad 2021.01 resolves a relative -o against the model's folder, so keep it absolute.
    out = tmp_path / "out.csg"
    done = subprocess.run(
        ["openscad", "-o", str(out), *arguments, str(model)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return out.read_text(), done.stderr


def echoes(stderr: str) -> list[str]:
    return [line[len("ECHO: ") :] for line in stderr.splitlines() if line.startswith("ECHO: ")]


# --- the customizer form of a realistic model --------------------------------------------------


def test_set_piece_offers_its_customizer_form_in_source_order() -> None:
    shown = [(p.name, p.type, p.group) for p in extract_parameters(SET_PIECE)]

    assert shown == [
        ("width", "number", "Wall"),
        ("height", "number", "Wall"),
        ("thickness", "number", "Wall"),
        ("wall_colour", "colour", "Wall"),
        ("door_shape", "choice", "Doorway"),
        ("door_size", "choice", "Doorway"),
        ("door_offset", "vector", "Doorway"),
        ("sign_text", "string", "Sign"),
        ("trim", "colour", "Sign"),
        ("sign_font_size", "choice", "Sign"),
        ("sign_paint", "colour", "Sign"),
        ("with_window", "boolean", "Options"),
        ("frame", "vector", "Options"),
        ("window_size", "number", "Options"),
        ("window_tint", "colour", "Options"),
    ]
    # frame_depth is an expression, $fn and epsilon sit in the Hidden tab, roof_pitch comes
    # after the first module: none of them is a customizer parameter.


def test_set_piece_sliders_dropdowns_and_descriptions() -> None:
    parameters = by_name(SET_PIECE)

    width = parameters["width"]
    assert (width.default, width.minimum, width.maximum, width.step) == (120, 40, 400, None)
    assert width.description == "Width of the flat in millimetres"
    height = parameters["height"]
    assert (height.minimum, height.step, height.maximum) == (40, 5, 300)
    assert parameters["thickness"].step == 0.5  # a bare number annotates a spinbox step
    assert parameters["door_shape"].choices == (
        Choice("arch", "arch"),
        Choice("square", "square"),
        Choice("none", "none"),
    )
    assert parameters["door_size"].choices == (
        Choice(20, "Small"),
        Choice(30, "Medium"),
        Choice(40, "Large"),
    )
    assert [c.value for c in parameters["sign_font_size"].choices or ()] == [4, 6, 8, 10]
    assert parameters["sign_text"].max_length == 12
    assert parameters["with_window"].default is True
    offset = parameters["door_offset"]
    assert (offset.default, offset.length, offset.minimum, offset.maximum) == ([0, 0], 2, -50, 50)
    assert offset.description == ""  # a blank line above is no description
    assert parameters["frame"].length == 3


def test_colour_parameters_report_normalised_default_and_original() -> None:
    parameters = by_name(SET_PIECE)

    # used as color(wall_colour)
    assert (parameters["wall_colour"].default, parameters["wall_colour"].original) == (
        "#4682b4",
        "SteelBlue",
    )
    # used as color(c = trim), a 3-vector
    assert (parameters["trim"].default, parameters["trim"].original) == ("#cc9933", [0.8, 0.6, 0.2])
    # annotated // [colour], and used as color(sign_paint, alpha = 0.9)
    assert parameters["sign_paint"].default == "#ffffff88"
    # only annotated // [color]: it reaches color() through a module argument
    assert (parameters["window_tint"].default, parameters["window_tint"].original) == (
        "#66ccff99",
        [0.4, 0.8, 1, 0.6],
    )


def test_form_schema_serialises_to_json_with_only_the_fields_that_apply() -> None:
    schema = [parameter.to_json() for parameter in extract_parameters(SET_PIECE)]

    assert json.loads(json.dumps(schema)) == schema
    width, door_size = schema[0], schema[5]
    assert width == {
        "name": "width",
        "type": "number",
        "default": 120,
        "description": "Width of the flat in millimetres",
        "group": "Wall",
        "minimum": 40,
        "maximum": 400,
    }
    assert door_size["choices"][1] == {"value": 30, "label": "Medium"}
    assert schema[3]["original"] == "SteelBlue"


def test_model_without_tabs_puts_parameters_in_the_default_group() -> None:
    (only,) = extract_parameters("size = 10;\ncube(size);\n")

    assert (only.group, only.description, only.minimum) == ("Parameters", "", None)


@pytest.mark.parametrize(
    "assignment",
    [
        "w = 2 * h;",
        "w = h;",
        "w = (5);",
        "w = [1, h];",
        "w = [1, 2, 3, 4, 5];",  # the customizer offers vectors of 1 to 4 numbers
        "w = [];",
        'w = ["a", "b"];',
        "w = [0:10];",
        "w = undef;",
        "w = function (x) x;",
        "w = 1e999;",
    ],
)
def test_non_literal_defaults_are_not_parameters(assignment: str) -> None:
    assert "w" not in by_name(f"h = 1;\n{assignment}\ncube(h);\n")


def test_literal_forms_that_are_parameters() -> None:
    parameters = by_name('a = -5;\nb = +2.5e1;\nc = "x\\"y\\\\z\\n";\nd = [-1, .5];\ne = false;\n')

    assert [parameters[n].default for n in "abcde"] == [-5, 25, 'x"y\\z\n', [-1, 0.5], False]


def test_strings_and_comments_do_not_fool_the_tokenizer() -> None:
    source = (
        'label = "a // b /* c */ { d; \\"e\\""; // 40\n'
        "/* fake = 1;\n   { */\n"
        "// a { in a comment does not end the parameters\n"
        "size = 3; // [0:10]\n"
        "cube(size);\n"
    )
    parameters = by_name(source)

    assert list(parameters) == ["label", "size"]
    assert parameters["label"].default == 'a // b /* c */ { d; "e"'
    assert parameters["label"].max_length == 40
    assert parameters["size"].description == "a { in a comment does not end the parameters"
    assert parameters["size"].maximum == 10


@pytest.mark.parametrize(
    "boundary",
    [
        "module m() cube(1);",
        "function f(x) = x;",
        "if (true) { cube(1); }",
        "translate([1, 0, 0]) { cube(1); }",
    ],
)
def test_parameters_stop_at_the_first_definition_or_block(boundary: str) -> None:
    parameters = by_name(f"before = 1;\n{boundary}\nafter = 2;\n")

    assert list(parameters) == ["before"]


def test_statements_without_blocks_do_not_end_the_parameters() -> None:
    parameters = by_name('use <MCAD/shapes.scad>\na = 1;\ncube(a);\nb = "x";\n')

    assert list(parameters) == ["a", "b"]


def test_windows_line_endings_read_the_same() -> None:
    crlf = by_name(SET_PIECE.replace("\n", "\r\n"))

    assert [p.to_json() for p in crlf.values()] == [
        p.to_json() for p in extract_parameters(SET_PIECE)
    ]


def test_a_reassignment_overrides_the_value_and_annotation() -> None:
    (only,) = extract_parameters("n = 1;\n// Count\nn = 5; // [0:10]\n")

    assert (only.default, only.maximum, only.description) == (5, 10, "Count")


def test_comment_after_two_statements_annotates_neither() -> None:
    parameters = by_name("a = 1; b = 2; // [0:10]\n")

    assert (parameters["a"].maximum, parameters["b"].maximum) == (None, None)


def test_annotation_edge_cases_follow_openscad() -> None:
    parameters = by_name(
        "slider = 20; // [50]\n"
        "wide = 150; // [0:100]\n"
        'size = "XL"; // [S:Small, M:Medium, L:Large]\n'
        "nut = 8; // [8:M8 nut, 10:M10 nut]\n"
        "spin = 4; // [2:2:10] with a remark\n"
        'quoted = "a b"; // ["a b", "c, d"]\n'
    )

    assert (parameters["slider"].minimum, parameters["slider"].maximum) == (0, 50)
    assert parameters["wide"].maximum == 150  # the range widens to take in the default
    assert parameters["size"].choices == (
        Choice("XL", "XL"),  # a default missing from the list comes first
        Choice("S", "Small"),
        Choice("M", "Medium"),
        Choice("L", "Large"),
    )
    assert parameters["nut"].choices == (Choice(8, "M8 nut"), Choice(10, "M10 nut"))
    assert parameters["spin"].type == "number"
    assert parameters["spin"].maximum is None  # trailing words spoil the annotation
    assert [c.value for c in parameters["quoted"].choices or ()] == ["a b", "c, d"]


# --- colours ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("red", "#ff0000"),
        ("SteelBlue", "#4682b4"),
        ("STEELBLUE", "#4682b4"),
        ("rebeccapurple", "#663399"),
        ("transparent", "#00000000"),
        ("#f80", "#ff8800"),
        ("#F80C", "#ff8800cc"),
        ("#ff8800", "#ff8800"),
        ("#FF8800FF", "#ff8800"),
        ("#ff880080", "#ff880080"),
        ([1, 0.5, 0], "#ff8000"),
        ([0, 0, 1, 1], "#0000ff"),
        ([0, 0, 1, 0.5], "#0000ff80"),
        ((0.2, 0.4, 0.6), "#336699"),
    ],
)
def test_colours_normalise_to_hex(value: Any, expected: str) -> None:
    assert normalise_colour(value) == expected


@pytest.mark.parametrize(
    "value",
    [
        "",
        "reddish",
        " red",
        "r\u0435d",  # a Cyrillic e
        "#ff88f",
        "#ff88001",
        "#gg0000",
        "ff8800",
        [1, 0],
        [1, 2, 0],
        [1, 0, 0, 0, 1],
        [True, 0, 0],
        [float("nan"), 0, 0],
        0xFF0000,
        None,
    ],
)
def test_non_colours_are_not_normalised(value: Any) -> None:
    assert normalise_colour(value) is None


def test_colour_table_matches_openscad(tmp_path: Path) -> None:
    names = list(CSS_COLOURS)
    listed = ", ".join(json.dumps(name.upper()) for name in names)
    model = f"names = [{listed}];\nfor (n = names) color(n) cube(1);\n"

    csg, stderr = openscad(tmp_path, model)

    assert len(names) >= 140
    assert "WARNING" not in stderr
    rendered = re.findall(r"color\(\[([^\]]*)\]\)", csg)
    assert len(rendered) == len(names)
    for name, floats in zip(names, rendered, strict=True):
        ours = CSS_COLOURS[name][1:]
        channels = [int(ours[i : i + 2], 16) / 255 for i in range(0, len(ours), 2)]
        channels += [1.0] * (4 - len(channels))
        assert [float(x) for x in floats.split(",")] == pytest.approx(channels, abs=1e-5), name


@pytest.mark.parametrize(
    ("source", "expected_type"),
    [
        ('x = "gold";\ncolor(x) cube(1);', "colour"),
        ('x = "#ff8800";\ncolor(c = x) cube(1);', "colour"),
        ("x = [1, 0, 0, 0.5];\ncolor(x) cube(1);", "colour"),
        ('x = "gold";\ncube(1);', "string"),  # colour-like, but never given to color()
        ('x = "wood";\ncolor(x) cube(1);', "string"),  # given to color(), but not a colour
        ("x = [2, 0, 0];\ncolor(x) cube(1);", "vector"),  # out of 0..1
        ('x = "red"; // [red, green, blue]\ncolor(x) cube(1);', "choice"),  # the author's list
        ('x = "wood"; // [colour]\ncube(1);', "string"),  # annotated, but not a colour
        ('x = "red";\ncolor(x == "red" ? "blue" : x) cube(1);', "string"),  # not on its own
    ],
)
def test_what_counts_as_a_colour(source: str, expected_type: str) -> None:
    assert by_name(source)["x"].type == expected_type


# --- parameter sets ----------------------------------------------------------------------------


def test_openscad_parameter_file_is_typed_by_the_schema() -> None:
    parameters = extract_parameters(SET_PIECE)

    tavern = load_parameter_set(SET_PIECE_SETS, "Tavern", parameters)

    assert tavern["width"] == 160
    assert tavern["thickness"] == 4.5
    assert tavern["wall_colour"] == "#a0522d"  # "Sienna"
    assert tavern["door_shape"] == "square"
    assert tavern["door_size"] == 30
    assert tavern["door_offset"] == [-20, 0]
    assert tavern["sign_text"] == "THE OLD OAK"
    assert tavern["trim"] == "#336699"
    assert tavern["with_window"] is False
    assert tavern["window_tint"] == "#ffcc3366"


def test_parameter_set_is_completed_with_defaults() -> None:
    parameters = extract_parameters(SET_PIECE)

    gate = load_parameter_set(SET_PIECE_SETS, "Castle gate", parameters)

    assert list(gate) == [p.name for p in parameters]
    assert (gate["width"], gate["height"], gate["wall_colour"]) == (300, 90, "#808080")


def test_missing_set_name_is_invalid() -> None:
    with pytest.raises(InvalidArgument, match=r'no parameter set named "Dungeon".*Tavern'):
        load_parameter_set(SET_PIECE_SETS, "Dungeon", extract_parameters(SET_PIECE))


def test_several_sets_need_a_name() -> None:
    with pytest.raises(InvalidArgument, match=r"choose one of.*Castle gate"):
        load_parameter_set(SET_PIECE_SETS, None, extract_parameters(SET_PIECE))


def test_a_single_set_needs_no_name() -> None:
    document = {"parameterSets": {"only": {"width": "50"}}, "fileFormatVersion": "1"}

    assert load_parameter_set(document, None, extract_parameters(SET_PIECE))["width"] == 50


def test_plain_object_of_typed_values_is_accepted() -> None:
    values = {"width": 50, "trim": [0, 0, 1], "door_shape": "none", "with_window": False}

    loaded = load_parameter_set(values, None, extract_parameters(SET_PIECE))

    assert (loaded["width"], loaded["trim"], loaded["with_window"]) == (50, "#0000ff", False)
    with pytest.raises(InvalidArgument, match="no named sets"):
        load_parameter_set(values, "Tavern", extract_parameters(SET_PIECE))


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("width", "wide", "parameter 'width': \"wide\" is not a number"),
        ("width", "nan", "is not a number"),
        ("width", "500", "at most 400"),
        ("with_window", "yes", "is not a boolean"),
        ("door_offset", "[1, 2, 3]", "expects 2 numbers"),
        ("door_offset", "[1, x]", "is not a vector of numbers"),
        ("door_size", "25", "must be one of 20, 30, 40"),
        ("wall_colour", "wood", "expects a colour"),
    ],
)
def test_bad_values_in_a_parameter_file_are_invalid(name: str, text: str, message: str) -> None:
    document = {"parameterSets": {"bad": {name: text}}, "fileFormatVersion": "1"}

    with pytest.raises(InvalidArgument, match=message):
        load_parameter_set(document, "bad", extract_parameters(SET_PIECE))


def test_set_entries_for_parameters_the_model_lacks_are_ignored_like_openscad_does() -> None:
    document = {"parameterSets": {"old": {"roof_pitch": "45", "width": "50"}}}

    values = load_parameter_set(document, "old", extract_parameters(SET_PIECE))

    assert "roof_pitch" not in values
    assert values["width"] == 50
    with pytest.raises(InvalidArgument, match=r"unknown parameter.*roof_pitch"):
        load_parameter_set({"roof_pitch": 45}, None, extract_parameters(SET_PIECE))


@pytest.mark.parametrize("set_name", ["Tavern", "Castle gate"])
def test_loaded_set_renders_like_openscads_own_parameter_loader(
    set_name: str, tmp_path: Path
) -> None:
    parameters = extract_parameters(SET_PIECE)
    sets_file = tmp_path / "sets.json"
    sets_file.write_text(json.dumps(SET_PIECE_SETS))
    theirs, _ = openscad(tmp_path, SET_PIECE_PATH, "-p", str(sets_file), "-P", set_name)

    values = load_parameter_set(SET_PIECE_SETS, set_name, parameters)
    ours, _ = openscad(
        tmp_path, SET_PIECE_PATH, *to_openscad_defines(values, parameters=parameters)
    )

    assert ours == theirs


def test_defaults_passed_back_render_the_model_unchanged(tmp_path: Path) -> None:
    parameters = extract_parameters(SET_PIECE)
    plain, _ = openscad(tmp_path, SET_PIECE_PATH)

    defaults = validate_values(parameters, {})
    defined, _ = openscad(
        tmp_path, SET_PIECE_PATH, *to_openscad_defines(defaults, parameters=parameters)
    )

    assert defined == plain


# --- validation --------------------------------------------------------------------------------


def test_validation_fills_defaults_and_normalises_colours() -> None:
    parameters = extract_parameters(SET_PIECE)

    values = validate_values(parameters, {"wall_colour": "Gold", "trim": [1, 1, 1, 0.5]})

    assert values["wall_colour"] == "#ffd700"
    assert values["trim"] == "#ffffff80"
    assert values["width"] == 120
    assert values["door_offset"] == [0, 0]
    assert values["door_offset"] is not parameters[6].default  # a copy, not the schema's list


def test_unknown_names_are_named() -> None:
    with pytest.raises(InvalidArgument, match=r'unknown parameter.*"colour", "roof_pitch"'):
        validate_values(extract_parameters(SET_PIECE), {"roof_pitch": 45, "colour": "red"})


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("width", "120", "'width' expects a number, got a string"),
        ("width", True, "'width' expects a number, got a boolean"),
        ("width", None, "'width' expects a number, got null"),
        ("sign_text", 7, "'sign_text' expects a string, got a number"),
        ("with_window", "true", "'with_window' expects a boolean, got a string"),
        ("door_offset", 5, "'door_offset' expects a vector of numbers, got a number"),
        ("door_offset", [1, "2"], "'door_offset' expects a vector of numbers, got an array"),
        ("wall_colour", 0xFF0000, "'wall_colour' expects a colour"),
    ],
)
def test_wrong_types_name_the_parameter_and_the_expected_type(
    name: str, value: Any, message: str
) -> None:
    with pytest.raises(InvalidArgument, match=message):
        validate_values(extract_parameters(SET_PIECE), {name: value})


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("width", 39, "'width' must be at least 40, got 39"),
        ("width", 400.5, "'width' must be at most 400, got 400.5"),
        ("width", float("nan"), "'width' must be a finite number"),
        ("width", float("inf"), "'width' must be a finite number"),
        ("door_offset", [0, 51], "'door_offset' must be at most 50, got 51"),
        ("door_offset", [0, 0, 0], "'door_offset' expects 2 numbers, got 3"),
        ("sign_text", "THE PRANCING PONY", "'sign_text' allows at most 12 characters, got 17"),
        ("sign_text", "A\0B", "'sign_text' contains a NUL character"),
    ],
)
def test_values_outside_the_limits_are_invalid(name: str, value: Any, message: str) -> None:
    with pytest.raises(InvalidArgument, match=message):
        validate_values(extract_parameters(SET_PIECE), {name: value})


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("door_size", 25, "'door_size' must be one of 20, 30, 40, got 25"),
        ("door_size", "20", "'door_size' must be one of 20, 30, 40, got \"20\""),
        ("door_shape", "round", '\'door_shape\' must be one of "arch", "square", "none"'),
    ],
)
def test_values_not_in_the_dropdown_are_invalid(name: str, value: Any, message: str) -> None:
    with pytest.raises(InvalidArgument, match=message):
        validate_values(extract_parameters(SET_PIECE), {name: value})


def test_choice_values_match_by_number() -> None:
    values = validate_values(extract_parameters(SET_PIECE), {"door_size": 30.0})

    assert values["door_size"] == 30


@pytest.mark.parametrize("value", ["wood", "#12345", [1, 0, 2], [1, 0], "", "red "])
def test_bad_colours_are_invalid(value: Any) -> None:
    with pytest.raises(InvalidArgument, match="'wall_colour' expects a colour"):
        validate_values(extract_parameters(SET_PIECE), {"wall_colour": value})


# --- -D defines through the real openscad ------------------------------------------------------

ECHO_STRING = "echo(codes = [for (c = s) ord(c)]);\necho(s);\n"


@pytest.mark.parametrize(
    "text",
    [
        "",
        "plain",
        '"); import("/etc/passwd"); x=("',
        '"; echo("INJECTED"); s="',
        "ends with a backslash \\",
        'escaped quote \\" stays',
        "\\x41 and \\u0041 stay literal",
        "line one\nline two\r\n\ttabbed",
        "controls \x01\x1b\x7f",
        "*/ // /* { } ; $fn=3",
        "unicode é 🎬 \u00a0 \u2028",
    ],
)
def test_string_defines_stay_one_string_literal(text: str, tmp_path: Path) -> None:
    defines = to_openscad_defines({"s": text})

    _, stderr = openscad(tmp_path, ECHO_STRING, *defines)

    lines = echoes(stderr)
    assert len(lines) == 2, stderr  # nothing else was echoed or evaluated
    assert lines[0] == f"codes = {[ord(c) for c in text]}"
    assert "WARNING" not in stderr and "import" not in stderr.replace(text, "")


def test_number_boolean_and_vector_defines_round_trip(tmp_path: Path) -> None:
    values = {"n": -1.5e-05, "big": 3e20, "i": 42, "b": True, "f": False, "v": [1, -2.5, 0.1]}
    checks = (
        "echo(n == -1.5e-05, big == 3e20, i == 42, b == true, f == false, v == [1, -2.5, 0.1]);"
    )

    _, stderr = openscad(tmp_path, checks, *to_openscad_defines(values))

    assert echoes(stderr) == ["true, true, true, true, true, true"]


def test_special_variables_can_be_defined(tmp_path: Path) -> None:
    _, stderr = openscad(tmp_path, "echo($fn);", *to_openscad_defines({"$fn": 12}))

    assert echoes(stderr) == ["12"]


def test_defines_are_argv_pairs() -> None:
    assert to_openscad_defines({"a": 1, "s": 'x"y'}) == ["-D", "a=1", "-D", 's="x\\"y"']


def test_vector_colours_go_back_as_vectors_when_the_schema_is_given() -> None:
    parameters = extract_parameters(SET_PIECE)
    values = {"trim": "#336699", "window_tint": "#ff0000", "wall_colour": "#ff0000"}

    defines = to_openscad_defines(values, parameters=parameters)

    assert defines == [
        "-D",
        "trim=[0.2, 0.4, 0.6]",
        "-D",
        "window_tint=[1, 0, 0, 1]",
        "-D",
        'wall_colour="#ff0000"',
    ]
    assert to_openscad_defines({"trim": "#336699"}) == ["-D", 'trim="#336699"']


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"n": math.nan}, "'n' must be a finite number"),
        ({"n": math.inf}, "'n' must be a finite number"),
        ({"n": -math.inf}, "'n' must be a finite number"),
        ({"n": 10**400}, "'n' must be a finite number"),
        ({"v": [1, math.nan]}, "'v' must be a finite number"),
        ({"v": [1, "2"]}, "'v' holds a string, which OpenSCAD cannot take"),
        ({"v": [[1]]}, "'v' holds an array, which OpenSCAD cannot take"),
        ({"x": None}, "'x' holds null, which OpenSCAD cannot take"),
        ({"x": {"a": 1}}, "'x' holds an object, which OpenSCAD cannot take"),
        ({"s": "a\0b"}, "'s' contains a NUL character"),
        ({"s": "\ud800"}, "'s' expects text"),
        ({"s": "x" * 40_000}, "'s' is too long to pass to OpenSCAD"),
        ({"a=1;b": 1}, "is not an OpenSCAD variable name"),
        ({"": 1}, "is not an OpenSCAD variable name"),
        ({"12": 1}, "is not an OpenSCAD variable name"),
        ({"module": 1}, "is not an OpenSCAD variable name"),
        ({"-o": 1}, "is not an OpenSCAD variable name"),
    ],
)
def test_values_openscad_cannot_take_safely_are_rejected(
    values: dict[str, Any], message: str
) -> None:
    with pytest.raises(InvalidArgument, match=message):
        to_openscad_defines(values)


# --- limits and malformed sources --------------------------------------------------------------


def commented(size: int, pad: str = "x") -> str:
    """One parameter and a comment of ``pad`` (topped up with "x"): exactly ``size`` bytes."""
    head = "a = 1; // [0:10]\n//"
    room = size - len(head)
    return head + pad * (room // len(pad.encode())) + "x" * (room % len(pad.encode()))


@pytest.mark.parametrize(
    "source",
    [commented(MAX_SOURCE_BYTES + 1), commented(MAX_SOURCE_BYTES + 1, pad="€")],
    ids=["one-byte-over", "under-in-characters-over-in-bytes"],
)
def test_a_source_over_the_byte_limit_is_invalid_naming_it(source: str) -> None:
    with pytest.raises(InvalidArgument, match=f"{MAX_SOURCE_BYTES + 1} bytes of UTF-8; the limit"):
        extract_parameters(source)


def test_a_source_of_exactly_the_limit_in_bytes_is_read() -> None:
    assert by_name(commented(MAX_SOURCE_BYTES, pad="€"))["a"].maximum == 10


def test_source_at_the_size_limit_is_read_quickly() -> None:
    filler = 'pad = "' + "y" * 1000 + '";\n'
    source = "a = 1; // [0:10]\n" + filler * (MAX_SOURCE_BYTES // len(filler) - 1)

    parameters = by_name(source)

    assert (parameters["a"].maximum, len(parameters)) == (10, 2)


def test_too_many_parameters_is_invalid() -> None:
    at_limit = "".join(f"p{i} = {i};\n" for i in range(MAX_PARAMETERS))
    assert len(extract_parameters(at_limit)) == MAX_PARAMETERS

    with pytest.raises(InvalidArgument, match=f"more than {MAX_PARAMETERS} parameters"):
        extract_parameters(at_limit + "one_more = 1;\n")


def test_unterminated_string_is_invalid() -> None:
    with pytest.raises(InvalidArgument, match="unterminated string starting on line 2"):
        extract_parameters('a = 1;\nb = "open;\n')


def test_source_must_be_text() -> None:
    with pytest.raises(InvalidArgument, match="must be a string"):
        extract_parameters(b"a = 1;")  # type: ignore[arg-type]
