"""Errors of a downstream service, across a real gRPC hop, as the problems a client sees.

The gateway's batch routes call a real gRPC server answering ``GetJob`` with the error its job
id names (a stand-in for the batch service's answers, served with the platform's own error
mapping); keys are checked by the real auth service. Outages are real too: nothing listening,
a call past its deadline, a breaker left open.
"""

from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack
from typing import Any

import grpc
import pytest

from libs.downstream import Downstream
from libs.errors import (
    Conflict,
    Forbidden,
    InvalidArgument,
    NotFound,
    PayloadTooLarge,
    ShotgraphError,
    Unavailable,
    Unprocessable,
)
from libs.ports import free_port
from libs.resilience import Breakers
from services.gateway.batches import Batches
from services.gateway.blob_access import BlobAccess
from services.gateway.tests.conftest import Auth, GatewayClient, client_of, guarded_app
from shotgraph.auth.v1 import auth_pb2_grpc
from shotgraph.batch.v1 import batch_pb2, batch_pb2_grpc
from shotgraph.canvas.v1 import canvas_pb2_grpc
from shotgraph.image.v1 import image_pb2_grpc
from tests.in_process import downstream, serve

PROBLEM = "application/problem+json"
ANSWERS: dict[str, ShotgraphError] = {
    "missing": NotFound("no job missing"),
    "invalid": InvalidArgument("'job_id' is not a job id"),
    "unrenderable": Unprocessable("Parser error in line 2", extensions={"line": 2}),
    "conflicting": Conflict("the batch is running"),
    "forbidden": Forbidden("not shared with you"),
    "too-large": PayloadTooLarge("the output is over the limit"),
    "its-dependency-down": Unavailable("Postgres is unavailable"),
}


class AnsweringBatch(batch_pb2_grpc.BatchServiceServicer):
    """GetJob answers with the error its job id names, hangs, fails, or finds the job."""

    def __init__(self) -> None:
        self.asked: list[batch_pb2.GetJobRequest] = []

    async def GetJob(
        self, request: batch_pb2.GetJobRequest, context: grpc.aio.ServicerContext
    ) -> batch_pb2.Job:
        self.asked.append(request)
        if request.job_id in ANSWERS:
            raise ANSWERS[request.job_id]
        if request.job_id == "hangs":
            await asyncio.Event().wait()  # never set: only the caller's deadline ends it
        if request.job_id == "crashes":
            raise RuntimeError("a bug in the batch service")
        return batch_pb2.Job(id=request.job_id, function="render.scad", state="queued")


def serving(servicer: AnsweringBatch) -> Any:
    return lambda server: batch_pb2_grpc.add_BatchServiceServicer_to_server(servicer, server)


async def gateway(
    stack: AsyncExitStack,
    auth: Downstream[auth_pb2_grpc.AuthServiceStub],
    batch: Downstream[batch_pb2_grpc.BatchServiceStub],
) -> GatewayClient:
    """The gateway's key check and batch routes, as app.build wires them."""
    app, _ = guarded_app(auth)
    # Blob owners that listen nowhere: these tests submit no job that names a blob.
    nowhere = f"127.0.0.1:{free_port()}"
    image = downstream(stack, "image", nowhere, image_pb2_grpc.ImageServiceStub)
    canvas = downstream(stack, "canvas", nowhere, canvas_pb2_grpc.CanvasServiceStub)
    Batches(batch, BlobAccess(image, batch, canvas)).add_routes(app)
    return await client_of(stack, app)


@pytest.fixture
def answering() -> AnsweringBatch:
    return AnsweringBatch()


@pytest.fixture
async def http(stack: AsyncExitStack, auth: Auth, answering: AnsweringBatch) -> GatewayClient:
    """The gateway, its batch service answering, as the test's user."""
    batch_address = await serve(stack, serving(answering))
    return await gateway(
        stack,
        downstream(stack, "auth", auth.address, auth_pb2_grpc.AuthServiceStub),
        downstream(stack, "batch", batch_address, batch_pb2_grpc.BatchServiceStub),
    )


def bearer(auth: Auth) -> dict[str, str]:
    return {"Authorization": f"Bearer {auth.key}"}


async def problem(response: Any, status: int, type_slug: str) -> dict[str, Any]:
    """The response's problem document, checked to be one of ``status`` and ``type_slug``."""
    assert response.status == status, await response.text()
    assert response.content_type == PROBLEM
    body: dict[str, Any] = await response.json(content_type=PROBLEM)
    assert body["status"] == status
    assert body["type"] == f"https://shotgraph.dev/problems/{type_slug}"
    return body


async def test_an_answer_is_the_callers_job(
    http: GatewayClient, auth: Auth, answering: AnsweringBatch
) -> None:
    response = await http.get("/v1/jobs/job-7", headers=bearer(auth))
    assert response.status == 200
    assert (await response.json())["id"] == "job-7"
    assert [(r.owner_id, r.job_id) for r in answering.asked] == [(auth.user_id, "job-7")]


