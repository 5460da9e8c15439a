"""Tests for the bounded probe / thumbnail core: limits, files, and inputs to refuse."""

from __future__ import annotations

import pickle
import random
import threading
import time
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import pyvips

from libs.errors import is_retryable
from services.image.thumbnails import (
    ImageInfo,
    ImageLimits,
    ImageRejected,
    Thumbnail,
    make_thumbnail,
    probe,
    probe_file,
)
from services.image.transforms import Transform, apply

from .conftest import BLUE, RED, gradient, solid

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def decode(thumb: Thumbnail) -> pyvips.Image:
    """Decode a thumbnail fully into memory, failing on any decode error."""
    return pyvips.Image.new_from_buffer(thumb.data, "", fail_on="error").copy_memory()


def close(pixel: list[float], expected: list[int], tolerance: float = 12) -> bool:
    return all(abs(a - b) <= tolerance for a, b in zip(pixel, expected, strict=False))


@contextmanager
def rejected(reason: str) -> Iterator[None]:
    """Expect an ImageRejected with exactly this reason."""
    with pytest.raises(ImageRejected) as caught:
        yield
    assert caught.value.reason == reason, caught.value


# --- happy paths -------------------------------------------------------------------------------


def test_png_thumbnail_fits_box_and_keeps_aspect(png_1200x800: bytes) -> None:
    thumb = make_thumbnail(png_1200x800, 256)

    assert (thumb.width, thumb.height) == (256, 171)  # 800 * 256 / 1200 = 170.7
    assert thumb.content_type == "image/png"
    assert thumb.data.startswith(PNG_SIGNATURE)
    image = decode(thumb)
    assert (image.width, image.height) == (256, 171)
    assert image.interpretation == "srgb"


@pytest.mark.parametrize(
    ("fmt", "content_type", "loader"),
    [("jpeg", "image/jpeg", "jpegload_buffer"), ("webp", "image/webp", "webpload_buffer")],
)
def test_jpeg_and_webp_output(
    png_1200x800: bytes, fmt: str, content_type: str, loader: str
) -> None:
    thumb = make_thumbnail(png_1200x800, 300, fmt=fmt)

    assert thumb.content_type == content_type
    assert (thumb.width, thumb.height) == (300, 200)
    image = decode(thumb)
    assert image.get("vips-loader") == loader
    assert (image.width, image.height) == (300, 200)


@pytest.mark.parametrize("fmt", ["png", "jpeg", "webp", "gif", "tiff"])
def test_every_allowed_input_format_still_loads(fmt: str) -> None:
    """Blocking libvips' untrusted loaders must leave the formats we accept working."""
    data = gradient(120, 80).write_to_buffer(f".{fmt}")

    assert probe(data) == ImageInfo(format=fmt, width=120, height=80, frames=1)
    thumb = make_thumbnail(data, 60)
    assert (thumb.width, thumb.height) == (60, 40)


def test_animated_gif_counts_frames_and_thumbnails_the_first(animated_gif: bytes) -> None:
    assert probe(animated_gif) == ImageInfo(format="gif", width=60, height=40, frames=3)

    thumb = make_thumbnail(animated_gif, 30)

    assert (thumb.width, thumb.height) == (30, 20)  # one frame, not the 60x120 strip
    image = decode(thumb)
    assert close(image(15, 10)[:3], RED)


def test_small_image_is_not_upscaled() -> None:
    thumb = make_thumbnail(solid(10, 5, RED).pngsave_buffer(), 256)

    assert (thumb.width, thumb.height) == (10, 5)
    assert (decode(thumb).width, decode(thumb).height) == (10, 5)


