"""``/v1/batches``, ``/v1/jobs`` and ``/v1/queues``: answered by the batch service over gRPC."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from libs.downstream import Downstream
from libs.errors import InvalidArgument
from libs.web import read_json
from services.gateway.auth import IDENTITY
from services.gateway.blob_access import BlobAccess
from services.gateway.protojson import message_response, query_int
from shotgraph.batch.v1 import batch_pb2, batch_pb2_grpc

__all__ = ["Batches"]


def _strings(value: Any, where: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InvalidArgument(f"{where} must be a list of strings")
    return value


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
        key = job.get("key", "")
        if not isinstance(key, str):
            raise InvalidArgument(f"jobs[{index}].key must be a string")
        spec = batch_pb2.JobSpec(
            function=job["function"],
            key=key,
            depends_on=_strings(job.get("depends_on", []), f"jobs[{index}].depends_on"),
        )
        spec.input.update(job_input)
        specs.append(spec)
    return specs


def _no_fields(body: dict[str, Any]) -> None:
    """A body is optional where a route takes no fields, and then must be ``{}``."""
    if body:
        raise InvalidArgument(f"this request takes no fields, but was sent {sorted(body)}")


class Batches:
    def __init__(
        self, batch: Downstream[batch_pb2_grpc.BatchServiceStub], access: BlobAccess
    ) -> None:
        self._batch = batch
        self._access = access  # jobs may process only blobs their submitter may read

    def add_routes(self, app: web.Application) -> None:
        app.router.add_post("/v1/batches", self.submit)
        app.router.add_get("/v1/batches", self.list)
        app.router.add_get("/v1/batches/{batch_id}", self.get)
        app.router.add_get("/v1/batches/{batch_id}/jobs", self.jobs)
        app.router.add_post("/v1/batches/{batch_id}/cancel", self.cancel)
        app.router.add_post("/v1/batches/{batch_id}/retry", self.retry)
        app.router.add_get("/v1/jobs/{job_id}", self.job)
        app.router.add_get("/v1/queues", self.queues)

    async def submit(self, request: web.Request) -> web.Response:
        """202 for a new batch; 200 with the first batch when the Idempotency-Key was seen."""
        body = await read_json(request)
        canvas_id = body.get("canvas_id", "")
        priority = body.get("priority", "normal")
        key = request.headers.get("Idempotency-Key", body.get("idempotency_key", ""))
        if not all(isinstance(v, str) for v in (canvas_id, priority, key)):
            raise InvalidArgument("canvas_id, priority and idempotency_key must be strings")
        jobs = _job_specs(body)
        await self._access.require_all(
            request[IDENTITY].user_id, [job.get("input") for job in body["jobs"]], "a job's input"
        )
        call = batch_pb2.SubmitBatchRequest(
            owner_id=request[IDENTITY].user_id,
            canvas_id=canvas_id,
            jobs=jobs,
            idempotency_key=key,
            priority=priority,
        )
        reply = await self._batch.call(self._batch.stub.SubmitBatch, call)
        return message_response(reply.batch, status=202 if reply.created else 200)

    async def get(self, request: web.Request) -> web.Response:
        call = batch_pb2.GetBatchRequest(
            owner_id=request[IDENTITY].user_id, batch_id=request.match_info["batch_id"]
        )
        return message_response(await self._batch.call(self._batch.stub.GetBatch, call))

    async def list(self, request: web.Request) -> web.Response:
        call = batch_pb2.ListBatchesRequest(
            owner_id=request[IDENTITY].user_id,
            page_size=query_int(request, "limit"),
            page_token=request.query.get("cursor", ""),
        )
        return message_response(await self._batch.call(self._batch.stub.ListBatches, call))

    async def jobs(self, request: web.Request) -> web.Response:
        call = batch_pb2.ListJobsRequest(
            owner_id=request[IDENTITY].user_id,
            batch_id=request.match_info["batch_id"],
            page_size=query_int(request, "limit"),
            page_token=request.query.get("cursor", ""),
        )
        return message_response(await self._batch.call(self._batch.stub.ListJobs, call))

    async def job(self, request: web.Request) -> web.Response:
        call = batch_pb2.GetJobRequest(
            owner_id=request[IDENTITY].user_id, job_id=request.match_info["job_id"]
        )
        return message_response(await self._batch.call(self._batch.stub.GetJob, call))

    async def cancel(self, request: web.Request) -> web.Response:
        _no_fields(await read_json(request, optional=True))
        call = batch_pb2.CancelBatchRequest(
            owner_id=request[IDENTITY].user_id, batch_id=request.match_info["batch_id"]
        )
        return message_response(await self._batch.call(self._batch.stub.CancelBatch, call))

    async def retry(self, request: web.Request) -> web.Response:
        _no_fields(await read_json(request, optional=True))
        call = batch_pb2.RetryBatchRequest(
            owner_id=request[IDENTITY].user_id, batch_id=request.match_info["batch_id"]
        )
        return message_response(await self._batch.call(self._batch.stub.RetryBatch, call))

    async def queues(self, request: web.Request) -> web.Response:
        return message_response(
            await self._batch.call(self._batch.stub.GetQueues, batch_pb2.GetQueuesRequest())
        )
