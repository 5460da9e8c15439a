"""Wiring of the canvas service: canvases in Postgres, reads cached in Redis, a gRPC API."""

from __future__ import annotations

from contextlib import AsyncExitStack
from pathlib import Path

import grpc

from libs.backends import open_cache, open_database
from libs.config import Settings
from libs.runner import ServiceParts
from libs.web import create_app
from services.canvas.handlers import CanvasServicer
from services.canvas.store import CanvasStore
from shotgraph.canvas.v1 import canvas_pb2_grpc

MIGRATIONS = Path(__file__).parent / "migrations"


async def build(settings: Settings, stack: AsyncExitStack) -> ServiceParts:
    pool, database_ready = await open_database(settings, stack, "canvas", MIGRATIONS)
    # The cache is an optimisation: its outage degrades reads to Postgres, so it is not a
    # readiness condition (an unready canvas would take the whole feature down instead).
    cache = open_cache(settings, stack, "canvas")
    servicer = CanvasServicer(CanvasStore(pool), cache)

    def register(server: grpc.aio.Server) -> None:
        canvas_pb2_grpc.add_CanvasServiceServicer_to_server(servicer, server)

    app = create_app(
        settings.service,
        max_body_bytes=settings.max_body_bytes,
        readiness={"postgres": database_ready},
    )
    return ServiceParts(app=app, registrars=[register])