def test_exif_orientation_is_applied_and_not_left_in_the_output(rotated_jpeg: bytes) -> None:
    assert probe(rotated_jpeg) == ImageInfo(format="jpeg", width=100, height=300, frames=1)

    thumb = make_thumbnail(rotated_jpeg, 150, fmt="jpeg")

    assert (thumb.width, thumb.height) == (50, 150)
    image = decode(thumb)
    assert close(image(25, 20), RED, tolerance=30)  # stored left half is displayed on top
    assert close(image(25, 130), BLUE, tolerance=30)
    # A leftover orientation tag would make viewers rotate the already-rotated pixels again.
    assert image.get_typeof("orientation") == 0 or image.get("orientation") == 1


def test_output_is_srgb_for_profiled_cmyk_and_grey_inputs() -> None:
    original = [200, 50, 10]
    # Same colour, stored in Display P3 with the profile embedded: must be converted back.
    p3 = solid(40, 40, original).icc_transform("p3", embedded=True, input_profile="srgb")
    cmyk = solid(40, 40, original).icc_transform("cmyk")
    grey = (pyvips.Image.black(40, 40) + 128).cast("uchar").copy(interpretation="b-w")

    p3_thumb = decode(make_thumbnail(p3.jpegsave_buffer(Q=100), 20))
    assert close(p3_thumb(10, 10), original, tolerance=6)  # unconverted P3 is ~[184, 63, 32]
    for data in (p3.jpegsave_buffer(), cmyk.jpegsave_buffer(), grey.pngsave_buffer()):
        image = decode(make_thumbnail(data, 20))
        assert (image.interpretation, image.bands) == ("srgb", 3)
        assert image.get_typeof("icc-profile-data") == 0  # stripped: pixels are already sRGB


@pytest.mark.parametrize("fmt", ["png", "webp", "jpeg"])
def test_uploader_metadata_is_stripped(fmt: str) -> None:
    image = gradient(40, 40)
    image.set_type(pyvips.GValue.gstr_type, "exif-ifd0-Artist", "Jane Doe")
    image.set_type(pyvips.GValue.blob_type, "xmp-data", b"<x:xmpmeta>secret</x:xmpmeta>")
    source = image.jpegsave_buffer()
    assert pyvips.Image.new_from_buffer(source, "").get_typeof("xmp-data") != 0  # precondition

    output = decode(make_thumbnail(source, 20, fmt=fmt))

    for field in ("exif-data", "exif-ifd0-Artist", "xmp-data", "icc-profile-data"):
        assert output.get_typeof(field) == 0, field


def test_transparent_input_becomes_white_in_jpeg() -> None:
    transparent = solid(20, 20, [0, 0, 0]).bandjoin(0).copy(interpretation="srgb")
    data = transparent.pngsave_buffer()

    assert decode(make_thumbnail(data, 20, fmt="png")).bands == 4  # PNG keeps alpha
    jpeg = decode(make_thumbnail(data, 20, fmt="jpeg"))
    assert jpeg.bands == 3
    assert close(jpeg(10, 10), [255, 255, 255], tolerance=3)


def test_concurrent_calls_match_serial_results(png_1200x800: bytes, animated_gif: bytes) -> None:
    jobs: list[tuple[bytes, int, str]] = [
        (data, size, fmt)
        for data in (png_1200x800, animated_gif, gradient(500, 700).jpegsave_buffer())
        for size in (16, 64, 200)
        for fmt in ("png", "webp", "jpeg")
    ]
    junk = random.Random(1).randbytes(2000)

    def run(job: tuple[bytes, int, str]) -> tuple[bytes, int, int] | str:
        data, size, fmt = job
        try:
            thumb = make_thumbnail(data, size, fmt=fmt)
        except ImageRejected as exc:
            return exc.reason
        return thumb.data, thumb.width, thumb.height

    work = jobs + [(junk, 64, "png")] * 5
    serial = [run(job) for job in work]
    with ThreadPoolExecutor(max_workers=8) as pool:
        parallel = list(pool.map(run, work * 3))

    assert serial[-1] == "not_an_image"
    assert parallel == serial * 3


