"""Images through the gateway: uploads normalised and deduplicated, signed transformation URLs,
transform and storyboard-frame jobs, and every bad image of the image issue as a clear 4xx."""

from __future__ import annotations

import asyncio
import json
import struct
import zlib
from typing import Any

import aiohttp
import pytest
import pyvips
from yarl import URL

from libs.launcher import Platform
from services.image.tests.conftest import BLUE, RED, gradient, solid
from tests.e2e.conftest import problem
from tests.e2e.test_batches import wait_until

pytestmark = pytest.mark.e2e


async def upload(http: aiohttp.ClientSession, data: bytes) -> tuple[int, dict[str, Any]]:
    response = await http.post("/v1/blobs", data=data)
    return response.status, dict(json.loads(await response.text()))


def decoded(data: bytes) -> pyvips.Image:
    return pyvips.Image.new_from_buffer(data, "")


def photo(seed: int, width: int = 640, height: int = 480) -> bytes:
    """A distinct JPEG per seed."""
    return (gradient(width, height) + seed % 50).cast("uchar").jpegsave_buffer(Q=90)


def turned_jpeg_with_metadata() -> bytes:
    """Stored 300x100 (red left, blue right) with EXIF orientation 6, an artist and a comment:
    displayed 100x300, red on top."""
    image = solid(150, 100, RED).join(solid(150, 100, BLUE), "horizontal").copy()
    image.set_type(pyvips.GValue.gint_type, "orientation", 6)
    image.set_type(pyvips.GValue.gstr_type, "exif-ifd0-Artist", "Location Scout")
    image.set_type(pyvips.GValue.gstr_type, "jpeg-comment", "shot at 51.5N 0.1W")
    return image.jpegsave_buffer(Q=95, keep="all")


def png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png_bomb() -> bytes:
    """A few hundred bytes declaring a 100000 x 100000 RGB canvas."""
    ihdr = struct.pack(">IIBBBBB", 100_000, 100_000, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\0" * 300_001 * 2, 9)
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", ihdr)
        + png_chunk(b"IDAT", idat)
        + png_chunk(b"IEND", b"")
    )


def many_frames_gif(frames: int = 2000) -> bytes:
    """Each frame another grey, so the encoder cannot merge them."""
    strip = ((pyvips.Image.xyz(4, 4 * frames)[1] / 4).floor() % 251).cast("uchar").copy()
    strip.set_type(pyvips.GValue.gint_type, "page-height", 4)
    return bytes(strip.gifsave_buffer())


SVG_WITH_REFERENCES = (
    b'<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" '
    b'width="100" height="100"><image xlink:href="file:///etc/passwd" width="100" '
    b'height="100"/><image href="http://169.254.169.254/latest" width="10" height="10"/></svg>'
)


# --- uploads --------------------------------------------------------------------------------


async def test_an_upload_is_stored_upright_in_srgb_without_metadata(
    http: aiohttp.ClientSession,
) -> None:
    status, blob = await upload(http, turned_jpeg_with_metadata())
    assert status in (200, 201), blob
    assert (blob["width"], blob["height"], blob["content_type"]) == (100, 300, "image/jpeg")
    stored = await (await http.get(f"/v1/blobs/{blob['sha256']}")).read()
    image = decoded(stored)
    assert (image.width, image.height) == (100, 300), "EXIF orientation applied"
    assert image.interpretation == "srgb"
    kept = [name for name in image.get_fields() if name.startswith(("exif", "xmp", "iptc"))]
    assert kept == [] and not image.get_typeof("jpeg-comment"), "metadata stripped"
    assert image.getpoint(50, 30)[0] > 200 and image.getpoint(50, 270)[2] > 200, "red on top"


async def test_the_same_file_twice_is_stored_once(http: aiohttp.ClientSession) -> None:
    data = photo(7)
    first_status, first = await upload(http, data)
    second_status, second = await upload(http, data)
    assert first_status == 201 and first["duplicate"] is False
    assert second_status == 200 and second["duplicate"] is True
    assert second["sha256"] == first["sha256"]


