"""Wiring of the fanout service: each user's one live connection, over WebSocket (``/v1/ws``)
or Server-Sent Events (``/v1/events``), fed by one hub per process."""

from __future__ import annotations

import asyncio
import contextlib
from contextlib import AsyncExitStack

from aiohttp import web
from nats.aio.client import Client
from nats.js import JetStreamContext

from libs.backends import open_downstream, open_nats
from libs.identity import Identities, listen_for_revocations
from libs.live.protocol import PresenceMessage
from libs.resilience import Breakers
from libs.runner import Background, ServiceParts
from libs.web import create_app
from services.fanout.feed import Feed
from services.fanout.guard import Guard
from services.fanout.hub import Hub, Limits
from services.fanout.live import Credentials, Live
from services.fanout.presence import Presence, PresenceChange, open_presence
from services.fanout.settings import FanoutSettings
from services.fanout.sse import events, keep_alive
from services.fanout.topics import Access, GrpcAccess
from services.fanout.websocket import websocket
from shotgraph.auth.v1 import auth_pb2_grpc
from shotgraph.batch.v1 import batch_pb2_grpc
from shotgraph.canvas.v1 import canvas_pb2_grpc
from shotgraph.render.v1 import render_pb2_grpc

__all__ = ["LIVE", "add_routes", "build", "open_live"]

LIVE = web.AppKey("live", Live)
_SSE_PING_S = 15.0


async def build(settings: FanoutSettings, stack: AsyncExitStack) -> ServiceParts:
    nc, js, nats_ready = await open_nats(settings, stack)
    breakers = Breakers()
    auth = open_downstream(
        settings, stack, "auth", settings.auth_addr, auth_pb2_grpc.AuthServiceStub, breakers
    )
    identities = Identities(auth)
    await listen_for_revocations(nc, identities)
    access = GrpcAccess(
        open_downstream(
            settings,
            stack,
            "canvas",
            settings.canvas_addr,
            canvas_pb2_grpc.CanvasServiceStub,
            breakers,
        ),
        open_downstream(
            settings, stack, "batch", settings.batch_addr, batch_pb2_grpc.BatchServiceStub, breakers
        ),
        open_downstream(
            settings,
            stack,
            "render",
            settings.render_addr,
            render_pb2_grpc.RenderServiceStub,
            breakers,
        ),
    )
    live = await open_live(stack, nc, js, settings, identities, access)
    app = create_app(
        settings.service, max_body_bytes=settings.max_body_bytes, readiness={"nats": nats_ready}
    )
    add_routes(app, live)

    async def drain_on_stop(stopping: asyncio.Event) -> None:
        # Drained as soon as the signal comes, while the port still answers: a client that
        # reconnects to this process meanwhile is told 503 and tries another.
        await stopping.wait()
        await drain(live)

    background: list[Background] = [drain_on_stop]
    return ServiceParts(app=app, background=background)


async def open_live(
    stack: AsyncExitStack,
    nc: Client,
    js: JetStreamContext,
    settings: FanoutSettings,
    identities: Credentials,
    access: Access,
    *,
    presence: bool = True,
    feed_heartbeat_s: float = 5.0,
) -> Live:
    """The process's hub, fed from the stream's end on, who views which canvas (``presence``),
    and what keeps its connections allowed; all stopped when ``stack`` closes."""
    hub = Hub(
        Limits(
            max_connections=settings.fanout_max_connections,
            max_connections_per_user=settings.fanout_max_connections_per_user,
            queue_bytes=settings.fanout_queue_bytes,
            window_s=settings.fanout_window_ms / 1000,
        )
    )
    feed = Feed(nc, js, hub.deliver, heartbeat_s=feed_heartbeat_s)
    await feed.start()
    stack.push_async_callback(feed.stop)
    hub.last_seq = feed.last_seq
    viewers = await _open_presence(stack, js, hub) if presence else None
    live = Live(settings, hub, js, identities, access, viewers, feed)
    guard = Guard(live, nc, recheck_s=settings.fanout_recheck_s)
    await guard.start()
    stack.push_async_callback(guard.stop)
    pinging = asyncio.create_task(keep_alive(hub, _SSE_PING_S))

    async def stop_pinging() -> None:
        pinging.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await pinging

    stack.push_async_callback(stop_pinging)
    return live


async def _open_presence(stack: AsyncExitStack, js: JetStreamContext, hub: Hub) -> Presence:
    """Presence shared by every process; each change told to this process's viewers."""

    def tell(change: PresenceChange) -> None:
        topic = f"canvas:{change.canvas_id}"
        message = PresenceMessage(
            topic=topic,
            action=change.action,
            user_id=change.viewer.user_id,
            user_name=change.viewer.user_name,
        )
        hub.broadcast(topic, message)

    presence = Presence(await open_presence(js), tell)
    await presence.start()
    stack.push_async_callback(presence.stop)
    return presence


def add_routes(app: web.Application, live: Live) -> None:
    """``/v1/ws`` and ``/v1/events`` on ``app``, drained when it shuts down."""
    app[LIVE] = live

    async def ws(request: web.Request) -> web.StreamResponse:
        return await websocket(live, request)

    async def sse(request: web.Request) -> web.StreamResponse:
        return await events(live, request)

    async def shutdown(_: web.Application) -> None:
        await drain(live)

    app.router.add_get("/v1/ws", ws)
    app.router.add_get("/v1/events", sse)
    app.on_shutdown.append(shutdown)


async def drain(live: Live) -> None:
    """Every connection told to reconnect elsewhere, after a jittered delay, and ended."""
    await live.hub.drain(live.settings.fanout_drain_jitter_ms, live.settings.shutdown_grace_s)
