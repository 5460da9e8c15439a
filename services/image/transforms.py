"""Transformations by URL: imgproxy-style processing options, applied with libvips.

A derived image is named by its source and an option string such as
``rs:fill:300:200/c:200:200:smart/rot:90/bl:2/sh:1.5/f:webp/q:80``. The string is parsed
strictly into a ``Transform``: every number is bounded, so no URL can ask for a huge output,
and its ``canonical`` form is the cache key, so equivalent URLs share one derived blob.

``apply`` decodes no more than the output needs:

* the source is probed first (bytes, format, pixels, frames: ``thumbnails.probe``);
* the geometry is worked out from the header alone, so the pixels are decoded once, by
  libvips' ``thumbnail``, which shrinks on load (JPEG by DCT scaling, WebP natively) straight
  to the smallest size the output needs and streams the rest;
* smart crop looks for the interesting region on a small preview, never on the full image;
* only an output-sized frame is ever held whole, to turn it for ``rot``.

The steps always run in one order, whatever the order in the URL: crop (in source pixels, as
displayed after EXIF orientation), resize, rotate, blur, sharpen; pixels are sRGB from the
load on, and the output carries no metadata. Output is deterministic, and the module holds no
mutable state, so calls from several threads at once are safe.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Final

import pyvips

from services.image.thumbnails import (
    ImageInfo,
    ImageLimits,
    ImageRejected,
    probe,
    probe_file,
    root_cause,
    shrunk,
)

__all__ = [
    "GRAVITIES",
    "OUTPUT_FORMATS",
    "RESIZE_MODES",
    "Crop",
    "Output",
    "Resize",
    "Transform",
    "apply",
    "decoded_size",
    "negotiate_format",
    "parse_options",
]

OUTPUT_FORMATS: Final = ("avif", "webp", "jpeg", "png")
RESIZE_MODES: Final = ("fit", "fill", "exact")
GRAVITIES: Final = ("centre", "north", "south", "east", "west", "smart")
ROTATIONS: Final = (90, 180, 270)
BLUR_SIGMA: Final = (0.3, 100.0)
SHARPEN_SIGMA: Final = (0.3, 10.0)
QUALITY: Final = (1, 100)
# Crops are in source pixels: no allowed input format is wider than JPEG's and GIF's 65535.
MAX_CROP_SIDE: Final = 65_535

_CONTENT_TYPES: Final = {
    "avif": "image/avif",
    "webp": "image/webp",
    "jpeg": "image/jpeg",
    "png": "image/png",
}
_DEFAULT_QUALITY: Final = {"jpeg": 80, "webp": 79, "avif": 63}  # imgproxy's defaults
# libvips' default AVIF effort, 4, took 6.1 s for a 4096x4096 image on 2 cores; 2 took 0.9 s
# for a file 16% larger.
_AVIF_EFFORT: Final = 2
# libvips writes the frames of an AVIF as separate images, not an animation: only WebP animates.
_ANIMATED_OUTPUTS: Final = frozenset({"webp"})
_ANIMATED_INPUTS: Final = frozenset({"gif", "webp"})
# Gravity -> the point of the picture a crop is centred on, as fractions of width and height.
_FOCUS: Final = {
    "centre": (0.5, 0.5),
    "north": (0.5, 0.0),
    "south": (0.5, 1.0),
    "east": (1.0, 0.5),
    "west": (0.0, 0.5),
}
_DEFAULT_LIMITS: Final = ImageLimits()
_PREVIEW_SIDE: Final = 512  # smart crop finds the interesting region on a preview this big
_WHITE: Final = [255, 255, 255]
# ASCII digits only: int() and float() would also take "1_000", " 7", "nan", "1e9" and "٣".
_INTEGER: Final = re.compile(r"[0-9]{1,6}")
_DECIMAL: Final = re.compile(r"[0-9]{1,3}(\.[0-9]{1,3})?")
_QVALUE: Final = re.compile(r"0(\.[0-9]{0,3})?|1(\.0{0,3})?")


@dataclass(frozen=True)
class Resize:
    """``rs:{mode}:{width}:{height}``. A side of 0 follows the aspect ratio (every mode is then
    fit). The output may be larger than the source: the size asked for is the size given."""

    mode: str  # fit: inside the box | fill: cover it, crop the rest | exact: stretch to it
    width: int
    height: int


@dataclass(frozen=True)
class Crop:
    """``c:{width}:{height}[:{gravity}]``, in source pixels, before any resize. A side of 0, or
    larger than the source, keeps the whole side. The gravity also places a fill's crop."""

    width: int
    height: int
    gravity: str = "centre"  # centre | north | south | east | west | smart


