"""Wiring of the gateway: the one public edge, with every API call authenticated."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AsyncExitStack
from typing import TypeVar

import grpc

from libs.backends import open_downstream, open_nats, open_redis
from libs.blobs import BlobStore
from libs.downstream import Downstream
from libs.identity import KeyVerifier
from libs.ratelimit import Limiter
from libs.resilience import Breakers
from libs.runner import ServiceParts
from libs.web import create_app
from services.gateway.auth import require_api_key
from services.gateway.batches import Batches
from services.gateway.blobs import Blobs
from services.gateway.canvases import Canvases
from services.gateway.client_address import client_address
from services.gateway.events import EventsRelay
from services.gateway.images import Images
from services.gateway.ratelimits import add_rate_limit_headers, rate_limit
from services.gateway.renders import Renders
from services.gateway.settings import GatewaySettings
from shotgraph.auth.v1 import auth_pb2_grpc
from shotgraph.batch.v1 import batch_pb2_grpc
from shotgraph.canvas.v1 import canvas_pb2_grpc
from shotgraph.image.v1 import image_pb2_grpc
from shotgraph.render.v1 import render_pb2_grpc

Stub = TypeVar("Stub")

# Recently served small blobs (thumbnails, previews) kept in each gateway worker's memory.
HOT_BLOB_BYTES = 64 << 20


async def build(settings: GatewaySettings, stack: AsyncExitStack) -> ServiceParts:
    keys = settings.image_url_keys
    _, js, nats_ready = await open_nats(settings, stack)
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
    app.middlewares.append(client_address(trusted_proxies=settings.trusted_proxies))
    app.middlewares.append(require_api_key(verifier=KeyVerifier(auth)))
    if settings.rate_limiting:
        app.middlewares.append(rate_limit(limiter, settings.rate_limits))
        app.on_response_prepare.append(add_rate_limit_headers)
    Canvases(canvas).add_routes(app)
    Batches(batch).add_routes(app)
    store = BlobStore(js, hot_bytes=HOT_BLOB_BYTES)
    Blobs(store, image, settings.max_upload_bytes, keys).add_routes(app)
    Images(image, store, keys).add_routes(app)
    Renders(render, store).add_routes(app)
    EventsRelay(settings.fanout_url).add_routes(app)
    return ServiceParts(app=app)
