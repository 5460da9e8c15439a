"""Tests for transformations by URL: options, geometry, formats, limits and bad input."""

from __future__ import annotations

import os
import random
import struct
import subprocess
import sys
import textwrap
import time
import zlib
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import pytest
import pyvips

from services.image.thumbnails import ImageLimits, ImageRejected, probe, probe_file
from services.image.transforms import (
    Crop,
    Output,
    Resize,
    Transform,
    apply,
    negotiate_format,
    parse_options,
)

from .conftest import BLUE, GREEN, RED, gradient, solid

REPO = Path(__file__).resolve().parents[3]
DEFAULTS = ImageLimits()
YELLOW, GREY = [255, 255, 0], [40, 40, 40]
# 3x3 blocks of 100 px, row by row: which block a gravity keeps.
BLOCK_COLOURS = [
    [255, 0, 0], [0, 255, 0], [0, 0, 255],
    [255, 255, 0], [255, 0, 255], [0, 255, 255],
    [128, 0, 0], [0, 128, 0], [0, 0, 128],
]  # fmt: skip


def run(
    source: bytes | Path, options: str, *, fmt: str = "png", limits: ImageLimits = DEFAULTS
) -> Output:
    """Apply URL options; ``fmt`` stands in for negotiation when they have no ``f:``."""
    transform = parse_options(options, limits)
    return apply(source, transform, limits, fmt=transform.format or fmt)


def decode(output: Output) -> pyvips.Image:
    """Every frame of ``output``, decoded into memory, failing on any decode error."""
    options = {"n": -1} if output.frames > 1 else {}
    image = pyvips.Image.new_from_buffer(output.data, "", fail_on="error", **options)
    return image.copy_memory()


def close(pixel: list[float], expected: list[int], tolerance: float = 20) -> bool:
    return all(abs(a - b) <= tolerance for a, b in zip(pixel, expected, strict=False))


def count(image: pyvips.Image, colour: list[int], tolerance: int = 40) -> int:
    """Pixels of ``image`` within ``tolerance`` of ``colour`` on every band."""
    match = ((image[:3] - colour).abs() < tolerance).bandand()
    return round(match.avg() / 255 * image.width * image.height)


def high_frequency(image: pyvips.Image) -> float:
    """Mean difference between horizontally adjacent pixels: fine detail, noise, edges."""
    left = image.crop(0, 0, image.width - 1, image.height).cast("float")
    right = image.crop(1, 0, image.width - 1, image.height).cast("float")
    return float((left - right).abs().avg())


@contextmanager
def rejected(reason: str) -> Iterator[None]:
    with pytest.raises(ImageRejected) as caught:
        yield
    assert caught.value.reason == reason, caught.value


