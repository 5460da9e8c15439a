"""Wiring of the render service: OpenSCAD jobs from ``work.render.>`` into the blob store."""

from __future__ import annotations

from contextlib import AsyncExitStack
from typing import Any

import grpc

from libs.backends import open_nats
from libs.blobs import BlobStore
from libs.bus import Consumer, PermanentError
from libs.config import Settings
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
from services.render.handlers import RenderServicer
from services.render.scad import RenderLimits, RenderTimeout, ScadError, render_scad
from shotgraph.render.v1 import render_pb2_grpc

# OpenSCAD is CPU-bound: a long render keeps its message alive with progress acks meanwhile.
RENDER_ACK_WAIT_S = 30.0

RENDER_SCAD = FunctionSpec(
    name="render.scad",
    description="Render OpenSCAD source to a coloured PNG preview and an STL mesh.",
    input_schema={
        "type": "object",
        "required": ["source"],
        "properties": {
            "source": {
                "type": "string",
                "minLength": 1,
                "maxLength": RenderLimits().max_source_bytes,
            },
        },
    },
)


def render_job(blobs: BlobStore, limits: RenderLimits, *, sandboxed: bool) -> JobFunction:
    async def run(job_input: dict[str, Any], context: JobContext) -> dict[str, Any]:
        source = job_input.get("source")
        if not isinstance(source, str):
            raise PermanentError("render.scad needs a string 'source'")
        await context.check_cancelled()
        try:
            output = await render_scad(source, limits=limits, sandboxed=sandboxed)
        except (ScadError, RenderTimeout) as exc:
            raise PermanentError(str(exc)) from exc
        return {
            "png": await blobs.put(output.png, "image/png"),
            "stl": await blobs.put(output.stl, "model/stl"),
        }

    return run


async def build(settings: Settings, stack: AsyncExitStack) -> ServiceParts:
    _, js, nats_ready = await open_nats(settings, stack)
    await register_functions(js, [RENDER_SCAD])
    limits = RenderLimits()
    run = render_job(BlobStore(js), limits, sandboxed=settings.render_sandbox)
    cancelled = CancelledBatches(await cancellations(js))
    renders = Consumer(
        service=settings.service,
        stream="WORK",
        durable="render",
        filter_subject="work.render.>",
        handler=job_handler(js, run, cancelled),
        concurrency=settings.worker_concurrency,
        ack_wait_s=settings.ack_wait_s or RENDER_ACK_WAIT_S,
        max_deliver=settings.max_deliver,
    )
    servicer = RenderServicer(limits)

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
