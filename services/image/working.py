"""Working copies: a large photo shrunk once, so that small outputs skip decoding all of it.

A thumbnail of a 24-megapixel JPEG costs a decode of the whole file even with shrink-on-load
(JPEG's DCT scaling still reads every coefficient), about 70 ms of CPU. Screens ask for the
same photo at many small sizes, so the first transform of a large photo also keeps a copy at
most ``WORKING_SIDE`` pixels on its long side (sRGB, upright, JPEG q95), and every later
transform whose decode fits in half of it is made from the copy instead: 6 ms against 36.
The half keeps the copy's own resampling and compression at most a quarter of a pixel wide
in any output made from it.

The copy is a blob like any other; a KV entry per source blob points at it and carries the
original's header, so the geometry (crops in source pixels, focus, rotation) stays the
original's. Animated images and images with alpha always use the original.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Final

import pyvips
from nats.js import JetStreamContext
from nats.js.api import KeyValueConfig
from nats.js.errors import KeyNotFoundError

from libs.bus.buckets import LazyBucket
from services.image.thumbnails import ImageInfo, ImageLimits, ImageRejected, root_cause, shrunk
from services.image.transforms import Transform, decoded_size

__all__ = ["BUCKET", "WORKING_SIDE", "WorkingCopies", "WorkingCopy", "make_working_copy"]

BUCKET = "image-working"
# A 1024-pixel copy of a 24 MP photo is about 200 kB and serves outputs up to 512 pixels
# (every thumbnail) in 6 ms; a 2048-pixel one would serve up to 1024 but take 10 ms.
WORKING_SIDE: Final = 1024
_QUALITY: Final = 95
# Only sources at least this much bigger than the copy get one: below it, decoding the
# original costs little more than decoding the copy.
_WORTH: Final = 2


@dataclass(frozen=True)
class WorkingCopy:
    blob: str  # the copy, a JPEG
    width: int
    height: int
    original: ImageInfo  # the source's header, as the geometry needs it

    def serves(self, transform: Transform, limits: ImageLimits) -> bool:
        """Whether ``transform`` can be made from the copy as well as from the original."""
        width, height = decoded_size(self.original, transform, limits)
        return 2 * width <= self.width and 2 * height <= self.height


def make_working_copy(source: Path, info: ImageInfo) -> tuple[bytes, int, int] | None:
    """A JPEG of ``source`` (probed as ``info``) fitted in ``WORKING_SIDE``, with its size; or
    None when the source is animated, has alpha, or is too small to be worth one."""
    if info.frames > 1 or max(info.width, info.height) < _WORTH * WORKING_SIDE:
        return None
    try:
        image = shrunk(pyvips.Source.new_from_file(str(source)), info, WORKING_SIDE, WORKING_SIDE)
        if image.hasalpha():
            return None
        data = image.jpegsave_buffer(Q=_QUALITY, keep="none")
    except pyvips.Error as exc:
        raise ImageRejected(
            "not_an_image", f"cannot decode {info.format}: {root_cause(exc)}"
        ) from None
    return bytes(data), image.width, image.height


class WorkingCopies:
    """The KV index from a source blob to its working copy."""

    def __init__(self, js: JetStreamContext) -> None:
        self._bucket = LazyBucket(js, KeyValueConfig(bucket=BUCKET, history=1))

    async def get(self, source: str) -> WorkingCopy | None:
        try:
            entry = await (await self._bucket.get()).get(source)
            fields = json.loads(entry.value or b"")
            return WorkingCopy(**{**fields, "original": ImageInfo(**fields["original"])})
        except (KeyNotFoundError, ValueError, TypeError, KeyError):
            return None

    async def put(self, source: str, blob: str, size: tuple[int, int], info: ImageInfo) -> None:
        # The copy is sRGB without a profile, and decoding it is never progressive.
        original = replace(info, profiled=False, progressive=False)
        copy = WorkingCopy(blob, size[0], size[1], original)
        await (await self._bucket.get()).put(source, json.dumps(asdict(copy)).encode())
