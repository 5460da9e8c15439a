"""The JSON API for canvases and batches, answered by the canvas and batch services over gRPC."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from google.protobuf import json_format
from google.protobuf.message import Message

from libs.errors import InvalidArgument
from libs.resilience import Breakers
from libs.web import read_json
from services.gateway.auth import IDENTITY
from shotgraph.batch.v1 import batch_pb2, batch_pb2_grpc
from shotgraph.canvas.v1 import canvas_pb2, canvas_pb2_grpc

__all__ = ["CanvasesAndBatches"]


def _json(message: Message, status: int = 200) -> web.Response:
    body = json_format.MessageToDict(
        message, preserving_proto_field_name=True, always_print_fields_with_no_presence=True
    )
    return web.json_response(body, status=status)


def _query_int(request: web.Request, name: str) -> int:
    raw = request.query.get(name, "0")
    if not raw.isdigit():
        raise InvalidArgument(f"query parameter {name!r} must be a non-negative integer")
    return int(raw)


def _job_specs(body: dict[str, Any]) -> list[batch_pb2.JobSpec]:
    jobs = body.get("jobs")
    if not isinstance(jobs, list):
        raise InvalidArgument("'jobs' must be a list")
    specs = []
    for index, job in enumerate(jobs):
        if not isinstance(job, dict) or not isinstance(job.get("function"), str):
            raise InvalidArgument(f"jobs[{index}] needs a string 'function'")
        job_input = job.get("input", {})
        if not isinstance(job_input, dict):
            raise InvalidArgument(f"jobs[{index}].input must be an object")
        spec = batch_pb2.JobSpec(function=job["function"])
        spec.input.update(job_input)
        specs.append(spec)
    return specs


class CanvasesAndBatches:
    def __init__(
        self,
        canvases: canvas_pb2_grpc.CanvasServiceStub,
        batches: batch_pb2_grpc.BatchServiceStub,
        breakers: Breakers,
    ) -> None:
        self._canvases = canvases
        self._batches = batches
        self._breakers = breakers

    def add_routes(self, app: web.Application) -> None:
        app.router.add_post("/v1/canvases", self.create_canvas)
        app.router.add_get("/v1/canvases", self.list_canvases)
        app.router.add_get("/v1/canvases/{canvas_id}", self.get_canvas)
        app.router.add_post("/v1/batches", self.submit_batch)
        app.router.add_get("/v1/batches/{batch_id}", self.get_batch)

    async def create_canvas(self, request: web.Request) -> web.Response:
        body = await read_json(request)
        name = body.get("name")
        if not isinstance(name, str):
            raise InvalidArgument("'name' must be a string")
        call = canvas_pb2.CreateCanvasRequest(owner_id=request[IDENTITY].user_id, name=name)
        canvas = await self._breakers.call("canvas", lambda: self._canvases.CreateCanvas(call))
        return _json(canvas, status=201)

    async def get_canvas(self, request: web.Request) -> web.Response:
        call = canvas_pb2.GetCanvasRequest(
            owner_id=request[IDENTITY].user_id, canvas_id=request.match_info["canvas_id"]
        )
        canvas = await self._breakers.call("canvas", lambda: self._canvases.GetCanvas(call))
        return _json(canvas)

    async def list_canvases(self, request: web.Request) -> web.Response:
        call = canvas_pb2.ListCanvasesRequest(
            owner_id=request[IDENTITY].user_id,
            page_size=_query_int(request, "limit"),
            page_token=request.query.get("cursor", ""),
        )
        page = await self._breakers.call("canvas", lambda: self._canvases.ListCanvases(call))
        return _json(page)

    async def submit_batch(self, request: web.Request) -> web.Response:
        body = await read_json(request)
        canvas_id = body.get("canvas_id", "")
        if not isinstance(canvas_id, str):
            raise InvalidArgument("'canvas_id' must be a string")
        call = batch_pb2.SubmitBatchRequest(
            owner_id=request[IDENTITY].user_id, canvas_id=canvas_id, jobs=_job_specs(body)
        )
        batch = await self._breakers.call("batch", lambda: self._batches.SubmitBatch(call))
        return _json(batch, status=202)

    async def get_batch(self, request: web.Request) -> web.Response:
        call = batch_pb2.GetBatchRequest(
            owner_id=request[IDENTITY].user_id, batch_id=request.match_info["batch_id"]
        )
        batch = await self._breakers.call("batch", lambda: self._batches.GetBatch(call))
        return _json(batch)
