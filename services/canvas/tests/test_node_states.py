"""The pure core of Execute: job states merged by precedence, whatever order and however often
they are heard, and each node's state and result read back from them."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from libs.bus.states import JobState, NodeState
from services.canvas.kinds import DEFAULT_TYPES
from services.canvas.node_states import (
    ExecutionNode,
    JobStatus,
    final_counts,
    merge,
    node_changes,
    read_back,
)

THUMB, RENDER, FRAME = "1" * 64, "2" * 64, "3" * 64
RENDER_OUTPUT = {"png": RENDER, "glb": "4" * 64, "colours": [], "cached": [], "image": RENDER}
FRAME_OUTPUT = {"frame": FRAME, "image": FRAME, "width": 1280, "height": 720}
BATCH = "b"


def succeeded(output: dict[str, Any], retry: int = 0) -> JobStatus:
    return JobStatus(JobState.SUCCEEDED, 100, output, "", retry)


def running(progress: int, retry: int = 0) -> JobStatus:
    return JobStatus(JobState.RUNNING, progress, retry=retry)


def failed(error: str, retry: int = 0) -> JobStatus:
    return JobStatus(JobState.FAILED, 0, None, error, retry)


QUEUED = JobStatus(JobState.QUEUED)


def heard_in_order(*states: JobStatus) -> JobStatus:
    jobs: dict[str, JobStatus] = {}
    for state in states:
        jobs = merge(jobs, {"j": state}) or jobs
    return jobs["j"]


# --- merge: precedence ---------------------------------------------------------------------------

A_JOBS_LIFE = [QUEUED, running(10), running(60), succeeded(RENDER_OUTPUT)]


@pytest.mark.parametrize(
    "order", list(itertools.permutations(A_JOBS_LIFE)), ids=lambda o: "-".join(s.state for s in o)
)
def test_whatever_order_a_jobs_states_come_in_the_newest_stays(order: tuple[JobStatus]) -> None:
    assert heard_in_order(*order) == succeeded(RENDER_OUTPUT)


def test_a_late_running_never_overwrites_succeeded_and_a_duplicate_is_no_news() -> None:
    jobs = {"j": succeeded(RENDER_OUTPUT)}

    assert merge(jobs, {"j": running(90)}) is None
    assert merge(jobs, {"j": succeeded(RENDER_OUTPUT)}) is None
    assert merge(jobs, {"j": QUEUED}) is None


def test_a_retry_of_the_batch_is_newer_than_anything_of_the_run_before() -> None:
    assert heard_in_order(failed("boom"), QUEUED) == failed("boom")  # a late queued
    assert heard_in_order(failed("boom"), JobStatus(JobState.PENDING, retry=1)).retry == 1
    assert heard_in_order(running(50, retry=1), failed("boom")) == running(50, retry=1)
    assert heard_in_order(succeeded(RENDER_OUTPUT, 1), running(20, 1), failed("x")).retry == 1


def test_merge_keeps_jobs_it_heard_nothing_of() -> None:
    merged = merge({"a": QUEUED, "b": running(5)}, {"b": running(6), "c": QUEUED})

    assert merged == {"a": QUEUED, "b": running(6), "c": QUEUED}


def test_final_counts_count_only_final_states() -> None:
    jobs = {"a": QUEUED, "b": failed("x"), "c": failed("y"), "d": succeeded({})}

    assert final_counts(jobs) == {JobState.FAILED: 2, JobState.SUCCEEDED: 1}


# --- read_back: each node from its jobs ----------------------------------------------------------

NODES = {
    "yard": ExecutionNode(key="k-yard", jobs=["yard/render"], type="scene"),
    "s010": ExecutionNode(key="k-shot", jobs=["s010/frame"], type="shot"),
}


def test_a_node_whose_jobs_all_succeeded_is_made_by_its_type() -> None:
    read = read_back(
        BATCH,
        NODES,
        {"yard/render": succeeded(RENDER_OUTPUT), "s010/frame": running(40)},
        DEFAULT_TYPES,
    )

    files = {"png": RENDER, "glb": "4" * 64, "colours": [], "cached": []}
    assert read.made == {"k-yard": {"render": files, "image": RENDER}}
    assert read.live["k-shot"].state is NodeState.RUNNING and read.live["k-shot"].progress == 40
    assert not read.over


def test_a_node_is_queued_until_heard_of_failed_when_a_job_broke() -> None:
    read = read_back(BATCH, NODES, {"s010/frame": failed("no frame")}, DEFAULT_TYPES)

    assert read.live["k-yard"].state is NodeState.QUEUED
    assert (read.live["k-shot"].state, read.live["k-shot"].error) == (NodeState.FAILED, "no frame")


@pytest.mark.parametrize(
    ("node", "output", "why"),
    [
        (ExecutionNode("k-shot", ["s010/frame"]), FRAME_OUTPUT, "type is unknown"),
        (
            ExecutionNode("k-shot", ["s010/frame"], "storyboard"),
            FRAME_OUTPUT,
            "'storyboard' is not registered",
        ),
        (
            ExecutionNode("k-shot", ["s010/frame"], "shot"),
            {"frame": FRAME},  # made before the frame job declared its image
            "declared no 'image'",
        ),
    ],
    ids=["no-type", "type-no-longer-registered", "no-image"],
)
def test_a_result_that_cannot_be_assembled_fails_the_node_and_the_execution_settles(
    node: ExecutionNode, output: dict[str, Any], why: str
) -> None:
    read = read_back(BATCH, {"s010": node}, {"s010/frame": succeeded(output)}, DEFAULT_TYPES)

    assert read.made == {} and read.over
    assert why in read.unassembled["s010"]
    assert read.live["k-shot"].state is NodeState.FAILED and why in read.live["k-shot"].error


def test_node_changes_name_only_the_nodes_that_moved() -> None:
    before = read_back(BATCH, NODES, {"yard/render": running(10)}, DEFAULT_TYPES)
    after = read_back(BATCH, NODES, {"yard/render": succeeded(RENDER_OUTPUT)}, DEFAULT_TYPES)

    (changed,) = node_changes(NODES, before, after)

    assert (changed.node_id, changed.state, changed.progress) == ("yard", NodeState.SUCCEEDED, 100)
    assert changed.output == after.made["k-yard"]
    assert node_changes(NODES, after, after) == []
