"""Working copies: small outputs of a large photo made from a shrunk copy, as from the original."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
import pyvips
from nats.js import JetStreamContext

from libs.blobs import BlobStore
from libs.bus import ensure_streams
from libs.bus.streams import BLOB_BUCKET
from libs.errors import NotFound
from services.image.derived import DerivedImages
from services.image.tests.conftest import gradient, solid
from services.image.thumbnails import ImageInfo, ImageLimits, probe_file
from services.image.transforms import apply, parse_options
from services.image.working import WORKING_SIDE, WorkingCopies, make_working_copy


def photo(width: int, height: int, orientation: int = 1) -> bytes:
    """A JPEG with detail everywhere (a gradient under a fine pattern), like a photo."""
    pattern = (pyvips.Image.xyz(width, height)[0] % 7 * 9).cast("uchar")
    image = (gradient(width, height) + pattern).cast("uchar").copy(interpretation="srgb")
    image.set_type(pyvips.GValue.gint_type, "orientation", orientation)
    return image.jpegsave_buffer(Q=90)


@pytest.fixture(scope="module")
def large_photo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """2600x2000 stored, EXIF orientation 6: displayed as 2000x2600."""
    path = tmp_path_factory.mktemp("working") / "photo.jpg"
    path.write_bytes(photo(2600, 2000, orientation=6))
    return path


def decoded(data: bytes) -> pyvips.Image:
    return pyvips.Image.new_from_buffer(data, "")


def test_the_copy_is_upright_srgb_and_fits_the_working_side(large_photo: Path) -> None:
    info = probe_file(large_photo)
    made = make_working_copy(large_photo, info)
    assert made is not None
    data, width, height = made
    image = decoded(data)
    assert (image.width, image.height) == (width, height) == (788, WORKING_SIDE)  # portrait
    assert image.interpretation == "srgb" and image.bands == 3
    assert not [name for name in image.get_fields() if name.startswith(("exif", "icc", "xmp"))]


def test_small_animated_and_transparent_sources_get_no_copy(tmp_path: Path) -> None:
    small = tmp_path / "small.jpg"
    small.write_bytes(photo(1500, 1000))  # under twice the working side: not worth it
    transparent = tmp_path / "alpha.png"
    transparent.write_bytes(solid(2400, 2400, [9, 9, 9]).bandjoin(128).pngsave_buffer())
    animated = tmp_path / "animated.gif"
    frames = pyvips.Image.arrayjoin([solid(2100, 10, [0, 0, 0])] * 2, across=1).copy()
    frames.set_type(pyvips.GValue.gint_type, "page-height", 10)
    animated.write_bytes(frames.gifsave_buffer())
    for path in (small, transparent, animated):
        assert make_working_copy(path, probe_file(path)) is None, path.name


@pytest.mark.parametrize(
    "options",
    ["th:256", "rs:fit:300:300", "rs:fill:400:240/c:1200:900:smart", "rs:fit:200:300/rot:90/sh:1"],
)
def test_outputs_from_the_copy_match_outputs_from_the_original(
    large_photo: Path, options: str
) -> None:
    info = probe_file(large_photo)
    made = make_working_copy(large_photo, info)
    assert made is not None
    transform = parse_options(options)
    original = apply(large_photo, transform, fmt="png")
    copied = apply(made[0], transform, fmt="png", working_copy_of=info)
    assert (copied.width, copied.height) == (original.width, original.height)
    difference = (decoded(copied.data) - decoded(original.data)).abs()
    assert difference.avg() < 3, "the same picture, resampled twice"
    mirrored = (decoded(copied.data).fliphor() - decoded(original.data)).abs()
    assert mirrored.avg() > 10, "the threshold tells pictures apart"


async def test_small_variants_come_from_the_copy_once_it_exists(
    nats_js: JetStreamContext, large_photo: Path
) -> None:
    await ensure_streams(nats_js)
    blobs = BlobStore(nats_js)
    derived = DerivedImages(nats_js, blobs, ImageLimits(), asyncio.Semaphore(1))
    source = await blobs.put(await asyncio.to_thread(large_photo.read_bytes), "image/jpeg")

    first = await derived.derive(source, "th:300/f:jpeg", None)
    copy = await WorkingCopies(nats_js).get(source)
    assert copy is not None and (copy.width, copy.height) == (788, WORKING_SIDE)
    assert copy.original == ImageInfo("jpeg", 2000, 2600, 1, progressive=False, profiled=False)
    assert copy.serves(parse_options("rs:fit:512:512"), ImageLimits())
    assert not copy.serves(parse_options("rs:fit:513:513"), ImageLimits())

    # With the source gone, what the copy serves is still made; what it does not, is not.
    # (The formats are explicit: negotiating one would look at the source's metadata.)
    await (await nats_js.object_store(BLOB_BUCKET)).delete(source)
    second = await derived.derive(source, "th:256/f:jpeg", None)
    assert not second.cached and (second.width, second.height) == (197, 256)
    assert (await derived.derive(source, "th:300/f:jpeg", None)).blob == first.blob  # cached
    with pytest.raises(NotFound):
        await derived.derive(source, "th:1200/f:jpeg", None)
