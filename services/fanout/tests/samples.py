"""What the fan-out tests publish: user events as services write them, and messages that are
no user event, each named."""

from __future__ import annotations

import uuid
from typing import Any

import msgpack
import msgspec

from libs.bus import encode
from libs.bus.events import BatchProgress, CanvasChanged, CanvasNodes, JobProgress, NodeResult
from libs.bus.states import BatchState, JobState, NodeState
from libs.bus.work import JobMessage


def progress(done: int, total: int = 4) -> BatchProgress:
    """A batch of ``total`` jobs with ``done`` of them finished: a typical user event."""
    return BatchProgress(
        batch_id=str(uuid.uuid4()),
        state=BatchState.RUNNING,
        total=total,
        counts={JobState.SUCCEEDED: done, JobState.QUEUED: total - done},
        jobs=[
            JobProgress(
                job_id=str(uuid.uuid4()),
                key=f"node-{done}/render",
                function="render.scad",
                state=JobState.SUCCEEDED,
                progress=100,
            )
        ],
    )


def progress_fields() -> dict[str, Any]:
    """A ``batch.progress`` payload as plain data, to be changed before it is packed."""
    return msgspec.to_builtins(progress(1))  # type: ignore[no-any-return]


def envelope(type_: str, payload: object, **fields: Any) -> bytes:
    """An envelope packed by hand, so that it can hold what ``libs.bus.encode`` never writes."""
    written = {"type": type_, "id": uuid.uuid4().hex, "time": 1.5, "payload": payload}
    return msgpack.packb(written | fields, use_bin_type=True)  # type: ignore[no-any-return]


NOT_USER_EVENTS: list[tuple[str, bytes]] = [
    ("garbage bytes", b"\x00garbage\xff"),
    (
        "batch.progress whose total is text",
        envelope("batch.progress", {**progress_fields(), "total": "four"}),
    ),
    (
        "a job.run message on a user subject",
        encode(
            JobMessage(
                job_id=str(uuid.uuid4()),
                batch_id=str(uuid.uuid4()),
                owner_id="u1",
                function="render.scad",
                input={},
            )
        ),
    ),
    (
        "a canvas.changed message on a user subject",
        encode(CanvasChanged(canvas_id=str(uuid.uuid4()), version=2, stamp=1)),
    ),
    ("an envelope whose payload is a list", envelope("batch.progress", [1, 2, 3])),
    ("an unknown type whose payload has integer keys", envelope("studio.note", {1: "one"})),
    (
        "an unknown type holding a MessagePack extension",
        envelope("studio.note", {"blob": msgpack.ExtType(42, b"\x01\x02")}),
    ),
    (
        "an unknown type whose payload has a nil key in a nested map",
        envelope("studio.note", {"by_tag": {None: 1}}),
    ),
    (
        "an unknown type whose name holds a line break",
        envelope("studio.note\nevent: batch.progress", {"text": "hi"}),
    ),
    (
        "batch.progress whose payload has a field named type",
        envelope("batch.progress", {**progress_fields(), "type": "batch.completed"}),
    ),
    (
        "an unknown type whose payload has a field named id",
        envelope("studio.note", {"id": "someone-elses", "text": "hi"}),
    ),
    (
        "a newer batch.progress whose payload has integer keys",
        envelope("batch.progress", {1: "one"}, schema_version=BatchProgress.VERSION + 1),
    ),
]
"""Each is logged as ``nats.malformed`` with its subject and skipped."""


def nodes(canvas_id: str) -> CanvasNodes:
    """Node states of one canvas during Execute: a canvas event."""
    return CanvasNodes(
        canvas_id=canvas_id,
        version=1,
        batch_id=str(uuid.uuid4()),
        nodes=[NodeResult(node_id="shot-1", key="k" * 64, state=NodeState.RUNNING, progress=40)],
    )
