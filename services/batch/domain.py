"""The job state machine and batch roll-up: pure rules, no I/O."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from libs.errors import InvalidArgument

__all__ = [
    "FUNCTIONS",
    "MAX_INPUT_BYTES",
    "MAX_JOBS",
    "BatchState",
    "JobSpec",
    "JobState",
    "apply_report",
    "roll_up",
    "validate_jobs",
    "work_subject",
]

# "<service>.<function>" -> served by that service's workers on work.<service>.<function>.
FUNCTIONS = frozenset({"render.scad", "image.thumbnail"})
MAX_JOBS = 1000
MAX_INPUT_BYTES = 64 * 1024


class JobState(StrEnum):
    PENDING = "pending"
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    SKIPPED = "skipped"

    @property
    def is_final(self) -> bool:
        return self in _FINAL


_FINAL = frozenset({JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED, JobState.SKIPPED})
_REPORTABLE = frozenset({JobState.RUNNING, JobState.SUCCEEDED, JobState.FAILED})


class BatchState(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


@dataclass(frozen=True)
class JobSpec:
    function: str
    input: dict[str, Any]


def work_subject(function: str) -> str:
    return f"work.{function}"


def validate_jobs(specs: Sequence[JobSpec]) -> None:
    """Reject a batch up front rather than fail its jobs one by one later."""
    if not specs:
        raise InvalidArgument("a batch needs at least one job")
    if len(specs) > MAX_JOBS:
        raise InvalidArgument(f"a batch holds at most {MAX_JOBS} jobs, got {len(specs)}")
    for index, spec in enumerate(specs):
        if spec.function not in FUNCTIONS:
            known = ", ".join(sorted(FUNCTIONS))
            raise InvalidArgument(
                f"jobs[{index}]: unknown function {spec.function!r} (known: {known})"
            )
        if len(json.dumps(spec.input)) > MAX_INPUT_BYTES:
            raise InvalidArgument(f"jobs[{index}]: input is larger than {MAX_INPUT_BYTES} bytes")


def apply_report(current: JobState, reported: str) -> JobState | None:
    """The state after a worker's report, or None when the report changes nothing.

    Reports can arrive twice (redelivery) or late (after a retry already finished the job);
    a final state is never left, so replaying any report is harmless.
    """
    try:
        state = JobState(reported)
    except ValueError:
        return None
    if state not in _REPORTABLE or current.is_final:
        return None
    if state == current and state != JobState.RUNNING:
        return None
    return state


def roll_up(states: Iterable[JobState]) -> BatchState:
    states = list(states)
    if states and all(s.is_final for s in states):
        return (
            BatchState.SUCCEEDED
            if all(s == JobState.SUCCEEDED for s in states)
            else BatchState.FAILED
        )
    if any(s != JobState.PENDING and s != JobState.QUEUED for s in states):
        return BatchState.RUNNING
    return BatchState.QUEUED
