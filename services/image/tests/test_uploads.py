"""Uploads on a real JetStream: streamed to disk, normalised, stored once per file."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
import pyvips
from nats.js import JetStreamContext

from libs.blobs import BlobStore
from libs.bus import ensure_streams
from libs.errors import InvalidArgument, PayloadTooLarge
from services.image.tests.conftest import BLUE, RED, gradient, solid
from services.image.thumbnails import ImageLimits
from services.image.uploaders import Uploaders
from services.image.uploads import UploadIndex, Uploads

ALICE = "a11ce000-0000-4000-8000-000000000001"
BOB = "b0b00000-0000-4000-8000-000000000002"


async def chunks(data: bytes, size: int = 64 * 1024) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


@pytest.fixture
async def uploads(nats_js: JetStreamContext) -> Uploads:
    await ensure_streams(nats_js)
    limits = ImageLimits(max_bytes=2 << 20)
    return Uploads(BlobStore(nats_js), UploadIndex(nats_js), Uploaders(nats_js), limits)


async def stored_image(nats_js: JetStreamContext, blob: str) -> pyvips.Image:
    return pyvips.Image.new_from_buffer((await BlobStore(nats_js).get(blob)).data, "")


async def test_an_upload_is_normalised_and_a_repeat_is_found(
    uploads: Uploads, nats_js: JetStreamContext
) -> None:
    image = solid(150, 100, RED).join(solid(150, 100, BLUE), "horizontal").copy()
    image.set_type(pyvips.GValue.gint_type, "orientation", 8)
    image.set_type(pyvips.GValue.gstr_type, "exif-ifd0-Artist", "Location Scout")
    data = image.jpegsave_buffer(Q=95, keep="all")
    stored, duplicate = await uploads.store(chunks(data), ALICE)
    assert not duplicate
    assert (stored.width, stored.height, stored.content_type) == (100, 300, "image/jpeg")
    kept = await stored_image(nats_js, stored.blob)
    assert (kept.width, kept.height) == (100, 300)
    assert not [name for name in kept.get_fields() if name.startswith(("exif", "xmp"))]
    again, duplicate = await uploads.store(chunks(data), ALICE)
    assert duplicate and again == stored


async def test_grey_and_gif_uploads_become_srgb(
    uploads: Uploads, nats_js: JetStreamContext
) -> None:
    grey = gradient(64, 64)[0].copy(interpretation="b-w").pngsave_buffer()
    stored, _ = await uploads.store(chunks(grey), ALICE)
    assert (await stored_image(nats_js, stored.blob)).interpretation == "srgb"
    gif = solid(40, 30, RED).gifsave_buffer()
    stored, _ = await uploads.store(chunks(gif), ALICE)
    assert stored.content_type == "image/png", "references are stills, kept losslessly"


async def test_fifty_uploads_at_once(uploads: Uploads) -> None:
    files = [(gradient(96, 64) + i).cast("uchar").pngsave_buffer() for i in range(50)]
    results = await asyncio.gather(*(uploads.store(chunks(data), ALICE) for data in files))
    assert len({stored.blob for stored, _ in results}) == 50
    assert not any(duplicate for _, duplicate in results)


async def test_another_users_upload_of_the_same_file_looks_like_a_first_one(
    uploads: Uploads, nats_js: JetStreamContext
) -> None:
    data = gradient(80, 60).pngsave_buffer()
    stored, _ = await uploads.store(chunks(data), ALICE)
    uploaders = Uploaders(nats_js)
    assert not await uploaders.uploaded(stored.blob, BOB)
    # Bob is not told that Alice holds these bytes, and holds them himself from now on.
    again, duplicate = await uploads.store(chunks(data), BOB)
    assert (again, duplicate) == (stored, False)
    assert await uploaders.uploaded(stored.blob, BOB)
    assert await uploaders.uploaded(stored.blob, ALICE)
    assert (await uploads.store(chunks(data), BOB))[1], "Bob's own repeat is his to know"


async def test_an_uploader_id_that_would_change_the_record_key_is_refused(
    nats_js: JetStreamContext,
) -> None:
    with pytest.raises(InvalidArgument, match="user id"):
        await Uploaders(nats_js).uploaded("0" * 64, "alice.*")


@pytest.mark.parametrize(
    ("data", "error", "detail"),
    [
        (b"", InvalidArgument, "empty"),
        (b"\0" * (3 << 20), PayloadTooLarge, "larger than"),
        (b"<svg xmlns='http://www.w3.org/2000/svg'/>", InvalidArgument, "not_an_image"),
    ],
    ids=["zero-bytes", "over-the-limit", "svg"],
)
async def test_bad_uploads_are_refused(
    uploads: Uploads, data: bytes, error: type[Exception], detail: str
) -> None:
    with pytest.raises(error, match=detail):
        await uploads.store(chunks(data), ALICE)