@dataclass(frozen=True)
class Transform:
    """What to do to a source image; parse it from a URL with ``parse_options``.

    Without ``rs`` or ``th`` the output keeps the source's size, shrunk if it must be to fit in
    ``ImageLimits.max_output_side``.
    """

    resize: Resize | None = None
    thumbnail: int | None = None  # th: fit in size x size, never enlarged
    crop: Crop | None = None
    rotate: int = 0  # rot: degrees clockwise, after the resize (whose box is the output's)
    blur: float | None = None  # bl: gaussian sigma
    sharpen: float | None = None  # sh: sigma
    format: str | None = None  # f: None = negotiated from Accept
    quality: int | None = None  # q: None = the format's default; PNG is lossless
    animate: bool = False  # anim:1 keeps an animation, when the output format can carry one

    def canonical(self) -> str:
        """The options in one fixed spelling and order, without no-ops: equal for transforms
        that give the same output, so it can key a cache. Parses back to itself."""
        parts = []
        if self.resize is not None:
            parts.append(f"rs:{self.resize.mode}:{self.resize.width}:{self.resize.height}")
        if self.thumbnail is not None:
            parts.append(f"th:{self.thumbnail}")
        if self.crop is not None:
            gravity = "" if self.crop.gravity == "centre" else f":{self.crop.gravity}"
            parts.append(f"c:{self.crop.width}:{self.crop.height}{gravity}")
        if self.rotate:
            parts.append(f"rot:{self.rotate}")
        if self.blur is not None:
            parts.append(f"bl:{self.blur:g}")
        if self.sharpen is not None:
            parts.append(f"sh:{self.sharpen:g}")
        if self.format is not None:
            parts.append(f"f:{self.format}")
        if self.quality is not None and self.format != "png":
            parts.append(f"q:{self.quality}")
        if self.animate and (self.format is None or self.format in _ANIMATED_OUTPUTS):
            parts.append("anim:1")
        return "/".join(parts)

    def with_format(self, fmt: str) -> Transform:
        """This transform with its output format settled (e.g. the negotiated one), so that
        ``canonical()`` names exactly one output."""
        return replace(self, format=fmt)


@dataclass(frozen=True)
class Output:
    data: bytes
    content_type: str
    width: int  # of one frame
    height: int
    frames: int = 1


# --- parsing -----------------------------------------------------------------------------------


def parse_options(text: str, limits: ImageLimits = _DEFAULT_LIMITS) -> Transform:
    """Parse slash-separated ``name:arg:...`` options ("" is none); raise
    ImageRejected("bad_options") naming the option at fault."""
    fields: dict[str, Any] = {}
    seen: set[str] = set()
    for segment in text.split("/") if text else ():
        if not segment:
            raise _bad(f"empty option in {text!r}")
        name, *args = segment.split(":")
        parse = _OPTIONS.get(name)
        if parse is None:
            raise _bad(f"unknown option {name!r} in {segment!r}; options are {', '.join(_OPTIONS)}")
        if name in seen:
            raise _bad(f"option {name!r} is given twice")
        seen.add(name)
        fields.update(parse(_Option(segment, args, limits)))
    if "resize" in fields and "thumbnail" in fields:
        raise _bad("rs and th both set the size: give one of them")
    return Transform(**fields)


@dataclass(frozen=True)
class _Option:
    """One option being parsed, and what its error messages quote."""

    segment: str
    args: list[str]
    limits: ImageLimits

    def bad(self, problem: str) -> ImageRejected:
        return _bad(f"{self.segment!r}: {problem}")

    def expect(self, usage: str, *counts: int) -> None:
        if len(self.args) not in counts:
            raise self.bad(f"expected {usage}")

    def integer(self, index: int, what: str, low: int, high: int) -> int:
        text = self.args[index]
        if not _INTEGER.fullmatch(text):
            raise self.bad(f"{what} {text!r} is not a whole number")
        value = int(text)
        if not low <= value <= high:
            raise self.bad(f"{what} {value} is not in {low}..{high}")
        return value

    def decimal(self, index: int, what: str, bounds: tuple[float, float]) -> float:
        text = self.args[index]
        if not _DECIMAL.fullmatch(text):
            raise self.bad(f"{what} {text!r} is not a number like 1.5")
        value = float(text)
        if not bounds[0] <= value <= bounds[1]:
            raise self.bad(f"{what} {value:g} is not in {bounds[0]:g}..{bounds[1]:g}")
        return value

    def choice(self, index: int, what: str, choices: tuple[str, ...]) -> str:
        text = self.args[index]
        if text not in choices:
            raise self.bad(f"{what} {text!r} is not one of {', '.join(choices)}")
        return text


