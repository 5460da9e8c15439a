"""The BatchService gRPC API: accept a batch, queue its jobs on JetStream, report its state."""

from __future__ import annotations

import grpc
from google.protobuf import json_format
from nats.js import JetStreamContext

from libs.bus import Envelope, publish
from libs.errors import InvalidArgument, NotFound
from libs.jobs import JOB_MESSAGE
from libs.rpc import struct, timestamp
from services.batch.domain import JobSpec, validate_jobs, work_subject
from services.batch.events import publish_user_event
from services.batch.store import BatchRecord, BatchStore, JobRecord
from shotgraph.batch.v1 import batch_pb2, batch_pb2_grpc

__all__ = ["BatchServicer", "to_message"]


def _job_message(job: JobRecord) -> batch_pb2.Job:
    return batch_pb2.Job(
        id=job.id,
        function=job.function,
        state=job.state.value,
        attempts=job.attempts,
        progress=job.progress,
        input=struct(job.input),
        output=struct(job.output),
        error=job.error,
    )


def to_message(record: BatchRecord) -> batch_pb2.Batch:
    return batch_pb2.Batch(
        id=record.id,
        owner_id=record.owner_id,
        canvas_id=record.canvas_id,
        state=record.state.value,
        jobs=[_job_message(j) for j in record.jobs],
        created_at=timestamp(record.created_at),
        updated_at=timestamp(record.updated_at),
    )


class BatchServicer(batch_pb2_grpc.BatchServiceServicer):
    def __init__(self, store: BatchStore, js: JetStreamContext) -> None:
        self._store = store
        self._js = js

    async def SubmitBatch(
        self, request: batch_pb2.SubmitBatchRequest, context: grpc.aio.ServicerContext
    ) -> batch_pb2.Batch:
        if not request.owner_id:
            raise InvalidArgument("owner_id is required")
        specs = [
            JobSpec(function=j.function, input=json_format.MessageToDict(j.input))
            for j in request.jobs
        ]
        validate_jobs(specs)
        record = await self._store.create(request.owner_id, request.canvas_id, specs)
        for job in record.jobs:
            payload = {
                "job_id": job.id,
                "batch_id": record.id,
                "owner_id": record.owner_id,
                "function": job.function,
                "input": job.input,
            }
            # The job id as Nats-Msg-Id: a resubmitted publish is dropped by JetStream.
            await publish(
                self._js, work_subject(job.function), Envelope(JOB_MESSAGE, payload), msg_id=job.id
            )
        await self._store.mark_queued([j.id for j in record.jobs])
        await publish_user_event(
            self._js,
            record.owner_id,
            "batch.submitted",
            {"batch_id": record.id, "jobs": len(record.jobs)},
            msg_id=f"{record.id}:submitted",
        )
        refreshed = await self._store.get(record.owner_id, record.id)
        assert refreshed is not None
        return to_message(refreshed)

    async def GetBatch(
        self, request: batch_pb2.GetBatchRequest, context: grpc.aio.ServicerContext
    ) -> batch_pb2.Batch:
        record = await self._store.get(request.owner_id, request.batch_id)
        if record is None:
            raise NotFound(f"no batch {request.batch_id}")
        return to_message(record)
