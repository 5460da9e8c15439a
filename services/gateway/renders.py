"""``/v1/render/...`` and ``/v1/renders``: OpenSCAD models, their previews and their renders.

A render is one ``render.scad`` job in a batch of its own: the render service checks the
request first (values, formats, view, syntax), so a bad one is a 400 or 422 at once, not a
failed job later. Its id is the job's id; its outputs are blobs, served here by format.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from google.protobuf import json_format

from libs.blobs import BlobStore
from libs.downstream import Downstream
from libs.errors import Conflict, InvalidArgument, NotFound, Unprocessable
from libs.web import read_json
from services.gateway.auth import IDENTITY
from services.gateway.downloads import blob_response
from services.gateway.protojson import message_response
from shotgraph.batch.v1 import batch_pb2, batch_pb2_grpc
from shotgraph.render.v1 import render_pb2, render_pb2_grpc

__all__ = ["Renders"]

RENDER_FUNCTION = "render.scad"
# A quick preview renders while the browser waits, but not forever: the render service cuts
# OpenSCAD's wall clock to fit inside this.
PREVIEW_DEADLINE_S = 20.0
# The syntax check is bounded at a few seconds on the render service.
CHECK_DEADLINE_S = 10.0
_FORMATS = ("png", "glb", "3mf", "stl")
_DONE_STATES = frozenset({"succeeded", "failed", "cancelled", "skipped"})


def _source(body: dict[str, Any]) -> str:
    source = body.get("source")
    if not isinstance(source, str):
        raise InvalidArgument("'source' must be a string of OpenSCAD")
    return source


def _render_spec(body: dict[str, Any]) -> render_pb2.RenderSpec:
    """The JSON body as a RenderSpec; a field of the wrong shape is a 400 naming it."""
    _source(body)
    try:
        return json_format.ParseDict(body, render_pb2.RenderSpec())
    except json_format.ParseError as exc:
        raise InvalidArgument(f"not a render request: {exc}") from exc


def _render_view(job: batch_pb2.Job) -> dict[str, Any]:
    """A render.scad job as the API shows a render."""
    job_input = json_format.MessageToDict(job.input)
    output = json_format.MessageToDict(job.output)
    formats = job_input.get("formats") or ["png", "stl"]
    render: dict[str, Any] = {
        "id": job.id,
        "batch_id": job.batch_id,
        "state": job.state,
        "progress": job.progress,
        "formats": formats,
        "parameters": job_input.get("parameters", {}),
        "view": job_input.get("view", {}),
    }
    if job.state == "succeeded":
        render["outputs"] = {
            fmt: {"blob": output[fmt], "url": f"/v1/renders/{job.id}/{fmt}"}
            for fmt in formats
            if isinstance(output.get(fmt), str)
        }
        render["colours"] = output.get("colours", [])
        render["cached"] = output.get("cached", [])
    if job.error:
        render["error"] = job.error
    return render


class Renders:
    def __init__(
        self,
        render: Downstream[render_pb2_grpc.RenderServiceStub],
        batch: Downstream[batch_pb2_grpc.BatchServiceStub],
        store: BlobStore,
    ) -> None:
        self._render = render
        self._batch = batch
        self._store = store

    def add_routes(self, app: web.Application) -> None:
        app.router.add_post("/v1/render/parameters", self.parameters)
        app.router.add_post("/v1/render/preview", self.preview)
        app.router.add_post("/v1/renders", self.start)
        app.router.add_get("/v1/renders/{render_id}", self.get)
        app.router.add_get("/v1/renders/{render_id}/{format}", self.output)

    async def parameters(self, request: web.Request) -> web.Response:
        """The customizer form of ``{"source": "<OpenSCAD>"}``."""
        call = render_pb2.GetParametersRequest(source=_source(await read_json(request)))
        reply = await self._render.call(self._render.stub.GetParameters, call)
        return message_response(reply)

    async def preview(self, request: web.Request) -> web.Response:
        """OpenSCAD's preview of the model as a PNG, while the caller waits."""
        spec = _render_spec(await read_json(request))
        reply: render_pb2.RenderedBlob = await self._render.call(
            self._render.stub.Preview, spec, deadline_s=PREVIEW_DEADLINE_S
        )
        response = await blob_response(request, self._store, reply.blob)
        response.headers["X-Render-Cache"] = "hit" if reply.cached else "miss"
        return response

    async def start(self, request: web.Request) -> web.Response:
        """Check the render, then queue it: 202 with where to follow it."""
        spec = _render_spec(await read_json(request))
        checked: render_pb2.CheckRenderResponse = await self._render.call(
            self._render.stub.CheckRender, spec, deadline_s=CHECK_DEADLINE_S
        )
        job = batch_pb2.JobSpec(function=RENDER_FUNCTION, key="render")
        job.input.CopyFrom(checked.input)
        call = batch_pb2.SubmitBatchRequest(
            owner_id=request[IDENTITY].user_id,
            jobs=[job],
            idempotency_key=request.headers.get("Idempotency-Key", ""),
            priority="urgent",  # someone is looking at the screen, waiting for it
        )
        submitted = await self._batch.call(self._batch.stub.SubmitBatch, call)
        listed = batch_pb2.ListJobsRequest(
            owner_id=call.owner_id, batch_id=submitted.batch.id, page_size=1
        )
        jobs = await self._batch.call(self._batch.stub.ListJobs, listed)
        render = _render_view(jobs.jobs[0])
        location = f"/v1/renders/{render['id']}"
        return web.json_response(
            render, status=202 if submitted.created else 200, headers={"Location": location}
        )

    async def get(self, request: web.Request) -> web.Response:
        return web.json_response(_render_view(await self._job(request)))

    async def output(self, request: web.Request) -> web.Response:
        """One output file: 409 while the render runs, 422 when the model failed to render."""
        fmt = request.match_info["format"]
        if fmt not in _FORMATS:
            raise NotFound(f"no such format {fmt!r}; renders come as {', '.join(_FORMATS)}")
        render = _render_view(await self._job(request))
        if render["state"] not in _DONE_STATES:
            raise Conflict(f"the render is {render['state']} ({render['progress']}%); try later")
        if render["state"] != "succeeded":
            raise Unprocessable(render.get("error") or f"the render was {render['state']}")
        if fmt not in render["outputs"]:
            raise NotFound(f"this render was not asked for {fmt}; it made {render['formats']}")
        digest = render["outputs"][fmt]["blob"]
        return await blob_response(request, self._store, digest, filename=f"render.{fmt}")

    async def _job(self, request: web.Request) -> batch_pb2.Job:
        """The render's job; another user's, or a job that is no render, is not found."""
        render_id = request.match_info["render_id"]
        call = batch_pb2.GetJobRequest(owner_id=request[IDENTITY].user_id, job_id=render_id)
        job: batch_pb2.Job = await self._batch.call(self._batch.stub.GetJob, call)
        if job.function != RENDER_FUNCTION:
            raise NotFound(f"no render {render_id!r}")
        return job