def _resize(option: _Option) -> dict[str, Any]:
    option.expect("rs:{fit|fill|exact}:{width}:{height}", 3)
    mode = option.choice(0, "mode", RESIZE_MODES)
    side = option.limits.max_output_side
    width = option.integer(1, "width", 0, side)
    height = option.integer(2, "height", 0, side)
    if width == height == 0:
        raise option.bad("width and height cannot both be 0")
    if width * height > option.limits.max_pixels:
        raise option.bad(f"{width}x{height} is over {option.limits.max_pixels} pixels")
    if 0 in (width, height):
        mode = "fit"  # one side follows the other: nothing is left to fill or stretch
    return {"resize": Resize(mode, width, height)}


def _thumbnail(option: _Option) -> dict[str, Any]:
    option.expect("th:{size}", 1)
    return {"thumbnail": option.integer(0, "size", 1, option.limits.max_output_side)}


def _crop(option: _Option) -> dict[str, Any]:
    option.expect("c:{width}:{height}[:{gravity}]", 2, 3)
    width = option.integer(0, "width", 0, MAX_CROP_SIDE)
    height = option.integer(1, "height", 0, MAX_CROP_SIDE)
    if width == height == 0:
        raise option.bad("width and height cannot both be 0 (that keeps the whole image)")
    gravity = option.choice(2, "gravity", GRAVITIES) if len(option.args) == 3 else "centre"
    return {"crop": Crop(width, height, gravity)}


def _rotate(option: _Option) -> dict[str, Any]:
    option.expect("rot:{90|180|270}", 1)
    angle = option.args[0]
    if angle not in {str(angle) for angle in ROTATIONS}:
        raise option.bad(f"angle {angle!r} is not one of 90, 180, 270")
    return {"rotate": int(angle)}


def _blur(option: _Option) -> dict[str, Any]:
    option.expect("bl:{sigma}", 1)
    return {"blur": option.decimal(0, "sigma", BLUR_SIGMA)}


def _sharpen(option: _Option) -> dict[str, Any]:
    option.expect("sh:{sigma}", 1)
    return {"sharpen": option.decimal(0, "sigma", SHARPEN_SIGMA)}


def _format(option: _Option) -> dict[str, Any]:
    option.expect("f:{avif|webp|jpeg|png}", 1)
    return {"format": option.choice(0, "format", OUTPUT_FORMATS)}


def _quality(option: _Option) -> dict[str, Any]:
    option.expect("q:{1..100}", 1)
    return {"quality": option.integer(0, "quality", *QUALITY)}


def _animate(option: _Option) -> dict[str, Any]:
    option.expect("anim:{0|1}", 1)
    return {"animate": option.choice(0, "value", ("0", "1")) == "1"}


_OPTIONS: Final[dict[str, Callable[[_Option], dict[str, Any]]]] = {
    "rs": _resize,
    "th": _thumbnail,
    "c": _crop,
    "rot": _rotate,
    "bl": _blur,
    "sh": _sharpen,
    "f": _format,
    "q": _quality,
    "anim": _animate,
}


def _bad(detail: str) -> ImageRejected:
    return ImageRejected("bad_options", detail)


# --- negotiation -------------------------------------------------------------------------------


