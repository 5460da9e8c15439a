"""A render.scad job read back as a render: what the batch API lets a job hold, not only what
StartRender submits (test_renders_api.py covers that, against the real batch service)."""

from __future__ import annotations

from typing import Any

from google.protobuf import json_format

from libs.bus.states import JobState
from services.render.renders import render_of
from shotgraph.batch.v1 import batch_pb2
from shotgraph.render.v1 import render_pb2


def job(
    state: JobState, job_input: dict[str, Any], output: dict[str, Any] | None = None
) -> batch_pb2.Job:
    """A job as the batch service answers it: input and output through a protobuf Struct."""
    made = batch_pb2.Job(id="job-1", batch_id="batch-1", function="render.scad", state=state)
    made.input.update(job_input)
    if output is not None:
        made.output.update(output)
    return made


def test_a_job_submitted_to_the_batch_api_with_only_a_source_has_the_defaults() -> None:
    render = render_of(job(JobState.QUEUED, {"source": "cube(1);"}))
    assert list(render.formats) == ["png", "stl"]
    assert not render.parameters and render.view == render_pb2.View()


def test_a_view_comes_back_whole_from_the_jobs_numbers() -> None:
    # A Struct holds every number as a double: 640 comes back as 640.0.
    view = {"width": 640, "height": 480, "projection": "orthographic"}
    camera = {"eye": [10, -20.5, 30], "center": [0, 0, 0]}
    render = render_of(
        job(JobState.RUNNING, {"source": "cube(1);", "view": {**view, "camera": camera}})
    )
    assert json_format.MessageToDict(render.view, preserving_proto_field_name=True) == {
        **view,
        "camera": camera,
    }


def test_outputs_are_the_digests_of_the_formats_asked_for() -> None:
    digest = "a" * 64
    output = {"stl": digest, "png": {"not": "a digest"}, "glb": digest, "colours": ["#ff0000ff"]}
    render = render_of(
        job(JobState.SUCCEEDED, {"source": "cube(1);", "formats": ["png", "stl"]}, output)
    )
    assert dict(render.outputs) == {"stl": digest}
    assert list(render.colours) == ["#ff0000ff"] and not render.cached
