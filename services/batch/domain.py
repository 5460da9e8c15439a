"""The batch domain: job graphs, the job state machine and batch roll-up. Pure rules, no I/O."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any

from libs.bus.envelope import MAX_MESSAGE_BYTES
from libs.bus.states import FINAL_JOB_STATES, BatchState, JobState, ReportedState
from libs.errors import InvalidArgument

__all__ = [
    "MAX_DEPENDENCIES",
    "MAX_INPUT_BYTES",
    "MAX_JOBS",
    "JobSpec",
    "Priority",
    "Transition",
    "apply_report",
    "order_jobs",
    "roll_up",
]

MAX_JOBS = 10_000
MAX_DEPENDENCIES = 100
# A job's input travels in one work message, with its dependencies' outputs beside it.
MAX_INPUT_BYTES = MAX_MESSAGE_BYTES * 3 // 4
MAX_KEY_LENGTH = 100


class Priority(IntEnum):
    NORMAL = 0
    URGENT = 10

    @classmethod
    def parse(cls, raw: str) -> Priority:
        try:
            return cls[(raw or "normal").upper()]
        except KeyError:
            raise InvalidArgument("priority must be 'normal' or 'urgent'") from None


@dataclass(frozen=True)
class JobSpec:
    function: str
    input: dict[str, Any]
    key: str = ""
    depends_on: tuple[str, ...] = field(default_factory=tuple)


def order_jobs(specs: Sequence[JobSpec]) -> list[JobSpec]:
    """Validate a batch's job graph; return the jobs with keys filled in (index when absent).

    Rejects: no jobs, too many, duplicate or over-long keys, unknown or self dependencies,
    oversized input, and cycles (named by one job on the cycle).
    """
    if not specs:
        raise InvalidArgument("a batch needs at least one job")
    if len(specs) > MAX_JOBS:
        raise InvalidArgument(f"a batch holds at most {MAX_JOBS} jobs, got {len(specs)}")
    keyed = [spec if spec.key else _with_key(spec, str(i)) for i, spec in enumerate(specs)]
    keys: dict[str, int] = {}
    for index, spec in enumerate(keyed):
        if len(spec.key) > MAX_KEY_LENGTH:
            raise InvalidArgument(f"jobs[{index}]: key is longer than {MAX_KEY_LENGTH} characters")
        if spec.key in keys:
            raise InvalidArgument(f"jobs[{index}]: key {spec.key!r} is used twice")
        keys[spec.key] = index
        if _json_bytes(spec.input) > MAX_INPUT_BYTES:
            raise InvalidArgument(f"jobs[{index}]: input is larger than {MAX_INPUT_BYTES} bytes")
        if len(spec.depends_on) > MAX_DEPENDENCIES:
            raise InvalidArgument(f"jobs[{index}]: at most {MAX_DEPENDENCIES} dependencies")
    for index, spec in enumerate(keyed):
        for dependency in spec.depends_on:
            if dependency == spec.key:
                raise InvalidArgument(f"jobs[{index}]: a job cannot depend on itself")
            if dependency not in keys:
                raise InvalidArgument(
                    f"jobs[{index}]: depends_on {dependency!r}, which is no job of this batch"
                )
    _reject_cycles(keyed)
    return keyed


def _json_bytes(value: Any) -> int:
    """Bytes of ``value`` as compact UTF-8 JSON: what it weighs, whatever its alphabet."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return len(text.encode("utf-8", "surrogatepass"))


def _with_key(spec: JobSpec, key: str) -> JobSpec:
    return JobSpec(function=spec.function, input=spec.input, key=key, depends_on=spec.depends_on)


def _reject_cycles(specs: Sequence[JobSpec]) -> None:
    """Kahn's algorithm: whatever cannot be ordered lies on (or behind) a cycle."""
    waiting = {s.key: len(set(s.depends_on)) for s in specs}
    dependents: dict[str, list[str]] = {s.key: [] for s in specs}
    for spec in specs:
        for dependency in set(spec.depends_on):
            dependents[dependency].append(spec.key)
    ready = [key for key, count in waiting.items() if count == 0]
    while ready:
        key = ready.pop()
        for dependent in dependents[key]:
            waiting[dependent] -= 1
            if waiting[dependent] == 0:
                ready.append(dependent)
    stuck = sorted(key for key, count in waiting.items() if count > 0)
    if stuck:
        raise InvalidArgument(f"depends_on has a cycle through job {stuck[0]!r}")


@dataclass(frozen=True)
class Transition:
    """What a worker's report does to a job."""

    state: JobState
    requeue_after_s: float | None = None  # deferred: back in the dispatch queue, no attempt spent
    attempt_failed: bool = False  # record the attempt's error in the job's history


def apply_report(
    current: JobState, reported: ReportedState, delay_s: float = 0.0
) -> Transition | None:
    """The transition a report causes, or None when it changes nothing.

    Reports can arrive twice (redelivery) or late (after a cancel or another attempt); a final
    state is never left, so replaying any report is harmless.
    """
    if current.is_final:
        return None
    match reported:
        case ReportedState.RUNNING:
            return Transition(JobState.RUNNING)
        case ReportedState.SUCCEEDED:
            return Transition(JobState.SUCCEEDED)
        case ReportedState.FAILED:
            return Transition(JobState.FAILED, attempt_failed=True)
        case ReportedState.RETRYING:
            return Transition(JobState.QUEUED, attempt_failed=True)
        case ReportedState.CANCELLED:
            return Transition(JobState.CANCELLED)
        case ReportedState.DEFERRED:
            return Transition(JobState.QUEUED, requeue_after_s=max(0.0, min(delay_s, 3600.0)))
    return None


def roll_up(counts: Mapping[JobState, int] | Iterable[JobState]) -> BatchState:
    """A batch's state from its jobs' states (or their counts)."""
    tally = Counter(counts) if not isinstance(counts, Mapping) else Counter(dict(counts))
    total = sum(tally.values())
    if total and sum(tally[s] for s in FINAL_JOB_STATES) == total:
        if tally[JobState.CANCELLED]:
            return BatchState.CANCELLED
        if tally[JobState.FAILED] or tally[JobState.SKIPPED]:
            return BatchState.FAILED
        return BatchState.SUCCEEDED
    if total - tally[JobState.PENDING] - tally[JobState.QUEUED] > 0:
        return BatchState.RUNNING
    return BatchState.QUEUED
