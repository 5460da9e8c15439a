"""The BatchService gRPC API."""

from __future__ import annotations

import grpc
from google.protobuf import json_format
from nats.js.kv import KeyValue
from opentelemetry import propagate

from libs.blobs import check_digest
from libs.bus.events import BatchCancelled, BatchRetried, BatchSubmitted
from libs.errors import InvalidArgument, NotFound
from libs.pagination import page_size, paginate
from libs.rpc import struct, timestamp
from services.batch.dispatcher import Dispatcher
from services.batch.domain import JobSpec, Priority, order_jobs
from services.batch.events import ProgressEvents, summary
from services.batch.functions import FunctionCatalog
from services.batch.store import BatchRecord, BatchStore, JobRecord
from shotgraph.batch.v1 import batch_pb2, batch_pb2_grpc

__all__ = ["BatchServicer"]

MAX_IDEMPOTENCY_KEY = 200


def _job_message(job: JobRecord, batch_id: str = "", *, with_input: bool = True) -> batch_pb2.Job:
    return batch_pb2.Job(
        id=job.id,
        key=job.key,
        function=job.function,
        state=job.state.value,
        attempts=job.attempts,
        progress=job.progress,
        retry=job.retry,
        input=struct(job.input) if with_input else None,
        output=struct(job.output),
        error=job.error,
        depends_on=job.depends_on,
        worker=job.worker,
        batch_id=batch_id,
        created_at=timestamp(job.created_at),
        started_at=timestamp(job.started_at) if job.started_at else None,
        finished_at=timestamp(job.finished_at) if job.finished_at else None,
    )


def _batch_message(record: BatchRecord) -> batch_pb2.Batch:
    return batch_pb2.Batch(
        id=record.id,
        owner_id=record.owner_id,
        canvas_id=record.canvas_id,
        state=record.state.value,
        priority=record.priority.name.lower(),
        total=record.total,
        counts={state.value: n for state, n in record.counts.items()},
        created_at=timestamp(record.created_at),
        updated_at=timestamp(record.updated_at),
        finished_at=timestamp(record.finished_at) if record.finished_at else None,
    )


def _owner(owner_id: str) -> str:
    if not owner_id:
        raise InvalidArgument("owner_id is required")
    return owner_id


def _job_specs(request: batch_pb2.SubmitBatchRequest) -> list[JobSpec]:
    return [
        JobSpec(
            function=j.function,
            input=json_format.MessageToDict(j.input),
            key=j.key,
            depends_on=tuple(j.depends_on),
        )
        for j in request.jobs
    ]