def png_header(width: int, height: int, *, interlaced: bool) -> bytes:
    """A PNG with a valid header and a few bytes of pixel data, whatever size it declares."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = struct.pack(">I", zlib.crc32(kind + body))
        return struct.pack(">I", len(body)) + kind + body + crc

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, int(interlaced))
    idat = zlib.compress(b"\0" * (1 + 3 * width), 9)
    signature = b"\x89PNG\r\n\x1a\n"
    return signature + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


@pytest.fixture(scope="module")
def halves() -> bytes:
    """200x100: red left half, blue right half."""
    return solid(100, 100, RED).join(solid(100, 100, BLUE), "horizontal").pngsave_buffer()


@pytest.fixture(scope="module")
def thirds() -> bytes:
    """1200x400: red, green and blue thirds."""
    parts = [solid(400, 400, colour) for colour in (RED, GREEN, BLUE)]
    return pyvips.Image.arrayjoin(parts).pngsave_buffer()


@pytest.fixture(scope="module")
def blocks() -> bytes:
    tiles = [solid(100, 100, colour) for colour in BLOCK_COLOURS]
    return pyvips.Image.arrayjoin(tiles, across=3).pngsave_buffer()


@pytest.fixture(scope="module")
def spotlight() -> bytes:
    """400x300 of flat grey with a 40x40 yellow square near the bottom-right corner."""
    square = solid(40, 40, YELLOW)
    return solid(400, 300, GREY).insert(square, 330, 220).pngsave_buffer()


@pytest.fixture(scope="module")
def noise() -> bytes:
    image = pyvips.Image.gaussnoise(200, 200, sigma=40, mean=128, seed=7)
    return image.bandjoin([image, image]).cast("uchar").copy(interpretation="srgb").pngsave_buffer()


@pytest.fixture(scope="module")
def geotagged_jpeg() -> bytes:
    """Stored 300x100 (red left, blue right) with EXIF orientation 6, so it displays 100x300
    with red on top; and a GPS position, as a phone would write it."""
    image = solid(150, 100, RED).join(solid(150, 100, BLUE), "horizontal").copy()
    image.set_type(pyvips.GValue.gint_type, "orientation", 6)
    image.set_type(pyvips.GValue.gstr_type, "exif-ifd0-Make", "PhoneCo")
    image.set_type(pyvips.GValue.gstr_type, "exif-ifd3-GPSLatitudeRef", "N")
    image.set_type(pyvips.GValue.gstr_type, "exif-ifd3-GPSLatitude", "48/1 51/1 2400/100")
    image.set_type(pyvips.GValue.blob_type, "xmp-data", b"<x:xmpmeta>home</x:xmpmeta>")
    return image.jpegsave_buffer(Q=95)


@pytest.fixture(scope="module")
def large_jpegs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The same 6000x4000 (24 MP) photo, baseline and progressive."""
    folder = tmp_path_factory.mktemp("large")
    image = gradient(6000, 4000)
    baseline, progressive = folder / "baseline.jpg", folder / "progressive.jpg"
    baseline.write_bytes(image.jpegsave_buffer(Q=85))
    progressive.write_bytes(image.jpegsave_buffer(Q=85, interlace=True))
    return baseline, progressive


@pytest.fixture(scope="module")
def gif_2000_frames() -> bytes:
    """A 4x4 GIF of 2000 frames, alternating black and white (identical frames would merge)."""
    frames = 2000
    row = pyvips.Image.xyz(4, 4 * frames)[1]
    strip = ((row / 4).cast("int") % 2 * 255).cast("uchar")
    strip = strip.bandjoin([strip, strip]).copy(interpretation="srgb")
    strip.set_type(pyvips.GValue.gint_type, "page-height", 4)
    return bytes(strip.gifsave_buffer())


# --- options -----------------------------------------------------------------------------------


def test_every_option_parses() -> None:
    options = "rs:fill:300:200/c:200:200:smart/rot:90/bl:2/sh:1.5/f:webp/q:80/anim:1"

    assert parse_options(options) == Transform(
        resize=Resize("fill", 300, 200),
        crop=Crop(200, 200, "smart"),
        rotate=90,
        blur=2.0,
        sharpen=1.5,
        format="webp",
        quality=80,
        animate=True,
    )
    assert parse_options("th:128") == Transform(thumbnail=128)
    assert parse_options("") == Transform()


@pytest.mark.parametrize(
    ("options", "canonical"),
    [
        ("f:webp/rs:fit:300:200", "rs:fit:300:200/f:webp"),
        ("q:80/sh:1.50/bl:2.0/rot:180/c:10:20/th:64", "th:64/c:10:20/rot:180/bl:2/sh:1.5/q:80"),
        ("c:10:20:centre", "c:10:20"),
        ("c:10:20:smart", "c:10:20:smart"),
        ("rs:fill:300:0", "rs:fit:300:0"),  # a side from the aspect ratio leaves nothing to fill
        ("rs:exact:0:300", "rs:fit:0:300"),
        ("q:007", "q:7"),
        ("f:png/q:50", "f:png"),  # PNG is lossless: the quality changes nothing
        ("anim:0", ""),
        ("f:jpeg/anim:1", "f:jpeg"),  # JPEG cannot animate
        ("anim:1/f:webp", "f:webp/anim:1"),
        ("", ""),
    ],
)
def test_equivalent_options_share_one_canonical_form(options: str, canonical: str) -> None:
    assert parse_options(options).canonical() == canonical
    assert parse_options(canonical).canonical() == canonical


