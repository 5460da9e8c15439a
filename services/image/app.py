"""Wiring of the image service: uploads and derived images over gRPC, jobs from ``work.image.>``."""

from __future__ import annotations

import asyncio
import functools
from contextlib import AsyncExitStack

import grpc
import pyvips
from nats.js import JetStreamContext

from libs.backends import open_nats
from libs.blobs import BlobStore
from libs.bus import Consumer
from libs.bus.work import JobMessage
from libs.config import cores_per_worker
from libs.jobs import (
    CancelledBatches,
    FunctionSpec,
    JobFunction,
    cancellations,
    job_handler,
    register_functions,
)
from libs.runner import Background, ServiceParts
from libs.web import create_app
from services.image.derived import DerivedImages
from services.image.generation import GENERATE, GenerationFunction
from services.image.handlers import ImageServicer
from services.image.jobs import (
    FRAME,
    THUMBNAIL,
    TRANSFORM,
    frame_job,
    thumbnail_job,
    transform_job,
)
from services.image.settings import ImageSettings
from services.image.thumbnails import ImageLimits
from services.image.uploaders import Uploaders
from services.image.uploads import UploadIndex, Uploads
from shotgraph.image.v1 import image_pb2_grpc

# Pixel work is quick next to a render: a message not acked in this long has lost its worker.
IMAGE_ACK_WAIT_S = 30.0
HOT_BLOB_BYTES = 64 << 20


async def _consume(
    consumer: Consumer[JobMessage], js: JetStreamContext, stopping: asyncio.Event
) -> None:
    await consumer.run(js, stopping)


def image_limits(settings: ImageSettings) -> ImageLimits:
    """The limits every image passes before a pixel is decoded, as configured."""
    return ImageLimits(
        max_bytes=settings.max_upload_bytes,
        max_pixels=settings.image_max_pixels,
        max_frames=settings.image_max_frames,
        max_animation_frames=settings.image_max_animation_frames,
        max_progressive_pixels=settings.image_max_progressive_pixels,
    )


async def build(settings: ImageSettings, stack: AsyncExitStack) -> ServiceParts:
    _, js, nats_ready = await open_nats(settings, stack)
    blobs = BlobStore(js, hot_bytes=HOT_BLOB_BYTES)  # working copies, reused for every size
    limits = image_limits(settings)
    # libvips threads per operation, and decodes at once: this worker's share of the cores.
    cores = cores_per_worker()
    pyvips.concurrency_set(cores)
    processing = asyncio.Semaphore(cores)
    derived = DerivedImages(js, blobs, limits, processing)
    functions: list[tuple[FunctionSpec, str, JobFunction]] = [
        (THUMBNAIL, "image", thumbnail_job(blobs, limits)),
        (TRANSFORM, "image-transform", transform_job(derived)),
        (FRAME, "image-frame", frame_job(blobs, limits)),
    ]
    if settings.generation_backends:
        generate = GenerationFunction(settings.generation_backends, blobs)
        stack.push_async_callback(generate.close)
        functions.append((GENERATE, "image-generate", generate))
    await register_functions(js, [spec for spec, _, _ in functions])
    cancelled = CancelledBatches(await cancellations(js))
    background: list[Background] = [cancelled.run]
    for spec, durable, run in functions:
        consumer = Consumer(
            service=settings.service,
            stream="WORK",
            durable=durable,
            filter_subject=spec.subject,
            message=JobMessage,
            handler=job_handler(js, run, cancelled),
            concurrency=settings.worker_concurrency,
            ack_wait_s=settings.ack_wait_s or IMAGE_ACK_WAIT_S,
            max_deliver=settings.max_deliver,
        )
        background.append(functools.partial(_consume, consumer, js))
    uploaders = Uploaders(js)
    servicer = ImageServicer(
        Uploads(blobs, UploadIndex(js), uploaders, limits, processing=processing),
        uploaders,
        derived,
    )

    def register(server: grpc.aio.Server) -> None:
        image_pb2_grpc.add_ImageServiceServicer_to_server(servicer, server)

    app = create_app(
        settings.service, max_body_bytes=settings.max_body_bytes, readiness={"nats": nats_ready}
    )
    return ServiceParts(app=app, registrars=[register], background=background)
