"""The image service's batch functions: ``image.thumbnail``, ``image.transform``, ``image.frame``.

Each reads its images from the blob store (a ``blob`` given, or the image a dependency's output
declares: a render's PNG, another thumbnail, a frame), does the work in a thread (libvips
releases the GIL), and stores the result as a blob, declared as its output's image
(``libs.jobs.IMAGE_FIELD``) beside the fields it has always had. Bad input (a malformed or
missing blob, an image over a limit, options that do not parse) is an error that is not worth
retrying (``libs.errors``), so the job fails at once.
"""

from __future__ import annotations

import asyncio
from typing import Any

from libs.blobs import BlobStore, check_digest
from libs.errors import PermanentError
from libs.jobs import IMAGE_FIELD, FunctionSpec, JobContext, JobFunction, output_image
from services.image import frames
from services.image.derived import DerivedImages
from services.image.thumbnails import ImageLimits, make_thumbnail

__all__ = [
    "FRAME",
    "THUMBNAIL",
    "TRANSFORM",
    "frame_job",
    "source_blob",
    "thumbnail_job",
    "transform_job",
]

DEFAULT_THUMBNAIL_SIZE = 256
_DIGEST = {"type": "string", "pattern": "^[0-9a-f]{64}$"}
# An image given as a blob, or as the image a named dependency made (known only once it ran).
_IMAGE_REF = {
    "oneOf": [
        _DIGEST,
        {
            "type": "object",
            "required": ["from"],
            "additionalProperties": False,
            "properties": {"from": {"type": "string", "minLength": 1, "maxLength": 200}},
        },
    ]
}

THUMBNAIL = FunctionSpec(
    name="image.thumbnail",
    description="Thumbnail an image blob (or the image a dependency made) within size x size.",
    input_schema={
        "type": "object",
        "properties": {
            "blob": _DIGEST,
            "size": {"type": "integer", "minimum": 1, "maximum": ImageLimits().max_thumbnail_size},
            "format": {"enum": ["png", "webp", "jpeg"]},
        },
    },
)

TRANSFORM = FunctionSpec(
    name="image.transform",
    description=(
        "Transform an image blob (or a dependency's image) by processing options, e.g. "
        '"rs:fill:640:360/f:webp/q:80"; the result is cached as a derived blob.'
    ),
    input_schema={
        "type": "object",
        "required": ["options"],
        "additionalProperties": False,
        "properties": {
            "blob": _DIGEST,
            "options": {"type": "string", "maxLength": 512},
            "dependencies": {"type": "object"},
        },
    },
)

FRAME = FunctionSpec(
    name="image.frame",
    description=(
        "Compose a storyboard frame: a backdrop, characters placed by framing and angle, a "
        "lighting and mood grade, and a caption band. Each image is a blob or "
        '{"from": key}, the image made by that dependency; without a backdrop, the first '
        "image of any dependency."
    ),
    input_schema={
        "type": "object",
        "required": ["title", "duration_s"],
        "additionalProperties": False,
        "properties": {
            "backdrop": _IMAGE_REF,
            "characters": {
                "type": "array",
                "items": _IMAGE_REF,
                "maxItems": frames.MAX_CHARACTERS,
            },
            "framing": {"enum": sorted(frames.FRAMINGS)},
            "angle": {"enum": sorted(frames.ANGLES)},
            "lighting": {"enum": sorted(frames.LIGHTING)},
            "mood": {"enum": sorted(frames.MOODS)},
            "title": {"type": "string", "minLength": 1, "maxLength": frames.MAX_TITLE_CHARS},
            "duration_s": {
                "type": "number",
                "minimum": frames.MIN_DURATION_S,
                "maximum": frames.MAX_DURATION_S,
            },
            "size": {
                "type": "array",
                "items": {
                    "type": "integer",
                    "minimum": frames.MIN_SIDE,
                    "maximum": frames.MAX_SIDE,
                },
                "minItems": 2,
                "maxItems": 2,
            },
            "dependencies": {"type": "object"},
        },
    },
)


