"""``/v1/canvases``: answered by the canvas service over gRPC."""

from __future__ import annotations

from aiohttp import web

from libs.errors import InvalidArgument
from libs.resilience import Breakers
from libs.web import read_json
from services.gateway.auth import IDENTITY
from services.gateway.protojson import message_response, query_int
from shotgraph.canvas.v1 import canvas_pb2, canvas_pb2_grpc

__all__ = ["Canvases"]


class Canvases:
    def __init__(self, canvases: canvas_pb2_grpc.CanvasServiceStub, breakers: Breakers) -> None:
        self._canvases = canvases
        self._breakers = breakers

    def add_routes(self, app: web.Application) -> None:
        app.router.add_post("/v1/canvases", self.create)
        app.router.add_get("/v1/canvases", self.list)
        app.router.add_get("/v1/canvases/{canvas_id}", self.get)

    async def create(self, request: web.Request) -> web.Response:
        body = await read_json(request)
        name = body.get("name")
        if not isinstance(name, str):
            raise InvalidArgument("'name' must be a string")
        call = canvas_pb2.CreateCanvasRequest(owner_id=request[IDENTITY].user_id, name=name)
        canvas = await self._breakers.call("canvas", lambda: self._canvases.CreateCanvas(call))
        return message_response(canvas, status=201)

    async def get(self, request: web.Request) -> web.Response:
        call = canvas_pb2.GetCanvasRequest(
            owner_id=request[IDENTITY].user_id, canvas_id=request.match_info["canvas_id"]
        )
        canvas = await self._breakers.call("canvas", lambda: self._canvases.GetCanvas(call))
        return message_response(canvas)

    async def list(self, request: web.Request) -> web.Response:
        call = canvas_pb2.ListCanvasesRequest(
            owner_id=request[IDENTITY].user_id,
            page_size=query_int(request, "limit"),
            page_token=request.query.get("cursor", ""),
        )
        page = await self._breakers.call("canvas", lambda: self._canvases.ListCanvases(call))
        return message_response(page)
