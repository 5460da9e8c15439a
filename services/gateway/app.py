"""Wiring of the gateway: the one public edge, with every API call authenticated."""

from __future__ import annotations

from contextlib import AsyncExitStack

from libs.backends import open_nats
from libs.blobs import BlobStore
from libs.identity import KeyVerifier
from libs.resilience import Breakers
from libs.rpc import open_channel
from libs.runner import ServiceParts
from libs.web import create_app
from services.gateway.auth import require_api_key
from services.gateway.batches import Batches
from services.gateway.blobs import Blobs
from services.gateway.canvases import Canvases
from services.gateway.events import EventsRelay
from services.gateway.images import Images
from services.gateway.renders import Renders
from services.gateway.settings import GatewaySettings
from shotgraph.batch.v1 import batch_pb2_grpc
from shotgraph.canvas.v1 import canvas_pb2_grpc
from shotgraph.image.v1 import image_pb2_grpc
from shotgraph.render.v1 import render_pb2_grpc

# Recently served small blobs (thumbnails, previews) kept in each gateway worker's memory.
HOT_BLOB_BYTES = 64 << 20


async def build(settings: GatewaySettings, stack: AsyncExitStack) -> ServiceParts:
    keys = settings.image_url_keys
    _, js, nats_ready = await open_nats(settings, stack)
    breakers = Breakers()
    verifier = KeyVerifier(settings.auth_addr, settings.grpc_deadline_s, breakers)
    stack.push_async_callback(verifier.close)
    channels = {
        name: open_channel(address, settings.grpc_deadline_s)
        for name, address in (
            ("canvas", settings.canvas_addr),
            ("batch", settings.batch_addr),
            ("image", settings.image_addr),
            ("render", settings.render_addr),
        )
    }
    for channel in channels.values():
        stack.push_async_callback(channel.close)

    app = create_app(
        settings.service, max_body_bytes=settings.max_body_bytes, readiness={"nats": nats_ready}
    )
    app.middlewares.append(require_api_key(verifier=verifier))
    Canvases(canvas_pb2_grpc.CanvasServiceStub(channels["canvas"]), breakers).add_routes(app)
    Batches(batch_pb2_grpc.BatchServiceStub(channels["batch"]), breakers).add_routes(app)
    store = BlobStore(js, hot_bytes=HOT_BLOB_BYTES)
    images = image_pb2_grpc.ImageServiceStub(channels["image"])
    Blobs(store, images, breakers, settings.max_upload_bytes, keys).add_routes(app)
    Images(images, store, breakers, keys).add_routes(app)
    Renders(
        render_pb2_grpc.RenderServiceStub(channels["render"]),
        batch_pb2_grpc.BatchServiceStub(channels["batch"]),
        store,
        breakers,
    ).add_routes(app)
    EventsRelay(settings.fanout_url).add_routes(app)
    return ServiceParts(app=app)
