"""Wiring of the fanout service: authenticated SSE streams of each user's events."""

from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack

from aiohttp import web

from libs.backends import open_downstream, open_nats
from libs.errors import Unauthenticated
from libs.identity import (
    DEV_SESSION_COOKIE,
    SESSION_COOKIE,
    Identities,
    listen_for_revocations,
    presented_credential,
)
from libs.runner import ServiceParts
from libs.web import create_app
from services.fanout.settings import FanoutSettings
from services.fanout.stream import stream_events
from shotgraph.auth.v1 import auth_pb2_grpc


async def build(settings: FanoutSettings, stack: AsyncExitStack) -> ServiceParts:
    nc, js, nats_ready = await open_nats(settings, stack)
    auth = open_downstream(
        settings, stack, "auth", settings.auth_addr, auth_pb2_grpc.AuthServiceStub
    )
    identities = Identities(auth)
    await listen_for_revocations(nc, identities)
    closing = asyncio.Event()

    async def events(request: web.Request) -> web.StreamResponse:
        # Only the gateway reaches this port: it forwards a key or the session cookie, under
        # whichever name its cookie policy uses.
        credential = presented_credential(request, (SESSION_COOKIE, DEV_SESSION_COOKIE))
        if credential is None:
            raise Unauthenticated("send an API key as 'Authorization: Bearer <key>'")
        identity = await identities.resolve(credential)
        revoked = asyncio.Event()
        stop_watching = identities.on_revoked(identity, revoked.set)
        try:
            return await stream_events(request, js, identity.user_id, closing, revoked)
        finally:
            stop_watching()

    async def close_streams(_: web.Application) -> None:
        closing.set()  # open streams end within one poll, so draining never waits on them

    app = create_app(
        settings.service, max_body_bytes=settings.max_body_bytes, readiness={"nats": nats_ready}
    )
    app.router.add_get("/v1/events", events)
    app.on_shutdown.append(close_streams)
    return ServiceParts(app=app)
