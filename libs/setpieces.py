"""OpenSCAD set pieces as every entry point takes them: one limit on a source's size, in bytes.

The render API (parameters, previews, render checks), the ``render.scad`` job and the canvas's
scene node all judge a source by ``source_too_large``, so a set piece the canvas saves passes
every check of the renderer. OpenSCAD reads a source as UTF-8, so the limit counts its bytes:
a JSON Schema ``maxLength`` of ``MAX_SOURCE_BYTES`` is only a loose bound that tells forms (a
string of more characters cannot fit), never what decides.
"""

from __future__ import annotations

from typing import Final

__all__ = ["MAX_SOURCE_BYTES", "source_bytes", "source_too_large"]

MAX_SOURCE_BYTES: Final = 256 * 1024
MSG_SOURCE_TOO_LARGE: Final = (
    "OpenSCAD source is {size} bytes of UTF-8; the limit is {limit} bytes ({kib} KiB)"
)


def source_bytes(source: str) -> int:
    """How many bytes ``source`` is as UTF-8."""
    # A lone surrogate (JSON may carry "\ud800") is counted like any other character here;
    # whether such a source is usable at all is for the reader of its text to say.
    return len(source.encode("utf-8", "surrogatepass"))


def source_too_large(source: str) -> str | None:
    """Why ``source`` is too large to take, naming the limit; None when it fits."""
    size = source_bytes(source)
    if size <= MAX_SOURCE_BYTES:
        return None
    return MSG_SOURCE_TOO_LARGE.format(
        size=size, limit=MAX_SOURCE_BYTES, kib=MAX_SOURCE_BYTES // 1024
    )
