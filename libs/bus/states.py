"""The states a job, a batch and a canvas node can be in: one enum each, shared by every
service and by the messages that carry them.

Adding a value is a change every reader must know first (see ``libs/bus/messages.py``), so a
new state goes out only after the services and the studio that read it.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = ["FINAL_JOB_STATES", "BatchState", "JobState", "NodeState", "ReportedState"]


class JobState(StrEnum):
    """Where a job of a batch stands."""

    PENDING = "pending"  # waiting for its dependencies
    QUEUED = "queued"  # ready; in the dispatch queue or on its work subject
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    SKIPPED = "skipped"  # a dependency did not succeed

    @property
    def is_final(self) -> bool:
        return self in FINAL_JOB_STATES

    @property
    def is_broken(self) -> bool:
        """Final without a result: whatever needed this job cannot be made."""
        return self.is_final and self is not JobState.SUCCEEDED


FINAL_JOB_STATES = frozenset(
    {JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED, JobState.SKIPPED}
)


class BatchState(StrEnum):
    """A batch's state, rolled up from its jobs'."""

    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def is_final(self) -> bool:
        return self in (BatchState.SUCCEEDED, BatchState.FAILED, BatchState.CANCELLED)


class ReportedState(StrEnum):
    """What a worker reports of a job it was given."""

    RUNNING = "running"  # still at it (with progress)
    SUCCEEDED = "succeeded"  # with its output
    FAILED = "failed"  # for good: bad input, or its last attempt
    RETRYING = "retrying"  # this attempt failed; JetStream delivers it again
    CANCELLED = "cancelled"  # its batch was cancelled
    DEFERRED = "deferred"  # not now: back to the queue after a delay, no attempt spent


class NodeState(StrEnum):
    """Where a canvas node stands after Execute."""

    NOT_RUN = "not_run"  # nothing made for its current properties yet
    IDLE = "idle"  # makes nothing (no images, no set piece)
    CACHED = "cached"  # made before under the same key: reused, nothing runs
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