def test_with_format_settles_the_cache_key() -> None:
    transform = parse_options("rs:fit:100:100/q:70")

    assert transform.with_format("avif").canonical() == "rs:fit:100:100/f:avif/q:70"
    assert transform.with_format("png").canonical() == "rs:fit:100:100/f:png"


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ("zoom:2", "unknown option 'zoom' in 'zoom:2'"),
        ("rs:fit:100", "'rs:fit:100': expected rs:{fit|fill|exact}:{width}:{height}"),
        ("rs:fit:100:100:1", "expected rs:{fit|fill|exact}:{width}:{height}"),
        ("rs:zoom:100:100", "mode 'zoom' is not one of fit, fill, exact"),
        ("rs:fit:4097:100", "width 4097 is not in 0..4096"),
        ("rs:fit:100:5000", "height 5000 is not in 0..4096"),
        ("rs:fit:0:0", "width and height cannot both be 0"),
        ("rs:fit:-1:100", "width '-1' is not a whole number"),
        ("rs:fit:+1:100", "width '+1' is not a whole number"),
        ("rs:fit:1e3:100", "width '1e3' is not a whole number"),
        ("rs:fit: 100:100", "width ' 100' is not a whole number"),
        ("rs:fit:1_000:100", "width '1_000' is not a whole number"),
        (
            "rs:fit:\u0661\u0660:100",
            "is not a whole number",
        ),  # Arabic-Indic digits: int() takes them
        ("rs:fit:99999999999999:1", "is not a whole number"),
        ("th:0", "size 0 is not in 1..4096"),
        ("th:4097", "size 4097 is not in 1..4096"),
        ("th", "expected th:{size}"),
        ("c:0:0", "width and height cannot both be 0"),
        (
            "c:10:10:middle",
            "gravity 'middle' is not one of centre, north, south, east, west, smart",
        ),
        ("c:65536:10", "width 65536 is not in 0..65535"),
        ("c:10", "expected c:{width}:{height}[:{gravity}]"),
        ("rot:45", "angle '45' is not one of 90, 180, 270"),
        ("rot:0", "angle '0' is not one of 90, 180, 270"),
        ("rot:-90", "angle '-90' is not one of"),
        ("rot:090", "angle '090' is not one of"),
        ("bl:0.2", "sigma 0.2 is not in 0.3..100"),
        ("bl:100.5", "sigma 100.5 is not in 0.3..100"),
        ("bl:nan", "sigma 'nan' is not a number like 1.5"),
        ("bl:inf", "sigma 'inf' is not a number like 1.5"),
        ("bl:1e1", "sigma '1e1' is not a number like 1.5"),
        ("bl:.5", "sigma '.5' is not a number like 1.5"),
        ("sh:10.001", "sigma 10.001 is not in 0.3..10"),
        ("sh:0", "sigma 0 is not in 0.3..10"),
        ("f:gif", "format 'gif' is not one of avif, webp, jpeg, png"),
        ("f:jpg", "format 'jpg' is not one of"),
        ("f:WEBP", "format 'WEBP' is not one of"),
        ("q:0", "quality 0 is not in 1..100"),
        ("q:101", "quality 101 is not in 1..100"),
        ("anim:2", "value '2' is not one of 0, 1"),
        ("rs:fit:10:10/rs:fit:20:20", "option 'rs' is given twice"),
        ("q:80/f:webp/q:80", "option 'q' is given twice"),
        ("rs:fit:10:10/th:10", "rs and th both set the size"),
        ("rs:fit:10:10//f:png", "empty option"),
        ("/rs:fit:10:10", "empty option"),
        ("rs:fit:10:10/", "empty option"),
    ],
)
def test_bad_options_are_refused_precisely(options: str, message: str) -> None:
    with pytest.raises(ImageRejected) as caught:
        parse_options(options)

    assert caught.value.reason == "bad_options"
    assert message in caught.value.detail


@pytest.mark.parametrize(
    "options",
    ["rs:exact:4096:4096", "rs:fit:0:1", "th:1", "th:4096", "c:65535:1", "c:0:1", "bl:0.3",
     "bl:100", "sh:0.3", "sh:10", "q:1", "q:100", "rot:270", "anim:1"],
)  # fmt: skip
def test_bounds_are_inclusive(options: str) -> None:
    assert parse_options(options).canonical()


def test_option_bounds_follow_the_limits() -> None:
    limits = ImageLimits(max_output_side=512, max_pixels=100_000)

    assert parse_options("rs:fit:512:100", limits).resize == Resize("fit", 512, 100)
    for options in ("rs:fit:513:100", "th:513", "rs:exact:400:400"):  # 400x400 > 100000 px
        with rejected("bad_options"):
            parse_options(options, limits)


