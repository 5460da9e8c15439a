"""The gateway's render routes: a Render from the render service as the API's JSON, its status
codes, and its files from the blob store.

The render service here is a real gRPC server answering with the renders a test gives it, so
each state is shown exactly; the real render service is tested against the real batch service
in services/render/tests/test_renders_api.py, and the whole path in tests/e2e/test_renders.py.
"""

from __future__ import annotations

from contextlib import AsyncExitStack
from typing import Any

import grpc
import pytest
from nats.js import JetStreamContext

from libs.blobs import BlobStore
from libs.bus import ensure_streams
from libs.errors import NotFound
from services.gateway.renders import Renders
from services.gateway.tests.conftest import Auth, GatewayClient, client_of, guarded_app
from shotgraph.auth.v1 import auth_pb2_grpc
from shotgraph.render.v1 import render_pb2, render_pb2_grpc
from tests.in_process import downstream, serve

PROBLEM = "application/problem+json"
STL = b"solid cube\nendsolid cube\n"


class KnownRenders(render_pb2_grpc.RenderServiceServicer):
    """Answers with the renders a test put in ``renders``; keeps what it was asked to start."""

    def __init__(self) -> None:
        self.renders: dict[str, render_pb2.Render] = {}
        self.started: list[render_pb2.StartRenderRequest] = []

    async def StartRender(
        self, request: render_pb2.StartRenderRequest, context: grpc.aio.ServicerContext
    ) -> render_pb2.StartRenderResponse:
        repeated = bool(request.idempotency_key) and any(
            s.idempotency_key == request.idempotency_key for s in self.started
        )
        self.started.append(request)
        render = render_pb2.Render(
            id="render-1", batch_id="batch-1", state="queued", formats=sorted(request.spec.formats)
        )
        render.parameters.update({"size": 2})
        render.view.width, render.view.height, render.view.projection = 512, 512, "perspective"
        return render_pb2.StartRenderResponse(render=render, created=not repeated)

    async def GetRender(
        self, request: render_pb2.GetRenderRequest, context: grpc.aio.ServicerContext
    ) -> render_pb2.Render:
        if request.render_id not in self.renders:
            raise NotFound(f"no render {request.render_id!r}")
        return self.renders[request.render_id]


@pytest.fixture
def known() -> KnownRenders:
    return KnownRenders()


@pytest.fixture
async def store(nats_js: JetStreamContext) -> BlobStore:
    await ensure_streams(nats_js)
    return BlobStore(nats_js)


@pytest.fixture
async def http(
    stack: AsyncExitStack, auth: Auth, known: KnownRenders, store: BlobStore
) -> GatewayClient:
    """The gateway's render routes as the test's user."""
    address = await serve(
        stack, lambda server: render_pb2_grpc.add_RenderServiceServicer_to_server(known, server)
    )
    app, _ = guarded_app(downstream(stack, "auth", auth.address, auth_pb2_grpc.AuthServiceStub))
    render = downstream(stack, "render", address, render_pb2_grpc.RenderServiceStub)
    Renders(render, store).add_routes(app)
    client = await client_of(stack, app)
    client.session.headers["Authorization"] = f"Bearer {auth.key}"
    return client


def finished(state: str, *, error: str = "", **outputs: str) -> render_pb2.Render:
    """A render of a set piece in png and stl that ended in ``state``."""
    render = render_pb2.Render(
        id="render-2",
        batch_id="batch-2",
        state=state,
        progress=100 if state == "succeeded" else 40,
        formats=["png", "stl"],
        outputs=outputs,
        colours=["#ff0000ff", "#0000ffff"] if outputs else [],
        cached=["png"] if outputs else [],
        error=error,
    )
    render.parameters.update({"lid": "#0000ff", "size": 10})
    render.view.width, render.view.height = 320, 200
    render.view.projection = "perspective"
    render.view.camera.rotate.extend([70, 0, 30])
    return render


async def problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status == status, await response.text()
    body: dict[str, Any] = await response.json(content_type=PROBLEM)
    return body


