"""The batch domain: job graphs, the state machine and roll-up."""

from __future__ import annotations

import pytest

from libs.bus.states import BatchState, JobState, ReportedState
from libs.errors import InvalidArgument
from services.batch.domain import (
    MAX_DEPENDENCIES,
    MAX_INPUT_BYTES,
    MAX_JOBS,
    JobSpec,
    Priority,
    apply_report,
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