def test_a_transform_built_by_hand_is_checked_like_a_url(png_1200x800: bytes) -> None:
    for transform in (
        Transform(resize=Resize("fit", 10_000, 10)),
        Transform(resize=Resize("zoom", 10, 10)),
        Transform(blur=1e-5),
        Transform(rotate=45),
        Transform(quality=0),
    ):
        with rejected("bad_options"):
            apply(png_1200x800, transform, fmt="png")


def test_output_format_must_be_settled(png_1200x800: bytes) -> None:
    with rejected("bad_format"):
        apply(png_1200x800, Transform(), fmt="gif")
    with pytest.raises(ValueError, match="no format"):
        apply(png_1200x800, Transform())
    with pytest.raises(ValueError, match="contradicts"):
        apply(png_1200x800, Transform(format="webp"), fmt="png")


# --- negotiation -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("accept", "source", "expected"),
    [
        # What browsers send for <img>: Chrome, Firefox, Safari.
        ("image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8", "jpeg", "avif"),
        ("image/avif,image/webp,*/*", "png", "avif"),
        ("image/webp,image/avif,image/jxl,image/heic,video/*;q=0.8,image/png,image/svg+xml,"
         "image/*;q=0.8,*/*;q=0.5", "jpeg", "avif"),
        ("image/webp,*/*", "jpeg", "webp"),
        ("image/avif;q=0,image/webp,*/*", "png", "webp"),
        ("image/webp;q=0.9,image/avif;q=0.8,*/*;q=0.5", "jpeg", "webp"),
        # Wildcards do not vouch for AVIF or WebP: old clients send them too.
        ("*/*", "jpeg", "jpeg"),
        ("*/*", "png", "png"),
        ("image/*", "gif", "png"),
        ("image/*", "tiff", "png"),
        (None, "jpeg", "jpeg"),
        ("image/png", "jpeg", "png"),
        ("image/jpeg", "png", "jpeg"),
        ("image/*;q=0.5,image/png;q=0", "png", "jpeg"),  # the specific range wins
        ("IMAGE/WEBP", "jpeg", "webp"),
        # Nothing acceptable, or nothing readable: the source's kind all the same.
        ("text/html", "jpeg", "jpeg"),
        ("", "gif", "png"),
        ("image/avif;q=abc,image/webp;q=2,garbage,;;,image/png;q=0.5", "jpeg", "png"),
    ],
)  # fmt: skip
def test_format_negotiation(accept: str | None, source: str, expected: str) -> None:
    assert negotiate_format(accept, source) == (expected, True)


def test_a_requested_format_is_not_negotiated() -> None:
    assert negotiate_format("image/avif,image/webp", "jpeg", requested="png") == ("png", False)
    with rejected("bad_format"):
        negotiate_format(None, "jpeg", requested="gif")


def test_animation_prefers_webp_which_can_carry_it() -> None:
    assert negotiate_format("image/avif,image/webp,*/*", "gif", animated=True) == ("webp", True)
    assert negotiate_format("image/avif,*/*", "gif", animated=True) == ("avif", True)


# --- geometry ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "size"),
    [
        ("rs:fit:300:300", (300, 200)),
        ("rs:fit:300:100", (150, 100)),
        ("rs:fit:0:100", (150, 100)),
        ("rs:fit:300:0", (300, 200)),
        ("rs:fill:300:300", (300, 300)),
        ("rs:fill:100:400", (100, 400)),
        ("rs:fill:300:0", (300, 200)),
        ("rs:exact:300:300", (300, 300)),
        ("rs:exact:50:400", (50, 400)),
        ("rs:fit:2400:2400", (2400, 1600)),  # the size asked for, even when larger
        ("rs:fill:1500:1500", (1500, 1500)),
        ("th:100", (100, 67)),
        ("th:4000", (1200, 800)),  # a thumbnail is never enlarged
        ("", (1200, 800)),
        ("c:500:300", (500, 300)),
        ("c:5000:300", (1200, 300)),  # a crop larger than the image keeps the whole side
        ("c:0:300", (1200, 300)),
        ("c:600:400/rs:fit:300:300", (300, 200)),
        ("c:400:400/rs:fill:300:100", (300, 100)),
        ("c:100:100/rs:fit:400:400", (400, 400)),
        ("rot:90", (800, 1200)),
        ("rot:180", (1200, 800)),
        ("rot:270", (800, 1200)),
        ("rs:fit:300:300/rot:90", (200, 300)),
        ("rs:fill:300:200/rot:90", (300, 200)),  # the box is the output's, turned or not
        ("rs:exact:300:100/rot:270", (300, 100)),
    ],
)
def test_output_size(png_1200x800: bytes, options: str, size: tuple[int, int]) -> None:
    output = run(png_1200x800, options)

    assert (output.width, output.height) == size
    image = decode(output)
    assert (image.width, image.height) == size


