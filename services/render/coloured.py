"""A coloured render: one OpenSCAD model, with its parameter values, into PNG, GLB, 3MF or STL.

OpenSCAD 2021.01 loses ``color()`` on every mesh export, so the model is exported once as its
evaluated CSG tree (which keeps every colour), split into one program per colour
(`services.render.csg`), and each colour rendered to its own mesh — in parallel, each in the
sandbox. GLB and 3MF are assembled from those meshes; the PNG is OpenSCAD's preview of the
same split programs, recoloured as the quick preview draws them (`services.render.previews`),
so it shows exactly the colours the meshes carry.

The work of one render is bounded, so one model cannot hold a worker: the split refuses
models past its limits (`services.render.csg`: colours, CSG size) and runs in a thread, so the
worker's event loop keeps acknowledging its jobs; each colour's mesh stays in its file until
the GLB or 3MF is written, one part in memory at a time; and every OpenSCAD process of the
render is charged to one CPU budget (`services.render.budget`, ``limits.job_cpu_seconds``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Collection, Sequence
from dataclasses import dataclass
from pathlib import Path

from libs.errors import InvalidArgument
from services.render.budget import CpuBudget, charged_to
from services.render.csg import Rgba
from services.render.meshes import Part, write_3mf, write_glb
from services.render.previews import draw_programs, split_export
from services.render.scad import (
    EmptyModel,
    RenderLimits,
    empty_model,
    job_directory,
    output_file,
    read_output,
    run_openscad,
)
from services.render.view import DEFAULT_VIEW, View

__all__ = ["CONTENT_TYPES", "ColouredRender", "Progress", "render_coloured"]

# Called as parts finish: (parts done, parts in all).
Progress = Callable[[int, int], Awaitable[None]]

CONTENT_TYPES = {
    "png": "image/png",
    "glb": "model/gltf-binary",
    "3mf": "model/3mf",
    "stl": "model/stl",
}
_MESH_FORMATS = frozenset({"png", "glb", "3mf"})
_DEFAULT_LIMITS = RenderLimits()


@dataclass(frozen=True)
class ColouredRender:
    outputs: dict[str, bytes]  # format -> file
    colours: list[str]  # "#rrggbbaa" of each coloured part, in order of first appearance
    cpu_seconds: float = 0.0  # what its OpenSCAD processes used, all together
    openscad_runs: int = 0


def _checked_formats(formats: Collection[str]) -> list[str]:
    unknown = sorted(set(formats) - set(CONTENT_TYPES))
    if unknown or not formats:
        known = ", ".join(CONTENT_TYPES)
        raise InvalidArgument(f"unsupported format(s) {unknown or '(none)'}; choose from {known}")
    return sorted(set(formats))


async def render_coloured(
    source: str,
    formats: Collection[str],
    *,
    defines: Sequence[str] = (),
    view: View = DEFAULT_VIEW,
    limits: RenderLimits = _DEFAULT_LIMITS,
    sandboxed: bool = True,
    workdir: Path | None = None,
    progress: Progress | None = None,
) -> ColouredRender:
    """Render ``source`` (with ``-D`` ``defines`` from the parameter values) into ``formats``.

    The PNG is drawn through ``view``. Parts render in parallel, as many at once as this
    worker has openscad slots (`services.render.scad.parallelism`).
    """
    wanted = _checked_formats(formats)
    with (
        job_directory(source, workdir) as job_dir,
        charged_to(CpuBudget(limits.job_cpu_seconds)) as budget,
    ):
        log = await run_openscad(
            job_dir, [*defines, "-o", "model.csg", "model.scad"], limits=limits, sandboxed=sandboxed
        )
        outputs: dict[str, bytes] = {}
        if "stl" in wanted:  # plain, uncoloured: from the CSG, so the model is evaluated once
            try:
                await run_openscad(
                    job_dir, ["-o", "model.stl", "model.csg"], limits=limits, sandboxed=sandboxed
                )
            except EmptyModel:
                raise empty_model(log) from None
            outputs["stl"] = read_output(job_dir / "model.stl", limits.max_output_bytes)
        if not _MESH_FORMATS & set(wanted):
            return ColouredRender(outputs, [], budget.spent, budget.runs)
        programs = await split_export(job_dir / "model.csg", limits)
        parts = await _render_parts(job_dir, programs, limits, sandboxed, progress)
        if not parts:
            raise empty_model(log)
        for fmt, write in (("glb", write_glb), ("3mf", write_3mf)):
            if fmt in wanted:
                path = job_dir / f"model.{fmt}"
                await asyncio.to_thread(write, parts, path)
                outputs[fmt] = read_output(path, limits.max_output_bytes)
        if "png" in wanted:
            outputs["png"] = await _preview(job_dir, programs, parts, view, limits, sandboxed)
        colours = [Rgba(*p.rgba).hex() for p in parts]
        return ColouredRender(outputs, colours, budget.spent, budget.runs)


async def _render_parts(
    job_dir: Path,
    programs: dict[Rgba, str],
    limits: RenderLimits,
    sandboxed: bool,
    progress: Progress | None,
) -> list[Part]:
    """Each colour's mesh, rendered concurrently into a file of its own; colours left with no
    material are dropped."""
    done = 0

    async def render(index: int, colour: Rgba, program: str) -> Part | None:
        nonlocal done
        (job_dir / f"part_{index}.csg").write_text(program)
        try:
            await run_openscad(
                job_dir,
                ["-o", f"part_{index}.stl", f"part_{index}.csg"],
                limits=limits,
                sandboxed=sandboxed,
            )
            stl = output_file(job_dir / f"part_{index}.stl", limits.max_output_bytes)
        except EmptyModel:
            stl = None  # this colour is covered or cut away entirely
        done += 1
        if progress is not None:
            await progress(done, len(programs))
        return None if stl is None else Part(rgba=(colour.r, colour.g, colour.b, colour.a), stl=stl)

    tasks = [
        asyncio.create_task(render(i, colour, program))
        for i, (colour, program) in enumerate(programs.items())
    ]
    try:
        rendered = await asyncio.gather(*tasks)
    except BaseException:
        # One part failed (its model, the CPU budget) or the job was cancelled: the others'
        # OpenSCAD processes are stopped (scad kills a cancelled run's process group) before
        # the job directory goes.
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise
    return [part for part in rendered if part is not None]


async def _preview(
    job_dir: Path,
    programs: dict[Rgba, str],
    parts: list[Part],
    view: View,
    limits: RenderLimits,
    sandboxed: bool,
) -> bytes:
    """The picture of the colours the meshes carry: a colour whose part rendered empty is not
    drawn. Drawn as the quick preview draws (`services.render.previews`)."""
    kept = {part.rgba for part in parts}
    drawn = {c: program for c, program in programs.items() if (c.r, c.g, c.b, c.a) in kept}
    return await draw_programs(job_dir, drawn, view, limits, sandboxed)
