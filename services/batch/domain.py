"""The batch domain: job graphs, the job state machine, what worker reports decide, and batch
roll-up. Pure rules, no I/O."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import IntEnum
from typing import Any

from libs.bus.envelope import MAX_MESSAGE_BYTES
from libs.bus.states import FINAL_JOB_STATES, BatchState, JobState, ReportedState
from libs.bus.work import JobReport
from libs.errors import InvalidArgument

__all__ = [
    "MAX_DEFERRAL_S",
    "MAX_DEPENDENCIES",
    "MAX_INPUT_BYTES",
    "MAX_JOBS",
    "AttemptFailure",
    "JobChange",
    "JobSpec",
    "JobStanding",
    "JobUpdate",
    "Priority",
    "ReportDecision",
    "Transition",
    "apply_report",
    "decide_reports",
    "order_jobs",
    "roll_up",
]

MAX_JOBS = 10_000
MAX_DEPENDENCIES = 100
# A job's input travels in one work message, with its dependencies' outputs beside it.
MAX_INPUT_BYTES = MAX_MESSAGE_BYTES * 3 // 4
MAX_KEY_LENGTH = 100
MAX_DEFERRAL_S = 3600.0
_UNKNOWN_ERROR = "unknown error"


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
            delay_s = max(0.0, min(delay_s, MAX_DEFERRAL_S))
            return Transition(JobState.QUEUED, requeue_after_s=delay_s)
    return None


@dataclass(frozen=True)
class JobStanding:
    """Where a job stands when a group of reports about it is applied (its row, locked)."""

    id: str
    batch_id: str
    key: str
    function: str
    state: JobState
    dispatches: int  # how often it was published: the number of its latest dispatch
    on_subject: bool  # that dispatch's message is out (not taken back by a deferral or retry)
    progress: int = 0
    error: str = ""
    worker: str = ""
    attempts: int = 0
    retry: int = 0  # which retry of its batch it is in


@dataclass(frozen=True)
class JobUpdate:
    """A job's new values after a group of reports."""

    job_id: str
    state: JobState
    progress: int
    output: dict[str, Any] | None  # None: keep the stored output
    error: str
    worker: str
    attempts: int
    dispatches: int
    on_subject: bool
    requeue_after_s: float | None  # deferred: not dispatched again before this delay

    @property
    def finished(self) -> bool:
        return self.state.is_final


@dataclass(frozen=True)
class AttemptFailure:
    """One failed attempt, for the job's history; (job, dispatch, attempt) identifies it."""

    job_id: str
    dispatch: int
    attempt: int
    worker: str
    error: str


@dataclass(frozen=True)
class JobChange:
    """One applied report, as users hear of it."""

    job_id: str
    batch_id: str
    key: str  # the submitter's name for the job, unique in its batch
    function: str
    state: JobState
    progress: int
    output: dict[str, Any] | None
    error: str
    retry: int = 0  # which retry of its batch the change belongs to


@dataclass(frozen=True)
class ReportDecision:
    """What a group of reports does: the rows to write and what follows from them."""

    updates: tuple[JobUpdate, ...] = ()
    failures: tuple[AttemptFailure, ...] = ()
    succeeded: tuple[str, ...] = ()  # their dependants may now be ready
    broken: tuple[str, ...] = ()  # failed or cancelled: everything downstream is skipped
    changes: tuple[JobChange, ...] = ()  # one per applied report, in arrival order


def decide_reports(jobs: Iterable[JobStanding], reports: Iterable[JobReport]) -> ReportDecision:
    """Apply ``reports`` in arrival order to the ``jobs`` they are about; decide what changes.

    A report about none of ``jobs``, of another dispatch than the job's latest or of one taken
    back (stale), about a job already final, or that would leave its job exactly as it stands
    (a duplicate) changes nothing; one of the dispatch after the latest is adopted when that
    dispatch may have got out unconfirmed. Several reports about one job fold into one update,
    as if applied one by one.
    """
    before = {job.id: job for job in jobs}
    now = dict(before)
    outputs: dict[str, dict[str, Any]] = {}
    requeues: dict[str, float] = {}
    failures: dict[tuple[str, int, int], AttemptFailure] = {}
    changes: list[JobChange] = []
    for report in reports:
        current = now.get(report.job_id)
        if current is None:
            continue
        job = _adopt_unconfirmed_dispatch(current, report)
        if not _is_current(job, report):
            continue
        transition = apply_report(job.state, report.state, report.delay_s)
        if transition is None:
            continue
        if transition.attempt_failed:
            failure = AttemptFailure(
                job.id,
                job.dispatches,
                report.attempt,
                report.worker,
                report.error or _UNKNOWN_ERROR,
            )
            failures.setdefault((job.id, failure.dispatch, failure.attempt), failure)
        requeued = transition.requeue_after_s is not None
        after = replace(
            job,
            state=transition.state,
            on_subject=job.on_subject and not requeued,
            progress=job.progress if report.progress is None else report.progress,
            error=job.error if report.error is None else report.error,
            worker=report.worker or job.worker,
            attempts=max(job.attempts, report.attempt),
        )
        if after == current:
            continue  # a duplicate: its failure, if any, is recorded once by its key
        now[job.id] = after
        if report.output is not None:
            outputs[job.id] = report.output
        if transition.requeue_after_s is not None:
            requeues[job.id] = transition.requeue_after_s
        changes.append(
            JobChange(
                job_id=job.id,
                batch_id=job.batch_id,
                key=job.key,
                function=job.function,
                state=after.state,
                progress=after.progress,
                output=report.output,
                error=report.error or "",
                retry=job.retry,
            )
        )
    updates = tuple(
        JobUpdate(
            job_id=job.id,
            state=job.state,
            progress=job.progress,
            output=outputs.get(job.id),
            error=job.error,
            worker=job.worker,
            attempts=job.attempts,
            dispatches=job.dispatches,
            on_subject=job.on_subject,
            requeue_after_s=requeues.get(job.id),
        )
        for job in now.values()
        if job != before[job.id]
    )
    return ReportDecision(
        updates=updates,
        failures=tuple(failures.values()),
        succeeded=tuple(u.job_id for u in updates if u.state is JobState.SUCCEEDED),
        broken=tuple(u.job_id for u in updates if u.state.is_broken),
        changes=tuple(changes),
    )


def _adopt_unconfirmed_dispatch(job: JobStanding, report: JobReport) -> JobStanding:
    """``job`` with the dispatch ``report`` is of taken as out, if it is the one after its
    latest and never confirmed.

    A claim whose publish fails part-way is rolled back, but a message JetStream did take stays
    in the stream under the next dispatch number; a worker may run it and report before the
    dispatcher sends it again (which JetStream then drops as a duplicate). That report is the
    only word the job will get, so it is not stale: the job takes that dispatch as its own.
    """
    if (
        job.state is JobState.QUEUED
        and not job.on_subject
        and report.dispatch == job.dispatches + 1
    ):
        return replace(job, dispatches=report.dispatch, on_subject=True)
    return job


def _is_current(job: JobStanding, report: JobReport) -> bool:
    """Whether ``report`` is of the job's latest dispatch (0: the sender did not say), and
    that dispatch is still out: once a deferral or a retry of the batch has taken it back,
    whatever of it still arrives (a redelivered report) is stale, or it would revive the job
    with no message left to run it."""
    return job.on_subject and report.dispatch in (0, job.dispatches)


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