async def test_fifty_uploads_at_once_all_land(http: aiohttp.ClientSession) -> None:
    results = await asyncio.gather(*(upload(http, photo(1000 + i, 320, 240)) for i in range(50)))
    assert [status for status, _ in results] == [201] * 50, results[:3]
    assert len({blob["sha256"] for _, blob in results}) == 50


# --- signed transformation URLs -------------------------------------------------------------


async def signed(http: aiohttp.ClientSession, blob: str, options: str) -> str:
    response = await http.post("/v1/images/urls", json={"blob": blob, "options": options})
    assert response.status == 200, await response.text()
    return str((await response.json())["url"])


async def test_a_signed_url_serves_the_variant_with_strong_caching(
    http: aiohttp.ClientSession, platform: Platform
) -> None:
    _, blob = await upload(http, photo(11, 1200, 800))
    url = await signed(http, blob["sha256"], "rs:fill:300:200/f:webp/q:70")
    async with aiohttp.ClientSession(base_url=platform.gateway_url) as anonymous:  # no API key
        response = await anonymous.get(url)
        assert response.status == 200, await response.text()
        assert response.content_type == "image/webp"
        assert "immutable" in response.headers["Cache-Control"]
        assert "Vary" not in response.headers, "the format was not negotiated"
        image = decoded(await response.read())
        assert (image.width, image.height) == (300, 200)
        etag = response.headers["ETag"]
        again = await anonymous.get(url, headers={"If-None-Match": etag})
        assert again.status == 304 and again.headers["ETag"] == etag


async def test_the_format_is_negotiated_from_accept(
    http: aiohttp.ClientSession, platform: Platform
) -> None:
    _, blob = await upload(http, photo(12))
    url = await signed(http, blob["sha256"], "th:128")
    async with aiohttp.ClientSession(base_url=platform.gateway_url) as anonymous:
        for accept, expected in (
            ("image/avif,image/webp,*/*", "image/avif"),
            ("image/webp,*/*;q=0.8", "image/webp"),
            ("*/*", "image/jpeg"),
        ):
            response = await anonymous.get(url, headers={"Accept": accept})
            assert response.status == 200, await response.text()
            assert response.content_type == expected, accept
            assert response.headers["Vary"] == "Accept"
            image = decoded(await response.read())
            assert max(image.width, image.height) == 128


async def test_an_upload_comes_with_a_thumbnail_url(
    http: aiohttp.ClientSession, platform: Platform
) -> None:
    _, blob = await upload(http, photo(13, 800, 600))
    async with aiohttp.ClientSession(base_url=platform.gateway_url) as anonymous:
        response = await anonymous.get(blob["thumbnail_url"])
        assert response.status == 200, await response.text()
        image = decoded(await response.read())
        assert (image.width, image.height) == (256, 192)


async def test_a_bad_signature_or_bad_options_is_a_clear_4xx(
    http: aiohttp.ClientSession, platform: Platform
) -> None:
    _, blob = await upload(http, photo(14))
    url = await signed(http, blob["sha256"], "rs:fit:100:100")
    prefix, signature, rest = url.split("/", 3)[1], url.split("/")[2], url.split("/", 3)[3]
    async with aiohttp.ClientSession(base_url=platform.gateway_url) as anonymous:
        tampered = f"/{prefix}/{signature}/{rest.replace('100:100', '9000:9000')}"
        await problem(await anonymous.get(tampered), 403)
        await problem(await anonymous.get(f"/{prefix}/{'A' * len(signature)}/{rest}"), 403)
        await problem(await anonymous.get(f"/{prefix}/not*base64/{rest}"), 403)
        for options, detail in (
            ("rs:fit:99999:10", "rs"),
            ("bl:0", "bl"),
            ("q:101", "q"),
            ("f:bmp", "f"),
            ("zoom:2", "unknown option"),
        ):
            bad = await signed(http, blob["sha256"], options)
            body = await problem(await anonymous.get(bad), 400)
            assert detail in body["detail"], (options, body)
        # Nobody holds it: refused when signing, as another user's blob is.
        missing = {"blob": "0" * 64, "options": "th:10"}
        await problem(await http.post("/v1/images/urls", json=missing), 404)


