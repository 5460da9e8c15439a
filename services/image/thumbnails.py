"""Pure processing core of the image service: bounded probing and thumbnailing with libvips.

Untrusted bytes pass three cheap gates before a single pixel is decoded:

1. the byte count;
2. format sniffing with libvips' own magic-byte check, against an allow-list, so only the
   PNG, JPEG, WebP, GIF and TIFF decoders ever parse the data;
3. a header-only load (libvips loaders are lazy: ``new_from_buffer`` parses the header and
   decodes pixels only when something asks for them), which bounds width, height and frames.

Only then does ``thumbnail_buffer`` decode, shrinking on load where the format allows it
(JPEG, WebP), and streaming otherwise, so memory stays proportional to the output.

Everything here is safe to call from several threads at once: the module holds no mutable
state, libvips is thread-safe and releases the GIL while it works.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

import pyvips

__all__ = ["ImageInfo", "ImageLimits", "ImageRejected", "Thumbnail", "make_thumbnail", "probe"]

# Process-wide libvips settings, applied once on import.
# Loaders libvips itself flags "untrusted" (here svg, vips, csv, raw; magick, matlab, fits...
# in builds that have them) become unreachable. The allow-list below already keeps them away
# from our data; this also covers any other pyvips use in the process. No-op before 8.13.
pyvips.block_untrusted_set(True)
# Every upload is distinct, so the operation cache never hits: it would only keep copies of
# untrusted input buffers alive after the request (measured: ~150 MB pinned by 8 large PNGs).
pyvips.cache_set_max(0)

# libvips loader nickname -> format name. Anything else is refused before it is parsed.
_LOADERS: Final[dict[str, str]] = {
    "pngload_buffer": "png",
    "jpegload_buffer": "jpeg",
    "webpload_buffer": "webp",
    "gifload_buffer": "gif",
    "tiffload_buffer": "tiff",
}

# Output format -> (saver suffix, content type, saver options).
# keep="none" strips EXIF/XMP/ICC: orientation is already applied, pixels are already sRGB,
# and uploaders' metadata (GPS, camera serials) must not leak into public thumbnails.
_SAVERS: Final[dict[str, tuple[str, str, dict[str, Any]]]] = {
    "png": (".png", "image/png", {"keep": "none"}),
    "webp": (".webp", "image/webp", {"keep": "none", "Q": 80}),
    "jpeg": (".jpg", "image/jpeg", {"keep": "none", "Q": 85, "optimize_coding": True}),
}

# Decoding errors, including truncation, fail the call instead of yielding a half-grey image.
_FAIL_ON: Final = "error"


@dataclass(frozen=True)
class ImageLimits:
    """Bounds applied to untrusted input before it is decoded."""

    max_bytes: int = 50 << 20
    max_pixels: int = 100_000_000  # width*height of one frame
    max_frames: int = 100
    max_thumbnail_size: int = 2048


@dataclass(frozen=True)
class ImageInfo:
    """What the header says. ``width``/``height`` are of one frame, as displayed (after EXIF
    orientation), so they have the same aspect ratio as a thumbnail of the image."""

    format: str  # "png" | "jpeg" | "webp" | "gif" | "tiff"
    width: int
    height: int
    frames: int


@dataclass(frozen=True)
class Thumbnail:
    data: bytes
    content_type: str  # "image/png" | "image/webp" | "image/jpeg"
    width: int
    height: int


class ImageRejected(Exception):
    """Bad input; permanent, retrying will not help.

    ``reason`` is a short machine code: "too_large", "too_many_pixels", "too_many_frames",
    "not_an_image", "bad_size" or "bad_format"; ``detail`` is for humans.
    """

    def __init__(self, reason: str, detail: str) -> None:
        # Both go to args so the exception survives pickling (e.g. across a process pool).
        super().__init__(reason, detail)
        self.reason = reason
        self.detail = detail

    def __str__(self) -> str:
        return f"{self.reason}: {self.detail}"


def probe(data: bytes, limits: ImageLimits = ImageLimits()) -> ImageInfo:
    """Read only the header of ``data`` and enforce ``limits``; raise ImageRejected if over."""
    if len(data) > limits.max_bytes:
        raise ImageRejected("too_large", f"{len(data)} bytes, limit is {limits.max_bytes}")
    fmt = _LOADERS.get(_sniff_loader(data) or "")
    if fmt is None:
        raise ImageRejected("not_an_image", "not a PNG, JPEG, WebP, GIF or TIFF image")
    try:
        header = pyvips.Image.new_from_buffer(data, "", access="sequential", fail_on=_FAIL_ON)
        width, height = header.width, header.height
        frames = header.get("n-pages") if header.get_typeof("n-pages") else 1
        orientation = header.get("orientation") if header.get_typeof("orientation") else 1
    except pyvips.Error as exc:
        raise ImageRejected("not_an_image", f"unreadable {fmt} header: {_why(exc)}") from None

    if width * height > limits.max_pixels:
        raise ImageRejected(
            "too_many_pixels", f"{width}x{height} frame, limit is {limits.max_pixels} pixels"
        )
    if frames > limits.max_frames:
        raise ImageRejected("too_many_frames", f"{frames} frames, limit is {limits.max_frames}")
    if orientation in (5, 6, 7, 8):  # EXIF orientations that turn the image by 90 degrees
        width, height = height, width
    return ImageInfo(format=fmt, width=width, height=height, frames=frames)


def make_thumbnail(
    data: bytes,
    size: int,
    *,
    fmt: str = "png",
    limits: ImageLimits = ImageLimits(),
) -> Thumbnail:
    """Shrink ``data`` to fit in ``size`` x ``size`` (aspect kept, never upscaled), encoded as
    ``fmt``. Animated or multi-page input gives its first frame; EXIF orientation is applied
    and the output is sRGB with metadata stripped."""
    saver = _SAVERS.get(fmt)
    if saver is None:
        raise ImageRejected("bad_format", f"output format {fmt!r} is not one of {sorted(_SAVERS)}")
    # bool is an int subclass; True is not a size.
    if isinstance(size, bool) or not isinstance(size, int):
        raise ImageRejected("bad_size", f"size must be an integer, got {size!r}")
    if not 1 <= size <= limits.max_thumbnail_size:
        raise ImageRejected("bad_size", f"size {size} not in 1..{limits.max_thumbnail_size}")
    info = probe(data, limits)  # every bound is checked before thumbnail_buffer decodes

    suffix, content_type, options = saver
    try:
        # thumbnail_buffer loads only the first page (n=1), applies EXIF orientation, and converts
        # any embedded profile (or CMYK) to sRGB because output_profile is set. Its own fail_on
        # argument is not forwarded to buffer loaders (libvips issue #5195; a truncated file
        # silently gives a half-grey thumbnail), so it goes in the loader option string instead.
        thumb = pyvips.Image.thumbnail_buffer(
            data,
            size,
            height=size,
            size="down",
            output_profile="srgb",
            option_string=f"fail_on={_FAIL_ON}",
        )
        if thumb.interpretation != "srgb":  # e.g. greyscale, which has no profile to convert
            thumb = thumb.colourspace("srgb")
        if fmt == "jpeg" and thumb.hasalpha():  # JPEG has no alpha; libvips would flatten to black
            thumb = thumb.flatten(background=[255, 255, 255])
        out = thumb.write_to_buffer(suffix, **options)
    except pyvips.Error as exc:  # e.g. truncated or corrupt pixel data behind a valid header
        raise ImageRejected("not_an_image", f"cannot decode {info.format}: {_why(exc)}") from None
    return Thumbnail(data=out, content_type=content_type, width=thumb.width, height=thumb.height)


def _sniff_loader(data: bytes) -> str | None:
    """Nickname of the loader libvips would choose for ``data`` (magic bytes only), or None.

    This is the check ``pyvips.Image.new_from_buffer`` does first; doing it ourselves lets us
    refuse a format before its parser runs on the data.
    """
    name = pyvips.vips_lib.vips_foreign_find_load_buffer(data, len(data))
    if name == pyvips.ffi.NULL:
        pyvips.vips_lib.vips_error_clear()  # don't leave "not a known format" for the next error
        return None
    return str(pyvips.nickname_find(pyvips.type_from_name(pyvips.ffi.string(name).decode())))


def _why(exc: pyvips.Error) -> str:
    """The root cause of a libvips error, short enough for an API response.

    libvips' error log lists the first failure first; later lines are its consequences.
    """
    lines = [line.strip() for line in f"{exc.detail}\n{exc.message}".splitlines() if line.strip()]
    return (lines[0] if lines else "unknown error")[:200]
