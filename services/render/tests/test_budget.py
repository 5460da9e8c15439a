"""One CPU budget per render, summed over every OpenSCAD process it starts (real openscad in
the sandbox): a model of many costly colours cannot burn the per-process limit once per colour.
"""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

import pytest

from services.render.budget import CpuBudget, charged_to, current_budget
from services.render.coloured import render_coloured
from services.render.scad import (
    BudgetExceeded,
    LimitExceeded,
    RenderLimits,
    job_directory,
    run_openscad,
)

# Four colours, each a hollow sphere: CGAL subtracts one sphere from another for every part
# (~0.5-2 s of CPU each, by machine), while evaluating the model costs next to nothing.
HOLLOW = "difference() { sphere(10, $fn=40); sphere(9, $fn=40); }"
SLOW_HOLLOW = "difference() { sphere(10, $fn=80); sphere(9, $fn=80); }"
FOUR_COSTLY_COLOURS = "\n".join(
    f'color("{colour}") translate([{25 * i}, 0, 0]) {HOLLOW}'
    for i, colour in enumerate(("red", "green", "blue", "orange"))
)


def test_the_grant_is_what_is_left_in_whole_seconds_and_never_over_the_process_cap() -> None:
    budget = CpuBudget(seconds=10)
    assert budget.grant(process_cap=120) == 10
    budget.charge(7.2)
    assert (budget.remaining(), budget.grant(process_cap=120)) == (pytest.approx(2.8), 3)
    assert budget.grant(process_cap=2) == 2
    budget.charge(2.9)
    assert budget.exhausted() and budget.grant(process_cap=120) == 1
    assert (budget.runs, budget.spent) == (2, pytest.approx(10.1))


def test_the_budget_is_the_jobs_alone_and_only_inside_it() -> None:
    async def inside() -> tuple[CpuBudget | None, CpuBudget | None]:
        with charged_to(CpuBudget(5)) as budget:
            seen = await asyncio.create_task(_current())  # tasks started inside charge it too
            assert seen is budget
        return seen, current_budget()

    seen, after = asyncio.run(inside())
    assert seen is not None and seen.seconds == 5 and after is None


async def _current() -> CpuBudget | None:
    return current_budget()


def test_a_process_is_charged_the_cpu_time_it_really_used() -> None:
    async def run() -> CpuBudget:
        with (
            job_directory(f"{HOLLOW}\n") as job_dir,
            charged_to(CpuBudget(600)) as budget,
        ):
            await run_openscad(job_dir, ["-o", "model.stl", "model.scad"], limits=RenderLimits())
            assert not list(job_dir.glob(".cpu-*")), "the figure's file is gone once read"
        return budget

    budget = asyncio.run(run())
    assert budget.runs == 1
    assert 0.1 < budget.spent < 60, "CGAL's subtraction is in the charge"


def test_a_render_of_many_costly_colours_stops_at_its_budget() -> None:
    within = asyncio.run(render_coloured(FOUR_COSTLY_COLOURS, ["glb"]))
    assert len(within.colours) == 4
    assert within.openscad_runs == 5, "the CSG export and one run per colour"
    assert within.cpu_seconds > 4 * 0.1
    # Less than the four parts need together, though more than any one of them.
    limits = RenderLimits(job_cpu_seconds=max(1, int(within.cpu_seconds / 2)))

    with pytest.raises(BudgetExceeded, match=rf"budget of {limits.job_cpu_seconds} s of CPU"):
        asyncio.run(render_coloured(FOUR_COSTLY_COLOURS, ["glb"], limits=limits))


def test_a_part_that_fails_stops_the_parts_still_rendering() -> None:
    # The fine sphere's mesh (~7.5 MiB) is over a 4 MiB output limit within a second; each
    # hollow sphere (~2.4 MiB) would take ~5 s of CGAL.
    model = 'color("red") sphere(10, $fn=200);\n' + "\n".join(
        f'color("{colour}") translate([{30 * i}, 0, 0]) {SLOW_HOLLOW}'
        for i, colour in enumerate(("green", "blue"), start=1)
    )
    limits = RenderLimits(max_output_bytes=4 << 20)

    async def render_then_look() -> list[int]:
        # The event loop runs on, as a worker's does: a part left running would go on.
        with pytest.raises(LimitExceeded, match=f"output exceeds {4 << 20} bytes"):
            await render_coloured(model, ["glb"], limits=limits)
        # A killed part's sandbox is torn down by the kernel a moment after bwrap is reaped;
        # a part left running would still be there when this second is over.
        for _ in range(50):  # 1 s
            if not (left := openscad_processes()):
                break
            await asyncio.sleep(0.02)
        return left

    assert asyncio.run(render_then_look()) == [], "the parts still rendering were stopped"


def openscad_processes() -> list[int]:
    """The OpenSCAD processes alive on this machine (tests run one at a time); a zombie,
    dead but not yet reaped, is not one."""
    alive = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError):
            name, _, rest = stat.read_text().partition(" (")[2].rpartition(") ")
            if name == "openscad" and rest[:1] not in ("Z", "X"):
                alive.append(int(stat.parent.name))
    return alive