def negotiate_format(
    accept: str | None,
    source_format: str,
    *,
    requested: str | None = None,
    animated: bool = False,
) -> tuple[str, bool]:
    """The output format, and whether it depends on ``accept`` (then the response must say
    ``Vary: Accept``).

    An ``f:`` option (``requested``) is final. Otherwise the best the client accepts: AVIF, then
    WebP (first when keeping an animation, which AVIF cannot carry), then the source's kind,
    JPEG for photos and PNG for the rest. AVIF and WebP count only when named: clients that
    cannot decode them send ``*/*`` too. A client that accepts none still gets the fallback.
    """
    if requested is not None:
        if requested not in _CONTENT_TYPES:
            raise ImageRejected("bad_format", f"{requested!r} is not one of {OUTPUT_FORMATS}")
        return requested, False
    weights = _accept_weights(accept)
    fallback = ("jpeg", "png") if source_format == "jpeg" else ("png", "jpeg")
    if animated and weights.get("image/webp", 0.0) > 0:
        return "webp", True

    def weight(fmt: str) -> float:
        media = _CONTENT_TYPES[fmt]
        if media in weights or fmt in ("avif", "webp"):
            return weights.get(media, 0.0)
        return weights.get("image/*", weights.get("*/*", 0.0))

    ranked = [fmt for fmt in ("avif", "webp", *fallback) if weight(fmt) > 0]
    best = max(ranked, key=weight, default=fallback[0])  # max keeps the first of equals
    return best, True


def _accept_weights(accept: str | None) -> dict[str, float]:
    """Media range -> q from an Accept header; malformed entries are ignored, as RFC 9110 lets
    a server do. No header means anything is acceptable."""
    if accept is None:
        return {"*/*": 1.0}
    weights: dict[str, float] = {}
    for entry in accept.split(","):
        media, *params = (part.strip() for part in entry.split(";"))
        q = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                q = float(value.strip()) if _QVALUE.fullmatch(value.strip()) else -1.0
        if "/" in media and q >= 0:
            weights[media.lower()] = max(q, weights.get(media.lower(), 0.0))
    return weights


# --- processing --------------------------------------------------------------------------------


def apply(
    source: bytes | Path,
    transform: Transform,
    limits: ImageLimits = _DEFAULT_LIMITS,
    *,
    fmt: str | None = None,
    working_copy_of: ImageInfo | None = None,
) -> Output:
    """Apply ``transform`` to an untrusted image; raise ImageRejected if it breaks a limit.

    ``fmt`` is the output format when the transform has none (what ``negotiate_format`` chose).
    Every limit is checked on the header, before a pixel is decoded.

    With ``working_copy_of``, ``source`` is a smaller copy (``working.py``) of the image that
    header describes: the geometry is the original's, the pixels come from the copy, which
    must be at least ``decoded_size`` big.
    """
    fmt = fmt or transform.format
    if fmt is None:
        raise ValueError("the transform has no format: pass the negotiated one as fmt")
    if transform.format not in (None, fmt):
        raise ValueError(f"fmt {fmt!r} contradicts the transform's f:{transform.format}")
    if fmt not in _CONTENT_TYPES:
        raise ImageRejected("bad_format", f"output format {fmt!r} is not one of {OUTPUT_FORMATS}")
    # A Transform built by hand, or parsed under other limits, passes the same bounds as a URL.
    transform = parse_options(transform.canonical(), limits)
    if working_copy_of is not None:
        info = working_copy_of
    else:
        info = probe_file(source, limits) if isinstance(source, Path) else probe(source, limits)
    frames = _frames(info, transform, limits, fmt)
    plan = _plan(info, transform, limits)
    width, height = plan.target[::-1] if transform.rotate in (90, 270) else plan.target
    # Frames are decoded and encoded together: with animation, the pixel bound is for them all.
    for what, pixels in (("source", info.width * info.height), ("output", width * height)):
        if frames * pixels > limits.max_pixels:
            raise ImageRejected(
                "too_many_pixels",
                f"{frames} frames of {pixels} pixels ({what}), limit is {limits.max_pixels}",
            )

    try:
        focus = _smart_focus(source, info, plan) if plan.smart else plan.focus
        # Forced to the planned size: the resize and crop after it work from exactly that.
        loaded = shrunk(_open(source), info, *plan.load, size="force", frames=frames)
        shaped = [_shape(frame, plan, transform, focus) for frame in _split(loaded, frames)]
        data = _encode(_join(shaped), fmt, transform.quality)
    except pyvips.Error as exc:  # e.g. truncated or corrupt pixel data behind a valid header
        raise ImageRejected(
            "not_an_image", f"cannot decode {info.format}: {root_cause(exc)}"
        ) from None
    return Output(data, _CONTENT_TYPES[fmt], shaped[0].width, shaped[0].height, len(shaped))


