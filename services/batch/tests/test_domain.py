"""The batch rules: which batches are accepted, how reports move jobs, how a batch rolls up."""

from __future__ import annotations

import pytest

from libs.errors import InvalidArgument
from services.batch.domain import (
    FUNCTIONS,
    MAX_INPUT_BYTES,
    MAX_JOBS,
    BatchState,
    JobSpec,
    JobState,
    apply_report,
    roll_up,
    validate_jobs,
    work_subject,
)

FINAL = [JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED, JobState.SKIPPED]
OPEN = [JobState.PENDING, JobState.QUEUED, JobState.RUNNING]


def _job(function: str = "render.scad", **input: object) -> JobSpec:
    return JobSpec(function=function, input=dict(input))


# validate_jobs


def test_valid_batch_is_accepted() -> None:
    validate_jobs([_job("render.scad", source="cube(1);"), _job("image.thumbnail", width=64)])


def test_batch_of_exactly_max_jobs_is_accepted() -> None:
    validate_jobs([_job()] * MAX_JOBS)


def test_empty_batch_is_rejected() -> None:
    with pytest.raises(InvalidArgument, match="at least one job"):
        validate_jobs([])


def test_batch_over_max_jobs_is_rejected() -> None:
    with pytest.raises(InvalidArgument, match=f"at most {MAX_JOBS} jobs, got {MAX_JOBS + 1}"):
        validate_jobs([_job()] * (MAX_JOBS + 1))


@pytest.mark.parametrize(
    "function", ["render.stl", "", "render", "RENDER.SCAD", "work.render.scad"]
)
def test_unknown_function_is_rejected_naming_the_job(function: str) -> None:
    with pytest.raises(InvalidArgument, match=r"jobs\[1\]: unknown function") as caught:
        validate_jobs([_job(), _job(function)])
    assert repr(function) in caught.value.detail
    assert all(known in caught.value.detail for known in FUNCTIONS)


def test_oversized_input_is_rejected_naming_the_job() -> None:
    huge = _job(source="x" * MAX_INPUT_BYTES)
    with pytest.raises(InvalidArgument, match=r"jobs\[2\]: input is larger than"):
        validate_jobs([_job(), _job(), huge])


def test_input_of_exactly_the_limit_is_accepted() -> None:
    overhead = len('{"source": ""}')
    validate_jobs([_job(source="x" * (MAX_INPUT_BYTES - overhead))])


def test_work_subject() -> None:
    assert work_subject("render.scad") == "work.render.scad"


# apply_report


@pytest.mark.parametrize(
    ("current", "reported", "expected"),
    [
        (JobState.QUEUED, "running", JobState.RUNNING),
        (JobState.PENDING, "running", JobState.RUNNING),
        (JobState.RUNNING, "succeeded", JobState.SUCCEEDED),
        (JobState.RUNNING, "failed", JobState.FAILED),
        (JobState.QUEUED, "succeeded", JobState.SUCCEEDED),  # the "running" report was lost
        (JobState.RUNNING, "running", JobState.RUNNING),  # a retry started the job again
    ],
)
def test_report_moves_an_open_job(current: JobState, reported: str, expected: JobState) -> None:
    assert apply_report(current, reported) == expected


@pytest.mark.parametrize("current", FINAL)
@pytest.mark.parametrize("reported", ["running", "succeeded", "failed"])
def test_final_state_is_never_left(current: JobState, reported: str) -> None:
    assert apply_report(current, reported) is None


@pytest.mark.parametrize("reported", ["succeeded", "failed"])
def test_duplicate_final_report_is_ignored(reported: str) -> None:
    after_first = apply_report(JobState.RUNNING, reported)
    assert after_first is not None
    assert apply_report(after_first, reported) is None


@pytest.mark.parametrize("current", OPEN)
@pytest.mark.parametrize(
    "reported", ["exploded", "", "RUNNING", "None", "pending", "queued", "cancelled", "skipped"]
)
def test_unknown_or_unreportable_state_is_ignored(current: JobState, reported: str) -> None:
    assert apply_report(current, reported) is None


# roll_up


@pytest.mark.parametrize(
    ("states", "expected"),
    [
        ([JobState.PENDING, JobState.QUEUED], BatchState.QUEUED),
        ([JobState.QUEUED], BatchState.QUEUED),
        ([JobState.QUEUED, JobState.RUNNING], BatchState.RUNNING),
        ([JobState.SUCCEEDED, JobState.QUEUED], BatchState.RUNNING),
        ([JobState.FAILED, JobState.PENDING], BatchState.RUNNING),
        ([JobState.SUCCEEDED, JobState.SUCCEEDED], BatchState.SUCCEEDED),
        ([JobState.SUCCEEDED, JobState.FAILED], BatchState.FAILED),
        ([JobState.SUCCEEDED, JobState.CANCELLED], BatchState.FAILED),
        ([JobState.SKIPPED], BatchState.FAILED),
    ],
)
def test_roll_up(states: list[JobState], expected: BatchState) -> None:
    assert roll_up(states) == expected


def test_roll_up_accepts_any_iterable() -> None:
    assert roll_up(iter([JobState.SUCCEEDED, JobState.SUCCEEDED])) == BatchState.SUCCEEDED


def test_final_state_is_final() -> None:
    assert [s for s in JobState if s.is_final] == FINAL