def test_large_source_is_shrunk_to_the_output_limit() -> None:
    wide = gradient(5000, 1000).jpegsave_buffer()

    output = run(wide, "", fmt="jpeg")
    assert (output.width, output.height) == (4096, 819)
    output = run(wide, "c:3000:1000", fmt="jpeg", limits=ImageLimits(max_output_side=1000))
    assert (output.width, output.height) == (1000, 333)


def test_exact_stretches(halves: bytes) -> None:
    image = decode(run(halves, "rs:exact:50:200"))

    assert (image.width, image.height) == (50, 200)
    assert close(image(5, 100), RED) and close(image(45, 100), BLUE)


@pytest.mark.parametrize(
    ("options", "colour"),
    [
        ("rs:fill:300:300", GREEN),  # the centre is kept
        ("c:0:400:west/rs:fill:300:300", RED),  # a fill is placed by the crop's gravity
        ("c:0:400:east/rs:fill:300:300", BLUE),
        ("c:1200:400:north/rs:fill:300:300", GREEN),
    ],
)
def test_fill_crops_by_gravity(thirds: bytes, options: str, colour: list[int]) -> None:
    image = decode(run(thirds, options))

    assert (image.width, image.height) == (300, 300)
    assert count(image, colour) == 300 * 300


@pytest.mark.parametrize(
    ("gravity", "block"),
    [("centre", 4), ("north", 1), ("south", 7), ("east", 5), ("west", 3)],
)
def test_crop_gravity(blocks: bytes, gravity: str, block: int) -> None:
    image = decode(run(blocks, f"c:100:100:{gravity}"))

    assert (image.width, image.height) == (100, 100)
    assert count(image, BLOCK_COLOURS[block], tolerance=8) == 100 * 100


def test_crop_then_fill_keep_the_same_side(blocks: bytes) -> None:
    # North crop keeps the top two rows; the fill then keeps the top of those: the top row.
    image = decode(run(blocks, "c:300:200:north/rs:fill:300:100"))

    for column in range(3):
        assert close(image(50 + 100 * column, 50), BLOCK_COLOURS[column], tolerance=8)


@pytest.mark.parametrize("options", ["c:100:100:smart", "c:400:300:smart/rs:fill:100:300"])
def test_smart_crop_keeps_the_interesting_part(spotlight: bytes, options: str) -> None:
    image = decode(run(spotlight, options))

    assert count(image, YELLOW) == 40 * 40  # all of the square
    centre = options.replace(":smart", "")
    assert count(decode(run(spotlight, centre)), YELLOW) < 40 * 40


@pytest.mark.parametrize(
    ("angle", "size", "top_left", "bottom_right"),
    [(90, (100, 200), RED, BLUE), (180, (200, 100), BLUE, RED), (270, (100, 200), BLUE, RED)],
)
def test_rotation_is_clockwise(
    halves: bytes,
    angle: int,
    size: tuple[int, int],
    top_left: list[int],
    bottom_right: list[int],
) -> None:
    image = decode(run(halves, f"rot:{angle}"))  # halves: red on the left, blue on the right

    assert (image.width, image.height) == size
    assert close(image(5, 5), top_left)
    assert close(image(size[0] - 5, size[1] - 5), bottom_right)


def test_blur_removes_fine_detail_and_sharpen_adds_it(noise: bytes) -> None:
    original = high_frequency(pyvips.Image.new_from_buffer(noise, ""))
    light, heavy = (high_frequency(decode(run(noise, f"bl:{sigma}"))) for sigma in (1, 8))

    assert light < original / 2
    assert heavy < light / 4
    soft = run(noise, "bl:1.5").data
    assert high_frequency(decode(run(soft, "sh:1.5"))) > high_frequency(decode(run(soft, "")))


