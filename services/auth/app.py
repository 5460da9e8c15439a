"""Wiring of the auth service: users, keys and the audit log in Postgres, sessions and login
throttling in Redis, revocations announced on NATS, all behind a gRPC API."""

from __future__ import annotations

from contextlib import AsyncExitStack
from pathlib import Path

import grpc

from libs.backends import open_database, open_nats, open_redis
from libs.runner import ServiceParts
from libs.web import create_app
from services.auth.handlers import AuthServicer
from services.auth.passwords import Passwords, hasher_for
from services.auth.settings import AuthSettings
from services.auth.store import AuthStore
from shotgraph.auth.v1 import auth_pb2_grpc

MIGRATIONS = Path(__file__).parent / "migrations"


async def build(settings: AuthSettings, stack: AsyncExitStack) -> ServiceParts:
    pool, database_ready = await open_database(settings, stack, "auth", MIGRATIONS)
    nc, _, nats_ready = await open_nats(settings, stack)
    redis, _ = open_redis(settings, stack)
    passwords = Passwords(hasher_for(settings), settings.password_threads)
    stack.callback(passwords.close)
    await passwords.prepare()
    servicer = AuthServicer(
        AuthStore(pool), settings=settings, redis=redis, nats=nc, passwords=passwords
    )

    def register(server: grpc.aio.Server) -> None:
        auth_pb2_grpc.add_AuthServiceServicer_to_server(servicer, server)

    # Redis is not a readiness condition: without it keys still verify (Postgres), and only
    # sessions answer UNAVAILABLE; an unready auth service would take every request down.
    app = create_app(
        settings.service,
        max_body_bytes=settings.max_body_bytes,
        readiness={"postgres": database_ready, "nats": nats_ready},
    )
    return ServiceParts(app=app, registrars=[register])