async def test_a_new_render_is_a_202_with_where_to_follow_it(
    http: GatewayClient, auth: Auth, known: KnownRenders
) -> None:
    body = {"source": "cube(size);", "parameters": {"size": 2}, "formats": ["stl"]}
    response = await http.post("/v1/renders", json=body, headers={"Idempotency-Key": "once"})
    assert response.status == 202
    assert response.headers["Location"] == "/v1/renders/render-1"
    assert await response.json() == {
        "id": "render-1",
        "batch_id": "batch-1",
        "state": "queued",
        "progress": 0,
        "formats": ["stl"],
        "parameters": {"size": 2},
        "view": {"width": 512, "height": 512, "projection": "perspective"},
    }
    [asked] = known.started
    assert (asked.owner_id, asked.idempotency_key) == (auth.user_id, "once")
    assert (asked.spec.source, list(asked.spec.formats)) == ("cube(size);", ["stl"])
    assert dict(asked.spec.parameters) == {"size": 2}

    again = await http.post("/v1/renders", json=body, headers={"Idempotency-Key": "once"})
    assert again.status == 200, "the first render, nothing new queued"
    assert again.headers["Location"] == "/v1/renders/render-1"


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        ({"source": 42}, "'source' must be a string"),
        ({"source": "cube(1);", "formats": "png"}, "not a render request"),
        ({"source": "cube(1);", "colour": "red"}, "not a render request"),
    ],
    ids=["source-not-a-string", "formats-not-a-list", "unknown-field"],
)
async def test_a_malformed_render_request_is_a_400_the_render_service_never_sees(
    http: GatewayClient, known: KnownRenders, body: dict[str, Any], detail: str
) -> None:
    problem_body = await problem(await http.post("/v1/renders", json=body), 400)
    assert detail in problem_body["detail"]
    assert known.started == []


async def test_a_succeeded_render_shows_its_outputs_colours_and_cache(
    http: GatewayClient, known: KnownRenders
) -> None:
    known.renders["render-2"] = finished("succeeded", png="a" * 64, stl="b" * 64)
    response = await http.get("/v1/renders/render-2")
    assert response.status == 200
    assert await response.json() == {
        "id": "render-2",
        "batch_id": "batch-2",
        "state": "succeeded",
        "progress": 100,
        "formats": ["png", "stl"],
        "parameters": {"lid": "#0000ff", "size": 10},
        "view": {
            "width": 320,
            "height": 200,
            "projection": "perspective",
            "camera": {"rotate": [70, 0, 30]},
        },
        "outputs": {
            "png": {"blob": "a" * 64, "url": "/v1/renders/render-2/png"},
            "stl": {"blob": "b" * 64, "url": "/v1/renders/render-2/stl"},
        },
        "colours": ["#ff0000ff", "#0000ffff"],
        "cached": ["png"],
    }


async def test_a_failed_render_says_why_and_shows_no_outputs(
    http: GatewayClient, known: KnownRenders
) -> None:
    known.renders["render-2"] = finished("failed", error="Recursion detected")
    shown = await (await http.get("/v1/renders/render-2")).json()
    assert (shown["state"], shown["error"]) == ("failed", "Recursion detected")
    assert not {"outputs", "colours", "cached"} & set(shown)


@pytest.mark.parametrize(
    ("state", "error", "fmt", "status", "detail"),
    [
        ("running", "", "stl", 409, "the render is running (40%); try later"),
        ("queued", "", "png", 409, "the render is queued (40%); try later"),
        ("failed", "Recursion detected", "stl", 422, "Recursion detected"),
        ("cancelled", "", "stl", 422, "the render was cancelled"),
        ("succeeded", "", "glb", 404, "this render was not asked for glb; it made ['png', 'stl']"),
        ("succeeded", "", "obj", 404, "no such format 'obj'"),
    ],
    ids=["running", "queued", "failed", "cancelled", "format-not-asked-for", "unknown-format"],
)
async def test_an_output_that_cannot_be_had_says_why(
    http: GatewayClient,
    known: KnownRenders,
    state: str,
    error: str,
    fmt: str,
    status: int,
    detail: str,
) -> None:
    outputs = {"png": "a" * 64, "stl": "b" * 64} if state == "succeeded" else {}
    known.renders["render-2"] = finished(state, error=error, **outputs)
    body = await problem(await http.get(f"/v1/renders/render-2/{fmt}"), status)
    assert detail in body["detail"]


async def test_a_render_the_render_service_does_not_know_is_a_404(http: GatewayClient) -> None:
    for path in ("/v1/renders/someone-elses", "/v1/renders/someone-elses/stl"):
        body = await problem(await http.get(path), 404)
        assert body["detail"] == "no render 'someone-elses'"


async def test_a_finished_output_is_its_file(
    http: GatewayClient, known: KnownRenders, store: BlobStore
) -> None:
    digest = await store.put(STL, "model/stl")
    known.renders["render-2"] = finished("succeeded", png="a" * 64, stl=digest)
    response = await http.get("/v1/renders/render-2/stl")
    assert response.status == 200
    assert await response.read() == STL
    assert response.headers["ETag"] == f'"{digest}"'
    assert response.headers["Content-Disposition"] == 'attachment; filename="render.stl"'
