"""Sharing a canvas by user name or email, and renaming and deleting one, through the gateway.

Names and emails are resolved by the real auth service (on the test's Postgres); the canvas
service is a stand-in that records what it was asked and answers as the real one would, so the
tests see exactly which user a share went to, and that a refused body never reached it.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from dataclasses import dataclass
from typing import Any

import asyncpg
import grpc
import pytest

from libs.errors import InvalidArgument
from libs.ports import free_port
from services.auth.tests.conftest import delete_users
from services.gateway.blob_access import BlobAccess
from services.gateway.canvas_shares import CanvasShares
from services.gateway.canvases import Canvases
from services.gateway.tests.conftest import PASSWORD, Auth, GatewayClient, client_of, guarded_app
from shotgraph.auth.v1 import auth_pb2, auth_pb2_grpc
from shotgraph.batch.v1 import batch_pb2_grpc
from shotgraph.canvas.v1 import canvas_pb2, canvas_pb2_grpc
from shotgraph.image.v1 import image_pb2_grpc
from tests.in_process import downstream, serve

PROBLEM = "application/problem+json"
CANVAS = str(uuid.uuid4())
UNKNOWN = str(uuid.uuid4())  # an id no user has


class RecordingCanvas(canvas_pb2_grpc.CanvasServiceServicer):
    """Answers share, rename and delete calls for the caller's canvas, keeping each request."""

    def __init__(self, owner_id: str) -> None:
        self.owner_id = owner_id
        self.asked: list[Any] = []
        self.shared_with: list[str] = []

    async def ShareCanvas(
        self, request: canvas_pb2.ShareCanvasRequest, context: grpc.aio.ServicerContext
    ) -> canvas_pb2.Share:
        self.asked.append(request)
        if request.user_id == self.owner_id:
            raise InvalidArgument("a canvas is shared with another user")
        return canvas_pb2.Share(
            canvas_id=request.canvas_id, user_id=request.user_id, access=request.access
        )

    async def ListShares(
        self, request: canvas_pb2.ListSharesRequest, context: grpc.aio.ServicerContext
    ) -> canvas_pb2.ListSharesResponse:
        self.asked.append(request)
        return canvas_pb2.ListSharesResponse(
            shares=[
                canvas_pb2.Share(canvas_id=request.canvas_id, user_id=user_id, access="read")
                for user_id in self.shared_with
            ]
        )

    async def RenameCanvas(
        self, request: canvas_pb2.RenameCanvasRequest, context: grpc.aio.ServicerContext
    ) -> canvas_pb2.Canvas:
        self.asked.append(request)
        return canvas_pb2.Canvas(
            id=request.canvas_id, owner_id=self.owner_id, name=request.name.strip(), version=1
        )

    async def DeleteCanvas(
        self, request: canvas_pb2.DeleteCanvasRequest, context: grpc.aio.ServicerContext
    ) -> canvas_pb2.DeleteCanvasResponse:
        self.asked.append(request)
        return canvas_pb2.DeleteCanvasResponse()


@dataclass(frozen=True)
class Colleague:
    user_id: str
    name: str
    email: str


@dataclass
class Studio:
    http: GatewayClient
    canvas: RecordingCanvas
    auth: auth_pb2_grpc.AuthServiceStub
    headers: dict[str, str]
    user_id: str

    async def share(self, body: dict[str, Any]) -> Any:
        return await self.http.post(
            f"/v1/canvases/{CANVAS}/shares", json=body, headers=self.headers
        )


@pytest.fixture
async def studio(stack: AsyncExitStack, auth: Auth) -> Studio:
    """The gateway's canvas and share routes as app.build wires them, for the test's user."""
    auth_client = downstream(stack, "auth", auth.address, auth_pb2_grpc.AuthServiceStub)
    app, _ = guarded_app(auth_client)
    recording = RecordingCanvas(auth.user_id)
    address = await serve(
        stack, lambda server: canvas_pb2_grpc.add_CanvasServiceServicer_to_server(recording, server)
    )
    canvas = downstream(stack, "canvas", address, canvas_pb2_grpc.CanvasServiceStub)
    nowhere = f"127.0.0.1:{free_port()}"  # no route here reads a blob
    image = downstream(stack, "image", nowhere, image_pb2_grpc.ImageServiceStub)
    batch = downstream(stack, "batch", nowhere, batch_pb2_grpc.BatchServiceStub)
    Canvases(canvas, BlobAccess(image, batch, canvas)).add_routes(app)
    CanvasShares(canvas, auth_client).add_routes(app)
    http = await client_of(stack, app)
    headers = {"Authorization": f"Bearer {auth.key}"}
    return Studio(http, recording, auth_client.stub, headers, auth.user_id)


@pytest.fixture
async def colleague(studio: Studio, pg_pool: asyncpg.Pool) -> AsyncIterator[Colleague]:
    """A user with an email, to share with."""
    name = f"gw-colleague-{uuid.uuid4().hex[:8]}"
    email = f"{name}@example.org"
    made = await studio.auth.CreateUser(
        auth_pb2.CreateUserRequest(user_name=name, password=PASSWORD, email=email)
    )
    yield Colleague(made.user.user_id, name, email)
    await delete_users(pg_pool, name)


async def problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status == status, await response.text()
    assert response.content_type == PROBLEM
    body: dict[str, Any] = await response.json(content_type=PROBLEM)
    assert body["status"] == status and body["detail"]
    return body


