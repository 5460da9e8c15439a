"""Wiring of the batch service: gRPC API, Postgres state, JetStream work out and results in."""

from __future__ import annotations

from contextlib import AsyncExitStack
from pathlib import Path

import grpc

from libs.backends import open_database, open_nats
from libs.bus import Consumer
from libs.config import Settings
from libs.runner import ServiceParts
from libs.web import create_app
from services.batch.handlers import BatchServicer
from services.batch.results import result_handler
from services.batch.store import BatchStore
from shotgraph.batch.v1 import batch_pb2_grpc

MIGRATIONS = Path(__file__).parent / "migrations"


async def build(settings: Settings, stack: AsyncExitStack) -> ServiceParts:
    pool, database_ready = await open_database(settings, stack, "batch", MIGRATIONS)
    _, js, nats_ready = await open_nats(settings, stack)
    store = BatchStore(pool)
    servicer = BatchServicer(store, js)
    results = Consumer(
        service=settings.service,
        stream="RESULTS",
        durable="batch-results",
        filter_subject="job.result.>",
        handler=result_handler(store, js),
        concurrency=settings.worker_concurrency,
    )

    def register(server: grpc.aio.Server) -> None:
        batch_pb2_grpc.add_BatchServiceServicer_to_server(servicer, server)

    app = create_app(
        settings.service,
        max_body_bytes=settings.max_body_bytes,
        readiness={"postgres": database_ready, "nats": nats_ready},
    )
    return ServiceParts(
        app=app, registrars=[register], background=[lambda stopping: results.run(js, stopping)]
    )