# --- formats and metadata ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fmt", "content_type", "loader"),
    [
        ("jpeg", "image/jpeg", "jpegload_buffer"),
        ("png", "image/png", "pngload_buffer"),
        ("webp", "image/webp", "webpload_buffer"),
        ("avif", "image/avif", "heifload_buffer"),
    ],
)
def test_every_output_format_decodes_back(
    png_1200x800: bytes, fmt: str, content_type: str, loader: str
) -> None:
    output = run(png_1200x800, f"rs:fit:240:240/f:{fmt}")

    assert output.content_type == content_type
    image = decode(output)
    assert image.get("vips-loader") == loader
    assert (image.width, image.height) == (output.width, output.height) == (240, 160)
    if fmt == "avif":
        assert image.get("heif-compression") == "av1"
    # The gradient comes through: top-left dark, bottom-right light.
    assert image(2, 2)[0] < 20 and image(237, 157)[0] > 230


@pytest.mark.parametrize("fmt", ["jpeg", "webp", "avif"])
def test_quality_sets_the_trade_off(png_1200x800: bytes, fmt: str) -> None:
    low, high = (len(run(png_1200x800, f"rs:fit:300:300/f:{fmt}/q:{q}").data) for q in (10, 90))
    assert low < high


@pytest.mark.parametrize(("fmt", "bands"), [("png", 4), ("webp", 4), ("avif", 4), ("jpeg", 3)])
def test_transparency_is_kept_or_flattened_onto_white(fmt: str, bands: int) -> None:
    transparent = solid(40, 40, [0, 0, 0]).bandjoin(0).copy(interpretation="srgb")

    image = decode(run(transparent.pngsave_buffer(), f"bl:1/f:{fmt}"))

    assert image.bands == bands
    if fmt == "jpeg":
        assert close(image(20, 20), [255, 255, 255], tolerance=3)


@pytest.mark.parametrize("fmt", ["jpeg", "png", "webp", "avif"])
def test_exif_orientation_is_applied_and_metadata_stripped(geotagged_jpeg: bytes, fmt: str) -> None:
    source = pyvips.Image.new_from_buffer(geotagged_jpeg, "")
    assert source.get_typeof("exif-ifd3-GPSLatitude") != 0  # precondition: GPS is there

    output = run(geotagged_jpeg, f"rs:fit:150:150/f:{fmt}")

    assert (output.width, output.height) == (50, 150)
    image = decode(output)
    assert close(image(25, 20), RED, tolerance=40)  # stored left half is displayed on top
    assert close(image(25, 130), BLUE, tolerance=40)
    leaked = [name for name in image.get_fields() if name.startswith(("exif-", "xmp-", "icc-"))]
    assert leaked == []
    assert image.get_typeof("orientation") == 0 or image.get("orientation") == 1


def test_profiled_and_grey_sources_come_out_srgb() -> None:
    original = [200, 50, 10]
    p3 = solid(40, 40, original).icc_transform("p3", embedded=True, input_profile="srgb")
    grey16 = (pyvips.Image.black(40, 40) + 30000).cast("ushort").copy(interpretation="grey16")

    image = decode(run(p3.jpegsave_buffer(Q=100), "rs:fit:20:20"))
    assert close(image(10, 10), original, tolerance=6)  # unconverted P3 is ~[184, 63, 32]
    image = decode(run(grey16.pngsave_buffer(), "rs:fit:20:20/f:webp"))
    assert (image.interpretation, image.bands, image.format) == ("srgb", 3, "uchar")


def test_output_is_deterministic_and_thread_safe(
    png_1200x800: bytes, animated_gif: bytes, spotlight: bytes, geotagged_jpeg: bytes
) -> None:
    jobs = [
        (source, options)
        for source in (png_1200x800, animated_gif, spotlight, geotagged_jpeg)
        for options in (
            "rs:fill:64:48/f:avif",
            "c:100:100:smart/rot:90/f:webp/anim:1",
            "rs:fit:120:120/bl:2/sh:1/f:jpeg",
            "th:80/f:png",
        )
    ]

    def work(job: tuple[bytes, str]) -> bytes:
        return run(*job).data

    serial = [work(job) for job in jobs]
    with ThreadPoolExecutor(max_workers=8) as pool:
        parallel = list(pool.map(work, jobs * 3))

    assert parallel == serial * 3