# --- rejections --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "data",
    [
        random.Random(0).randbytes(4096),
        b"",
        b"GIF89a",
        # Well-formed SVG: libvips could render it, but svgload is not on the allow-list and is
        # blocked as untrusted.
        b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><rect/></svg>',
    ],
    ids=["random", "empty", "gif-magic-only", "svg"],
)
def test_non_images_are_rejected(data: bytes) -> None:
    with rejected("not_an_image"):
        probe(data)
    with rejected("not_an_image"):
        make_thumbnail(data, 64)


def test_too_many_pixels(png_1200x800: bytes) -> None:
    limits = ImageLimits(max_pixels=1000)
    with rejected("too_many_pixels"):
        probe(png_1200x800, limits)
    with rejected("too_many_pixels"):
        make_thumbnail(png_1200x800, 64, limits=limits)
    assert probe(png_1200x800, ImageLimits(max_pixels=1200 * 800)).width == 1200  # bound inclusive


def test_decompression_bomb_is_rejected_from_the_header(png_bomb: bytes) -> None:
    assert len(png_bomb) < 10_000

    start = time.perf_counter()
    with rejected("too_many_pixels"):
        probe(png_bomb)
    with rejected("too_many_pixels"):
        make_thumbnail(png_bomb, 256)
    assert time.perf_counter() - start < 1.0

    # With the bound lifted, probe still answers at once: it reads the header and nothing else.
    start = time.perf_counter()
    info = probe(png_bomb, ImageLimits(max_pixels=10**11))
    assert (info.width, info.height) == (100_000, 100_000)
    assert time.perf_counter() - start < 1.0


def test_too_many_bytes(png_1200x800: bytes) -> None:
    with rejected("too_large"):
        probe(png_1200x800, ImageLimits(max_bytes=len(png_1200x800) - 1))
    with rejected("too_large"):
        make_thumbnail(png_1200x800, 64, limits=ImageLimits(max_bytes=1024))
    assert probe(png_1200x800, ImageLimits(max_bytes=len(png_1200x800))).format == "png"


def test_too_many_frames(animated_gif: bytes) -> None:
    with rejected("too_many_frames"):
        probe(animated_gif, ImageLimits(max_animation_frames=2))
    with rejected("too_many_frames"):
        make_thumbnail(animated_gif, 30, limits=ImageLimits(max_animation_frames=2))
    assert probe(animated_gif, ImageLimits(max_animation_frames=3)).frames == 3


@pytest.mark.parametrize("size", [0, -5, 2049, True, 12.5])
def test_bad_size(png_1200x800: bytes, size: int) -> None:
    with rejected("bad_size"):
        make_thumbnail(png_1200x800, size)


def test_size_bound_follows_limits(png_1200x800: bytes) -> None:
    assert make_thumbnail(png_1200x800, 2048).width == 1200  # allowed, and not upscaled
    with rejected("bad_size"):
        make_thumbnail(png_1200x800, 101, limits=ImageLimits(max_thumbnail_size=100))


@pytest.mark.parametrize("fmt", ["gif", "PNG", "jpg", ""])
def test_bad_output_format(png_1200x800: bytes, fmt: str) -> None:
    with rejected("bad_format"):
        make_thumbnail(png_1200x800, 64, fmt=fmt)


