"""How an execution's node states follow from its jobs' states: the pure core of Execute.

An execution records which batch jobs make which node. Its jobs' states arrive as batch events,
more than once, late or out of order, and now and then as a full listing from batch; `merge`
keeps, for each job, the newest state it has heard of by one precedence:

- a state of a later retry of the batch is newer than any state of an earlier one;
- within one retry, a job only moves forward: waiting (pending, queued) < running < final, so
  a late ``running`` never overwrites ``succeeded``;
- while running, more progress is newer.

Equal states are the same news heard twice, and change nothing. `read_back` then tells, for
each node, its result (assembled by its type once its jobs all succeeded) or how far it is.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import msgspec

from libs.bus.events import NodeResult
from libs.bus.states import JobState, NodeState
from services.canvas.compile import node_output
from services.canvas.nodetypes import MissingOutput, NodeTypeRegistry

__all__ = [
    "ExecutionNode",
    "JobStatus",
    "NodeProgress",
    "ReadBack",
    "final_counts",
    "merge",
    "node_changes",
    "read_back",
]


class JobStatus(msgspec.Struct, frozen=True):
    """One job of an execution, as batch last told of it."""

    state: JobState
    progress: int = 0
    output: dict[str, Any] | None = None
    error: str = ""
    retry: int = 0  # which retry of its batch this state belongs to

    @property
    def precedence(self) -> tuple[int, int, int]:
        rank = 2 if self.state.is_final else 1 if self.state is JobState.RUNNING else 0
        return (self.retry, rank, self.progress)


class ExecutionNode(msgspec.Struct, frozen=True):
    """One node an execution makes: its key, its type and the keys of its jobs."""

    key: str
    jobs: list[str]
    # The type that assembles its result; executions recorded before types were have none,
    # and take it from the executed version's graph.
    type: str = ""


def merge(
    jobs: Mapping[str, JobStatus], heard: Mapping[str, JobStatus]
) -> dict[str, JobStatus] | None:
    """``jobs`` with each newer state of ``heard``; None when nothing in it was news."""
    newer = {
        key: status
        for key, status in heard.items()
        if key not in jobs or status.precedence > jobs[key].precedence
    }
    return {**jobs, **newer} if newer else None


def final_counts(jobs: Mapping[str, JobStatus]) -> dict[JobState, int]:
    """How many jobs are in each final state."""
    counts: dict[JobState, int] = {}
    for status in jobs.values():
        if status.state.is_final:
            counts[status.state] = counts.get(status.state, 0) + 1
    return counts


@dataclass(frozen=True)
class NodeProgress:
    """A node still being made (or that failed to be), in one batch."""

    batch_id: str
    state: NodeState  # queued, running or failed
    progress: int
    error: str


@dataclass(frozen=True)
class ReadBack:
    """What one execution's jobs have made so far."""

    made: dict[str, dict[str, Any]]  # node key -> its result
    live: dict[str, NodeProgress]  # node key -> how far it is, for the nodes not made
    # node id -> why no result could be assembled although its jobs succeeded; none is kept,
    # so the next Execute makes the node again (until then the node shows as failed)
    unassembled: dict[str, str]

    @property
    def over(self) -> bool:
        """Every node made or failed: nothing more will come of this execution."""
        return all(node.state is NodeState.FAILED for node in self.live.values())


def read_back(
    batch_id: str,
    nodes: Mapping[str, ExecutionNode],
    jobs: Mapping[str, JobStatus],
    registry: NodeTypeRegistry,
) -> ReadBack:
    """Each node: its result, assembled by its type, once its jobs all succeeded; else how
    far they are."""
    read = ReadBack(made={}, live={}, unassembled={})
    for node_id, node in nodes.items():
        states = [jobs.get(key) for key in node.jobs]
        if not all(s is not None and s.state is JobState.SUCCEEDED for s in states):
            read.live[node.key] = _summary(batch_id, states)
            continue
        node_type = registry.get(node.type) if node.type else None
        if node_type is None:
            known = f"type {node.type!r} is not registered" if node.type else "type is unknown"
            _unassembled(read, batch_id, node_id, node.key, f"its {known}")
            continue
        outputs = {key: jobs[key].output or {} for key in node.jobs}
        try:
            read.made[node.key] = node_output(node_type, node_id, outputs)
        except MissingOutput as exc:
            _unassembled(read, batch_id, node_id, node.key, str(exc))
    return read


def node_changes(
    nodes: Mapping[str, ExecutionNode], before: ReadBack, after: ReadBack
) -> list[NodeResult]:
    """The nodes whose state, progress or result differs from ``before`` to ``after``."""
    changed = []
    for node_id, node in nodes.items():
        now = _result(node_id, node.key, after)
        if now != _result(node_id, node.key, before):
            changed.append(now)
    return changed


def _result(node_id: str, key: str, read: ReadBack) -> NodeResult:
    if key in read.made:
        return NodeResult(
            node_id=node_id,
            key=key,
            state=NodeState.SUCCEEDED,
            progress=100,
            output=read.made[key],
        )
    live = read.live[key]
    return NodeResult(
        node_id=node_id, key=key, state=live.state, progress=live.progress, error=live.error
    )


def _unassembled(read: ReadBack, batch_id: str, node_id: str, key: str, why: str) -> None:
    read.unassembled[node_id] = why
    read.live[key] = NodeProgress(batch_id, NodeState.FAILED, 0, f"no result: {why}")


def _summary(batch_id: str, states: list[JobStatus | None]) -> NodeProgress:
    """A node's state from its jobs': failed if one failed, running if one runs, else queued."""
    known = [s for s in states if s is not None]
    errors = [s.error for s in known if s.state.is_broken]
    if errors:
        return NodeProgress(batch_id, NodeState.FAILED, 0, errors[0] or "a job failed")
    progress = round(sum(s.progress for s in known) / max(1, len(states)))
    if any(s.state in (JobState.RUNNING, JobState.SUCCEEDED) for s in known):
        return NodeProgress(batch_id, NodeState.RUNNING, progress, "")
    return NodeProgress(batch_id, NodeState.QUEUED, progress, "")
