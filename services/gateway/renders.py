"""``/v1/render/...``: answered by the render service over gRPC."""

from __future__ import annotations

from aiohttp import web

from libs.errors import InvalidArgument
from libs.resilience import Breakers
from libs.web import read_json
from services.gateway.protojson import message_response
from shotgraph.render.v1 import render_pb2, render_pb2_grpc

__all__ = ["Renders"]


class Renders:
    def __init__(self, renders: render_pb2_grpc.RenderServiceStub, breakers: Breakers) -> None:
        self._renders = renders
        self._breakers = breakers

    def add_routes(self, app: web.Application) -> None:
        app.router.add_post("/v1/render/parameters", self.parameters)

    async def parameters(self, request: web.Request) -> web.Response:
        """The customizer form of ``{"source": "<OpenSCAD>"}``."""
        body = await read_json(request)
        source = body.get("source")
        if not isinstance(source, str):
            raise InvalidArgument("'source' must be a string of OpenSCAD")
        call = render_pb2.GetParametersRequest(source=source)
        reply = await self._breakers.call("render", lambda: self._renders.GetParameters(call))
        return message_response(reply)
