"""Events: what users are told on their feed, and what replicas tell each other.

A user's feed is ``events.user.<user_id>`` and the subjects under it: a batch's events go to
``events.user.<owner_id>.batch.<batch_id>``, so fan-out routes them to the batch's topic too.

User events are kept in the EVENTS stream and relayed by fan-out to the user's browsers as
JSON: the envelope's ``type``, ``id``, ``time`` and ``schema_version`` beside the payload's fields
(``web/src/api/events.ts`` holds their TypeScript types, made from these). Canvas events
(``events.canvas.<canvas_id>``) are kept beside them, for every viewer of one canvas.
``canvas.changed`` stays between canvas replicas; ``auth.revoked`` goes from auth to every edge
worker.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Final, Literal

import msgspec

from libs.bus.messages import Message
from libs.bus.states import BatchState, JobState, NodeState
from libs.bus.work import Percent, Uuid

__all__ = [
    "CANVAS_EVENTS",
    "USER_EVENTS",
    "BatchCancelled",
    "BatchCompleted",
    "BatchProgress",
    "BatchRetried",
    "BatchSubmitted",
    "BatchSummary",
    "CanvasChanged",
    "CanvasExecution",
    "CanvasNodes",
    "CredentialRevoked",
    "JobProgress",
    "NodeResult",
]


class BatchSummary(Message, kw_only=True, frozen=True):
    """A batch as a whole: its rolled-up state and how many of its jobs are in each state."""

    VERSION = 2  # 2: canvas_id

    batch_id: Uuid
    state: BatchState
    total: Annotated[int, msgspec.Meta(ge=0)]
    counts: dict[JobState, int]
    canvas_id: str = ""  # the canvas whose Execute submitted the batch, if one did


class BatchSubmitted(BatchSummary, kw_only=True, frozen=True):
    """A batch was accepted; its jobs are queued."""

    TYPE = "batch.submitted"


class BatchCompleted(BatchSummary, kw_only=True, frozen=True):
    """Every job of the batch is final; ``state`` says how it went."""

    TYPE = "batch.completed"


class BatchCancelled(BatchSummary, kw_only=True, frozen=True):
    """The owner cancelled the batch; running jobs stop at their next step."""

    TYPE = "batch.cancelled"


class BatchRetried(BatchSummary, kw_only=True, frozen=True):
    """The owner retried the batch: its failed and skipped jobs run again, each with its
    ``retry`` one higher."""

    TYPE = "batch.retried"


class JobProgress(msgspec.Struct, kw_only=True, frozen=True):
    """One job's latest state, as a progress event carries it."""

    job_id: Uuid
    key: str  # the submitter's name for the job; a canvas's is "<node id>/<step>"
    function: str
    state: JobState
    progress: Percent
    output: dict[str, Any] | None = None
    error: str = ""
    # 0 on the first run; one more each time a retry of the batch puts the job back. A state
    # of a higher retry is newer than any state of a lower one.
    retry: Annotated[int, msgspec.Meta(ge=0)] = 0


class BatchProgress(BatchSummary, kw_only=True, frozen=True):
    """Jobs of a batch moved. Coalesced: at most a few a second per batch, with the newest
    state of up to ``MAX_JOBS_PER_EVENT`` changed jobs and how many more changed."""

    TYPE = "batch.progress"
    VERSION = 2  # 2: canvas_id, and each job's retry
    MAX_JOBS_PER_EVENT: ClassVar[int] = 100

    jobs: list[JobProgress]
    more_jobs_changed: Annotated[int, msgspec.Meta(ge=0)] = 0


class NodeResult(msgspec.Struct, kw_only=True, frozen=True):
    """One canvas node's state after Execute, and what it made once it has."""

    node_id: str
    key: str  # SHA-256 of the node's type, properties and inputs' keys
    state: NodeState
    progress: Percent = 0
    output: dict[str, Any] | None = None
    error: str = ""


class CanvasExecution(Message, kw_only=True, frozen=True):
    """Execute was pressed: every node's state at that moment (cached ones are done)."""

    TYPE = "canvas.execution"

    canvas_id: Uuid
    version: Annotated[int, msgspec.Meta(ge=1)]  # the canvas version executed
    batch_id: str = ""  # empty when every node was cached
    nodes: list[NodeResult]


class CanvasNodes(Message, kw_only=True, frozen=True):
    """Nodes of a canvas changed state in one execution: on Execute every node, then each
    node whose state, progress or result moved. Sent on the canvas's subject, for everyone
    viewing it."""

    TYPE = "canvas.nodes"

    canvas_id: Uuid
    version: Annotated[int, msgspec.Meta(ge=1)]  # the canvas version executed
    batch_id: str = ""  # empty when every node was cached
    nodes: list[NodeResult]


class CanvasChanged(Message, kw_only=True, frozen=True):
    """A canvas changed (saved, renamed, shared, restored) or was deleted; cached copies older
    than ``stamp`` go."""

    TYPE = "canvas.changed"

    canvas_id: Uuid
    version: Annotated[int, msgspec.Meta(ge=0)]
    stamp: Annotated[int, msgspec.Meta(ge=0)]  # its updated_at, in microseconds


class CredentialRevoked(Message, kw_only=True, frozen=True):
    """A session or an API key stopped working (signed out, revoked, a password changed):
    every gateway and fanout worker drops it from its caches and closes its open streams."""

    TYPE = "auth.revoked"

    user_id: Uuid
    credential_kind: Literal["session", "key"]
    credential_id: str  # the session's or key's id, never the token itself


USER_EVENTS: Final[tuple[type[Message], ...]] = (
    BatchSubmitted,
    BatchProgress,
    BatchCompleted,
    BatchCancelled,
    BatchRetried,
    CanvasExecution,
)
CANVAS_EVENTS: Final[tuple[type[Message], ...]] = (CanvasNodes,)
