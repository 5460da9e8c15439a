"""The ``render.scad`` job: a model with parameter values into coloured files, cached.

Input: the render spec (`services.render.spec`): ``source``, optional ``parameters`` (values
or OpenSCAD's customizer file) with ``parameter_set``, ``formats`` (any of png, glb, 3mf, stl;
png and stl by default) and the ``view`` of the PNG. Output: the blob id of each format, the
model's colours, which formats came from the cache and, when a PNG was made, that PNG as the
job's declared image (``libs.jobs.IMAGE_FIELD``). Progress follows the parts.
"""

from __future__ import annotations

import time
from typing import Any

from libs.blobs import BlobStore
from libs.jobs import IMAGE_FIELD, FunctionSpec, JobContext, JobFunction
from libs.metrics import RENDER_DURATION
from libs.setpieces import MAX_SOURCE_BYTES
from services.render.cache import CachedRender, RenderCache, engine_version
from services.render.coloured import CONTENT_TYPES, render_coloured
from services.render.scad import RenderLimits
from services.render.spec import plan_render
from services.render.view import MAX_IMAGE_SIDE, MIN_IMAGE_SIDE

__all__ = ["RENDER_SCAD", "render_job"]

# Share of the progress bar for evaluating the model, before the parts render.
EVALUATED_PERCENT = 10
PARTS_PERCENT = 85

_TRIPLE = {"type": "array", "items": {"type": "number"}, "minItems": 3, "maxItems": 3}
_SIDE = {"type": "integer", "minimum": 0, "maximum": MAX_IMAGE_SIDE}

RENDER_SCAD = FunctionSpec(
    name="render.scad",
    description="Render OpenSCAD source, with parameter values, to PNG, GLB, 3MF or STL.",
    input_schema={
        "type": "object",
        "required": ["source"],
        "additionalProperties": False,
        "properties": {
            "source": {
                "type": "string",
                "minLength": 1,
                # Characters: a loose bound for forms. The job counts the bytes (spec.check_size).
                "maxLength": MAX_SOURCE_BYTES,
            },
            "parameters": {"type": "object"},
            "parameter_set": {"type": "string"},
            "formats": {
                "type": "array",
                "items": {"enum": sorted(CONTENT_TYPES)},
                "minItems": 1,
                "uniqueItems": True,
            },
            "view": {
                "type": "object",
                "additionalProperties": False,
                "description": (
                    f"PNG size ({MIN_IMAGE_SIDE}-{MAX_IMAGE_SIDE} px), camera, projection"
                ),
                "properties": {
                    "width": _SIDE,
                    "height": _SIDE,
                    "projection": {"enum": ["perspective", "orthographic"]},
                    "camera": {
                        "type": "object",
                        "additionalProperties": False,
                        "properties": {
                            "rotate": _TRIPLE,
                            "distance": {"type": "number", "exclusiveMinimum": 0},
                            "eye": _TRIPLE,
                            "center": _TRIPLE,
                        },
                    },
                },
            },
        },
    },
)


def render_job(
    blobs: BlobStore, cache: RenderCache, limits: RenderLimits, *, sandboxed: bool
) -> JobFunction:
    async def run(job_input: dict[str, Any], context: JobContext) -> dict[str, Any]:
        plan = await plan_render(job_input)  # bad input fails the job: no retry fixes it
        engine = await engine_version()
        keys = {fmt: plan.cache_key(fmt, engine) for fmt in plan.formats}
        outputs: dict[str, str] = {}
        colours: tuple[str, ...] = ()
        for fmt, key in keys.items():
            hit = await cache.get(key, fmt)
            if hit is not None:
                outputs[fmt] = hit.blob
                colours = colours or hit.colours
        cached = sorted(outputs)
        missing = [fmt for fmt in plan.formats if fmt not in outputs]
        if missing:
            await context.check_cancelled()

            async def parts_done(done: int, total: int) -> None:
                percent = EVALUATED_PERCENT + PARTS_PERCENT * done // max(total, 1)
                await context.progress(percent, f"{done} of {total} colours rendered")

            started = time.perf_counter()
            # A ScadError is the model itself (every retry would fail the same way): the job
            # fails at once. A RenderFailed (the sandbox, a crash) is retried.
            result = await render_coloured(
                plan.source,
                missing,
                defines=plan.defines(),
                view=plan.view,
                limits=limits,
                sandboxed=sandboxed,
                progress=parts_done,
            )
            seconds = time.perf_counter() - started
            RENDER_DURATION.labels("coloured").observe(seconds)
            colours = tuple(result.colours) or colours
            for fmt, data in result.outputs.items():
                outputs[fmt] = await blobs.put(data, CONTENT_TYPES[fmt])
                entry = CachedRender(outputs[fmt], CONTENT_TYPES[fmt], seconds, colours)
                await cache.put(keys[fmt], entry)
        image = {IMAGE_FIELD: outputs["png"]} if "png" in outputs else {}
        return {**outputs, "colours": list(colours), "cached": cached, **image}

    return run
