"""StartRender and GetRender over gRPC, against the real batch service run in this process
(``tests/in_process.py``): no dispatcher runs there, so a render's job stays queued until
the test hands it out and reports on it the way a worker would.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack
from typing import Any

import asyncpg
import pytest
from nats.js import JetStreamContext

from libs.blobs import BlobStore
from libs.bus.states import JobState, ReportedState
from libs.bus.work import JobReport
from libs.downstream import Downstream
from libs.errors import InvalidArgument, NotFound, ShotgraphError, Unavailable, Unprocessable
from libs.ports import free_port
from libs.rpc import create_server
from services.image.jobs import THUMBNAIL
from services.render.cache import RenderCache
from services.render.handlers import RenderServicer
from services.render.jobs import RENDER_SCAD
from services.render.scad import RenderLimits
from shotgraph.batch.v1 import batch_pb2, batch_pb2_grpc
from shotgraph.render.v1 import render_pb2, render_pb2_grpc
from tests.in_process import BatchClient, BatchService, downstream

MODEL = '// [Colours]\nbody = "red";\nsize = 10; // [2:40]\ncolor(body) cube(size);\n'
DIGESTS = {fmt: hashlib.sha256(fmt.encode()).hexdigest() for fmt in ("png", "stl", "glb")}

RenderClient = Downstream[render_pb2_grpc.RenderServiceStub]


async def serve_renders(
    stack: AsyncExitStack, nats_js: JetStreamContext, batch_address: str
) -> RenderClient:
    """The render service, calling the batch service at ``batch_address``; a client of it."""
    batch = downstream(stack, "batch", batch_address, batch_pb2_grpc.BatchServiceStub)
    servicer = RenderServicer(
        RenderLimits(), BlobStore(nats_js), RenderCache(nats_js), batch, sandboxed=True
    )
    port = free_port()
    server, _ = await create_server(
        "render", port, [lambda s: render_pb2_grpc.add_RenderServiceServicer_to_server(servicer, s)]
    )
    stack.push_async_callback(server.stop, None)
    return downstream(stack, "render", f"127.0.0.1:{port}", render_pb2_grpc.RenderServiceStub)


@pytest.fixture
async def renders(
    stack: AsyncExitStack, nats_js: JetStreamContext, batch_service: BatchService
) -> RenderClient:
    return await serve_renders(stack, nats_js, batch_service.address)


@pytest.fixture
def batch(batch_service: BatchService) -> BatchClient:
    """The batch service, as the test asks it what the render service made."""
    return batch_service.client


@pytest.fixture
async def owners(pg_pool: asyncpg.Pool) -> AsyncIterator[Callable[[], str]]:
    """User ids unique to this test; their batches are deleted after it."""
    made: list[str] = []

    def new_owner() -> str:
        made.append(f"user-{uuid.uuid4().hex}")
        return made[-1]

    yield new_owner
    await pg_pool.execute("DELETE FROM batch.batches WHERE owner_id = ANY($1)", made)


@pytest.fixture
def owner(owners: Callable[[], str]) -> str:
    return owners()


async def start(
    renders: RenderClient, owner: str, key: str = "", **spec: Any
) -> render_pb2.StartRenderResponse:
    call = render_pb2.StartRenderRequest(owner_id=owner, idempotency_key=key)
    call.spec.source = MODEL
    call.spec.MergeFrom(render_pb2.RenderSpec(**spec))
    started: render_pb2.StartRenderResponse = await renders.call(renders.stub.StartRender, call)
    return started


async def get(renders: RenderClient, owner: str, render_id: str) -> render_pb2.Render:
    call = render_pb2.GetRenderRequest(owner_id=owner, render_id=render_id)
    render: render_pb2.Render = await renders.call(renders.stub.GetRender, call)
    return render


async def report(batch: BatchService, render: render_pb2.Render, **fields: Any) -> None:
    """A worker's report on the render's job, handed out to it first."""
    await batch.report(JobReport(job_id=render.id, batch_id=render.batch_id, **fields))


async def test_a_render_is_checked_then_queued_as_one_urgent_job(
    renders: RenderClient, batch: BatchClient, owner: str
) -> None:
    started = await start(renders, owner, formats=["stl", "png"])
    render = started.render
    assert started.created
    assert JobState(render.state) is JobState.QUEUED and render.progress == 0
    assert list(render.formats) == ["png", "stl"]
    assert dict(render.parameters) == {"body": "#ff0000", "size": 10}, "every value, checked"
    assert (render.view.width, render.view.height, render.view.projection) == (
        512,
        512,
        "perspective",
    )
    assert not render.outputs and not render.error

    queued = await batch.call(
        batch.stub.GetBatch, batch_pb2.GetBatchRequest(owner_id=owner, batch_id=render.batch_id)
    )
    assert (queued.priority, queued.total) == ("urgent", 1)
    job = await batch.call(
        batch.stub.GetJob, batch_pb2.GetJobRequest(owner_id=owner, job_id=render.id)
    )
    assert job.function == RENDER_SCAD.name and job.batch_id == render.batch_id
    assert await get(renders, owner, render.id) == render


async def test_a_repeated_idempotency_key_is_the_first_render(
    renders: RenderClient, owner: str
) -> None:
    first = await start(renders, owner, "render-once")
    again = await start(renders, owner, "render-once")
    other = await start(renders, owner, "render-twice")
    assert first.created and not again.created and other.created
    assert again.render == first.render
    assert other.render.id != first.render.id


async def test_a_key_already_used_for_a_batch_still_starts_a_render(
    renders: RenderClient, batch: BatchClient, owner: str
) -> None:
    """Renders keep idempotency keys of their own: the same key sent to the batch API first
    does not make StartRender answer with that other batch (whose job is no render)."""
    other = batch_pb2.SubmitBatchRequest(
        owner_id=owner,
        idempotency_key="shared-key",
        jobs=[batch_pb2.JobSpec(function=RENDER_SCAD.name, key="not-a-render-call")],
    )
    other.jobs[0].input.update({"source": MODEL})
    submitted = await batch.call(batch.stub.SubmitBatch, other)
    started = await start(renders, owner, "shared-key")
    assert started.created and started.render.batch_id != submitted.batch.id


async def test_a_render_is_followed_to_its_outputs(
    renders: RenderClient, batch_service: BatchService, owner: str
) -> None:
    render = (await start(renders, owner, formats=["png", "stl"])).render
    await report(batch_service, render, state=ReportedState.RUNNING, progress=40)
    running = await get(renders, owner, render.id)
    assert (JobState(running.state), running.progress) == (JobState.RUNNING, 40)
    assert not running.outputs

    made = {**DIGESTS, "colours": ["#ff0000ff"], "cached": ["stl"], "seconds": 1.5}
    await report(batch_service, render, state=ReportedState.SUCCEEDED, progress=100, output=made)
    done = await get(renders, owner, render.id)
    assert JobState(done.state) is JobState.SUCCEEDED and done.progress == 100
    assert dict(done.outputs) == {"png": DIGESTS["png"], "stl": DIGESTS["stl"]}, "as asked"
    assert (list(done.colours), list(done.cached)) == (["#ff0000ff"], ["stl"])


async def test_a_failed_render_says_why(
    renders: RenderClient, batch_service: BatchService, owner: str
) -> None:
    render = (await start(renders, owner)).render
    why = "ERROR: Recursion detected calling function 'f'"
    await report(batch_service, render, state=ReportedState.FAILED, error=why)
    failed = await get(renders, owner, render.id)
    assert JobState(failed.state) is JobState.FAILED and failed.error == why
    assert not failed.outputs


@pytest.mark.parametrize("which", ["another-users", "a-thumbnail-job", "not-an-id"])
async def test_what_is_not_the_callers_render_is_not_found(
    renders: RenderClient, batch: BatchClient, owners: Callable[[], str], which: str
) -> None:
    owner = owners()
    if which == "another-users":
        render_id = (await start(renders, owners())).render.id
    elif which == "a-thumbnail-job":
        job = batch_pb2.JobSpec(function=THUMBNAIL.name, key="thumb")
        job.input.update({"blob": DIGESTS["png"]})
        submitted = await batch.call(
            batch.stub.SubmitBatch, batch_pb2.SubmitBatchRequest(owner_id=owner, jobs=[job])
        )
        listed = await batch.call(
            batch.stub.ListJobs,
            batch_pb2.ListJobsRequest(owner_id=owner, batch_id=submitted.batch.id),
        )
        render_id = listed.jobs[0].id
    else:
        render_id = "../../etc/passwd"
    with pytest.raises(NotFound):
        await get(renders, owner, render_id)


@pytest.mark.parametrize(
    ("spec", "error", "detail"),
    [
        ({"source": "cube(1);\nsphere(2;\n"}, Unprocessable, "Parser error"),
        ({"source": "  "}, InvalidArgument, "'source'"),
        ({"formats": ["obj"]}, InvalidArgument, "unsupported format"),
        ({"parameter_set": "Nope"}, InvalidArgument, "no named sets"),
        ({"view": render_pb2.View(projection="fisheye")}, InvalidArgument, "projection"),
    ],
    ids=["syntax-error", "blank-source", "unsupported-format", "unknown-set", "bad-projection"],
)
async def test_a_bad_render_is_refused_before_anything_is_queued(
    renders: RenderClient,
    batch: BatchClient,
    owner: str,
    spec: dict[str, Any],
    error: type[ShotgraphError],
    detail: str,
) -> None:
    with pytest.raises(error, match=detail) as raised:
        await start(renders, owner, **spec)
    if error is Unprocessable:
        assert raised.value.extensions == {"line": 2}, "OpenSCAD's line crosses both hops"
    listed = await batch.call(batch.stub.ListBatches, batch_pb2.ListBatchesRequest(owner_id=owner))
    assert not listed.batches


async def test_a_render_without_an_owner_is_refused(renders: RenderClient) -> None:
    with pytest.raises(InvalidArgument, match="owner_id"):
        await start(renders, "")


async def test_renders_are_unavailable_while_batch_is_down(
    stack: AsyncExitStack, nats_js: JetStreamContext
) -> None:
    renders = await serve_renders(stack, nats_js, f"127.0.0.1:{free_port()}")
    with pytest.raises(Unavailable):
        await start(renders, "user-1")
    with pytest.raises(Unavailable):
        await get(renders, "user-1", str(uuid.uuid4()))


async def test_a_preview_whose_deadline_leaves_no_time_to_render_is_unavailable(
    renders: RenderClient,
) -> None:
    # Less than the margin kept for storing the PNG: refused at once, before any openscad.
    spec = render_pb2.RenderSpec(source='color("red") { color("blue") cube(1); }')
    with pytest.raises(Unavailable, match="no time to render"):
        await renders.call(renders.stub.Preview, spec, deadline_s=0.4)
