"""Pure processing core of the image service: bounded probing and thumbnailing with libvips.

Untrusted bytes pass three cheap gates before a single pixel is decoded:

1. the byte count;
2. format sniffing with libvips' own magic-byte check, against an allow-list, so only the
   PNG, JPEG, WebP, GIF and TIFF decoders ever parse the data (never SVG, whose renderer
   would follow external references);
3. a header-only load (libvips loaders are lazy: ``new_from_source`` parses the header and
   decodes pixels only when something asks for them), which bounds width, height and frames,
   with a lower pixel bound for the images libvips has to decode whole (progressive JPEG,
   interlaced PNG, GIF).

``probe`` does this for bytes in memory, ``probe_file`` for a file (a streamed upload) without
reading more than its header.

Only then does ``thumbnail`` decode, shrinking on load where the format allows it (JPEG,
WebP), and streaming otherwise, so memory stays proportional to the output. Bytes are read in
place through a libvips source: the ``_buffer`` variants would copy them first.

Everything here is safe to call from several threads at once: the module holds no mutable
state, libvips is thread-safe and releases the GIL while it works.
"""

from __future__ import annotations

import ctypes
import os
from dataclasses import dataclass, fields
from typing import Any, Final

import pyvips

from libs.errors import InvalidArgument

__all__ = [
    "FAIL_ON",
    "ImageInfo",
    "ImageLimits",
    "ImageRejected",
    "Thumbnail",
    "make_thumbnail",
    "probe",
    "probe_file",
    "root_cause",
    "shrunk",
]

# Process-wide libvips settings, applied once on import.
# Loaders libvips itself flags "untrusted" (here svg, vips, csv, raw; magick, matlab, fits...
# in builds that have them) become unreachable. The allow-list below already keeps them away
# from our data; this also covers any other pyvips use in the process. No-op before 8.13.
pyvips.block_untrusted_set(True)
# Every upload is distinct, so the operation cache never hits: it would only keep copies of
# untrusted input buffers alive after the request (measured: ~150 MB pinned by 8 large PNGs).
pyvips.cache_set_max(0)


def _limit_malloc_arenas(arenas: int = 2) -> None:
    """glibc gives threads their own malloc arenas (up to eight per core), and libvips' worker
    threads leave each one fragmented; the glibc advice for libvips is two. Measured with
    loadtests/bench_image.py, a 6000x4000 thumbnail's working memory: 42.6 MB -> 29.9 MB."""
    if not os.confstr_names.get("CS_GNU_LIBC_VERSION") or not os.confstr("CS_GNU_LIBC_VERSION"):
        return  # not glibc: its allocator has no arenas to limit
    m_arena_max = -8  # from glibc's malloc.h
    ctypes.CDLL(None).mallopt(m_arena_max, arenas)


_limit_malloc_arenas()

