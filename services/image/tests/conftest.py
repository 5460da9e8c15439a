"""Sample images for the thumbnail tests, generated with pyvips: no binary fixtures in the repo."""

from __future__ import annotations

import struct
import zlib

import pytest
import pyvips

RED, GREEN, BLUE = [255, 0, 0], [0, 255, 0], [0, 0, 255]


def solid(width: int, height: int, rgb: list[int]) -> pyvips.Image:
    """An sRGB image of one colour."""
    return (pyvips.Image.black(width, height) + rgb).cast("uchar").copy(interpretation="srgb")


def gradient(width: int, height: int) -> pyvips.Image:
    """An sRGB image with some structure, so encoders have real work to do."""
    xyz = pyvips.Image.xyz(width, height)
    x, y = xyz[0] * (255 / width), xyz[1] * (255 / height)
    return x.bandjoin([y, (x + y) / 2]).cast("uchar").copy(interpretation="srgb")


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


@pytest.fixture(scope="session")
def png_1200x800() -> bytes:
    return gradient(1200, 800).pngsave_buffer()


@pytest.fixture(scope="session")
def animated_gif() -> bytes:
    """Three 60x40 frames: red, green, blue."""
    frames = [solid(60, 40, colour) for colour in (RED, GREEN, BLUE)]
    strip = pyvips.Image.arrayjoin(frames, across=1).copy()
    strip.set_type(pyvips.GValue.gint_type, "page-height", 40)
    return strip.gifsave_buffer()


@pytest.fixture(scope="session")
def rotated_jpeg() -> bytes:
    """Stored as 300x100, red left half, blue right half, with EXIF orientation 6 (turn 90
    degrees clockwise to display), so it displays as 100x300 with red on top."""
    image = solid(150, 100, RED).join(solid(150, 100, BLUE), "horizontal").copy()
    image.set_type(pyvips.GValue.gint_type, "orientation", 6)
    return image.jpegsave_buffer(Q=95)


@pytest.fixture(scope="session")
def png_bomb() -> bytes:
    """A valid PNG header claiming 100000x100000 RGB (30 GB decoded) in a few hundred bytes.

    The pixel data is a few zero rows; a real bomb would carry on, but a header-only check
    must reject it before the pixel data matters at all.
    """
    width = height = 100_000
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit RGB, no interlace
    idat = zlib.compress(b"\0" * (1 + 3 * width) * 4, 9)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", ihdr)
        + _png_chunk(b"IDAT", idat)
        + _png_chunk(b"IEND", b"")
    )
