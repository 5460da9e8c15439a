"""``/v1/render/...`` and ``/v1/renders``: OpenSCAD models, their previews and their renders.

The render service owns what a render is: it checks a request (a bad one is a 400 or 422 at
once, not a failed job later), queues it and answers its state. Here a ``Render`` becomes the
API's JSON, and its outputs, blobs, are served by format.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from google.protobuf import json_format

from libs.blobs import BlobStore
from libs.bus.states import JobState
from libs.downstream import Downstream
from libs.errors import Conflict, InvalidArgument, NotFound, Unprocessable
from libs.web import read_json
from services.gateway.auth import IDENTITY
from services.gateway.downloads import blob_response
from services.gateway.protojson import message_from_json, message_response
from shotgraph.render.v1 import render_pb2, render_pb2_grpc

__all__ = ["FORMATS", "Renders", "render_json"]

# A quick preview renders while the browser waits, but not forever: the render service cuts
# OpenSCAD's wall clock to fit inside this.
PREVIEW_DEADLINE_S = 20.0
# Starting a render checks its syntax (bounded at a few seconds) and queues its job.
START_DEADLINE_S = 15.0
FORMATS = ("png", "glb", "3mf", "stl")


def _source(body: dict[str, Any]) -> str:
    source = body.get("source")
    if not isinstance(source, str):
        raise InvalidArgument("'source' must be a string of OpenSCAD")
    return source


def _render_spec(body: dict[str, Any]) -> render_pb2.RenderSpec:
    """The JSON body as a RenderSpec; a field of the wrong shape is a 400 naming it."""
    _source(body)
    return message_from_json(body, render_pb2.RenderSpec(), "a render request")


def render_json(render: render_pb2.Render) -> dict[str, Any]:
    """A render as the API shows it; outputs, colours and cached only once it succeeded."""
    body: dict[str, Any] = {
        "id": render.id,
        "batch_id": render.batch_id,
        "state": render.state,
        "progress": render.progress,
        "formats": list(render.formats),
        "parameters": json_format.MessageToDict(render.parameters),
        "view": json_format.MessageToDict(render.view, preserving_proto_field_name=True),
    }
    if JobState(render.state) is JobState.SUCCEEDED:
        body["outputs"] = {
            fmt: {"blob": render.outputs[fmt], "url": f"/v1/renders/{render.id}/{fmt}"}
            for fmt in render.formats
            if fmt in render.outputs
        }
        body["colours"] = list(render.colours)
        body["cached"] = list(render.cached)
    if render.error:
        body["error"] = render.error
    return body


class Renders:
    def __init__(
        self, render: Downstream[render_pb2_grpc.RenderServiceStub], store: BlobStore
    ) -> None:
        self._render = render
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
        return message_response(await self._render.call(self._render.stub.GetParameters, call))

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
        """Queue a render: 202 with where to follow it; 200 for a repeated Idempotency-Key."""
        call = render_pb2.StartRenderRequest(
            owner_id=request[IDENTITY].user_id,
            spec=_render_spec(await read_json(request)),
            idempotency_key=request.headers.get("Idempotency-Key", ""),
        )
        started: render_pb2.StartRenderResponse = await self._render.call(
            self._render.stub.StartRender, call, deadline_s=START_DEADLINE_S
        )
        return web.json_response(
            render_json(started.render),
            status=202 if started.created else 200,
            headers={"Location": f"/v1/renders/{started.render.id}"},
        )

    async def get(self, request: web.Request) -> web.Response:
        return web.json_response(render_json(await self._get(request)))

    async def output(self, request: web.Request) -> web.Response:
        """One output file: 409 while the render runs, 422 when the model failed to render."""
        fmt = request.match_info["format"]
        if fmt not in FORMATS:
            raise NotFound(f"no such format {fmt!r}; renders come as {', '.join(FORMATS)}")
        render = await self._get(request)
        state = JobState(render.state)
        if not state.is_final:
            raise Conflict(f"the render is {state} ({render.progress}%); try later")
        if state is not JobState.SUCCEEDED:
            raise Unprocessable(render.error or f"the render was {state}")
        if fmt not in render.outputs:
            raise NotFound(f"this render was not asked for {fmt}; it made {list(render.formats)}")
        return await blob_response(
            request, self._store, render.outputs[fmt], filename=f"render.{fmt}"
        )

    async def _get(self, request: web.Request) -> render_pb2.Render:
        """The caller's render; another user's is not found."""
        call = render_pb2.GetRenderRequest(
            owner_id=request[IDENTITY].user_id, render_id=request.match_info["render_id"]
        )
        render: render_pb2.Render = await self._render.call(self._render.stub.GetRender, call)
        return render
