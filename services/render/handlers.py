"""The RenderService gRPC API."""

from __future__ import annotations

import asyncio

import grpc
from google.protobuf import json_format

from libs.errors import InvalidArgument
from services.render.parameters import extract_parameters
from services.render.scad import RenderLimits
from shotgraph.render.v1 import render_pb2, render_pb2_grpc

__all__ = ["RenderServicer"]


class RenderServicer(render_pb2_grpc.RenderServiceServicer):
    def __init__(self, limits: RenderLimits) -> None:
        self._limits = limits

    async def GetParameters(
        self, request: render_pb2.GetParametersRequest, context: grpc.aio.ServicerContext
    ) -> render_pb2.GetParametersResponse:
        size = len(request.source.encode())
        if size > self._limits.max_source_bytes:
            raise InvalidArgument(
                f"source is {size} bytes; the limit is {self._limits.max_source_bytes}"
            )
        # Tokenizing a large model takes a while: keep it off the event loop.
        parameters = await asyncio.to_thread(extract_parameters, request.source)
        return render_pb2.GetParametersResponse(
            parameters=[
                json_format.ParseDict(p.to_json(), render_pb2.Parameter()) for p in parameters
            ]
        )
