"""Wiring of the fanout service: authenticated SSE streams of each user's events."""

from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack

from aiohttp import web

from libs.backends import open_downstream, open_nats
from libs.identity import KeyVerifier, presented_key
from libs.runner import ServiceParts
from libs.web import create_app
from services.fanout.settings import FanoutSettings
from services.fanout.stream import stream_events
from shotgraph.auth.v1 import auth_pb2_grpc


async def build(settings: FanoutSettings, stack: AsyncExitStack) -> ServiceParts:
    _, js, nats_ready = await open_nats(settings, stack)
    auth = open_downstream(
        settings, stack, "auth", settings.auth_addr, auth_pb2_grpc.AuthServiceStub
    )
    verifier = KeyVerifier(auth)
    closing = asyncio.Event()

    async def events(request: web.Request) -> web.StreamResponse:
        identity = await verifier.verify(presented_key(request))
        return await stream_events(request, js, identity.user_id, closing)

    async def close_streams(_: web.Application) -> None:
        closing.set()  # open streams end within one poll, so draining never waits on them

    app = create_app(
        settings.service, max_body_bytes=settings.max_body_bytes, readiness={"nats": nats_ready}
    )
    app.router.add_get("/v1/events", events)
    app.on_shutdown.append(close_streams)
    return ServiceParts(app=app)
