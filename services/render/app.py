"""Wiring of the render service: OpenSCAD jobs from ``work.render.>`` into the blob store."""

from __future__ import annotations

from contextlib import AsyncExitStack

import grpc

from libs.backends import open_downstream, open_nats
from libs.blobs import BlobStore
from libs.bus import Consumer
from libs.bus.subjects import service_work
from libs.bus.work import JobMessage
from libs.jobs import (
    CancelledBatches,
    cancellations,
    job_handler,
    register_functions,
)
from libs.runner import ServiceParts
from libs.web import create_app
from services.render.cache import RenderCache
from services.render.handlers import RenderServicer
from services.render.jobs import RENDER_SCAD, render_job
from services.render.scad import RenderLimits, parallelism
from services.render.settings import RenderSettings
from shotgraph.batch.v1 import batch_pb2_grpc
from shotgraph.render.v1 import render_pb2_grpc

# OpenSCAD is CPU-bound: a long render keeps its message alive with progress acks meanwhile.
RENDER_ACK_WAIT_S = 30.0


async def build(settings: RenderSettings, stack: AsyncExitStack) -> ServiceParts:
    _, js, nats_ready = await open_nats(settings, stack)
    await register_functions(js, [RENDER_SCAD])
    limits = RenderLimits()
    blobs, cache = BlobStore(js), RenderCache(js)
    run = render_job(blobs, cache, limits, sandboxed=settings.render_sandbox)
    cancelled = CancelledBatches(await cancellations(js))
    renders = Consumer(
        service=settings.service,
        stream="WORK",
        durable="render",
        filter_subject=service_work("render"),
        message=JobMessage,
        handler=job_handler(js, run, cancelled),
        # One job per openscad slot: more would only queue here, where other replicas can't
        # take them.
        concurrency=parallelism(),
        ack_wait_s=settings.ack_wait_s or RENDER_ACK_WAIT_S,
        max_deliver=settings.max_deliver,
    )
    # Renders are jobs of the batch service: StartRender submits one, GetRender reads it.
    batch = open_downstream(
        settings, stack, "batch", settings.batch_addr, batch_pb2_grpc.BatchServiceStub
    )
    servicer = RenderServicer(limits, blobs, cache, batch, sandboxed=settings.render_sandbox)

    def register(server: grpc.aio.Server) -> None:
        render_pb2_grpc.add_RenderServiceServicer_to_server(servicer, server)

    app = create_app(
        settings.service, max_body_bytes=settings.max_body_bytes, readiness={"nats": nats_ready}
    )
    return ServiceParts(
        app=app,
        registrars=[register],
        background=[cancelled.run, lambda stopping: renders.run(js, stopping)],
    )
