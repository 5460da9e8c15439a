"""The CPU time one render job may spend, summed over every OpenSCAD process it starts.

Each process has its own RLIMIT_CPU (`RenderLimits.cpu_seconds`), but a job runs one process
per colour, so without an account a model of N colours could burn N times that. A job opens a
`CpuBudget` and runs inside `charged_to(budget)`; `services.render.scad.run_openscad` then gives
each new process at most what is left as its RLIMIT_CPU, charges what the process used when it
ends (its rusage, descendants included), and refuses to start one once nothing is left.

The account is kept in a context variable, so every OpenSCAD process the job starts is charged
(its parts, running concurrently in tasks of their own, and its preview) without each call in
between passing it along. Processes that run at the same time each get what was left when they
started, so together they can overrun the budget by at most what the others were granted; the
first of them to run out stops the job, and with it the rest.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass

__all__ = ["CpuBudget", "charged_to", "current_budget"]


@dataclass
class CpuBudget:
    """CPU seconds for one job, and what its finished processes have spent of them."""

    seconds: int
    spent: float = 0.0
    runs: int = 0  # processes charged

    def remaining(self) -> float:
        return self.seconds - self.spent

    def exhausted(self) -> bool:
        return self.spent >= self.seconds

    def grant(self, process_cap: int) -> int:
        """The RLIMIT_CPU for the next process: what is left, in whole seconds (at least 1,
        the kernel's unit), never more than the per-process cap."""
        return max(1, min(process_cap, math.ceil(self.remaining())))

    def charge(self, seconds: float) -> None:
        self.spent += seconds
        self.runs += 1


_current: ContextVar[CpuBudget | None] = ContextVar("render_cpu_budget", default=None)


def current_budget() -> CpuBudget | None:
    """The budget OpenSCAD processes started here are charged to; None outside a job."""
    return _current.get()


@contextlib.contextmanager
def charged_to(budget: CpuBudget) -> Iterator[CpuBudget]:
    """Charge every OpenSCAD process started in this block (and in tasks it starts) to budget."""
    token = _current.set(budget)
    try:
        yield budget
    finally:
        _current.reset(token)