def test_a_file_gives_what_its_bytes_give(png_1200x800: bytes, tmp_path: Path) -> None:
    path = tmp_path / "odd [name].png"  # libvips would read "[...]" in a file name as options
    path.write_bytes(png_1200x800)

    assert run(path, "rs:fill:100:100/f:webp") == run(png_1200x800, "rs:fill:100:100/f:webp")


# --- animation ---------------------------------------------------------------------------------


def test_animation_is_kept_when_asked_for(animated_gif: bytes) -> None:
    output = run(animated_gif, "rs:fit:30:30/f:webp/anim:1")

    assert (output.width, output.height, output.frames) == (30, 20, 3)
    image = decode(output)
    assert (image.get("n-pages"), image.get("page-height"), image.height) == (3, 20, 60)
    assert len(image.get("delay")) == 3
    for frame, colour in enumerate((RED, GREEN, BLUE)):
        assert close(image(15, 10 + 20 * frame), colour)


def test_each_frame_is_transformed(animated_gif: bytes) -> None:
    image = decode(run(animated_gif, "rs:fill:20:30/rot:90/f:webp/anim:1"))

    assert (image.width, image.get("page-height"), image.get("n-pages")) == (20, 30, 3)
    for frame, colour in enumerate((RED, GREEN, BLUE)):
        assert close(image(10, 15 + 30 * frame), colour)


@pytest.mark.parametrize("options", ["f:webp", "anim:1/f:png", "anim:1/f:avif", "anim:1/f:jpeg"])
def test_otherwise_the_first_frame_is_a_still(animated_gif: bytes, options: str) -> None:
    output = run(animated_gif, options)

    assert (output.width, output.height, output.frames) == (60, 40, 1)
    image = decode(output)
    assert image.height == 40
    assert close(image(30, 20), RED)


def test_frames_of_an_animation_count_together_against_the_pixel_limit(
    animated_gif: bytes,
) -> None:
    limits = ImageLimits(max_pixels=5000)  # one 60x40 frame is 2400 pixels, three are 7200

    assert run(animated_gif, "f:webp", limits=limits).frames == 1
    with rejected("too_many_pixels"):
        run(animated_gif, "f:webp/anim:1", limits=limits)


def test_gif_with_thousands_of_frames_is_refused_from_its_header(gif_2000_frames: bytes) -> None:
    assert len(gif_2000_frames) < 100_000

    start = time.perf_counter()
    for options in ("th:64/f:webp", "th:64/f:webp/anim:1", "f:png"):
        with rejected("too_many_frames"):
            run(gif_2000_frames, options)
    assert time.perf_counter() - start < 1.0
    assert probe(gif_2000_frames, ImageLimits(max_animation_frames=2000)).frames == 2000


# --- bad input and limits ----------------------------------------------------------------------


def test_decompression_bomb_is_refused_from_its_header(png_bomb: bytes) -> None:
    start = time.perf_counter()
    with rejected("too_many_pixels"):
        run(png_bomb, "th:64")
    assert time.perf_counter() - start < 1.0


def test_interlaced_png_over_the_progressive_limit_is_refused() -> None:
    plain = png_header(6000, 4000, interlaced=False)  # 24 MP: under 50, over 20
    interlaced = png_header(6000, 4000, interlaced=True)

    assert probe(plain).progressive is False
    with pytest.raises(ImageRejected) as caught:
        run(interlaced, "th:64")
    assert caught.value.reason == "too_many_pixels"
    assert "interlaced PNG" in caught.value.detail


def test_progressive_jpeg_over_the_progressive_limit_is_refused(
    large_jpegs: tuple[Path, Path],
) -> None:
    baseline, progressive = large_jpegs

    assert probe(baseline.read_bytes()).progressive is False
    assert run(baseline, "th:64").width == 64
    with pytest.raises(ImageRejected) as caught:
        run(progressive, "th:64")
    assert caught.value.reason == "too_many_pixels"
    assert "progressive JPEG" in caught.value.detail
    lifted = ImageLimits(max_progressive_pixels=24_000_000)
    assert probe(progressive.read_bytes(), lifted).progressive is True


