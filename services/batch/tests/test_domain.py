"""The batch domain: job graphs, the state machine, what reports decide, and roll-up."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import msgspec
import pytest

from libs.bus.states import BatchState, JobState, ReportedState
from libs.bus.work import JobReport
from libs.errors import InvalidArgument
from services.batch.domain import (
    MAX_DEFERRAL_S,
    MAX_DEPENDENCIES,
    MAX_INPUT_BYTES,
    MAX_JOBS,
    AttemptFailure,
    JobSpec,
    JobStanding,
    Priority,
    ReportDecision,
    apply_report,
    decide_reports,
    order_jobs,
    roll_up,
)


def job(key: str = "", *depends_on: str, function: str = "render.scad") -> JobSpec:
    return JobSpec(function=function, input={}, key=key, depends_on=tuple(depends_on))


def test_keys_default_to_the_job_index() -> None:
    assert [j.key for j in order_jobs([job(), job("b"), job()])] == ["0", "b", "2"]


def test_a_diamond_is_accepted() -> None:
    jobs = order_jobs([job("a"), job("b", "a"), job("c", "a"), job("d", "b", "c")])
    assert [j.key for j in jobs] == ["a", "b", "c", "d"]


@pytest.mark.parametrize(
    ("jobs", "message"),
    [
        ([], "at least one job"),
        ([job("a"), job("a")], "used twice"),
        ([job("a", "a")], "itself"),
        ([job("a", "ghost")], "no job of this batch"),
        ([job("a", "b"), job("b", "a")], "cycle"),
        ([job("a", "c"), job("b", "a"), job("c", "b"), job("d")], "cycle"),
        ([job("k" * 101)], "longer than"),
    ],
    ids=["empty", "duplicate-key", "self", "dangling", "two-cycle", "three-cycle", "long-key"],
)
def test_bad_graphs_are_rejected(jobs: list[JobSpec], message: str) -> None:
    with pytest.raises(InvalidArgument, match=message):
        order_jobs(jobs)


def test_too_many_jobs_names_the_limit() -> None:
    with pytest.raises(InvalidArgument, match=str(MAX_JOBS)):
        order_jobs([job() for _ in range(MAX_JOBS + 1)])


def test_too_many_dependencies_names_the_limit() -> None:
    keys = [str(i) for i in range(MAX_DEPENDENCIES + 1)]
    with pytest.raises(InvalidArgument, match=str(MAX_DEPENDENCIES)):
        order_jobs([*(job(k) for k in keys), job("last", *keys)])


def test_oversized_input_names_the_limit() -> None:
    big = JobSpec(function="render.scad", input={"source": "x" * MAX_INPUT_BYTES})
    with pytest.raises(InvalidArgument, match=str(MAX_INPUT_BYTES)):
        order_jobs([big])


def test_input_is_weighed_in_utf8_bytes_not_escapes() -> None:
    """A set piece of the largest source the render service takes fits, in any alphabet."""
    wrapper = len('{"source":""}')
    fits = JobSpec(function="render.scad", input={"source": "é" * 262_144})  # 512 KiB
    over = JobSpec(function="render.scad", input={"source": "é" * (MAX_INPUT_BYTES - wrapper)})
    order_jobs([fits])
    with pytest.raises(InvalidArgument, match=str(MAX_INPUT_BYTES)):
        order_jobs([over])


@pytest.mark.parametrize("final", [s for s in JobState if s.is_final])
@pytest.mark.parametrize("report", list(ReportedState))
def test_a_final_state_is_never_left(final: JobState, report: ReportedState) -> None:
    assert apply_report(final, report) is None


def test_reports_move_a_job_through_its_life() -> None:
    running = apply_report(JobState.QUEUED, ReportedState.RUNNING)
    assert running is not None and running.state == JobState.RUNNING
    retry = apply_report(JobState.RUNNING, ReportedState.RETRYING)
    assert retry is not None and retry.state == JobState.QUEUED and retry.attempt_failed
    failed = apply_report(JobState.RUNNING, ReportedState.FAILED)
    assert failed is not None and failed.state == JobState.FAILED and failed.attempt_failed
    done = apply_report(JobState.RUNNING, ReportedState.SUCCEEDED)
    assert done is not None and done.state == JobState.SUCCEEDED and not done.attempt_failed


def test_a_deferred_job_is_requeued_without_spending_an_attempt() -> None:
    deferred = apply_report(JobState.RUNNING, ReportedState.DEFERRED, delay_s=7.5)
    assert deferred is not None
    assert deferred.state == JobState.QUEUED
    assert deferred.requeue_after_s == 7.5
    assert not deferred.attempt_failed


@pytest.mark.parametrize(
    ("states", "expected"),
    [
        ([JobState.QUEUED, JobState.PENDING], BatchState.QUEUED),
        ([JobState.RUNNING, JobState.QUEUED], BatchState.RUNNING),
        ([JobState.SUCCEEDED, JobState.QUEUED], BatchState.RUNNING),
        ([JobState.SUCCEEDED, JobState.SUCCEEDED], BatchState.SUCCEEDED),
        ([JobState.SUCCEEDED, JobState.FAILED], BatchState.FAILED),
        ([JobState.FAILED, JobState.SKIPPED], BatchState.FAILED),
        ([JobState.SUCCEEDED, JobState.CANCELLED, JobState.FAILED], BatchState.CANCELLED),
    ],
)
def test_roll_up(states: list[JobState], expected: BatchState) -> None:
    assert roll_up(states) == expected


def test_priority_parsing() -> None:
    assert Priority.parse("") == Priority.NORMAL
    assert Priority.parse("urgent") > Priority.parse("normal")
    with pytest.raises(InvalidArgument, match="urgent"):
        Priority.parse("asap")


# -- what a group of worker reports decides ------------------------------------------------

BATCH_ID = "00000000-0000-4000-8000-00000000000b"
JOB_A = "00000000-0000-4000-8000-00000000000a"
JOB_C = "00000000-0000-4000-8000-00000000000c"


def standing(
    job_id: str = JOB_A,
    state: JobState = JobState.QUEUED,
    *,
    dispatches: int = 1,
    on_subject: bool = True,
    progress: int = 0,
    error: str = "",
    worker: str = "",
    attempts: int = 0,
) -> JobStanding:
    return JobStanding(
        id=job_id,
        batch_id=BATCH_ID,
        key=f"key-{job_id[-1]}",
        function="render.scad",
        state=state,
        dispatches=dispatches,
        on_subject=on_subject,
        progress=progress,
        error=error,
        worker=worker,
        attempts=attempts,
    )


def report(
    state: ReportedState, job_id: str = JOB_A, *, dispatch: int = 1, attempt: int = 1, **fields: Any
) -> JobReport:
    fields.setdefault("worker", "render-1")
    return JobReport(
        job_id=job_id,
        batch_id=BATCH_ID,
        state=state,
        dispatch=dispatch,
        attempt=attempt,
        **fields,
    )


def settle(job: JobStanding, decision: ReportDecision) -> JobStanding:
    """``job`` as its row reads once ``decision`` is written."""
    for update in decision.updates:
        if update.job_id == job.id:
            job = replace(
                job,
                state=update.state,
                progress=update.progress,
                error=update.error,
                worker=update.worker,
                attempts=update.attempts,
                dispatches=update.dispatches,
                on_subject=update.on_subject,
            )
    return job


NOTHING = ReportDecision()

# One report of each kind, as a worker sends it.
EVERY_KIND = [
    report(ReportedState.RUNNING, progress=40),
    report(ReportedState.SUCCEEDED, progress=100, output={"png": "sha256:ab"}),
    report(ReportedState.FAILED, error="bad input"),
    report(ReportedState.RETRYING, error="TimeoutError: backend"),
    report(ReportedState.CANCELLED),
    report(ReportedState.DEFERRED, delay_s=30, error="rate limited"),
]
KIND_IDS = [r.state.value for r in EVERY_KIND]


def test_running_then_succeeded_in_one_group_apply_in_order() -> None:
    decision = decide_reports(
        [standing()],
        [
            report(ReportedState.RUNNING, progress=0),
            report(ReportedState.RUNNING, progress=60),
            report(ReportedState.SUCCEEDED, progress=100, output={"glb": "sha256:cd"}),
        ],
    )

    assert [(c.state, c.progress) for c in decision.changes] == [
        (JobState.RUNNING, 0),
        (JobState.RUNNING, 60),
        (JobState.SUCCEEDED, 100),
    ]
    (update,) = decision.updates
    assert (update.state, update.progress, update.output) == (
        JobState.SUCCEEDED,
        100,
        {"glb": "sha256:cd"},
    )
    assert update.finished and update.worker == "render-1" and update.attempts == 1
    assert decision.succeeded == (JOB_A,)
    assert decision.broken == () and decision.failures == ()


def test_a_running_report_after_the_result_changes_nothing() -> None:
    decision = decide_reports(
        [standing(state=JobState.RUNNING)],
        [report(ReportedState.SUCCEEDED, progress=100), report(ReportedState.RUNNING, progress=5)],
    )

    assert [c.state for c in decision.changes] == [JobState.SUCCEEDED]
    assert [(u.state, u.progress) for u in decision.updates] == [(JobState.SUCCEEDED, 100)]


@pytest.mark.parametrize("final", [s for s in JobState if s.is_final])
@pytest.mark.parametrize("late", EVERY_KIND, ids=KIND_IDS)
def test_a_report_about_a_final_job_changes_nothing(final: JobState, late: JobReport) -> None:
    assert decide_reports([standing(state=final)], [late]) == NOTHING


@pytest.mark.parametrize("twice", EVERY_KIND, ids=KIND_IDS)
def test_a_duplicate_in_the_same_group_is_applied_once(twice: JobReport) -> None:
    job = standing(state=JobState.RUNNING)

    assert decide_reports([job], [twice, twice]) == decide_reports([job], [twice])


@pytest.mark.parametrize("again", EVERY_KIND, ids=KIND_IDS)
def test_a_report_replayed_after_it_was_applied_changes_nothing(again: JobReport) -> None:
    first = decide_reports([standing(state=JobState.RUNNING)], [again])
    assert first.changes, "the first time it does change the job"
    after = settle(standing(state=JobState.RUNNING), first)

    replayed = decide_reports([after], [again])

    assert (replayed.updates, replayed.changes) == ((), ())
    assert (replayed.succeeded, replayed.broken) == ((), ())
    # A failure comes again with the same key, which the history keeps once.
    assert {(f.job_id, f.dispatch, f.attempt) for f in replayed.failures} <= {
        (f.job_id, f.dispatch, f.attempt) for f in first.failures
    }


def test_a_report_of_an_earlier_dispatch_is_stale() -> None:
    redispatched = standing(dispatches=2)

    assert decide_reports([redispatched], [report(ReportedState.SUCCEEDED, dispatch=1)]) == NOTHING
    assert decide_reports([redispatched], [report(ReportedState.SUCCEEDED, dispatch=2)]).updates


@pytest.mark.parametrize("late", EVERY_KIND, ids=KIND_IDS)
@pytest.mark.parametrize("state", [JobState.QUEUED, JobState.PENDING])
def test_a_report_of_a_dispatch_taken_back_is_stale(state: JobState, late: JobReport) -> None:
    """Deferred (queued) or retried with the batch (queued or pending): no message is out."""
    taken_back = standing(state=state, dispatches=1, on_subject=False)

    assert decide_reports([taken_back], [late]) == NOTHING
    assert decide_reports([taken_back], [msgspec.structs.replace(late, dispatch=0)]) == NOTHING


def test_reports_after_a_deferral_in_the_same_group_are_stale() -> None:
    decision = decide_reports(
        [standing(state=JobState.RUNNING)],
        [report(ReportedState.DEFERRED, delay_s=5), report(ReportedState.RUNNING, progress=0)],
    )

    assert [c.state for c in decision.changes] == [JobState.QUEUED]
    assert [(u.state, u.on_subject) for u in decision.updates] == [(JobState.QUEUED, False)]


def test_a_report_of_the_next_dispatch_before_it_was_confirmed_is_adopted() -> None:
    """A publish that got through a claim rolled back: the job is out under the next number."""
    unconfirmed = standing(state=JobState.QUEUED, dispatches=1, on_subject=False)

    decision = decide_reports([unconfirmed], [report(ReportedState.RETRYING, dispatch=2)])

    (update,) = decision.updates
    assert (update.state, update.dispatches, update.on_subject) == (JobState.QUEUED, 2, True)
    assert [(f.dispatch, f.attempt) for f in decision.failures] == [(2, 1)]


@pytest.mark.parametrize(
    "job",
    [
        standing(state=JobState.QUEUED, dispatches=1, on_subject=True),  # 1 is out: 2 never was
        standing(state=JobState.PENDING, dispatches=1, on_subject=False),  # never claimed
    ],
    ids=["on-its-subject", "pending"],
)
def test_a_report_of_a_dispatch_never_made_is_stale(job: JobStanding) -> None:
    assert decide_reports([job], [report(ReportedState.SUCCEEDED, dispatch=2)]) == NOTHING
    assert decide_reports([job], [report(ReportedState.SUCCEEDED, dispatch=3)]) == NOTHING


def test_a_report_that_does_not_name_its_dispatch_counts_as_the_latest() -> None:
    decision = decide_reports([standing(dispatches=3)], [report(ReportedState.RUNNING, dispatch=0)])

    assert [u.state for u in decision.updates] == [JobState.RUNNING]


def test_a_report_about_a_job_not_in_the_group_is_ignored() -> None:
    assert decide_reports([standing(JOB_A)], [report(ReportedState.FAILED, JOB_C)]) == NOTHING


def test_a_failure_breaks_the_job_and_records_the_attempt() -> None:
    decision = decide_reports(
        [standing(state=JobState.RUNNING, dispatches=2, progress=30)],
        [report(ReportedState.FAILED, dispatch=2, attempt=3, error="no 3D geometry")],
    )

    (update,) = decision.updates
    assert (update.state, update.error, update.progress) == (
        JobState.FAILED,
        "no 3D geometry",
        30,
    ), "the progress reached is kept"
    assert decision.failures == (AttemptFailure(JOB_A, 2, 3, "render-1", "no 3D geometry"),)
    assert decision.broken == (JOB_A,) and decision.succeeded == ()


def test_a_failure_without_an_error_is_recorded_as_unknown() -> None:
    decision = decide_reports([standing()], [report(ReportedState.FAILED)])

    assert [f.error for f in decision.failures] == ["unknown error"]


def test_a_cancelled_job_is_broken_without_a_failed_attempt() -> None:
    decision = decide_reports([standing(state=JobState.RUNNING)], [report(ReportedState.CANCELLED)])

    assert [u.state for u in decision.updates] == [JobState.CANCELLED]
    assert decision.broken == (JOB_A,) and decision.failures == ()


def test_a_retried_attempt_is_recorded_and_the_job_stays_on_its_subject() -> None:
    decision = decide_reports(
        [standing(state=JobState.RUNNING, worker="render-1", attempts=1)],
        [
            report(ReportedState.RETRYING, attempt=1, error="TimeoutError"),
            report(ReportedState.RUNNING, attempt=2, worker="render-2", progress=0),
            report(ReportedState.RETRYING, attempt=2, worker="render-2", error="OSError"),
        ],
    )

    (update,) = decision.updates
    assert update.state == JobState.QUEUED and not update.finished
    assert update.on_subject, "JetStream delivers it again: it is not dispatched anew"
    assert update.requeue_after_s is None
    assert (update.attempts, update.worker, update.error) == (2, "render-2", "OSError")
    assert [(f.attempt, f.worker, f.error) for f in decision.failures] == [
        (1, "render-1", "TimeoutError"),
        (2, "render-2", "OSError"),
    ]
    assert decision.broken == ()


def test_a_deferred_job_is_taken_back_without_spending_an_attempt() -> None:
    decision = decide_reports(
        [standing(state=JobState.RUNNING, dispatches=1)],
        [report(ReportedState.DEFERRED, delay_s=12.5, error="backend busy")],
    )

    (update,) = decision.updates
    assert (update.state, update.on_subject, update.requeue_after_s) == (
        JobState.QUEUED,
        False,
        12.5,
    )
    assert update.dispatches == 1, "the next dispatch is numbered when it is sent"
    assert decision.failures == () and decision.broken == ()


def test_a_deferral_is_at_most_an_hour() -> None:
    decision = decide_reports([standing()], [report(ReportedState.DEFERRED, delay_s=86_400)])

    assert [u.requeue_after_s for u in decision.updates] == [MAX_DEFERRAL_S]


def test_progress_and_worker_are_kept_when_a_report_does_not_say() -> None:
    decision = decide_reports(
        [standing(state=JobState.RUNNING, progress=70, worker="render-1", attempts=1)],
        [report(ReportedState.RETRYING, worker="", error="OSError")],
    )

    assert [(u.state, u.progress, u.worker) for u in decision.updates] == [
        (JobState.QUEUED, 70, "render-1")
    ]


def test_a_report_that_changes_nothing_shown_is_no_change() -> None:
    job = standing(state=JobState.RUNNING, progress=70, worker="render-1", attempts=1)

    decision = decide_reports([job], [report(ReportedState.RUNNING, note="still meshing")])

    assert decision == NOTHING


def test_output_is_only_written_with_the_report_that_carries_it() -> None:
    decision = decide_reports([standing()], [report(ReportedState.RUNNING, progress=10)])

    assert [u.output for u in decision.updates] == [None]


def test_several_jobs_in_one_group() -> None:
    decision = decide_reports(
        [standing(JOB_A, JobState.RUNNING), standing(JOB_C, JobState.RUNNING)],
        [
            report(ReportedState.FAILED, JOB_C, error="boom"),
            report(ReportedState.SUCCEEDED, JOB_A, output={"png": "sha256:ef"}),
        ],
    )

    assert decision.succeeded == (JOB_A,)
    assert decision.broken == (JOB_C,)
    assert [(c.job_id, c.key, c.batch_id, c.function, c.state) for c in decision.changes] == [
        (JOB_C, "key-c", BATCH_ID, "render.scad", JobState.FAILED),
        (JOB_A, "key-a", BATCH_ID, "render.scad", JobState.SUCCEEDED),
    ]