def decoded_size(info: ImageInfo, transform: Transform, limits: ImageLimits) -> tuple[int, int]:
    """The size ``apply`` decodes the whole picture at, for the image ``info`` describes."""
    return _plan(info, transform, limits).load


@dataclass(frozen=True)
class _Plan:
    """The geometry, worked out from the header: sizes of one frame, before ``rot``."""

    source: tuple[int, int]  # as displayed
    load: tuple[int, int]  # the whole picture is decoded at this size...
    crop: tuple[int, int] | None  # ...this much of it kept, in source pixels...
    target: tuple[int, int]  # ...and that resized to this,
    cover: bool  # covering it and cropping the rest (fill)
    focus: tuple[float, float]  # crops centre on this point, in fractions of the picture
    smart: bool  # the focus is to be found by smart crop, for a crop this big (source pixels)
    smart_box: tuple[int, int]


def _plan(info: ImageInfo, transform: Transform, limits: ImageLimits) -> _Plan:
    width, height = info.width, info.height
    crop, gravity = None, "centre"
    crop_w, crop_h = width, height
    if transform.crop is not None:
        crop_w = min(transform.crop.width or width, width)
        crop_h = min(transform.crop.height or height, height)
        crop, gravity = (crop_w, crop_h), transform.crop.gravity

    cover = False
    resize = transform.resize
    if resize is not None:
        # The box is the output's; a quarter turn comes after the resize, so swap it.
        box_w, box_h = resize.width, resize.height
        if transform.rotate in (90, 270):
            box_w, box_h = box_h, box_w
        if resize.mode == "fit":
            scale = min(box_w / crop_w or math.inf, box_h / crop_h or math.inf)
            target = _scaled(crop_w, crop_h, scale)
        else:
            scale = max(box_w / crop_w, box_h / crop_h)  # no axis decoded below its output
            target, cover = (box_w, box_h), resize.mode == "fill"
    else:
        side = transform.thumbnail or limits.max_output_side
        scale = min(1.0, side / crop_w, side / crop_h)
        target = _scaled(crop_w, crop_h, scale)

    if crop is not None and crop != (width, height):
        smart_box = crop
    else:  # the smart part is the fill's crop, in source pixels
        smart_box = _scaled(target[0], target[1], 1 / scale)
    return _Plan(
        source=(width, height),
        # Enlarging happens after the crop: decoding the whole picture enlarged would be waste.
        load=_scaled(width, height, min(1.0, scale)),
        crop=crop,
        target=target,
        cover=cover,
        focus=_FOCUS.get(gravity, _FOCUS["centre"]),
        smart=gravity == "smart" and (smart_box != (width, height) or cover),
        smart_box=(min(smart_box[0], width), min(smart_box[1], height)),
    )


def _frames(info: ImageInfo, transform: Transform, limits: ImageLimits, fmt: str) -> int:
    """How many frames to decode: one unless both the source and the output can animate."""
    if info.format not in _ANIMATED_INPUTS or fmt not in _ANIMATED_OUTPUTS:
        return 1
    wanted = limits.max_animation_frames if transform.animate else limits.max_frames
    return min(info.frames, wanted)


def _open(source: bytes | Path) -> pyvips.Source:
    if isinstance(source, Path):
        return pyvips.Source.new_from_file(str(source))
    return pyvips.Source.new_from_memory(source)  # no copy: libvips reads the caller's bytes


def _smart_focus(source: bytes | Path, info: ImageInfo, plan: _Plan) -> tuple[float, float]:
    """The centre of the most interesting ``plan.smart_box``-sized region (libvips' attention
    strategy: skin, saturation, edges), found on a preview of the first frame."""
    preview = shrunk(_open(source), info, _PREVIEW_SIDE, _PREVIEW_SIDE, size="down")
    preview = preview.copy_memory()  # smartcrop reads it twice; the load is sequential
    scale = preview.width / plan.source[0]
    box_w, box_h = _scaled(plan.smart_box[0], plan.smart_box[1], scale)
    _, found = preview.smartcrop(
        min(box_w, preview.width),
        min(box_h, preview.height),
        interesting="attention",
        attention_x=True,
        attention_y=True,
    )
    return found["attention_x"] / preview.width, found["attention_y"] / preview.height


