"""Wiring of the image service: uploads over gRPC, thumbnails from ``work.image.>``."""

from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack
from typing import Any

import grpc

from libs.backends import open_nats
from libs.blobs import BlobStore, check_digest
from libs.bus import Consumer, PermanentError
from libs.config import Settings
from libs.errors import InvalidArgument, NotFound
from libs.jobs import JobFunction, job_handler
from libs.runner import ServiceParts
from libs.web import create_app
from services.image.handlers import ImageServicer
from services.image.thumbnails import ImageLimits, ImageRejected, make_thumbnail
from shotgraph.image.v1 import image_pb2_grpc

DEFAULT_THUMBNAIL_SIZE = 256


def thumbnail_job(blobs: BlobStore, limits: ImageLimits) -> JobFunction:
    async def run(job_input: dict[str, Any]) -> dict[str, Any]:
        size = job_input.get("size", DEFAULT_THUMBNAIL_SIZE)
        if not isinstance(size, int | float) or isinstance(size, bool):
            raise PermanentError("image.thumbnail 'size' must be a number")
        try:
            source = await blobs.get(check_digest(str(job_input.get("blob", ""))))
            thumb = await asyncio.to_thread(make_thumbnail, source.data, int(size), limits=limits)
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
    limits = ImageLimits(max_bytes=settings.max_upload_bytes)
    thumbnails = Consumer(
        service=settings.service,
        stream="WORK",
        durable="image",
        filter_subject="work.image.>",
        handler=job_handler(js, thumbnail_job(blobs, limits)),
        concurrency=settings.worker_concurrency,
    )
    servicer = ImageServicer(blobs, limits)

    def register(server: grpc.aio.Server) -> None:
        image_pb2_grpc.add_ImageServiceServicer_to_server(servicer, server)

    app = create_app(
        settings.service, max_body_bytes=settings.max_body_bytes, readiness={"nats": nats_ready}
    )
    return ServiceParts(
        app=app, registrars=[register], background=[lambda stopping: thumbnails.run(js, stopping)]
    )
