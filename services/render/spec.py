"""A render request, checked into the plan the renderer runs: values, formats and view.

The same JSON shape arrives as a ``render.scad`` job input, as the gRPC ``RenderSpec`` and as
an HTTP body: ``{"source", "parameters", "parameter_set", "formats", "view"}``. Everything
wrong with it is an InvalidArgument (400) before any OpenSCAD runs.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from google.protobuf import json_format

from libs.errors import InvalidArgument
from libs.setpieces import source_too_large
from services.render.cache import cache_key
from services.render.coloured import CONTENT_TYPES
from services.render.parameters import (
    Parameter,
    extract_parameters,
    load_parameter_set,
    to_openscad_defines,
)
from services.render.view import View
from shotgraph.render.v1 import render_pb2

__all__ = [
    "DEFAULT_FORMATS",
    "FIELDS",
    "RenderPlan",
    "check_size",
    "plan_render",
    "spec_input",
]

DEFAULT_FORMATS = ("png", "stl")
FIELDS = frozenset({"source", "parameters", "parameter_set", "formats", "view"})
PICTURE_FORMATS = frozenset({"png", "preview"})  # formats whose bytes depend on the view


@dataclass(frozen=True)
class RenderPlan:
    source: str
    parameters: list[Parameter]
    values: dict[str, Any]  # every parameter's value, checked
    formats: list[str]
    view: View

    def defines(self) -> list[str]:
        return to_openscad_defines(self.values, parameters=self.parameters)

    def job_input(self) -> dict[str, Any]:
        """The normalised ``render.scad`` input that renders exactly this plan."""
        return {
            "source": self.source,
            "parameters": self.values,
            "formats": self.formats,
            "view": self.view.to_json(),
        }

    def cache_key(self, fmt: str, engine: str) -> str:
        view = self.view.to_json() if fmt in PICTURE_FORMATS else None
        return cache_key(self.source, self.values, fmt, engine, view=view)


def check_size(source: str) -> None:
    """A source over the size limit (in bytes) is a bad request, refused before it is even
    tokenized."""
    too_large = source_too_large(source)
    if too_large:
        raise InvalidArgument(too_large)


def spec_input(spec: render_pb2.RenderSpec) -> dict[str, Any]:
    """A gRPC RenderSpec in the JSON shape of a job input."""
    return json_format.MessageToDict(spec, preserving_proto_field_name=True)


async def plan_render(raw: Mapping[str, Any]) -> RenderPlan:
    """Check a request (job input, RenderSpec or HTTP body) into a plan; InvalidArgument if bad."""
    unknown = sorted(set(raw) - FIELDS)
    if unknown:
        raise InvalidArgument(f"unknown field(s) {unknown}; known: {sorted(FIELDS)}")
    source = raw.get("source")
    if not isinstance(source, str) or not source.strip():
        raise InvalidArgument("'source' must be a non-empty string of OpenSCAD")
    check_size(source)
    formats = raw.get("formats") or list(DEFAULT_FORMATS)
    if not isinstance(formats, list) or not all(isinstance(f, str) for f in formats):
        raise InvalidArgument("'formats' must be a list of format names")
    unsupported = sorted(set(formats) - set(CONTENT_TYPES))
    if unsupported:
        raise InvalidArgument(
            f"unsupported format(s) {unsupported}; choose from {', '.join(CONTENT_TYPES)}"
        )
    set_name = raw.get("parameter_set") or None
    if set_name is not None and not isinstance(set_name, str):
        raise InvalidArgument("'parameter_set' must be a string")
    view = View.from_json(raw.get("view") or {})
    # Tokenizing a large model takes a while: keep it off the event loop.
    parameters = await asyncio.to_thread(extract_parameters, source)
    values = load_parameter_set(raw.get("parameters") or {}, set_name, parameters)
    plan = RenderPlan(source, parameters, values, sorted(set(formats)), view)
    plan.defines()  # a value OpenSCAD could not take as a literal is refused here
    return plan
