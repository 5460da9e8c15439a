"""Work on the bus: the job a dispatcher hands a worker, the worker's reports back, and the
functions workers announce.

``work.<service>.<function>`` carries ``JobMessage``s (the WORK stream, one worker each);
``job.result.<batch_id>`` carries ``JobReport``s back to batch (the RESULTS stream);
``$KV.functions.<function>`` holds each function's ``FunctionSpec`` (JSON), which batch checks
submissions against.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Final

import msgspec

from libs.bus.messages import Message
from libs.bus.states import ReportedState
from libs.bus.subjects import work_subject

__all__ = ["MAX_NOTE_CHARS", "FunctionSpec", "JobMessage", "JobReport", "Uuid"]

Uuid = Annotated[
    str,
    msgspec.Meta(
        pattern="^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$",
        description="A UUID in its canonical lower-case form.",
    ),
]
Percent = Annotated[int, msgspec.Meta(ge=0, le=100)]
MAX_NOTE_CHARS: Final = 200


class JobMessage(Message, kw_only=True, frozen=True):
    """One job for a worker of its function. Its input fits the function's ``input_schema``;
    a job that depends on others finds their outputs in ``input.dependencies.<key>``."""

    TYPE = "job.run"

    job_id: Uuid
    batch_id: Uuid
    owner_id: str
    function: str
    input: dict[str, Any]
    # 1 for the first publish; grows when a job is deliberately sent again (after a deferral),
    # so a report of an earlier dispatch is recognised as stale.
    dispatch: Annotated[int, msgspec.Meta(ge=1)] = 1


class JobReport(Message, kw_only=True, frozen=True):
    """A worker's word on a job: it runs, it succeeded (with its output), it failed, ..."""

    TYPE = "job.result"

    job_id: Uuid
    batch_id: Uuid
    state: ReportedState
    attempt: Annotated[int, msgspec.Meta(ge=1)] = 1  # JetStream's delivery count
    dispatch: Annotated[int, msgspec.Meta(ge=0)] = 0  # the JobMessage's
    worker: Annotated[str, msgspec.Meta(max_length=300)] = ""
    progress: Percent | None = None
    note: Annotated[str, msgspec.Meta(max_length=MAX_NOTE_CHARS)] = ""
    output: dict[str, Any] | None = None  # with SUCCEEDED
    error: str | None = None  # with FAILED and RETRYING (and why, with DEFERRED)
    delay_s: Annotated[float, msgspec.Meta(ge=0)] = 0.0  # with DEFERRED


class FunctionSpec(msgspec.Struct, kw_only=True, frozen=True):
    """A function a worker serves: ``<service>.<name>``, with a JSON Schema for its input."""

    name: str
    input_schema: dict[str, Any] = msgspec.field(default_factory=lambda: {"type": "object"})
    description: str = ""

    @property
    def subject(self) -> str:
        return work_subject(self.name)

    def to_json(self) -> bytes:
        return msgspec.json.encode(self)

    @classmethod
    def from_json(cls, data: bytes) -> FunctionSpec:
        return msgspec.json.decode(data, type=cls)

    def __hash__(self) -> int:  # the schema is a dict: hash what identifies the function
        return hash((self.name, json.dumps(self.input_schema, sort_keys=True)))
