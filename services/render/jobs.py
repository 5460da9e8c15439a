"""The ``render.scad`` job: a model with parameter values into coloured files, cached.

Input: ``source``, optional ``parameters`` (values for the model's customizer parameters)
and ``formats`` (any of png, glb, 3mf, stl; png and stl by default). Output: the blob id of
each format, the model's colours, and which formats came from the cache.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from libs.blobs import BlobStore
from libs.bus import PermanentError
from libs.errors import InvalidArgument
from libs.jobs import FunctionSpec, JobContext, JobFunction
from services.render.cache import CachedRender, RenderCache, cache_key, engine_version
from services.render.coloured import CONTENT_TYPES, render_coloured
from services.render.parameters import extract_parameters, to_openscad_defines, validate_values
from services.render.scad import RenderLimits, RenderTimeout, ScadError

__all__ = ["RENDER_SCAD", "render_job"]

DEFAULT_FORMATS = ("png", "stl")

RENDER_SCAD = FunctionSpec(
    name="render.scad",
    description="Render OpenSCAD source, with parameter values, to PNG, GLB, 3MF or STL.",
    input_schema={
        "type": "object",
        "required": ["source"],
        "properties": {
            "source": {
                "type": "string",
                "minLength": 1,
                "maxLength": RenderLimits().max_source_bytes,
            },
            "parameters": {"type": "object"},
            "formats": {
                "type": "array",
                "items": {"enum": sorted(CONTENT_TYPES)},
                "minItems": 1,
                "uniqueItems": True,
            },
        },
    },
)


def render_job(
    blobs: BlobStore, cache: RenderCache, limits: RenderLimits, *, sandboxed: bool
) -> JobFunction:
    async def run(job_input: dict[str, Any], context: JobContext) -> dict[str, Any]:
        source = job_input.get("source")
        if not isinstance(source, str):
            raise PermanentError("render.scad needs a string 'source'")
        formats = sorted(set(job_input.get("formats") or DEFAULT_FORMATS))
        try:
            schema = await asyncio.to_thread(extract_parameters, source)
            values = validate_values(schema, job_input.get("parameters") or {})
        except InvalidArgument as exc:
            raise PermanentError(exc.detail) from exc
        engine = await engine_version()
        keys = {fmt: cache_key(source, values, fmt, engine) for fmt in formats}
        outputs: dict[str, Any] = {}
        cached: list[str] = []
        for fmt, key in keys.items():
            hit = await cache.get(key)
            if hit is not None:
                outputs[fmt] = hit.blob
                cached.append(fmt)
        missing = [fmt for fmt in formats if fmt not in outputs]
        colours: list[str] = []
        if missing:
            await context.check_cancelled()
            started = time.perf_counter()
            try:
                result = await render_coloured(
                    source,
                    missing,
                    defines=to_openscad_defines(values, parameters=schema),
                    limits=limits,
                    sandboxed=sandboxed,
                )
            except (ScadError, RenderTimeout, InvalidArgument) as exc:
                raise PermanentError(str(exc)) from exc
            seconds = time.perf_counter() - started
            colours = result.colours
            for fmt, data in result.outputs.items():
                outputs[fmt] = await blobs.put(data, CONTENT_TYPES[fmt])
                await cache.put(keys[fmt], CachedRender(outputs[fmt], CONTENT_TYPES[fmt], seconds))
        return {**outputs, "colours": colours, "cached": cached}

    return run