@pytest.mark.parametrize(
    ("job_id", "status", "type_slug"),
    [
        ("missing", 404, "not-found"),
        ("invalid", 400, "invalid-request"),
        ("unrenderable", 422, "unprocessable"),
        ("conflicting", 409, "conflict"),
        ("forbidden", 403, "forbidden"),
        ("too-large", 413, "payload-too-large"),
    ],
)
async def test_a_downstream_answer_is_its_problem(
    http: GatewayClient, auth: Auth, job_id: str, status: int, type_slug: str
) -> None:
    body = await problem(
        await http.get(f"/v1/jobs/{job_id}", headers=bearer(auth)), status, type_slug
    )
    assert body["detail"] == ANSWERS[job_id].detail
    assert body["instance"] == f"/v1/jobs/{job_id}"


async def test_a_422_keeps_the_line_the_model_failed_at(http: GatewayClient, auth: Auth) -> None:
    body = await problem(
        await http.get("/v1/jobs/unrenderable", headers=bearer(auth)), 422, "unprocessable"
    )
    assert body["line"] == 2


async def test_a_downstream_bug_is_a_500_that_tells_nothing(
    http: GatewayClient, auth: Auth
) -> None:
    body = await problem(await http.get("/v1/jobs/crashes", headers=bearer(auth)), 500, "internal")
    assert "a bug" not in body["detail"]


async def test_a_downstreams_own_outage_is_a_503_to_retry(http: GatewayClient, auth: Auth) -> None:
    response = await http.get("/v1/jobs/its-dependency-down", headers=bearer(auth))
    await problem(response, 503, "unavailable")
    assert int(response.headers["Retry-After"]) > 0


async def test_a_service_that_is_down_is_a_503_to_retry(stack: AsyncExitStack, auth: Auth) -> None:
    http = await gateway(
        stack,
        downstream(stack, "auth", auth.address, auth_pb2_grpc.AuthServiceStub),
        downstream(stack, "batch", f"127.0.0.1:{free_port()}", batch_pb2_grpc.BatchServiceStub),
    )
    response = await http.get("/v1/jobs/job-7", headers=bearer(auth))
    body = await problem(response, 503, "unavailable")
    assert "upstream unavailable" in body["detail"]
    assert int(response.headers["Retry-After"]) > 0


async def test_a_call_past_its_deadline_is_a_503_to_retry(
    stack: AsyncExitStack, auth: Auth, answering: AnsweringBatch
) -> None:
    batch_address = await serve(stack, serving(answering))
    http = await gateway(
        stack,
        downstream(stack, "auth", auth.address, auth_pb2_grpc.AuthServiceStub),
        downstream(stack, "batch", batch_address, batch_pb2_grpc.BatchServiceStub, deadline_s=0.3),
    )
    response = await http.get("/v1/jobs/hangs", headers=bearer(auth))
    body = await problem(response, 503, "unavailable")
    assert "Deadline Exceeded" in body["detail"]
    assert int(response.headers["Retry-After"]) > 0


async def test_an_open_breaker_is_a_503_without_asking(
    stack: AsyncExitStack, auth: Auth, answering: AnsweringBatch
) -> None:
    port = free_port()  # nothing listens there yet
    batch = downstream(
        stack,
        "batch",
        f"127.0.0.1:{port}",
        batch_pb2_grpc.BatchServiceStub,
        breakers=Breakers(threshold=2, ttl_s=30),
    )
    http = await gateway(
        stack, downstream(stack, "auth", auth.address, auth_pb2_grpc.AuthServiceStub), batch
    )
    for _ in range(2):
        await problem(await http.get("/v1/jobs/job-7", headers=bearer(auth)), 503, "unavailable")
    await serve(stack, serving(answering), port)
    response = await http.get("/v1/jobs/job-7", headers=bearer(auth))
    body = await problem(response, 503, "unavailable")
    assert body["detail"] == "batch is unavailable; retry shortly"
    assert response.headers["Retry-After"] == "30"
    assert answering.asked == [], "the batch service, back up, was not asked while it was open"


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer sg_" + "a" * 43}, {"X-API-Key": "not-a-key"}],
    ids=["no-key", "unknown-key", "malformed-key"],
)
async def test_a_call_without_a_known_key_is_a_401(
    http: GatewayClient, answering: AnsweringBatch, headers: dict[str, str]
) -> None:
    await problem(await http.get("/v1/jobs/job-7", headers=headers), 401, "unauthenticated")
    assert answering.asked == []


async def test_keys_cannot_be_checked_while_auth_is_down(
    stack: AsyncExitStack, answering: AnsweringBatch
) -> None:
    http = await gateway(
        stack,
        downstream(stack, "auth", f"127.0.0.1:{free_port()}", auth_pb2_grpc.AuthServiceStub),
        downstream(
            stack, "batch", await serve(stack, serving(answering)), batch_pb2_grpc.BatchServiceStub
        ),
    )
    headers = {"Authorization": "Bearer sg_" + "a" * 43}
    response = await http.get("/v1/jobs/job-7", headers=headers)
    await problem(response, 503, "unavailable")
    assert answering.asked == []
