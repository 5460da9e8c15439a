"""The gateway's pieces on real peers: gRPC servers on free ports, the real auth service with a
key of the test's own, and the gateway's routes behind aiohttp's test server."""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from collections.abc import AsyncIterator, Callable, Coroutine, Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import asyncpg
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from nats.js import JetStreamContext

from libs.blobs import BlobStore
from libs.bus import ensure_streams
from libs.devstack import DevStack
from libs.downstream import Downstream
from libs.identity import Identities
from libs.ports import free_port
from libs.ratelimit import generous_policies
from libs.web import create_app
from services.auth.tests.conftest import delete_users, serve_cheap_auth
from services.gateway.app import build, cookie_policy
from services.gateway.auth import authenticate, authorize
from services.gateway.csrf import CsrfGuard
from services.gateway.settings import GatewaySettings
from services.gateway.tests.live_peer import LivePeer
from services.image.derived import DerivedImages
from services.image.handlers import ImageServicer
from services.image.thumbnails import ImageLimits
from services.image.uploaders import Uploaders
from services.image.uploads import UploadIndex, Uploads
from shotgraph.auth.v1 import auth_pb2, auth_pb2_grpc
from shotgraph.image.v1 import image_pb2_grpc
from tests.in_process import downstream, serve

Stub = TypeVar("Stub")
GatewayClient = TestClient[web.Request, web.Application]


CSRF_KEY = bytes(range(32))


def guarded_app(
    auth: Downstream[auth_pb2_grpc.AuthServiceStub], *, dev_http: bool = True
) -> tuple[web.Application, Identities]:
    """The gateway's app with its credential checks in place, as app.build wires them."""
    app = create_app("gateway", max_body_bytes=1 << 20)
    identities = Identities(auth)
    cookies = cookie_policy(dev_http)
    app.middlewares.append(authenticate(identities=identities, cookie_names=(cookies.session,)))
    app.middlewares.append(
        authorize(csrf=CsrfGuard((CSRF_KEY,), trusted_origins=(), cookie=cookies.csrf))
    )
    return app, identities


async def client_of(stack: AsyncExitStack, app: web.Application) -> GatewayClient:
    """An HTTP client of ``app``, served on a free port."""
    client: GatewayClient = TestClient(TestServer(app))
    await stack.enter_async_context(client)
    return client


@dataclass(frozen=True)
class Auth:
    address: str
    key: str  # a key of this test's own user
    user_id: str


@pytest.fixture
async def auth(
    stack: AsyncExitStack, pg_pool: asyncpg.Pool, devstack: DevStack
) -> AsyncIterator[Auth]:
    """The real auth service (on Postgres, Redis and NATS, hashing cheaply), and a key it
    issued to a user of this test."""
    address = await serve_cheap_auth(stack, pg_pool, devstack)
    user_name = f"gateway-test-{uuid.uuid4().hex[:12]}"
    auth_client = downstream(stack, "auth", address, auth_pb2_grpc.AuthServiceStub)
    created: auth_pb2.CreateApiKeyResponse = await auth_client.call(
        auth_client.stub.CreateApiKey, auth_pb2.CreateApiKeyRequest(user_name=user_name)
    )
    yield Auth(address, created.key, created.user_id)
    await pg_pool.execute(
        "DELETE FROM auth.api_keys WHERE user_id = $1", uuid.UUID(created.user_id)
    )
    await pg_pool.execute("DELETE FROM auth.users WHERE id = $1", uuid.UUID(created.user_id))


MakeGateway = Callable[..., Coroutine[Any, Any, GatewayClient]]