def test_truncated_png_is_rejected_not_crashed(png_1200x800: bytes) -> None:
    header_only = png_1200x800[:40]  # signature and IHDR, no pixel data
    half = png_1200x800[: len(png_1200x800) // 2]

    with rejected("not_an_image"):
        probe(header_only)
    # The header of the half file is intact, so only decoding can notice; libvips would
    # otherwise return a thumbnail whose lower half is grey.
    assert probe(half) == ImageInfo(format="png", width=1200, height=800, frames=1)
    with rejected("not_an_image"):
        make_thumbnail(half, 64)


def test_rejection_carries_reason_and_detail_and_pickles() -> None:
    exc = ImageRejected("too_large", "60 MB, limit is 50 MB")

    assert (exc.reason, exc.detail) == ("too_large", "60 MB, limit is 50 MB")
    assert str(exc) == "too_large: 60 MB, limit is 50 MB"
    copy = pickle.loads(pickle.dumps(exc))
    assert (copy.reason, copy.detail) == (exc.reason, exc.detail)
    assert not is_retryable(copy), "bad input: a job that meets it fails without a retry"


def test_untrusted_loaders_are_blocked_process_wide() -> None:
    """Importing the module blocks libvips' untrusted loaders for every pyvips caller."""
    svg = b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><rect/></svg>'
    with pytest.raises(pyvips.Error):
        pyvips.Image.new_from_buffer(svg, "")


def test_libvips_cache_is_off_so_inputs_are_not_retained(png_1200x800: bytes) -> None:
    make_thumbnail(png_1200x800, 64)
    assert pyvips.cache_get_max() == 0
    assert pyvips.cache_get_size() == 0


# --- limits ------------------------------------------------------------------------------------


def test_default_limits_are_imgproxy_careful() -> None:
    limits = ImageLimits()

    assert limits.max_bytes == 50 * 1024 * 1024
    assert limits.max_pixels == 50_000_000
    assert limits.max_frames == 1
    assert limits.max_animation_frames == 100
    assert limits.max_progressive_pixels == 20_000_000
    assert limits.max_output_side == 4096


@pytest.mark.parametrize(
    "changes",
    [{"max_pixels": 0}, {"max_bytes": -1}, {"max_frames": True}, {"max_output_side": 1.5},
     {"max_frames": 5, "max_animation_frames": 2}],
)  # fmt: skip
def test_nonsense_limits_are_refused(changes: dict[str, object]) -> None:
    with pytest.raises(ValueError, match="ImageLimits"):
        ImageLimits(**changes)  # type: ignore[arg-type]


def test_animation_frames_bound_the_probe_not_max_frames(animated_gif: bytes) -> None:
    # max_frames is how many frames are decoded without animation, not a reason to refuse.
    assert probe(animated_gif, ImageLimits(max_frames=1)).frames == 3
    with rejected("too_many_frames"):
        probe(animated_gif, ImageLimits(max_animation_frames=2))


@pytest.mark.parametrize(
    ("fmt", "options", "progressive"),
    [
        ("jpeg", {}, False),
        ("jpeg", {"interlace": True}, True),
        ("png", {}, False),
        ("png", {"interlace": True}, True),
        ("gif", {"interlace": True}, True),
        ("webp", {}, False),
    ],
)
def test_probe_reports_progressive_images(
    fmt: str, options: dict[str, object], progressive: bool
) -> None:
    data = gradient(64, 48).write_to_buffer(f".{fmt}", **options)

    assert probe(data).progressive is progressive


def test_images_decoded_whole_have_a_lower_pixel_limit(animated_gif: bytes) -> None:
    image = gradient(100, 100)  # 10000 pixels
    limits = ImageLimits(max_progressive_pixels=9999)
    for data, kind in [
        (image.jpegsave_buffer(interlace=True), "progressive JPEG"),
        (image.pngsave_buffer(interlace=True), "interlaced PNG"),
        (image.gifsave_buffer(), "GIF"),  # interlaced or not: the decoder holds a whole frame
    ]:
        with pytest.raises(ImageRejected) as caught:
            probe(data, limits)
        assert caught.value.reason == "too_many_pixels"
        assert kind in caught.value.detail
        with rejected("too_many_pixels"):
            make_thumbnail(data, 32, limits=limits)
        assert probe(data, ImageLimits(max_progressive_pixels=10_000)).width == 100
    for data in (image.jpegsave_buffer(), image.pngsave_buffer(), image.webpsave_buffer()):
        assert probe(data, limits).width == 100  # streamed: only max_pixels applies


# --- files -------------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["png", "jpeg", "webp", "gif", "tiff"])
def test_probe_file_agrees_with_probe(fmt: str, tmp_path: Path) -> None:
    data = gradient(120, 80).write_to_buffer(f".{fmt}")
    path = tmp_path / f"upload [{fmt}]"  # no suffix; brackets would be options to new_from_file
    path.write_bytes(data)

    assert probe_file(path) == probe(data) == ImageInfo(fmt, 120, 80, 1, False)
    assert probe_file(str(path)) == probe(data)


def test_probe_file_applies_every_limit(
    tmp_path: Path, png_1200x800: bytes, png_bomb: bytes, animated_gif: bytes
) -> None:
    cases: list[tuple[bytes, ImageLimits, str]] = [
        (png_1200x800, ImageLimits(max_bytes=len(png_1200x800) - 1), "too_large"),
        (png_bomb, ImageLimits(), "too_many_pixels"),
        (gradient(100, 100).pngsave_buffer(interlace=True), ImageLimits(max_progressive_pixels=99),
         "too_many_pixels"),
        (animated_gif, ImageLimits(max_animation_frames=2), "too_many_frames"),
        (b"", ImageLimits(), "not_an_image"),
        (PNG_SIGNATURE + bytes(100), ImageLimits(), "not_an_image"),
        (png_1200x800[:40], ImageLimits(), "not_an_image"),
    ]  # fmt: skip
    for number, (data, limits, reason) in enumerate(cases):
        path = tmp_path / f"case{number}"
        path.write_bytes(data)
        with rejected(reason):
            probe_file(path, limits)


def test_probe_file_reads_the_header_not_the_file(tmp_path: Path) -> None:
    """A 4 GiB file (sparse: the disk holds only its header) answers at once and in little
    memory: reading it whole would take seconds and more memory than the test has."""
    path = tmp_path / "huge.png"
    path.write_bytes(gradient(100, 100).pngsave_buffer())
    with path.open("r+b") as file:
        file.truncate(4 << 30)
    limits = ImageLimits(max_bytes=5 << 30)

    start = time.perf_counter()
    assert probe_file(path, limits).width == 100
    assert time.perf_counter() - start < 0.5
    with rejected("too_large"):
        probe_file(path)  # and the byte limit is the file's size, known without reading it


# --- SVG ---------------------------------------------------------------------------------------


@pytest.fixture
def listener() -> Iterator[tuple[str, list[str]]]:
    """An HTTP server on a free port that notes every path asked of it."""
    asked: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            asked.append(self.path)
            body = solid(1, 1, RED).pngsave_buffer()
            self.send_response(200)
            self.send_header("Content-Type", "image/png")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", asked
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_svg_with_external_references_is_refused_and_nothing_is_fetched(
    listener: tuple[str, list[str]], tmp_path: Path
) -> None:
    url, asked = listener
    svg = f"""<?xml version="1.0"?>
<!DOCTYPE svg [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink"
     width="100" height="100">
  <style>@import url({url}/style.css);</style>
  <image href="file:///etc/passwd" width="10" height="10"/>
  <image href="{url}/image.png" width="10" height="10"/>
  <image xlink:href="{url}/xlink.png" width="10" height="10"/>
  <use href="{url}/sprite.svg#icon"/>
  <text>&secret;</text>
</svg>""".encode()
    path = tmp_path / "drawing.svg"
    path.write_bytes(svg)

    with rejected("not_an_image"):
        probe(svg)
    with rejected("not_an_image"):
        probe_file(path)
    with rejected("not_an_image"):
        make_thumbnail(svg, 64)
    with rejected("not_an_image"):
        apply(path, Transform(thumbnail=64), fmt="png")

    assert asked == []
    with urllib.request.urlopen(f"{url}/control") as response:  # the listener does listen
        assert response.status == 200
    assert asked == ["/control"]
