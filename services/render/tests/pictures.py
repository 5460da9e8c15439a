"""Known pixels of one model with nested colours, for the tests of every picture of it.

``NESTED`` is a red cube and, inside the same ``color("red")``, a blue child with a colour of
its own. Seen through ``VIEW`` (from straight above, orthographic) each cube's top face is a
square of about 38 by 38 pixels in a known place, so a test reads the colour at the middle of
each face rather than counting colours anywhere in the picture. The faces are flat-shaded
without anti-aliasing, so every pixel of a patch comes out in one colour.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyvips
from numpy.typing import NDArray

from services.render.meshes import srgb_to_linear
from services.render.tests.validators import accessor, read_glb
from services.render.view import View

__all__ = [
    "BLUE_CHILD",
    "CHILD_LINEAR",
    "FLAT",
    "GAP",
    "NESTED",
    "RED_LINEAR",
    "RED_SIBLING",
    "VIEW",
    "VIEW_JSON",
    "colour_at",
    "glb_colour_at",
    "pixels",
]

CHILD_HEX = "#2050e0"  # blue, and not 0 or 1 in any channel: glTF's linear RGB differs
NESTED = (
    f'color("red") {{\n  cube(10);\n  color("{CHILD_HEX}") translate([20, 0, 0]) cube(10);\n}}\n'
)
# The same model with no colour nested, as OpenSCAD's own preview shows what the rule means.
FLAT = f'color("red") cube(10);\ncolor("{CHILD_HEX}") translate([20, 0, 0]) cube(10);\n'
CHILD_LINEAR = [*(srgb_to_linear(int(CHILD_HEX[i : i + 2], 16) / 255) for i in (1, 3, 5)), 1.0]
RED_LINEAR = [1.0, 0.0, 0.0, 1.0]

VIEW_JSON: dict[str, Any] = {
    "width": 300,
    "height": 150,
    "projection": "orthographic",
    "camera": {"eye": [15, 5, 100], "center": [15, 5, 0]},
}
VIEW = View.from_json(VIEW_JSON)
# (x, y) in the picture. Its middle is the model's (15, 5); a millimetre is ~3.8 pixels, so
# the red top face spans x 93-130, the child's x 169-206, both y 56-93.
RED_SIBLING = (111, 75)
BLUE_CHILD = (188, 75)
GAP = (150, 75)  # between the two cubes: background
PATCH = 6  # pixels on each side of a point, all of which must be one colour
BACKGROUND = (255, 255, 229)  # OpenSCAD's Cornfield scheme

Image = NDArray[np.uint8]


def pixels(png: bytes) -> Image:
    """The picture as (height, width, 3) RGB."""
    image: Image = pyvips.Image.new_from_buffer(png, "")[:3].numpy()
    return image


def _name(rgb: NDArray[np.int16]) -> str:
    """What a person would call the colour of one pixel; lighting only darkens a face."""
    r, g, b = (int(channel) for channel in rgb)
    if (r, g, b) == BACKGROUND:
        return "background"
    if r > 100 and r > 2 * max(g, b):
        return "red"
    if b > 100 and b > 2 * max(r, g):
        return "blue"
    return f"rgb{(r, g, b)}"


def colour_at(png: bytes, point: tuple[int, int]) -> str:
    """The colour of the patch around ``point``: "red", "blue", "background", or what else
    it is ("mixed: ..." when its pixels disagree)."""
    x, y = point
    patch = pixels(png)[y - PATCH : y + PATCH + 1, x - PATCH : x + PATCH + 1].astype(np.int16)
    names = {_name(pixel) for row in patch for pixel in row}
    return names.pop() if len(names) == 1 else f"mixed: {sorted(names)}"


def glb_colour_at(glb: bytes, x_mm: float) -> list[float]:
    """The baseColorFactor (linear RGB and alpha) of the part whose mesh spans ``x_mm``."""
    document, binary = read_glb(glb)
    found = []
    for primitive in document["meshes"][0]["primitives"]:
        xs = accessor(document, binary, primitive["attributes"]["POSITION"])[:, 0] * 1000
        if xs.min() <= x_mm <= xs.max():
            material = document["materials"][primitive["material"]]
            found.append([float(c) for c in material["pbrMetallicRoughness"]["baseColorFactor"]])
    assert len(found) == 1, f"{len(found)} parts span x = {x_mm} mm"
    return found[0]