def source_blob(job_input: dict[str, Any], field: str = "blob") -> str:
    """The image to work on: ``field`` of the input, or else the first image a dependency made."""
    if field in job_input:
        return image_ref(job_input, job_input[field])
    for output in (job_input.get("dependencies") or {}).values():
        image = output_image(output)
        if image is not None:
            return image
    raise PermanentError(f"needs '{field}' or a dependency that produced an image")


def image_ref(job_input: dict[str, Any], ref: object) -> str:
    """The blob ``ref`` names: itself, or for ``{"from": key}`` the image that dependency's
    output declares."""
    if not isinstance(ref, dict):
        return str(ref)
    key = str(ref.get("from"))
    dependencies = job_input.get("dependencies") or {}
    if key not in dependencies:
        raise PermanentError(f"no dependency {key!r} to take an image from")
    image = output_image(dependencies[key])
    if image is None:
        raise PermanentError(
            f"dependency {key!r} made no image (its output has no {IMAGE_FIELD!r})"
        )
    return image


async def _read(blobs: BlobStore, digest: str) -> bytes:
    """The blob's bytes; a malformed digest or a missing blob fails the job (no retry)."""
    return (await blobs.get(check_digest(digest))).data


def thumbnail_job(blobs: BlobStore, limits: ImageLimits) -> JobFunction:
    async def run(job_input: dict[str, Any], context: JobContext) -> dict[str, Any]:
        size = job_input.get("size", DEFAULT_THUMBNAIL_SIZE)
        if not isinstance(size, int | float) or isinstance(size, bool):
            raise PermanentError("image.thumbnail 'size' must be a number")
        fmt = str(job_input.get("format", "png"))
        await context.check_cancelled()
        source = await _read(blobs, source_blob(job_input))
        await context.progress(40, "source read")
        thumb = await asyncio.to_thread(make_thumbnail, source, int(size), fmt=fmt, limits=limits)
        blob = await blobs.put(thumb.data, thumb.content_type)
        return {
            "thumbnail": blob,
            IMAGE_FIELD: blob,
            "width": thumb.width,
            "height": thumb.height,
            "content_type": thumb.content_type,
        }

    return run


def transform_job(derived: DerivedImages) -> JobFunction:
    async def run(job_input: dict[str, Any], context: JobContext) -> dict[str, Any]:
        await context.check_cancelled()
        await context.progress(10, "transforming")
        made = await derived.derive(source_blob(job_input), job_input["options"], None)
        return {
            IMAGE_FIELD: made.blob,
            "width": made.width,
            "height": made.height,
            "content_type": made.content_type,
            "cached": made.cached,
        }

    return run


def frame_job(blobs: BlobStore, limits: ImageLimits) -> JobFunction:
    async def run(job_input: dict[str, Any], context: JobContext) -> dict[str, Any]:
        await context.check_cancelled()
        backdrop = await _read(blobs, source_blob(job_input, "backdrop"))
        characters = [
            await _read(blobs, image_ref(job_input, ref)) for ref in job_input.get("characters", [])
        ]
        await context.progress(30, "images read")
        # Whole numbers (the schema says so) that arrive as floats through protobuf Struct.
        width, height = (int(side) for side in job_input.get("size", (1280, 720)))
        spec = frames.FrameSpec(
            backdrop=backdrop,
            characters=tuple(characters),
            framing=job_input.get("framing", "medium"),
            angle=job_input.get("angle", "eye-level"),
            lighting=job_input.get("lighting", "day"),
            mood=job_input.get("mood", "neutral"),
            title=job_input["title"],
            duration_s=job_input["duration_s"],
            size=(width, height),
        )
        frame = await asyncio.to_thread(frames.compose_frame, spec, limits)
        blob = await blobs.put(frame.data, "image/png")
        return {
            "frame": blob,
            IMAGE_FIELD: blob,
            "width": frame.width,
            "height": frame.height,
            "content_type": "image/png",
        }

    return run
