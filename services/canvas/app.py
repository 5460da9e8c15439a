"""Wiring of the canvas service: canvases in Postgres, reads cached in Redis and kept fresh by
``canvas.changed`` events on NATS, a gRPC API, and executions following their batches' events."""

from __future__ import annotations

from contextlib import AsyncExitStack
from pathlib import Path

import grpc

from libs.backends import open_cache, open_database, open_downstream, open_nats
from libs.runner import ServiceParts
from libs.web import create_app
from services.canvas.cache import CanvasCache
from services.canvas.execution import Executions
from services.canvas.handlers import CanvasServicer
from services.canvas.kinds import DEFAULT_TYPES
from services.canvas.results import ResultStore
from services.canvas.settings import CanvasSettings
from services.canvas.store import CanvasStore
from services.canvas.tracking import ExecutionTracker
from shotgraph.batch.v1 import batch_pb2_grpc
from shotgraph.canvas.v1 import canvas_pb2_grpc

MIGRATIONS = Path(__file__).parent / "migrations"
# Entries are kept fresh by their writers and by canvas.changed events; the lifetime only
# bounds how long a canvas could stay stale if both failed at once. At 60 s, canvases open for
# a minute without a save were read from Postgres again (in the Locust run, most misses).
CACHE_TTL_S = 600


async def build(settings: CanvasSettings, stack: AsyncExitStack) -> ServiceParts:
    pool, database_ready = await open_database(settings, stack, "canvas", MIGRATIONS)
    nc, js, nats_ready = await open_nats(settings, stack)
    store = CanvasStore(pool)
    # The cache is an optimisation: its outage degrades reads to Postgres, so it is not a
    # readiness condition (an unready canvas would take the whole feature down instead).
    cache = CanvasCache(open_cache(settings, stack, "canvas", CACHE_TTL_S), store, nc)
    await cache.subscribe()  # ends with the connection, which the stack drains
    batch = open_downstream(
        settings, stack, "batch", settings.batch_addr, batch_pb2_grpc.BatchServiceStub
    )
    registry = DEFAULT_TYPES
    results = ResultStore(pool)
    executions = Executions(results, batch, js, registry=registry)
    tracker = ExecutionTracker(results, store, batch, js, registry)
    batch_events = tracker.consumer()
    servicer = CanvasServicer(store, cache, executions, registry=registry)

    def register(server: grpc.aio.Server) -> None:
        canvas_pb2_grpc.add_CanvasServiceServicer_to_server(servicer, server)

    app = create_app(
        settings.service,
        max_body_bytes=settings.max_body_bytes,
        readiness={"postgres": database_ready, "nats": nats_ready},
    )
    return ServiceParts(
        app=app,
        registrars=[register],
        background=[tracker.run, lambda stopping: batch_events.run(js, stopping)],
    )
