"""Wiring of the batch service: gRPC API, the Postgres queue, its dispatcher, results, events."""

from __future__ import annotations

from contextlib import AsyncExitStack
from pathlib import Path

import grpc

from libs.backends import open_database, open_nats
from libs.bus.bulk import BulkConsumer
from libs.bus.subjects import ALL_RESULTS
from libs.bus.work import JobReport
from libs.jobs import cancellations
from libs.runner import ServiceParts
from libs.web import create_app
from services.batch.deadletters import watch_dead_letters
from services.batch.dispatcher import Dispatcher
from services.batch.events import ProgressEvents
from services.batch.functions import FunctionCatalog
from services.batch.handlers import BatchServicer
from services.batch.queues import sample_queues
from services.batch.results import results_handler
from services.batch.settings import BatchSettings
from services.batch.store import BatchStore
from shotgraph.batch.v1 import batch_pb2_grpc

MIGRATIONS = Path(__file__).parent / "migrations"


async def build(settings: BatchSettings, stack: AsyncExitStack) -> ServiceParts:
    pool, database_ready = await open_database(settings, stack, "batch", MIGRATIONS)
    _, js, nats_ready = await open_nats(settings, stack)
    store = BatchStore(pool)
    events = ProgressEvents(js)
    dispatcher = Dispatcher(store, js, window=settings.dispatch_window)
    servicer = BatchServicer(
        store, FunctionCatalog(js), dispatcher, events, await cancellations(js)
    )
    results = BulkConsumer(
        service=settings.service,
        stream="RESULTS",
        durable="batch-results",
        filter_subject=ALL_RESULTS,
        message=JobReport,
        handler=results_handler(store, events, dispatcher.wake),
    )

    def register(server: grpc.aio.Server) -> None:
        batch_pb2_grpc.add_BatchServiceServicer_to_server(servicer, server)

    app = create_app(
        settings.service,
        max_body_bytes=settings.max_body_bytes,
        readiness={"postgres": database_ready, "nats": nats_ready},
    )
    return ServiceParts(
        app=app,
        registrars=[register],
        background=[
            dispatcher.run,
            events.run,
            lambda stopping: results.run(js, stopping),
            lambda stopping: watch_dead_letters(js, store, events, stopping),
            lambda stopping: sample_queues(store, stopping),
        ],
    )
