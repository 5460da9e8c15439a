"""Who may read a blob, through the gateway as ``app.build`` wires it: the real image, batch and
canvas services answer for their records (uploads, job outputs, canvas references), the real
auth service for two users of the test's own.

A blob someone may not read is a 404 like one that does not exist, on download (even when it is
hot in the gateway's memory) and on signing a URL; signed URLs expire.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from dataclasses import dataclass

import asyncpg
import nats
import pytest
from nats.js import JetStreamContext

from libs.blobs import BlobStore
from libs.bus.states import ReportedState
from libs.bus.work import JobReport
from libs.cache import ReadCache
from libs.db import migrate
from libs.devstack import DevStack
from libs.errors import NotFound, Unavailable
from libs.ports import free_port
from libs.urlsigning import sign
from services.canvas.app import MIGRATIONS as CANVAS_MIGRATIONS
from services.canvas.cache import CanvasCache
from services.canvas.execution import Executions
from services.canvas.handlers import CanvasServicer
from services.canvas.results import ResultStore
from services.canvas.store import CanvasStore
from services.gateway.blob_access import CANVAS_GRANT_S, BlobAccess
from services.gateway.tests.conftest import Auth, GatewayClient, ImageService, MakeGateway
from services.image.tests.conftest import gradient
from shotgraph.auth.v1 import auth_pb2, auth_pb2_grpc
from shotgraph.batch.v1 import batch_pb2, batch_pb2_grpc
from shotgraph.canvas.v1 import canvas_pb2_grpc
from shotgraph.image.v1 import image_pb2_grpc
from tests.in_process import BatchService, downstream, serve

URL_KEY = bytes(range(100, 132))
PROBLEM = "application/problem+json"


@dataclass(frozen=True)
class Owners:
    """The services that keep the records, as a gateway reaches them."""

    image: str
    batch: str
    canvas: str
    canvases: CanvasStore


@pytest.fixture
async def owners(
    stack: AsyncExitStack,
    devstack: DevStack,
    pg_pool: asyncpg.Pool,
    nats_js: JetStreamContext,
    image_service: ImageService,
    batch_service: BatchService,
) -> AsyncIterator[Owners]:
    await migrate(pg_pool, "canvas", CANVAS_MIGRATIONS)
    nc = await nats.connect(devstack.nats_url)
    stack.push_async_callback(nc.drain)
    store = CanvasStore(pg_pool)
    cache = CanvasCache(
        ReadCache(devstack.redis_url, namespace=f"canvas-{uuid.uuid4().hex}"), store, nc
    )
    servicer = CanvasServicer(
        store, cache, Executions(ResultStore(pg_pool), batch_service.client, nats_js)
    )
    canvas = await serve(
        stack, lambda server: canvas_pb2_grpc.add_CanvasServiceServicer_to_server(servicer, server)
    )
    yield Owners(image_service.address, batch_service.address, canvas, store)


@dataclass(frozen=True)
class User:
    id: str
    headers: dict[str, str]


@pytest.fixture
async def alice(auth: Auth) -> User:
    return User(auth.user_id, {"X-API-Key": auth.key})


@pytest.fixture
async def bob(stack: AsyncExitStack, auth: Auth, pg_pool: asyncpg.Pool) -> AsyncIterator[User]:
    client = downstream(stack, "auth", auth.address, auth_pb2_grpc.AuthServiceStub)
    created: auth_pb2.CreateApiKeyResponse = await client.call(
        client.stub.CreateApiKey,
        auth_pb2.CreateApiKeyRequest(user_name=f"bob-{uuid.uuid4().hex[:12]}"),
    )
    yield User(created.user_id, {"X-API-Key": created.key})
    await pg_pool.execute(
        "DELETE FROM auth.api_keys WHERE user_id = $1", uuid.UUID(created.user_id)
    )
    await pg_pool.execute("DELETE FROM auth.users WHERE id = $1", uuid.UUID(created.user_id))


@pytest.fixture
async def gateway(make_gateway: MakeGateway, owners: Owners) -> GatewayClient:
    return await make_gateway(
        image_addr=owners.image,
        batch_addr=owners.batch,
        canvas_addr=owners.canvas,
        image_url_keys=URL_KEY.hex(),
    )


def _photo() -> bytes:
    return bytes(gradient(48, 32).pngsave_buffer()) + uuid.uuid4().bytes  # unique per test


async def _upload(gateway: GatewayClient, user: User, data: bytes) -> tuple[int, dict[str, str]]:
    response = await gateway.post("/v1/blobs", data=data, headers=user.headers)
    assert response.status in (200, 201), await response.text()
    return response.status, await response.json()


async def _not_found(gateway: GatewayClient, path: str, user: User, **headers: str) -> None:
    response = await gateway.get(path, headers={**user.headers, **headers})
    assert response.status == 404, await response.text()
    assert response.content_type == PROBLEM
    assert "ETag" not in response.headers


async def test_another_users_upload_is_not_found_even_when_hot(
    gateway: GatewayClient, alice: User, bob: User
) -> None:
    photo = _photo()
    status, uploaded = await _upload(gateway, alice, photo)
    assert (status, uploaded["duplicate"]) == (201, False)
    path = f"/v1/blobs/{uploaded['sha256']}"
    mine = await gateway.get(path, headers=alice.headers)  # now in the gateway's memory
    assert mine.status == 200
    assert mine.headers["Cache-Control"] == "private, max-age=31536000, immutable"
    data = await mine.read()

    await _not_found(gateway, path, bob)
    await _not_found(gateway, path, bob, **{"If-None-Match": f'"{uploaded["sha256"]}"'})

    # Bob's upload of the same file looks exactly like Alice's first one, and makes it his.
    status, again = await _upload(gateway, bob, photo)
    assert (status, again) == (201, uploaded | {"thumbnail_url": again["thumbnail_url"]})
    assert await (await gateway.get(path, headers=bob.headers)).read() == data
    status, repeat = await _upload(gateway, alice, photo)
    assert (status, repeat["duplicate"]) == (200, True), "Alice's own repeat is hers to know"


async def test_a_jobs_output_is_readable_by_the_owner_of_its_batch(
    gateway: GatewayClient,
    batch_service: BatchService,
    nats_js: JetStreamContext,
    alice: User,
    bob: User,
) -> None:
    made = await BlobStore(nats_js).put(_photo(), "image/png")
    submitted: batch_pb2.SubmitBatchResponse = await batch_service.client.call(
        batch_service.client.stub.SubmitBatch,
        batch_pb2.SubmitBatchRequest(
            owner_id=alice.id,
            jobs=[batch_pb2.JobSpec(function="image.thumbnail", key="thumb")],
        ),
    )
    (job,) = await batch_service.hand_out()
    await _not_found(gateway, f"/v1/blobs/{made}", alice)
    await batch_service.report(
        JobReport(
            job_id=job.job_id,
            batch_id=submitted.batch.id,
            state=ReportedState.SUCCEEDED,
            attempt=1,
            dispatch=job.dispatch,
            output={"image": made, "width": 48},
        )
    )
    assert (await gateway.get(f"/v1/blobs/{made}", headers=alice.headers)).status == 200
    await _not_found(gateway, f"/v1/blobs/{made}", bob)


async def test_a_canvas_shares_the_blobs_it_references_while_it_is_shared(
    gateway: GatewayClient, owners: Owners, nats_js: JetStreamContext, alice: User, bob: User
) -> None:
    blob = await BlobStore(nats_js).put(_photo(), "image/png")
    canvas = await owners.canvases.create(alice.id, "Shot 030")
    graph = {"nodes": [{"id": "ref", "type": "image.reference", "properties": {"blob": blob}}]}
    await owners.canvases.save(canvas.id, alice.id, 1, graph | {"edges": []}, "", autosave=False)
    path = f"/v1/blobs/{blob}"
    assert (await gateway.get(path, headers=alice.headers)).status == 200
    await _not_found(gateway, path, bob)
    await owners.canvases.share(canvas.id, bob.id, "read")
    assert (await gateway.get(path, headers=bob.headers)).status == 200


async def test_an_unshared_canvas_stops_granting_within_the_bound(
    stack: AsyncExitStack, owners: Owners, nats_js: JetStreamContext, alice: User, bob: User
) -> None:
    now = [time.monotonic()]
    access = BlobAccess(
        downstream(stack, "image", owners.image, image_pb2_grpc.ImageServiceStub),
        downstream(stack, "batch", owners.batch, batch_pb2_grpc.BatchServiceStub),
        downstream(stack, "canvas", owners.canvas, canvas_pb2_grpc.CanvasServiceStub),
        clock=lambda: now[0],
    )
    blob = await BlobStore(nats_js).put(_photo(), "image/png")
    canvas = await owners.canvases.create(alice.id, "Shot 040")
    graph = {"nodes": [{"id": "ref", "properties": {"blob": blob}}], "edges": []}
    await owners.canvases.save(canvas.id, alice.id, 1, graph, "", autosave=False)
    await owners.canvases.share(canvas.id, bob.id, "read")
    assert await access.require(bob.id, blob) == blob
    await owners.canvases.share(canvas.id, bob.id, None)
    now[0] += CANVAS_GRANT_S - 0.5
    assert await access.require(bob.id, blob) == blob, "remembered, within the bound"
    now[0] += 1.0
    with pytest.raises(NotFound):
        await access.require(bob.id, blob)


async def test_signing_a_url_needs_a_blob_the_caller_may_read(
    gateway: GatewayClient, alice: User, bob: User
) -> None:
    _, uploaded = await _upload(gateway, alice, _photo())
    body = {"blob": uploaded["sha256"], "options": "rs:fit:16:16"}
    refused = await gateway.post("/v1/images/urls", json=body, headers=bob.headers)
    assert refused.status == 404 and refused.content_type == PROBLEM
    response = await gateway.post("/v1/images/urls", json=body, headers=alice.headers)
    assert response.status == 200
    signed = await response.json()
    expires = int(signed["url"].split("/exp:")[1].split("/")[0])
    assert 24 * 3600 <= expires - time.time() <= 25 * 3600
    assert signed["expires_at"].startswith(time.strftime("%Y-%m-%d", time.gmtime(expires)))
    # The URL is the credential: it works without a key, cached publicly until it expires.
    asked_at = time.time()  # the server counts its max-age from a moment after this
    image = await gateway.get(signed["url"])
    assert image.status == 200, await image.text()
    max_age = int(image.headers["Cache-Control"].split("max-age=")[1].split(",")[0])
    assert image.headers["Cache-Control"].startswith("public") and max_age <= expires - asked_at + 1
    claimed = {"blob": uploaded["sha256"], "options": "exp:99999999999"}
    too_long = await gateway.post("/v1/images/urls", json=claimed, headers=alice.headers)
    assert too_long.status == 400, "the expiry is the gateway's to give"


@pytest.mark.parametrize(
    ("tail", "detail"),
    [
        ("/rs:fit:16:16/exp:{past}/{blob}", "has expired"),
        ("/rs:fit:16:16/{blob}", "no expiry"),
        ("/exp:{future}/exp:{past}/{blob}", "no expiry"),
        ("/exp:soon/{blob}", "no expiry"),
    ],
    ids=["expired", "without-expiry", "two-expiries", "not-a-time"],
)
async def test_a_signed_url_out_of_its_time_is_forbidden(
    gateway: GatewayClient, tail: str, detail: str
) -> None:
    now = int(time.time())
    tail = tail.format(past=now - 1, future=now + 3600, blob="0" * 64)
    response = await gateway.get(f"/images/{sign(URL_KEY, tail)}{tail}")
    assert response.status == 403
    assert detail in (await response.json(content_type=PROBLEM))["detail"]


async def test_a_lengthened_expiry_breaks_the_signature(gateway: GatewayClient) -> None:
    tail = f"/exp:{int(time.time()) + 60}/{'0' * 64}"
    forged = tail.replace("/exp:", "/exp:9")
    response = await gateway.get(f"/images/{sign(URL_KEY, tail)}{forged}")
    assert response.status == 403
    assert "signature" in (await response.json(content_type=PROBLEM))["detail"]


async def test_one_owners_yes_is_enough_and_a_no_from_the_others_is_never_guessed(
    image_service: ImageService, stack: AsyncExitStack, nats_js: JetStreamContext, alice: User
) -> None:
    """Batch and canvas down: an upload still grants its uploader; anyone else is told the
    truth (unavailable), not a 404 that may be wrong."""
    nowhere = f"127.0.0.1:{free_port()}"
    access = BlobAccess(
        downstream(stack, "image", image_service.address, image_pb2_grpc.ImageServiceStub),
        downstream(stack, "batch", nowhere, batch_pb2_grpc.BatchServiceStub),
        downstream(stack, "canvas", nowhere, canvas_pb2_grpc.CanvasServiceStub),
    )
    blob = await BlobStore(nats_js).put(_photo(), "image/png")
    await image_service.uploaders.add(blob, alice.id)
    assert await access.require(alice.id, blob) == blob
    with pytest.raises(Unavailable):
        await access.require(str(uuid.uuid4()), blob)


async def test_naming_another_users_blob_grants_nothing(
    gateway: GatewayClient, owners: Owners, alice: User, bob: User
) -> None:
    """Referencing a SHA-256 in a canvas of one's own, or feeding it to a job, would make it
    readable: both are refused, alike for a blob of someone else's and one nobody has."""
    _, uploaded = await _upload(gateway, alice, _photo())
    for blob in (uploaded["sha256"], "0" * 64):
        canvas = await owners.canvases.create(bob.id, "Shot 050")
        graph = {"nodes": [{"id": "ada", "type": "character", "properties": {"blob": blob}}]}
        saved = await gateway.post(
            f"/v1/canvases/{canvas.id}/versions",
            json={"base_version": 1, "graph": graph | {"edges": []}},
            headers=bob.headers,
        )
        assert saved.status == 422, await saved.text()
        assert blob in (await saved.json(content_type=PROBLEM))["detail"]
        job = {"function": "image.thumbnail", "input": {"blob": blob, "sizes": [64]}}
        submitted = await gateway.post("/v1/batches", json={"jobs": [job]}, headers=bob.headers)
        assert submitted.status == 422, await submitted.text()
    await _not_found(gateway, f"/v1/blobs/{uploaded['sha256']}", bob)
    job = {"function": "image.thumbnail", "input": {"blob": uploaded["sha256"]}}
    mine = await gateway.post("/v1/batches", json={"jobs": [job]}, headers=alice.headers)
    assert mine.status == 202, await mine.text()
