"""How a preview looks at the model: image size, camera and projection, checked for OpenSCAD.

Two cameras, as OpenSCAD's ``--camera`` has them. A *gimbal* camera (``rotate``, degrees about
x, y and z, with an optional ``distance``) is fitted to the model when no distance is given,
the way OpenSCAD's "view all" does; a *vector* camera (``eye`` looking at ``center``) is
exact. Without a camera, OpenSCAD's default view is fitted to the model.

JSON form (the proto ``shotgraph.render.v1.View`` as JSON), in job inputs and HTTP bodies::

    {"width": 640, "height": 480,
     "camera": {"rotate": [55, 0, 25], "distance": 140} | {"eye": [..], "center": [..]},
     "projection": "perspective" | "orthographic"}
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from libs.errors import InvalidArgument

__all__ = ["DEFAULT_VIEW", "MAX_IMAGE_SIDE", "MIN_IMAGE_SIDE", "View"]

MIN_IMAGE_SIDE = 16
MAX_IMAGE_SIDE = 2048
MAX_COORDINATE = 1e6  # far beyond any set piece; keeps the numbers OpenSCAD sees sane
DEFAULT_SIZE = (512, 512)
DEFAULT_ROTATION = (55.0, 0.0, 25.0)  # OpenSCAD's own default view
PROJECTIONS = {"perspective": "p", "orthographic": "o"}
_CAMERA_KEYS = frozenset({"rotate", "distance", "eye", "center"})
_VIEW_KEYS = frozenset({"width", "height", "camera", "projection"})

Vector = tuple[float, float, float]


@dataclass(frozen=True)
class View:
    width: int = DEFAULT_SIZE[0]
    height: int = DEFAULT_SIZE[1]
    rotate: Vector | None = None  # gimbal camera
    distance: float | None = None  # gimbal camera; None fits the model
    eye: Vector | None = None  # vector camera
    center: Vector | None = None
    projection: str = "perspective"

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> View:
        """The view ``data`` describes; InvalidArgument says what is off."""
        if not isinstance(data, Mapping):
            raise InvalidArgument("view must be an object")
        unknown_fields = sorted(set(data) - _VIEW_KEYS)
        if unknown_fields:
            raise InvalidArgument(
                f"unknown view field(s) {unknown_fields}; known: {sorted(_VIEW_KEYS)}"
            )
        size = (data.get("width") or DEFAULT_SIZE[0], data.get("height") or DEFAULT_SIZE[1])
        if not all(_whole(side) and MIN_IMAGE_SIDE <= side <= MAX_IMAGE_SIDE for side in size):
            raise InvalidArgument(
                f"view width and height are whole pixels from {MIN_IMAGE_SIDE} to {MAX_IMAGE_SIDE}"
            )
        projection = data.get("projection") or "perspective"
        if projection not in PROJECTIONS:
            raise InvalidArgument(f"projection must be one of {', '.join(PROJECTIONS)}")
        camera = data.get("camera") or {}
        if not isinstance(camera, Mapping):
            raise InvalidArgument("camera must be an object")
        unknown = sorted(set(camera) - _CAMERA_KEYS)
        if unknown:
            raise InvalidArgument(
                f"unknown camera field(s) {unknown}; known: {sorted(_CAMERA_KEYS)}"
            )
        gimbal = "rotate" in camera or "distance" in camera
        vector = "eye" in camera or "center" in camera
        if gimbal and vector:
            raise InvalidArgument("camera takes rotate/distance or eye/center, not both")
        if vector and not ("eye" in camera and "center" in camera):
            raise InvalidArgument("a vector camera needs both eye and center")
        distance = camera.get("distance")
        if distance is not None and not (_finite(distance) and 0 < distance <= MAX_COORDINATE):
            raise InvalidArgument(f"camera.distance must be a number in (0, {MAX_COORDINATE:g}]")
        view = cls(
            width=int(size[0]),
            height=int(size[1]),
            rotate=_vector(camera, "rotate"),
            distance=None if distance is None else float(distance),
            eye=_vector(camera, "eye"),
            center=_vector(camera, "center"),
            projection=projection,
        )
        if view.eye is not None and view.eye == view.center:
            raise InvalidArgument("camera.eye and camera.center must differ")
        return view

    def to_json(self) -> dict[str, Any]:
        """The canonical JSON form: equal views give equal documents (cache keys rely on it)."""
        camera: dict[str, Any] = {}
        if self.eye is not None:
            camera = {"eye": list(self.eye), "center": list(self.center or ())}
        elif self.rotate is not None or self.distance is not None:
            camera = {"rotate": list(self.rotate or DEFAULT_ROTATION)}
            if self.distance is not None:
                camera["distance"] = self.distance
        document: dict[str, Any] = {
            "width": self.width,
            "height": self.height,
            "projection": self.projection,
        }
        if camera:
            document["camera"] = camera
        return document

    def openscad_args(self) -> list[str]:
        """The preview flags of the openscad command line for this view."""
        args = [
            f"--imgsize={self.width},{self.height}",
            f"--projection={PROJECTIONS[self.projection]}",
        ]
        if self.eye is not None and self.center is not None:
            return [*args, "--camera=" + _numbers(*self.eye, *self.center)]
        rotate = self.rotate or DEFAULT_ROTATION
        if self.distance is None:  # fit: OpenSCAD picks the distance and centres the model
            return [*args, "--camera=" + _numbers(0, 0, 0, *rotate, 1), "--viewall", "--autocenter"]
        return [*args, "--camera=" + _numbers(0, 0, 0, *rotate, self.distance), "--autocenter"]


def _whole(value: object) -> bool:
    """An integral number: JSON via protobuf Struct turns 640 into 640.0."""
    return isinstance(value, int | float) and _finite(value) and float(value).is_integer()


def _finite(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _vector(camera: Mapping[str, Any], key: str) -> Vector | None:
    value = camera.get(key)
    if value is None:
        return None
    if (
        not isinstance(value, Sequence)
        or len(value) != 3
        or not all(_finite(v) and abs(v) <= MAX_COORDINATE for v in value)
    ):
        raise InvalidArgument(
            f"camera.{key} must be three finite numbers within ±{MAX_COORDINATE:g}"
        )
    return (float(value[0]), float(value[1]), float(value[2]))


def _numbers(*values: float) -> str:
    return ",".join(f"{value:g}" for value in values)


DEFAULT_VIEW = View()
