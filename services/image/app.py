"""Wiring of the image service: uploads over gRPC, thumbnails from ``work.image.>``."""

from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack
from typing import Any

import grpc

from libs.backends import open_nats
from libs.blobs import BlobStore, check_digest
from libs.bus import Consumer, PermanentError
from libs.config import ConfigError, Settings
from libs.errors import InvalidArgument, NotFound
from libs.jobs import (
    CancelledBatches,
    FunctionSpec,
    JobContext,
    JobFunction,
    cancellations,
    job_handler,
    register_functions,
)
from libs.runner import ServiceParts
from libs.web import create_app
from services.image.generation import GENERATE, GenerationFunction, parse_backends
from services.image.handlers import ImageServicer
from services.image.thumbnails import ImageLimits, ImageRejected, make_thumbnail
from shotgraph.image.v1 import image_pb2_grpc

DEFAULT_THUMBNAIL_SIZE = 256

THUMBNAIL = FunctionSpec(
    name="image.thumbnail",
    description="Thumbnail an image blob (or a dependency's PNG) within size x size.",
    input_schema={
        "type": "object",
        "properties": {
            "blob": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
            "size": {"type": "integer", "minimum": 1, "maximum": ImageLimits().max_thumbnail_size},
            "format": {"enum": ["png", "webp", "jpeg"]},
        },
    },
)


def _source_blob(job_input: dict[str, Any]) -> str:
    """The image to thumbnail: ``blob``, or else the first image a dependency produced."""
    if "blob" in job_input:
        return str(job_input["blob"])
    for output in (job_input.get("dependencies") or {}).values():
        for field in ("png", "thumbnail", "blob"):
            if isinstance(output, dict) and isinstance(output.get(field), str):
                return str(output[field])
    raise PermanentError("image.thumbnail needs 'blob' or a dependency that produced an image")


def thumbnail_job(blobs: BlobStore, limits: ImageLimits) -> JobFunction:
    async def run(job_input: dict[str, Any], context: JobContext) -> dict[str, Any]:
        size = job_input.get("size", DEFAULT_THUMBNAIL_SIZE)
        if not isinstance(size, int | float) or isinstance(size, bool):
            raise PermanentError("image.thumbnail 'size' must be a number")
        fmt = str(job_input.get("format", "png"))
        await context.check_cancelled()
        try:
            source = await blobs.get(check_digest(_source_blob(job_input)))
            thumb = await asyncio.to_thread(
                make_thumbnail, source.data, int(size), fmt=fmt, limits=limits
            )
        except (InvalidArgument, NotFound) as exc:
            raise PermanentError(exc.detail) from exc
        except ImageRejected as exc:
            raise PermanentError(f"{exc.reason}: {exc.detail}") from exc
        return {
            "thumbnail": await blobs.put(thumb.data, thumb.content_type),
            "width": thumb.width,
            "height": thumb.height,
            "content_type": thumb.content_type,
        }

    return run


async def build(settings: Settings, stack: AsyncExitStack) -> ServiceParts:
    _, js, nats_ready = await open_nats(settings, stack)
    blobs = BlobStore(js)
    try:
        backends = parse_backends(settings.generation_backends)
    except ValueError as exc:
        raise ConfigError(f"Config 'SHOTGRAPH_GENERATION_BACKENDS' is invalid: {exc}") from exc
    await register_functions(js, [THUMBNAIL, GENERATE] if backends else [THUMBNAIL])
    cancelled = CancelledBatches(await cancellations(js))
    limits = ImageLimits(max_bytes=settings.max_upload_bytes)
    thumbnails = Consumer(
        service=settings.service,
        stream="WORK",
        durable="image",
        filter_subject=THUMBNAIL.subject,
        handler=job_handler(js, thumbnail_job(blobs, limits), cancelled),
        concurrency=settings.worker_concurrency,
        ack_wait_s=settings.ack_wait_s or 30.0,
        max_deliver=settings.max_deliver,
    )
    background = [cancelled.run, lambda stopping: thumbnails.run(js, stopping)]
    if backends:
        generate = GenerationFunction(backends, blobs)
        stack.push_async_callback(generate.close)
        generations = Consumer(
            service=settings.service,
            stream="WORK",
            durable="image-generate",
            filter_subject=GENERATE.subject,
            handler=job_handler(js, generate, cancelled),
            concurrency=settings.worker_concurrency,
            ack_wait_s=settings.ack_wait_s or 30.0,
            max_deliver=settings.max_deliver,
        )
        background.append(lambda stopping: generations.run(js, stopping))
    servicer = ImageServicer(blobs, limits)

    def register(server: grpc.aio.Server) -> None:
        image_pb2_grpc.add_ImageServiceServicer_to_server(servicer, server)

    app = create_app(
        settings.service, max_body_bytes=settings.max_body_bytes, readiness={"nats": nats_ready}
    )
    return ServiceParts(app=app, registrars=[register], background=background)
