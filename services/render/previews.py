"""Pictures of a model in Shotgraph's colours, where the innermost ``color()`` wins.

OpenSCAD 2021.01's own preview lets the outermost ``color()`` win, so neither the quick
preview nor the full render's PNG is that preview of the model. Both are OpenSCAD's preview
of the model's split programs (`services.render.csg`), each drawn inside ``color()`` of its
own colour (`draw_programs`): the same rule the GLB and 3MF follow. The quick preview
(`preview_coloured`) gets there without CGAL: one CSG export, the split in Python, one draw.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from pathlib import Path

from services.render.csg import (
    CsgError,
    Rgba,
    check_csg_size,
    parse_csg,
    recoloured,
    split_by_colour,
)
from services.render.scad import (
    MSG_TIMEOUT,
    RenderLimits,
    RenderTimeout,
    ScadError,
    draw_preview,
    empty_model,
    job_directory,
    read_output,
    run_openscad,
)
from services.render.view import DEFAULT_VIEW, View

__all__ = ["draw_programs", "preview_coloured", "split_export"]

MSG_UNREADABLE_CSG = "cannot draw this model in its colours: {error}"
_DEFAULT_LIMITS = RenderLimits()


async def preview_coloured(
    source: str,
    *,
    defines: Sequence[str] = (),
    view: View = DEFAULT_VIEW,
    limits: RenderLimits = _DEFAULT_LIMITS,
    workdir: Path | None = None,
    sandboxed: bool = True,
) -> bytes:
    """A PNG of ``source`` in its colours, drawn as the full render draws its PNG, quickly.

    ``limits.timeout_s`` bounds the whole preview (waiting for openscad slots, the CSG
    export, the split and the draw), not each step, so a caller's deadline holds. A model
    with no material is EmptyModel; one whose CSG cannot be read is a ScadError (the model
    is the cause, so no retry would help).
    """
    try:
        async with asyncio.timeout(limits.timeout_s) as budget:
            with job_directory(source, workdir) as job_dir:
                log = await run_openscad(
                    job_dir,
                    [*defines, "-o", "model.csg", "model.scad"],
                    limits=limits,
                    sandboxed=sandboxed,
                )
                # Past the deadline the split's thread runs on unwaited, bounded by the split's
                # limits.
                programs = await split_export(job_dir / "model.csg", limits)
                if not programs:  # nothing but background (%) or nothing at all
                    raise empty_model(log)
                return await draw_programs(job_dir, programs, view, limits, sandboxed)
    except TimeoutError:
        if not budget.expired():
            raise
        # The same words as a single openscad run stopped at its limit.
        raise RenderTimeout(MSG_TIMEOUT.format(timeout=limits.timeout_s)) from None


async def draw_programs(
    job_dir: Path,
    programs: Mapping[Rgba, str],
    view: View,
    limits: RenderLimits,
    sandboxed: bool,
) -> bytes:
    """OpenSCAD's preview of the split ``programs``, each in its own colour, as a PNG."""
    (job_dir / "preview.scad").write_text(recoloured(programs))
    return await draw_preview(job_dir, "preview.scad", (), view, limits, sandboxed)


async def split_export(csg: Path, limits: RenderLimits) -> dict[Rgba, str]:
    """The split programs of OpenSCAD's CSG export at ``csg``, colour by colour.

    Parsing and splitting are CPU-bound Python for as long as the CSG is (seconds near the
    limits), so they run in a thread: the event loop keeps acknowledging jobs meanwhile. A model
    past the split's limits is CsgTooLarge; one whose CSG cannot be read is a ScadError (the
    model is the cause: 2021.01 writes a quote inside text() unescaped), so no retry would help.
    """

    def split() -> dict[Rgba, str]:
        if csg.is_file():  # a missing export is read_output's EmptyModel
            check_csg_size(csg.stat().st_size)  # before megabytes are read for nothing
        return split_by_colour(parse_csg(read_output(csg, limits.max_output_bytes).decode()))

    try:
        return await asyncio.to_thread(split)
    except (CsgError, UnicodeDecodeError) as exc:
        raise ScadError(MSG_UNREADABLE_CSG.format(error=exc)) from exc