@pytest.mark.skipif(not Path("/proc/self/clear_refs").exists(), reason="measures Linux's VmHWM")
def test_shrink_on_load_keeps_memory_bounded(large_jpegs: tuple[Path, Path]) -> None:
    """A 24 MP baseline JPEG is thumbnailed by DCT scaling, never decoded at full size (72 MB
    of pixels). The measure is the peak RSS of a fresh process (VmHWM, reset once libvips is
    warm; ru_maxrss would carry over the parent's from before exec). The progressive copy,
    which libjpeg decodes whole, shows the measure does see a full decode.
    Measured on libvips 8.18: baseline 5 MB, progressive 74 MB."""
    script = textwrap.dedent(
        """
        import sys
        from pathlib import Path
        from services.image.thumbnails import ImageLimits
        from services.image.transforms import apply, parse_options
        from services.image.tests.conftest import gradient

        def peak_kb():
            status = Path("/proc/self/status").read_text()
            return int(status.split("VmHWM:")[1].split()[0])

        limits = ImageLimits(max_progressive_pixels=24_000_000)
        transform = parse_options("th:256/f:jpeg")
        apply(gradient(64, 64).jpegsave_buffer(), transform, limits)  # start libvips' threads
        data = Path(sys.argv[1]).read_bytes()
        Path("/proc/self/clear_refs").write_text("5")  # peak RSS := current RSS
        before = peak_kb()
        output = apply(data, transform, limits)
        assert (output.width, output.height) == (256, 171)
        print((peak_kb() - before) / 1024)
        """
    )

    def peak_mb(path: Path) -> float:
        done = subprocess.run(
            [sys.executable, "-c", script, str(path)],
            capture_output=True,
            text=True,
            cwd=REPO,
            env={**os.environ, "PYTHONPATH": str(REPO)},
            timeout=60,
            check=True,
        )
        return float(done.stdout)

    baseline, progressive = large_jpegs
    assert peak_mb(baseline) < 20
    assert peak_mb(progressive) > 50


def test_truncated_jpeg_is_refused(png_1200x800: bytes, tmp_path: Path) -> None:
    jpeg = gradient(1200, 800).jpegsave_buffer()
    half = jpeg[: len(jpeg) // 2]
    path = tmp_path / "half.jpg"
    path.write_bytes(half)

    assert probe(half).format == "jpeg"  # the header is intact: only decoding can tell
    for source in (half, path):
        with rejected("not_an_image"):
            run(source, "rs:fit:300:300", fmt="jpeg")
        with rejected("not_an_image"):
            run(source, "c:100:100:smart")  # the smart crop's preview decodes it too


@pytest.mark.parametrize(
    "data",
    [
        b"\x89PNG\r\n\x1a\n" + random.Random(0).randbytes(2000),  # PNG signature, then junk
        b"\x89PNG\r\n\x1a\n",
        b"\xff\xd8\xff\xe0" + bytes(100),  # JPEG magic, nothing behind it
        random.Random(1).randbytes(4096),
        b"",
        b"%PDF-1.7\n",
    ],
    ids=["png-magic-junk", "png-magic-only", "jpeg-magic-zeros", "random", "empty", "pdf"],
)
def test_not_an_image_is_refused(data: bytes, tmp_path: Path) -> None:
    path = tmp_path / "upload.png"  # the name claims PNG; only the content counts
    path.write_bytes(data)

    for source in (data, path):
        with rejected("not_an_image"):
            run(source, "th:64")


def test_a_name_claiming_another_format_does_not_matter(tmp_path: Path) -> None:
    path = tmp_path / "photo.png"
    path.write_bytes(gradient(80, 60).jpegsave_buffer())

    assert probe_file(path).format == "jpeg"
    assert (run(path, "th:40").width, run(path, "th:40").height) == (40, 30)


def test_over_the_byte_limit_is_refused(png_1200x800: bytes, tmp_path: Path) -> None:
    path = tmp_path / "big.png"
    path.write_bytes(png_1200x800)
    limits = ImageLimits(max_bytes=len(png_1200x800) - 1)

    for source in (png_1200x800, path):
        with rejected("too_large"):
            run(source, "th:64", limits=limits)
    assert run(path, "th:64", limits=ImageLimits(max_bytes=len(png_1200x800))).width == 64