# --- jobs -----------------------------------------------------------------------------------


async def test_transform_and_frame_jobs_make_images(http: aiohttp.ClientSession) -> None:
    _, backdrop = await upload(http, photo(21, 1600, 900))
    _, hero = await upload(http, solid(200, 400, [255, 0, 255]).pngsave_buffer())
    batch = {
        "jobs": [
            {
                "key": "small",
                "function": "image.transform",
                "input": {"blob": backdrop["sha256"], "options": "rs:fit:320:0/f:png"},
            },
            {
                "key": "frame",
                "function": "image.frame",
                "input": {
                    "backdrop": backdrop["sha256"],
                    "characters": [hero["sha256"]],
                    "framing": "close-up",
                    "angle": "low",
                    "lighting": "golden-hour",
                    "mood": "warm",
                    "title": "Shot 12 - The arrival",
                    "duration_s": 3.5,
                    "size": [640, 360],
                },
            },
        ]
    }
    response = await http.post("/v1/batches", json=batch)
    assert response.status == 202, await response.text()
    done = await wait_until(http, (await response.json())["id"])
    jobs = (await (await http.get(f"/v1/batches/{done['id']}/jobs")).json())["jobs"]
    assert done["state"] == "succeeded", [(job["key"], job.get("error")) for job in jobs]
    outputs = {job["key"]: job["output"] for job in jobs}
    small = decoded(await (await http.get(f"/v1/blobs/{outputs['small']['image']}")).read())
    assert (small.width, small.height) == (320, 180)
    frame_png = await (await http.get(f"/v1/blobs/{outputs['frame']['frame']}")).read()
    frame = decoded(frame_png)
    assert (frame.width, frame.height) == (640, 360)


# --- bad uploads ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "detail"),
    [
        (png_bomb(), "too_many_pixels"),
        (photo(31)[:2000], "cannot decode"),
        (b"\x89PNG\r\n\x1a\n" + b"not really a png" * 20, "not_an_image"),
        (many_frames_gif(), "too_many_frames"),
        (SVG_WITH_REFERENCES, "not_an_image"),
        (b"", "empty"),
    ],
    ids=["decompression-bomb", "truncated-jpeg", "fake-png", "thousands-of-frames", "svg", "empty"],
)
async def test_a_bad_upload_is_a_clear_400(
    http: aiohttp.ClientSession, data: bytes, detail: str
) -> None:
    body = await problem(await http.post("/v1/blobs", data=data), 400)
    assert detail in body["detail"], body
    # ... and the service keeps serving others.
    status, _ = await upload(http, photo(len(data) % 40 + 40))
    assert status in (200, 201)


async def test_an_upload_over_the_byte_limit_is_413(platform: Platform, api_key: str) -> None:
    # A raw connection: the request declares 60 MiB (over the 50 MiB limit) and sends none of
    # it; the answer must come from the declared size alone, before any body is read.
    url = URL(platform.gateway_url)
    reader, writer = await asyncio.open_connection(url.host, url.port)
    try:
        writer.write(
            (
                "POST /v1/blobs HTTP/1.1\r\n"
                f"Host: {url.host}:{url.port}\r\n"
                f"Authorization: Bearer {api_key}\r\n"
                f"Content-Length: {60 << 20}\r\n"
                "Content-Type: image/jpeg\r\n\r\n"
            ).encode()
        )
        await writer.drain()
        head = (await reader.readuntil(b"\r\n\r\n")).decode()
        status_line, *header_lines = head.split("\r\n")
        headers = dict(line.split(": ", 1) for line in header_lines if ": " in line)
        body = json.loads(await reader.readexactly(int(headers["Content-Length"])))
    finally:
        writer.close()
        await writer.wait_closed()
    assert status_line.split()[1] == "413", head
    assert headers["Content-Type"].startswith("application/problem+json")
    assert body["status"] == 413 and "limited to" in body["detail"]