class BatchServicer(batch_pb2_grpc.BatchServiceServicer):
    def __init__(
        self,
        store: BatchStore,
        catalog: FunctionCatalog,
        dispatcher: Dispatcher,
        events: ProgressEvents,
        cancelled_batches: KeyValue,
    ) -> None:
        self._store = store
        self._cancelled_batches = cancelled_batches
        self._catalog = catalog
        self._dispatcher = dispatcher
        self._events = events

    async def SubmitBatch(
        self, request: batch_pb2.SubmitBatchRequest, context: grpc.aio.ServicerContext
    ) -> batch_pb2.SubmitBatchResponse:
        owner_id = _owner(request.owner_id)
        if len(request.idempotency_key) > MAX_IDEMPOTENCY_KEY:
            raise InvalidArgument(f"idempotency key is longer than {MAX_IDEMPOTENCY_KEY}")
        jobs = order_jobs(_job_specs(request))
        await self._catalog.check(jobs)
        carrier: dict[str, str] = {}
        propagate.inject(carrier)
        record, created = await self._store.create(
            owner_id,
            request.canvas_id,
            jobs,
            priority=Priority.parse(request.priority),
            idempotency_key=request.idempotency_key or None,
            trace_parent=carrier.get("traceparent", ""),
        )
        if created:
            self._dispatcher.wake()
            await self._events.send(
                owner_id, summary(BatchSubmitted, record), msg_id=f"{record.id}:submitted"
            )
        return batch_pb2.SubmitBatchResponse(batch=_batch_message(record), created=created)

    async def GetBatch(
        self, request: batch_pb2.GetBatchRequest, context: grpc.aio.ServicerContext
    ) -> batch_pb2.Batch:
        record = await self._store.get(_owner(request.owner_id), request.batch_id)
        if record is None:
            raise NotFound(f"no batch {request.batch_id}")
        return _batch_message(record)

    async def ListBatches(
        self, request: batch_pb2.ListBatchesRequest, context: grpc.aio.ServicerContext
    ) -> batch_pb2.ListBatchesResponse:
        owner_id = _owner(request.owner_id)
        page, token = await paginate(
            lambda limit, after: self._store.list_batches(owner_id, limit, after),
            request.page_size,
            request.page_token,
        )
        return batch_pb2.ListBatchesResponse(
            batches=[_batch_message(r) for r in page], next_page_token=token
        )

    async def ListJobs(
        self, request: batch_pb2.ListJobsRequest, context: grpc.aio.ServicerContext
    ) -> batch_pb2.ListJobsResponse:
        owner_id = _owner(request.owner_id)
        limit = page_size(request.page_size)
        after = -1
        if request.page_token:
            if not request.page_token.isdigit():
                raise InvalidArgument("page token is not one this API issued")
            after = int(request.page_token)
        if after < 0 and await self._store.get(owner_id, request.batch_id) is None:
            raise NotFound(f"no batch {request.batch_id}")
        rows = await self._store.jobs(owner_id, request.batch_id, limit + 1, after)
        page, more = rows[:limit], len(rows) > limit
        with_input = request.view != batch_pb2.JOB_VIEW_BASIC
        return batch_pb2.ListJobsResponse(
            jobs=[_job_message(job, request.batch_id, with_input=with_input) for _, job in page],
            next_page_token=str(page[-1][0]) if more else "",
        )

    async def GetJob(
        self, request: batch_pb2.GetJobRequest, context: grpc.aio.ServicerContext
    ) -> batch_pb2.Job:
        found = await self._store.job(_owner(request.owner_id), request.job_id)
        if found is None:
            raise NotFound(f"no job {request.job_id}")
        batch_id, job = found
        message = _job_message(job, batch_id)
        for attempt in await self._store.attempts(job.id):
            message.history.append(
                batch_pb2.Attempt(
                    attempt=attempt["attempt"],
                    worker=attempt["worker"],
                    error=attempt["error"],
                    at=timestamp(attempt["at"]),
                )
            )
        return message

    async def CancelBatch(
        self, request: batch_pb2.CancelBatchRequest, context: grpc.aio.ServicerContext
    ) -> batch_pb2.Batch:
        record = await self._store.cancel(_owner(request.owner_id), request.batch_id)
        if record is None:
            raise NotFound(f"no batch {request.batch_id}")
        # Workers check this between steps; a cancelled job still on its subject is dropped.
        await self._cancelled_batches.put(record.id, b"1")
        await self._events.send(
            record.owner_id, summary(BatchCancelled, record), msg_id=f"{record.id}:cancelled"
        )
        return _batch_message(record)

    async def RetryBatch(
        self, request: batch_pb2.RetryBatchRequest, context: grpc.aio.ServicerContext
    ) -> batch_pb2.Batch:
        record = await self._store.retry_failed(_owner(request.owner_id), request.batch_id)
        if record is None:
            raise NotFound(f"no batch {request.batch_id}")
        self._dispatcher.wake()
        # Not deduplicated: each retry is news, and readers tell retries apart by job.retry.
        await self._events.send(record.owner_id, summary(BatchRetried, record), msg_id=None)
        return _batch_message(record)

    async def GetQueues(
        self, request: batch_pb2.GetQueuesRequest, context: grpc.aio.ServicerContext
    ) -> batch_pb2.Queues:
        functions, workers = await self._store.queue_stats()
        return batch_pb2.Queues(
            functions=[batch_pb2.FunctionQueue(**f) for f in functions],
            workers=[batch_pb2.WorkerLoad(**w) for w in workers],
        )

    async def CanReadBlob(
        self, request: batch_pb2.CanReadBlobRequest, context: grpc.aio.ServicerContext
    ) -> batch_pb2.CanReadBlobResponse:
        blob = check_digest(request.sha256)
        readable = await self._store.produced_blob(_owner(request.user_id), blob)
        return batch_pb2.CanReadBlobResponse(readable=readable)
