"""The RenderService gRPC API: customizer parameters, quick previews, and renders, which run
as jobs of the batch service."""

from __future__ import annotations

import asyncio
import dataclasses
import time

import grpc
from google.protobuf import json_format

from libs.blobs import BlobStore
from libs.downstream import Downstream
from libs.errors import InvalidArgument, Unavailable
from libs.metrics import RENDER_DURATION
from services.render.cache import CachedRender, RenderCache, engine_version
from services.render.parameters import extract_parameters
from services.render.previews import preview_coloured
from services.render.renders import URGENT, render_idempotency_key, render_job_spec, render_of
from services.render.scad import RenderLimits, check_syntax
from services.render.spec import RenderPlan, check_size, plan_render, spec_input
from shotgraph.batch.v1 import batch_pb2, batch_pb2_grpc
from shotgraph.render.v1 import render_pb2, render_pb2_grpc

__all__ = ["RenderServicer"]

PNG = "image/png"
# Kept back from the caller's deadline to store the PNG and answer before it expires.
DEADLINE_MARGIN_S = 0.5


class RenderServicer(render_pb2_grpc.RenderServiceServicer):
    def __init__(
        self,
        limits: RenderLimits,
        blobs: BlobStore,
        cache: RenderCache,
        batch: Downstream[batch_pb2_grpc.BatchServiceStub],
        *,
        sandboxed: bool,
    ) -> None:
        self._limits = limits
        self._blobs = blobs
        self._cache = cache
        self._batch = batch
        self._sandboxed = sandboxed

    async def GetParameters(
        self, request: render_pb2.GetParametersRequest, context: grpc.aio.ServicerContext
    ) -> render_pb2.GetParametersResponse:
        check_size(request.source)
        # Tokenizing a large model takes a while: keep it off the event loop.
        parameters = await asyncio.to_thread(extract_parameters, request.source)
        return render_pb2.GetParametersResponse(
            parameters=[
                json_format.ParseDict(p.to_json(), render_pb2.Parameter()) for p in parameters
            ]
        )

    async def Preview(
        self, request: render_pb2.RenderSpec, context: grpc.aio.ServicerContext
    ) -> render_pb2.RenderedBlob:
        plan = await self._plan(request)
        key = plan.cache_key("preview", await engine_version())
        hit = await self._cache.get(key, "preview")
        if hit is not None:
            return render_pb2.RenderedBlob(
                blob=hit.blob, content_type=PNG, cached=True, seconds=hit.seconds
            )
        # The whole preview (CSG export, split, draw) fits in what the caller waits for.
        limits = self._within_deadline(context)
        started = time.perf_counter()
        # A model that does not render is a ScadError: the 422 the caller sees, with its line.
        # Drawn as the full render draws its PNG, so both show the innermost colour.
        png = await preview_coloured(
            plan.source,
            defines=plan.defines(),
            view=plan.view,
            limits=limits,
            sandboxed=self._sandboxed,
        )
        seconds = time.perf_counter() - started
        RENDER_DURATION.labels("preview").observe(seconds)
        blob = await self._blobs.put(png, PNG)
        await self._cache.put(key, CachedRender(blob, PNG, seconds))
        return render_pb2.RenderedBlob(blob=blob, content_type=PNG, seconds=seconds)

    async def StartRender(
        self, request: render_pb2.StartRenderRequest, context: grpc.aio.ServicerContext
    ) -> render_pb2.StartRenderResponse:
        if not request.owner_id:
            raise InvalidArgument("owner_id is required")
        # A bad request is a 400 or 422 now, not a failed job later.
        plan = await self._plan(request.spec)
        await check_syntax(plan.source, limits=self._limits, sandboxed=self._sandboxed)
        submitted: batch_pb2.SubmitBatchResponse = await self._batch.call(
            self._batch.stub.SubmitBatch,
            batch_pb2.SubmitBatchRequest(
                owner_id=request.owner_id,
                jobs=[render_job_spec(plan)],
                idempotency_key=render_idempotency_key(request.idempotency_key),
                priority=URGENT,
            ),
        )
        listed: batch_pb2.ListJobsResponse = await self._batch.call(
            self._batch.stub.ListJobs,
            batch_pb2.ListJobsRequest(
                owner_id=request.owner_id, batch_id=submitted.batch.id, page_size=1
            ),
        )
        return render_pb2.StartRenderResponse(
            render=render_of(listed.jobs[0]), created=submitted.created
        )

    async def GetRender(
        self, request: render_pb2.GetRenderRequest, context: grpc.aio.ServicerContext
    ) -> render_pb2.Render:
        job: batch_pb2.Job = await self._batch.call(
            self._batch.stub.GetJob,
            batch_pb2.GetJobRequest(owner_id=request.owner_id, job_id=request.render_id),
        )
        return render_of(job)

    async def _plan(self, request: render_pb2.RenderSpec) -> RenderPlan:
        return await plan_render(spec_input(request))

    def _within_deadline(self, context: grpc.aio.ServicerContext) -> RenderLimits:
        """The render limits, with the wall clock cut to what the caller will wait for."""
        remaining = context.time_remaining()
        if remaining is None:
            return self._limits
        timeout = min(self._limits.timeout_s, remaining - DEADLINE_MARGIN_S)
        if timeout <= 0:
            raise Unavailable("the deadline leaves no time to render")
        return dataclasses.replace(self._limits, timeout_s=timeout)