# libvips loader nickname (less its "_source") -> format name. Anything else is refused before
# it is parsed.
_LOADERS: Final[dict[str, str]] = {
    "pngload": "png",
    "jpegload": "jpeg",
    "webpload": "webp",
    "gifload": "gif",
    "tiffload": "tiff",
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
FAIL_ON: Final = "error"


@dataclass(frozen=True)
class ImageLimits:
    """Bounds applied to untrusted input before it is decoded, and to what may be asked of it.

    The defaults are as careful as imgproxy's: 50 megapixels, one frame unless animation is
    asked for.
    """

    max_bytes: int = 50 << 20
    # width*height of one frame. With animation, of all the frames decoded together.
    max_pixels: int = 50_000_000
    # Frames decoded when animation is not asked for: 1 gives a still of the first frame.
    max_frames: int = 1
    # Frames decoded when it is; an image that declares more is refused outright. Counting
    # them indexes every frame (~70 bytes each): the worst case, max_bytes of one-pixel GIF
    # frames (2.3 million), peaks at 156 MB for 0.13 s before it is refused.
    max_animation_frames: int = 100
    # Progressive JPEG, interlaced PNG and GIF are decoded whole, not a few lines at a time:
    # libjpeg keeps every DCT coefficient of a progressive file (shrink-on-load saves it
    # nothing), libpng the whole interlaced image, the GIF decoder a whole RGBA frame.
    # Peak RSS measured for a 256 px thumbnail (libvips 8.18, bytes in memory):
    #                       20 MP     50 MP
    #   progressive JPEG    63 MB    152 MB    (baseline JPEG at 50 MP: 10 MB)
    #   interlaced PNG      76 MB    170 MB    (plain PNG: 40 MB, TIFF: 41 MB, WebP: 4 MB)
    #   GIF                108 MB    240 MB
    # 20 MP is the largest round figure that keeps each of them under 128 MB a decode.
    max_progressive_pixels: int = 20_000_000
    # Longest side of a processed image; larger sources are shrunk to fit.
    max_output_side: int = 4096
    max_thumbnail_size: int = 2048

    def __post_init__(self) -> None:
        for field in fields(self):
            value = getattr(self, field.name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"ImageLimits.{field.name} must be a positive integer: {value!r}")
        if self.max_frames > self.max_animation_frames:
            raise ValueError(
                f"ImageLimits.max_frames ({self.max_frames}) is more than "
                f"max_animation_frames ({self.max_animation_frames})"
            )


@dataclass(frozen=True)
class ImageInfo:
    """What the header says. ``width``/``height`` are of one frame, as displayed (after EXIF
    orientation), so they have the same aspect ratio as a thumbnail of the image."""

    format: str  # "png" | "jpeg" | "webp" | "gif" | "tiff"
    width: int
    height: int
    frames: int
    progressive: bool = False  # the header says progressive (JPEG) or interlaced (PNG, GIF)
    # An embedded ICC profile, so the pixels reach sRGB through it. Without one they are taken
    # as sRGB already: the transform through libvips' built-in profile would cost a third of a
    # large conversion and change nothing.
    profiled: bool = False


@dataclass(frozen=True)
class Thumbnail:
    data: bytes
    content_type: str  # "image/png" | "image/webp" | "image/jpeg"
    width: int
    height: int


class ImageRejected(InvalidArgument):
    """Bad input: an invalid argument, so a job that meets it fails without a retry.

    ``reason`` is a short machine code: "too_large", "too_many_pixels", "too_many_frames",
    "not_an_image", "bad_size", "bad_format" or "bad_options"; ``detail`` is for humans.
    """

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        # Both in args so the exception survives pickling (e.g. across a process pool).
        self.args = (reason, detail)

    def __str__(self) -> str:
        return f"{self.reason}: {self.detail}"


def probe(data: bytes, limits: ImageLimits = ImageLimits()) -> ImageInfo:
    """Read only the header of ``data`` and enforce ``limits``; raise ImageRejected if over."""
    # A source reads the caller's bytes in place; new_from_buffer would copy them first.
    return _probe(pyvips.Source.new_from_memory(data), len(data), limits)


def probe_file(path: str | os.PathLike[str], limits: ImageLimits = ImageLimits()) -> ImageInfo:
    """``probe`` for a file (a streamed upload): the same checks, reading only its header."""
    # A source, not new_from_file: a file name is parsed for "[options]", a source is not.
    return _probe(pyvips.Source.new_from_file(os.fspath(path)), os.stat(path).st_size, limits)


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
    info = probe(data, limits)  # every bound is checked before thumbnail decodes

    suffix, content_type, options = saver
    try:
        thumb = shrunk(pyvips.Source.new_from_memory(data), info, size, size, size="down")
        if fmt == "jpeg" and thumb.hasalpha():  # JPEG has no alpha; libvips would flatten to black
            thumb = thumb.flatten(background=[255, 255, 255])
        out = thumb.write_to_buffer(suffix, **options)
    except pyvips.Error as exc:  # e.g. truncated or corrupt pixel data behind a valid header
        raise ImageRejected(
            "not_an_image", f"cannot decode {info.format}: {root_cause(exc)}"
        ) from None
    return Thumbnail(data=out, content_type=content_type, width=thumb.width, height=thumb.height)


def shrunk(
    source: pyvips.Source,
    info: ImageInfo,
    width: int,
    height: int,
    *,
    size: str = "both",
    frames: int = 1,
    crop: str | None = None,
) -> pyvips.Image:
    """``source`` (probed as ``info``) decoded to fit ``width`` x ``height``, upright, 8-bit sRGB.

    ``thumbnail`` picks the largest shrink-on-load for the size, applies the EXIF orientation
    and brings CMYK to sRGB; an embedded profile is converted through only when there is one.
    Its own fail_on is not passed to loaders (libvips issue #5195: a truncated file would give
    a half-grey picture), so it goes in the loader's option string.
    """
    options = f"fail_on={FAIL_ON}" + (f",n={frames}" if frames > 1 else "")
    extra: dict[str, str] = {"crop": crop} if crop else {}
    if info.profiled:
        extra["output_profile"] = "srgb"
    image = pyvips.Image.thumbnail_source(
        source, width, height=height, size=size, option_string=options, **extra
    )
    # Greyscale and 16-bit sources have no profile to go through.
    return image if image.interpretation == "srgb" else image.colourspace("srgb")


def _probe(source: pyvips.Source, size: int, limits: ImageLimits) -> ImageInfo:
    if size > limits.max_bytes:
        raise ImageRejected("too_large", f"{size} bytes, limit is {limits.max_bytes}")
    fmt = _sniff(source)
    try:
        header = pyvips.Image.new_from_source(source, "", access="sequential", fail_on=FAIL_ON)
        return _check_header(header, fmt, limits)
    except pyvips.Error as exc:
        raise ImageRejected("not_an_image", f"unreadable {fmt} header: {root_cause(exc)}") from None


def _sniff(source: pyvips.Source) -> str:
    """The format libvips would pick for ``source`` by its magic bytes, if on the allow-list.

    This is the check ``new_from_source`` does first; doing it ourselves lets us refuse a
    format before its parser runs on the data.
    """
    loader = pyvips.vips_lib.vips_foreign_find_load_source(source.pointer)
    if loader == pyvips.ffi.NULL:
        pyvips.vips_lib.vips_error_clear()  # don't leave "not a known format" for the next error
        nickname = ""
    else:
        type_name = pyvips.ffi.string(loader).decode()
        nickname = str(pyvips.nickname_find(pyvips.type_from_name(type_name)))
    fmt = _LOADERS.get(nickname.removesuffix("_source"))
    if fmt is None:
        raise ImageRejected("not_an_image", "not a PNG, JPEG, WebP, GIF or TIFF image")
    return fmt


def _check_header(header: pyvips.Image, fmt: str, limits: ImageLimits) -> ImageInfo:
    width, height = header.width, header.height
    frames = header.get("n-pages") if header.get_typeof("n-pages") else 1
    orientation = header.get("orientation") if header.get_typeof("orientation") else 1
    progressive = bool(header.get("interlaced")) if header.get_typeof("interlaced") else False
    profiled = bool(header.get_typeof("icc-profile-data"))

    if width * height > limits.max_pixels:
        raise ImageRejected(
            "too_many_pixels", f"{width}x{height} frame, limit is {limits.max_pixels} pixels"
        )
    if frames > limits.max_animation_frames:
        raise ImageRejected(
            "too_many_frames", f"{frames} frames, limit is {limits.max_animation_frames}"
        )
    # GIF frames are always decoded whole, interlaced or not.
    if (progressive or fmt == "gif") and width * height > limits.max_progressive_pixels:
        kind = {"jpeg": "progressive JPEG", "png": "interlaced PNG"}.get(fmt, fmt.upper())
        raise ImageRejected(
            "too_many_pixels",
            f"{width}x{height} {kind}, which is decoded whole: limit is "
            f"{limits.max_progressive_pixels} pixels",
        )
    if orientation in (5, 6, 7, 8):  # EXIF orientations that turn the image by 90 degrees
        width, height = height, width
    return ImageInfo(fmt, width, height, frames, progressive, profiled)


def root_cause(exc: pyvips.Error) -> str:
    """The root cause of a libvips error, short enough for an API response.

    libvips' error log lists the first failure first; later lines are its consequences.
    """
    lines = [line.strip() for line in f"{exc.detail}\n{exc.message}".splitlines() if line.strip()]
    return (lines[0] if lines else "unknown error")[:200]
