"""A coloured render: one OpenSCAD model, with its parameter values, into PNG, GLB, 3MF or STL.

OpenSCAD 2021.01 loses ``color()`` on every mesh export, so the model is exported once as its
evaluated CSG tree (which keeps every colour), split into one program per colour
(`services.render.csg`), and each colour rendered to its own mesh — in parallel, each in the
sandbox. GLB and 3MF are assembled from those meshes; the PNG is OpenSCAD's preview of the
same recoloured parts, so it shows exactly the colours the meshes carry.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from pathlib import Path

from libs.errors import InvalidArgument
from services.render.csg import CsgError, Rgba, parse_csg, split_by_colour
from services.render.meshes import Part, to_3mf, to_glb
from services.render.scad import (
    MSG_NO_GEOMETRY,
    PNG_SIGNATURE,
    RenderFailed,
    RenderLimits,
    ScadError,
    check_source,
    read_output,
    run_openscad,
)

__all__ = ["CONTENT_TYPES", "ColouredRender", "render_coloured"]

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
    limits: RenderLimits = _DEFAULT_LIMITS,
    sandboxed: bool = True,
    workdir: Path | None = None,
    parallel: int | None = None,
) -> ColouredRender:
    """Render ``source`` (with ``-D`` ``defines`` from the parameter values) into ``formats``."""
    wanted = _checked_formats(formats)
    encoded = check_source(source, limits)
    job_dir = Path(tempfile.mkdtemp(prefix="coloured-", dir=workdir))
    try:
        (job_dir / "model.scad").write_bytes(encoded)
        await run_openscad(
            job_dir, [*defines, "-o", "model.csg", "model.scad"], limits=limits, sandboxed=sandboxed
        )
        outputs: dict[str, bytes] = {}
        if "stl" in wanted:  # plain, uncoloured: from the CSG, so the model is evaluated once
            await run_openscad(
                job_dir, ["-o", "model.stl", "model.csg"], limits=limits, sandboxed=sandboxed
            )
            outputs["stl"] = read_output(job_dir / "model.stl", limits.max_output_bytes)
        if not _MESH_FORMATS & set(wanted):
            return ColouredRender(outputs=outputs, colours=[])
        csg = (job_dir / "model.csg").read_text()
        try:
            programs = split_by_colour(parse_csg(csg))
        except CsgError as exc:
            raise RenderFailed(f"cannot read OpenSCAD's CSG export: {exc}") from exc
        parts = await _render_parts(
            job_dir, programs, limits, sandboxed, parallel or os.cpu_count() or 1
        )
        if "glb" in wanted:
            outputs["glb"] = await asyncio.to_thread(to_glb, parts)
        if "3mf" in wanted:
            outputs["3mf"] = await asyncio.to_thread(to_3mf, parts)
        if "png" in wanted:
            outputs["png"] = await _preview(job_dir, programs, parts, limits, sandboxed)
        return ColouredRender(outputs=outputs, colours=[_hex(p.rgba) for p in parts])
    finally:
        # Blocking, but bounded: a handful of size-capped files.
        shutil.rmtree(job_dir, ignore_errors=True)


async def _render_parts(
    job_dir: Path,
    programs: dict[Rgba, str],
    limits: RenderLimits,
    sandboxed: bool,
    parallel: int,
) -> list[Part]:
    """Each colour's mesh, up to ``parallel`` OpenSCAD processes at once; empty ones dropped."""
    gate = asyncio.Semaphore(parallel)

    async def render(index: int, colour: Rgba, program: str) -> Part | None:
        (job_dir / f"part_{index}.csg").write_text(program)
        async with gate:
            try:
                await run_openscad(
                    job_dir,
                    ["-o", f"part_{index}.stl", f"part_{index}.csg"],
                    limits=limits,
                    sandboxed=sandboxed,
                )
            except ScadError:
                return None  # this colour is covered or cut away entirely
        stl = read_output(job_dir / f"part_{index}.stl", limits.max_output_bytes)
        return Part(rgba=(colour.r, colour.g, colour.b, colour.a), stl=stl) if stl else None

    rendered = await asyncio.gather(
        *(render(i, colour, program) for i, (colour, program) in enumerate(programs.items()))
    )
    parts = [part for part in rendered if part is not None]
    if not parts:
        raise ScadError(MSG_NO_GEOMETRY)
    return parts


async def _preview(
    job_dir: Path,
    programs: dict[Rgba, str],
    parts: list[Part],
    limits: RenderLimits,
    sandboxed: bool,
) -> bytes:
    """OpenSCAD's own preview of the recoloured parts: the colours the meshes carry."""
    kept = {part.rgba for part in parts}
    body = "\n".join(
        f"color([{c.r}, {c.g}, {c.b}, {c.a}]) {{\n{program}\n}}"
        for c, program in programs.items()
        if (c.r, c.g, c.b, c.a) in kept
    )
    (job_dir / "preview.scad").write_text(body)
    width, height = limits.image_size
    args = [
        "--preview",
        "--colorscheme=Tomorrow",
        "--viewall",
        "--autocenter",
        f"--imgsize={width},{height}",
        "-o",
        "preview.png",
        "preview.scad",
    ]
    await run_openscad(job_dir, args, limits=limits, sandboxed=sandboxed, display=True)
    png = read_output(job_dir / "preview.png", limits.max_output_bytes)
    if not png.startswith(PNG_SIGNATURE):
        raise RenderFailed("the preview is not a PNG")
    return png


def _hex(rgba: tuple[float, float, float, float]) -> str:
    return "#" + "".join(f"{round(channel * 255):02x}" for channel in rgba)