@pytest.fixture
def make_gateway(
    devstack: DevStack, auth: Auth, stack: AsyncExitStack, tmp_path: Path
) -> MakeGateway:
    """``await make_gateway(SETTING=value, ...)``: a client of the gateway as ``app.build``
    makes it, on the test's backends and auth service; the services behind it are not running,
    so only what needs none of them answers. It listens on loopback, with plain HTTP for
    browsers allowed as in development, and with limits too high to refuse anything unless
    the test gives ``rate_limits`` of its own (``""``: the built-in ones), and without the
    studio unless the test gives a ``studio_dir``. ``routes`` are
    added to the built app, for a test that needs a handler of its own behind the edge."""

    async def make(*, routes: Sequence[web.RouteDef] = (), **settings: str) -> GatewayClient:
        nowhere = {
            f"SHOTGRAPH_{name}_ADDR": f"127.0.0.1:{free_port()}"
            for name in ("CANVAS", "BATCH", "IMAGE", "RENDER")
        }
        parsed = GatewaySettings.from_env(
            {
                **devstack.environment(),
                **nowhere,
                "SHOTGRAPH_HTTP_HOST": "127.0.0.1",
                "SHOTGRAPH_DEV_INSECURE_HTTP": "on",
                "SHOTGRAPH_AUTH_ADDR": auth.address,
                "SHOTGRAPH_FANOUT_URL": f"http://127.0.0.1:{free_port()}",
                "SHOTGRAPH_RATE_LIMITS": generous_policies(),
                "SHOTGRAPH_STUDIO_DIR": str(tmp_path / "no-studio"),
                **{f"SHOTGRAPH_{name.upper()}": value for name, value in settings.items()},
            }
        )
        parts = await build(parsed, stack)
        parts.app.router.add_routes(routes)
        return await client_of(stack, parts.app)

    return make


@pytest.fixture
async def whole_gateway(make_gateway: MakeGateway) -> GatewayClient:
    return await make_gateway()


@dataclass(frozen=True)
class ImageService:
    address: str
    uploaders: Uploaders  # its record of who uploaded which blob


@pytest.fixture
async def image_service(stack: AsyncExitStack, nats_js: JetStreamContext) -> ImageService:
    """The real image service's gRPC API on the test's NATS (``image_addr`` for a gateway that
    must find out who uploaded a blob)."""
    await ensure_streams(nats_js)
    blobs, limits = BlobStore(nats_js), ImageLimits(max_bytes=1 << 20)
    uploaders = Uploaders(nats_js)
    servicer = ImageServicer(
        Uploads(blobs, UploadIndex(nats_js), uploaders, limits),
        uploaders,
        DerivedImages(nats_js, blobs, limits, asyncio.Semaphore(1)),
    )
    address = await serve(
        stack, lambda server: image_pb2_grpc.add_ImageServiceServicer_to_server(servicer, server)
    )
    return ImageService(address, uploaders)


# A blob the test's user has uploaded, as far as the image service knows.
UPLOADED = hashlib.sha256(b"a blob").hexdigest()


@pytest.fixture
async def image_addr(image_service: ImageService, auth: Auth) -> str:
    """The image service, which knows the test's user uploaded UPLOADED (signing a URL for it
    is a request that succeeds with no other service running)."""
    await image_service.uploaders.add(UPLOADED, auth.user_id)
    return image_service.address


@pytest.fixture
async def live_peer(stack: AsyncExitStack) -> LivePeer:
    """A server standing in for fan-out (``live_peer.py``), running for the test."""
    peer = LivePeer()
    server = await peer.start()
    stack.push_async_callback(server.close)
    peer.release_streams.set()  # streams end at once unless a test holds them open
    return peer


@pytest.fixture
async def live_gateway(make_gateway: MakeGateway, live_peer: LivePeer) -> GatewayClient:
    """The whole gateway, relaying live connections to ``live_peer``."""
    return await make_gateway(fanout_url=live_peer.url)


PASSWORD = "a long enough password"


@dataclass(frozen=True)
class Person:
    """A user with PASSWORD on the test's auth service, and an API key of theirs."""

    name: str
    user_id: str
    key: str
    key_id: str


@pytest.fixture
async def person(stack: AsyncExitStack, auth: Auth, pg_pool: asyncpg.Pool) -> AsyncIterator[Person]:
    client = downstream(stack, "auth", auth.address, auth_pb2_grpc.AuthServiceStub)
    prefix = f"gw-{uuid.uuid4().hex[:10]}"
    made: auth_pb2.CreateUserResponse = await client.call(
        client.stub.CreateUser, auth_pb2.CreateUserRequest(user_name=prefix, password=PASSWORD)
    )
    key: auth_pb2.CreateApiKeyResponse = await client.call(
        client.stub.CreateApiKey, auth_pb2.CreateApiKeyRequest(user_id=made.user.user_id)
    )
    yield Person(prefix, made.user.user_id, key.key, key.key_id)
    await delete_users(pg_pool, prefix)


async def sign_in(gateway: GatewayClient, person: Person) -> str:
    """Sign ``person`` in: the gateway client's cookie jar holds the session from now on.
    Returns the CSRF token."""
    login = await gateway.post(
        "/v1/auth/login", json={"user_name": person.name, "password": PASSWORD}
    )
    assert login.status == 200, await login.text()
    token: str = (await login.json())["csrf_token"]
    return token