@pytest.mark.parametrize("by", ["name", "NAME", "email", "EMAIL"])
async def test_a_share_by_name_or_email_goes_to_that_user(
    studio: Studio, colleague: Colleague, by: str
) -> None:
    typed = colleague.name if by.lower() == "name" else colleague.email
    typed = typed.upper() if by.isupper() else typed

    response = await studio.share({"user": typed, "access": "write"})

    assert response.status == 200, await response.text()
    assert await response.json() == {
        "canvas_id": CANVAS,
        "user_id": colleague.user_id,
        "user_name": colleague.name,
        "access": "write",
    }
    (asked,) = studio.canvas.asked
    assert (asked.owner_id, asked.canvas_id, asked.user_id, asked.access) == (
        studio.user_id,
        CANVAS,
        colleague.user_id,
        "write",
    )


async def test_an_unknown_user_is_a_404_and_nothing_is_shared(
    studio: Studio, colleague: Colleague
) -> None:
    for typed in ("nobody-at-all", colleague.name[:-1], f"x{colleague.email}"):
        body = await problem(await studio.share({"user": typed, "access": "read"}), 404)
        assert body["detail"] == "no user with that name or email"
    assert studio.canvas.asked == []


async def test_sharing_with_yourself_by_name_is_a_400(studio: Studio) -> None:
    me = await studio.auth.GetUserNames(auth_pb2.GetUserNamesRequest(user_ids=[studio.user_id]))
    name = me.users[0].user_name
    await problem(await studio.share({"user": name, "access": "read"}), 400)
    assert [r.user_id for r in studio.canvas.asked] == [studio.user_id]


async def test_a_share_by_id_still_works_and_names_the_user(
    studio: Studio, colleague: Colleague
) -> None:
    response = await studio.share({"user_id": colleague.user_id, "access": "read"})
    assert response.status == 200, await response.text()
    assert (await response.json())["user_name"] == colleague.name
    unknown = await studio.share({"user_id": UNKNOWN, "access": "none"})
    assert unknown.status == 200, await unknown.text()
    assert (await unknown.json())["user_name"] == ""


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ({"access": "read"}, "give one of 'user'"),
        ({"user": "ada", "user_id": "x", "access": "read"}, "give one of 'user'"),
        ({"user": 7, "access": "read"}, "'user' must be a user name or an email"),
        ({"user": "", "access": "read"}, "'user' must be a user name or an email"),
        ({"user": "a" * 255, "access": "read"}, "'user' must be a user name or an email"),
        ({"user_id": 7, "access": "read"}, "'user_id' must be a string"),
        ({"user": "ada", "access": "admin"}, "'access' must be one of read, write, none"),
        ({"user": "ada"}, "'access' must be one of"),
        ({"user": "ada", "access": "read", "note": "hi"}, "unknown fields note"),
    ],
)
async def test_a_bad_share_is_a_400_that_asks_nobody(
    studio: Studio, body: dict[str, Any], says: str
) -> None:
    problem_body = await problem(await studio.share(body), 400)
    assert says in problem_body["detail"]
    assert studio.canvas.asked == []


async def test_the_listing_names_every_user_shared_with(
    studio: Studio, colleague: Colleague
) -> None:
    studio.canvas.shared_with = [colleague.user_id, UNKNOWN]
    response = await studio.http.get(f"/v1/canvases/{CANVAS}/shares", headers=studio.headers)
    assert response.status == 200, await response.text()
    assert response.headers["ETag"]
    shares = (await response.json())["shares"]
    assert [(s["user_id"], s["user_name"], s["access"]) for s in shares] == [
        (colleague.user_id, colleague.name, "read"),
        (UNKNOWN, "", "read"),
    ]
    (asked,) = studio.canvas.asked
    assert (asked.user_id, asked.canvas_id) == (studio.user_id, CANVAS)


async def test_rename_and_delete_go_to_the_canvas_service_as_the_caller(studio: Studio) -> None:
    url = f"/v1/canvases/{CANVAS}"
    renamed = await studio.http.patch(url, json={"name": " Episode 2 "}, headers=studio.headers)
    assert renamed.status == 200, await renamed.text()
    assert (await renamed.json())["name"] == "Episode 2"
    deleted = await studio.http.delete(url, headers=studio.headers)
    assert deleted.status == 204 and await deleted.read() == b""
    rename, delete = studio.canvas.asked
    assert (rename.user_id, rename.canvas_id, rename.name) == (
        studio.user_id,
        CANVAS,
        " Episode 2 ",
    )
    assert (delete.user_id, delete.canvas_id) == (studio.user_id, CANVAS)


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ({}, "'name' must be a string"),
        ({"name": None}, "'name' must be a string"),
        ({"name": ["Episode"]}, "'name' must be a string"),
        ({"name": "Episode", "owner_id": "someone"}, "unknown fields owner_id"),
    ],
)
async def test_a_bad_rename_is_a_400_that_asks_nobody(
    studio: Studio, body: dict[str, Any], says: str
) -> None:
    response = await studio.http.patch(f"/v1/canvases/{CANVAS}", json=body, headers=studio.headers)
    assert says in (await problem(response, 400))["detail"]
    assert studio.canvas.asked == []


async def test_a_read_only_key_lists_shares_but_changes_nothing(studio: Studio, auth: Auth) -> None:
    made = await studio.auth.CreateApiKey(
        auth_pb2.CreateApiKeyRequest(user_id=auth.user_id, scopes=["read"])
    )
    reader = {"Authorization": f"Bearer {made.key}"}
    url = f"/v1/canvases/{CANVAS}"
    assert (await studio.http.get(f"{url}/shares", headers=reader)).status == 200
    for response in (
        await studio.http.patch(url, json={"name": "Episode 2"}, headers=reader),
        await studio.http.delete(url, headers=reader),
        await studio.http.post(
            f"{url}/shares", json={"user": "ada", "access": "read"}, headers=reader
        ),
    ):
        await problem(response, 403)
    assert [type(r) for r in studio.canvas.asked] == [canvas_pb2.ListSharesRequest]
