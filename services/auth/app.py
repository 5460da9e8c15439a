"""Wiring of the auth service: Postgres-backed keys behind a gRPC API."""

from __future__ import annotations

from contextlib import AsyncExitStack
from pathlib import Path

import grpc

from libs.backends import open_database
from libs.runner import ServiceParts
from libs.web import create_app
from services.auth.handlers import AuthServicer
from services.auth.settings import AuthSettings
from services.auth.store import AuthStore
from shotgraph.auth.v1 import auth_pb2_grpc

MIGRATIONS = Path(__file__).parent / "migrations"


async def build(settings: AuthSettings, stack: AsyncExitStack) -> ServiceParts:
    pool, database_ready = await open_database(settings, stack, "auth", MIGRATIONS)
    servicer = AuthServicer(AuthStore(pool))

    def register(server: grpc.aio.Server) -> None:
        auth_pb2_grpc.add_AuthServiceServicer_to_server(servicer, server)

    app = create_app(
        settings.service,
        max_body_bytes=settings.max_body_bytes,
        readiness={"postgres": database_ready},
    )
    return ServiceParts(app=app, registrars=[register])