def _split(image: pyvips.Image, frames: int) -> list[pyvips.Image]:
    if frames == 1:
        return [image]
    height = image.get("page-height")
    return [image.crop(0, top, image.width, height) for top in range(0, image.height, height)]


def _join(frames: list[pyvips.Image]) -> pyvips.Image:
    if len(frames) == 1:
        return frames[0]
    strip = pyvips.Image.arrayjoin(frames, across=1).copy()  # metadata (delays) of the first
    strip.set_type(pyvips.GValue.gint_type, "page-height", frames[0].height)
    return strip


def _shape(
    frame: pyvips.Image, plan: _Plan, transform: Transform, focus: tuple[float, float]
) -> pyvips.Image:
    """Crop, resize, rotate, blur and sharpen one frame."""
    fx, fy = focus
    if plan.crop is not None:  # the crop is in source pixels; the frame may be shrunk already
        width = min(frame.width, max(1, round(plan.crop[0] * frame.width / plan.source[0])))
        height = min(frame.height, max(1, round(plan.crop[1] * frame.height / plan.source[1])))
        left, top = _place(frame.width, width, fx), _place(frame.height, height, fy)
        # The focus, as a point of the crop: a fill after it centres on the same thing.
        fx = _clamp((fx * frame.width - left) / width)
        fy = _clamp((fy * frame.height - top) / height)
        frame = frame.crop(left, top, width, height)

    width, height = plan.target
    if plan.cover:
        covers = frame.width >= width and frame.height >= height
        if not covers or (frame.width > width and frame.height > height):
            scale = max(width / frame.width, height / frame.height)
            frame = _resized(
                frame,
                max(width, round(frame.width * scale)),
                max(height, round(frame.height * scale)),
            )
        frame = frame.crop(
            _place(frame.width, width, fx), _place(frame.height, height, fy), width, height
        )
    elif (frame.width, frame.height) != (width, height):
        frame = _resized(frame, width, height)

    if transform.rotate:  # turning needs random access; the frame is output-sized by now
        frame = frame.copy_memory().rot(f"d{transform.rotate}")
    blur, sharpen = transform.blur, transform.sharpen
    if blur is not None:
        frame = _premultiplied(frame, lambda image: image.gaussblur(blur))
    if sharpen is not None:
        frame = frame.sharpen(sigma=sharpen)  # works on lightness; alpha passes through
    return frame


def _resized(image: pyvips.Image, width: int, height: int) -> pyvips.Image:
    return _premultiplied(
        image, lambda image: image.resize(width / image.width, vscale=height / image.height)
    )


def _premultiplied(
    image: pyvips.Image, operation: Callable[[pyvips.Image], pyvips.Image]
) -> pyvips.Image:
    """``operation`` on colour weighted by alpha, so transparent pixels' colour cannot bleed."""
    if not image.hasalpha():
        return operation(image)
    return operation(image.premultiply()).unpremultiply().cast("uchar")


def _encode(image: pyvips.Image, fmt: str, quality: int | None) -> bytes:
    """Encoded without metadata: EXIF (GPS, camera serials), XMP and ICC all go (keep="none");
    orientation is already applied and the pixels are already sRGB."""
    q = quality or _DEFAULT_QUALITY.get(fmt, 0)
    if fmt == "jpeg":
        if image.hasalpha():  # JPEG has no alpha; libvips would flatten to black
            image = image.flatten(background=_WHITE)
        data = image.jpegsave_buffer(Q=q, optimize_coding=True, keep="none")
    elif fmt == "png":
        data = image.pngsave_buffer(keep="none")
    elif fmt == "webp":
        data = image.webpsave_buffer(Q=q, keep="none")  # frames, delays and loop count kept
    else:
        data = image.heifsave_buffer(compression="av1", Q=q, effort=_AVIF_EFFORT, keep="none")
    return bytes(data)


def _scaled(width: int, height: int, scale: float) -> tuple[int, int]:
    return max(1, round(width * scale)), max(1, round(height * scale))


def _place(size: int, inner: int, focus: float) -> int:
    """Where ``inner`` starts inside ``size`` when centred on ``focus`` (a fraction), kept in."""
    return min(max(round(focus * size - inner / 2), 0), size - inner)


def _clamp(value: float) -> float:
    return min(max(value, 0.0), 1.0)
