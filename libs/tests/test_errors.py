"""Whether an error is worth retrying is a property of the error, read in one place."""

from __future__ import annotations

import pytest

from libs.errors import (
    Conflict,
    Deferred,
    Forbidden,
    InvalidArgument,
    JobCancelled,
    MalformedMessage,
    NewerVersion,
    NotFound,
    PayloadTooLarge,
    PermanentError,
    ShotgraphError,
    Unauthenticated,
    Unavailable,
    Unprocessable,
    is_retryable,
)


@pytest.mark.parametrize(
    "error",
    [
        InvalidArgument("'size' must be a number"),
        Unprocessable("the model does not render"),
        Unauthenticated("no key"),
        Forbidden("read only"),
        NotFound("no such blob"),
        Conflict("not the newest version"),
        PayloadTooLarge("over 50 MiB"),
        MalformedMessage("not a message envelope"),
        PermanentError("the workflow saved no image"),
        JobCancelled("batch 1"),
    ],
    ids=lambda error: type(error).__name__,
)
def test_bad_input_and_final_answers_are_not_worth_retrying(error: ShotgraphError) -> None:
    assert not is_retryable(error)


@pytest.mark.parametrize(
    "error",
    [
        Unavailable("the backend is down"),
        Deferred("the backend's circuit is open", delay_s=30),
        NewerVersion("job.result version 2 does not fit version 1"),
        ShotgraphError("internal"),
        RuntimeError("a bug"),
        ConnectionResetError("the peer went away"),
        TimeoutError(),
    ],
    ids=lambda error: type(error).__name__,
)
def test_outages_and_the_unknown_are_retried(error: Exception) -> None:
    assert is_retryable(error)


def test_one_case_may_differ_from_its_class() -> None:
    assert is_retryable(InvalidArgument("upstream said so", retryable=True))
    assert not is_retryable(Unavailable("gone for good", retryable=False))
