"""Wiring of the gateway: the one public edge, with every API call authenticated."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AsyncExitStack
from typing import TypeVar

import grpc

from libs.backends import open_downstream, open_nats, open_redis
from libs.blobs import BlobStore
from libs.downstream import Downstream
from libs.identity import DEV_SESSION_COOKIE, SESSION_COOKIE, Identities, listen_for_revocations
from libs.ratelimit import Limiter
from libs.resilience import Breakers
from libs.runner import ServiceParts
from libs.web import create_app, refuse_deep_json
from services.gateway.accounts import Accounts, CookiePolicy
from services.gateway.auth import authenticate, authorize
from services.gateway.batches import Batches
from services.gateway.batching import Batching
from services.gateway.blob_access import BlobAccess
from services.gateway.blobs import Blobs
from services.gateway.canvas_reads import CanvasReads, stamp_to_check
from services.gateway.canvas_shares import CanvasShares
from services.gateway.canvases import Canvases
from services.gateway.client_address import client_address
from services.gateway.compression import compress_responses, decode_request_bodies
from services.gateway.csrf import CSRF_COOKIE, DEV_CSRF_COOKIE, CsrfGuard
from services.gateway.events import EventsRelay
from services.gateway.fanout_link import FanOutLink
from services.gateway.headers import allow_origins, answer_preflights, secure_headers
from services.gateway.images import Images
from services.gateway.openapi import add_routes as add_openapi
from services.gateway.ratelimits import add_rate_limit_headers, rate_limit
from services.gateway.renders import Renders
from services.gateway.settings import GatewaySettings
from services.gateway.studio import Studio, serve_studio
from services.gateway.websocket import WebSocketRelay
from shotgraph.auth.v1 import auth_pb2_grpc
from shotgraph.batch.v1 import batch_pb2_grpc
from shotgraph.canvas.v1 import canvas_pb2_grpc
from shotgraph.image.v1 import image_pb2_grpc
from shotgraph.render.v1 import render_pb2_grpc

Stub = TypeVar("Stub")

# Recently served small blobs (thumbnails, previews) kept in each gateway worker's memory.
HOT_BLOB_BYTES = 64 << 20


def cookie_policy(dev_http: bool) -> CookiePolicy:
    return CookiePolicy(
        session=DEV_SESSION_COOKIE if dev_http else SESSION_COOKIE,
        csrf=DEV_CSRF_COOKIE if dev_http else CSRF_COOKIE,
        dev_http=dev_http,
    )


async def build(settings: GatewaySettings, stack: AsyncExitStack) -> ServiceParts:
    keys = settings.image_url_keys
    nc, js, nats_ready = await open_nats(settings, stack)
    breakers = Breakers()

    def downstream(
        name: str, address: str, stub: Callable[[grpc.aio.Channel], Stub]
    ) -> Downstream[Stub]:
        return open_downstream(settings, stack, name, address, stub, breakers)

    auth = downstream("auth", settings.auth_addr, auth_pb2_grpc.AuthServiceStub)
    canvas = downstream("canvas", settings.canvas_addr, canvas_pb2_grpc.CanvasServiceStub)
    batch = downstream("batch", settings.batch_addr, batch_pb2_grpc.BatchServiceStub)
    image = downstream("image", settings.image_addr, image_pb2_grpc.ImageServiceStub)
    render = downstream("render", settings.render_addr, render_pb2_grpc.RenderServiceStub)

    redis, _ = open_redis(settings, stack)
    limiter = Limiter(redis, workers=settings.worker_count)
    stack.push_async_callback(limiter.close)

    app = create_app(
        settings.service,
        max_body_bytes=settings.max_body_bytes,
        readiness={"nats": nats_ready},
        degraded={"ratelimit": limiter.readiness_note},
    )
    secure_headers(app)
    identities = Identities(auth, ttl_s=settings.identity_cache_s)
    await listen_for_revocations(nc, identities)
    cookies = cookie_policy(settings.dev_insecure_http)
    csrf = CsrfGuard(settings.csrf_keys, trusted_origins=settings.cors_origins, cookie=cookies.csrf)
    # In this order: compression (around every response a handler or middleware returns), the
    # client's address (behind a trusted proxy), the studio's files (what no route takes; no
    # credential, no API rate limit), CORS preflights (they carry no credential), who
    # is calling, the rate limits (before anything reads a body or refuses a credential, so an
    # over-limit request is a 429 whatever it carries), the body's coding, JSON depth, and
    # whether the caller may.
    app.middlewares.append(compress_responses(min_bytes=settings.compress_min_bytes))
    app.middlewares.append(client_address(trusted_proxies=settings.trusted_proxies))
    app.middlewares.append(serve_studio(Studio.load(settings.studio_dir)))
    app.middlewares.append(answer_preflights())
    app.middlewares.append(authenticate(identities=identities, cookie_names=(cookies.session,)))
    if settings.rate_limiting:
        app.middlewares.append(rate_limit(limiter, settings.rate_limits, stamp_to_check))
        app.on_response_prepare.append(add_rate_limit_headers)
    app.middlewares.append(decode_request_bodies())
    app.middlewares.append(refuse_deep_json())
    app.middlewares.append(authorize(csrf=csrf))
    Accounts(auth, identities, csrf, cookies).add_routes(app)
    access = BlobAccess(image, batch, canvas)
    reads = CanvasReads()
    await reads.listen(nc)
    Canvases(canvas, access, reads).add_routes(app)
    CanvasShares(canvas, auth).add_routes(app)
    Batches(batch, access).add_routes(app)
    store = BlobStore(js, hot_bytes=HOT_BLOB_BYTES)
    Blobs(store, access, image, settings.max_upload_bytes, keys).add_routes(app)
    Images(image, store, access, keys).add_routes(app)
    Renders(render, store).add_routes(app)
    fanout = FanOutLink(settings.fanout_url, cookies.session)
    fanout.add_to(app)
    EventsRelay(fanout, identities).add_routes(app)
    WebSocketRelay(fanout, identities, heartbeat_s=settings.live_heartbeat_s).add_routes(app)
    Batching(settings.max_body_bytes).add_routes(app)
    add_openapi(app)
    allow_origins(app, settings.cors_origins)  # last: it covers the routes added above
    return ServiceParts(app=app)
