"""What a render is: one ``render.scad`` job in a batch of its own, read back as a ``Render``.

Pure: the job that makes a checked plan, and a job as the render it stands for. The batch
service owns the job; this is the one place that knows how a render sits inside it.
"""

from __future__ import annotations

from google.protobuf import json_format

from libs.bus.states import JobState
from libs.errors import NotFound
from services.render.jobs import RENDER_SCAD
from services.render.spec import DEFAULT_FORMATS, RenderPlan
from shotgraph.batch.v1 import batch_pb2
from shotgraph.render.v1 import render_pb2

__all__ = ["URGENT", "render_idempotency_key", "render_job_spec", "render_of"]

# Someone is looking at the screen, waiting for it: ahead of normal batches in every queue.
URGENT = "urgent"
_JOB_KEY = "render"


def render_idempotency_key(key: str) -> str:
    """The batch service's idempotency key for a render's batch: renders have keys of their
    own, so a client that sends the same key to ``/v1/batches`` and ``/v1/renders`` gets a
    render back, not the batch of its other request."""
    return f"render:{key}" if key else ""


def render_job_spec(plan: RenderPlan) -> batch_pb2.JobSpec:
    """The one job of a render's batch: a checked plan as its ``render.scad`` input."""
    job = batch_pb2.JobSpec(function=RENDER_SCAD.name, key=_JOB_KEY)
    job.input.update(plan.job_input())
    return job


def render_of(job: batch_pb2.Job) -> render_pb2.Render:
    """A ``render.scad`` job as the render it makes; a job of another function is no render."""
    if job.function != RENDER_SCAD.name:
        raise NotFound(f"no render {job.id!r}")
    state = JobState(job.state)
    given = json_format.MessageToDict(job.input)
    render = render_pb2.Render(
        id=job.id,
        batch_id=job.batch_id,
        state=state.value,
        progress=job.progress,
        formats=given.get("formats") or DEFAULT_FORMATS,
        error=job.error,
    )
    render.parameters.update(given.get("parameters") or {})
    # Jobs submitted straight to the batch API may carry any view the job schema allows.
    json_format.ParseDict(given.get("view") or {}, render.view, ignore_unknown_fields=True)
    if state is JobState.SUCCEEDED:
        made = json_format.MessageToDict(job.output)
        render.outputs.update(
            {fmt: made[fmt] for fmt in render.formats if isinstance(made.get(fmt), str)}
        )
        render.colours.extend(made.get("colours") or [])
        render.cached.extend(made.get("cached") or [])
    return render
