"""Uploads: streamed to disk, deduplicated by content, normalised, stored content-addressed.

An upload never sits whole in memory: its chunks go to a temporary file while their SHA-256
is computed. That hash of the bytes as sent is looked up first, so sending the same file again
costs one KV read (and the uploader's record) and nothing else. A new file is checked by its
header (type from the content, size, pixels, frames; `services.image.thumbnails.probe_file`),
then normalised by libvips reading the file sequentially: EXIF orientation applied, converted
to sRGB, every piece of metadata dropped (EXIF with its GPS position, XMP, IPTC, comments),
first frame only. The normalised file is what the blob store keeps, under its own SHA-256.

Every upload records its uploader (``services.image.uploaders``), and "duplicate" means only
that this uploader sent the file before: a user is never told that another holds the same bytes.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import shutil
import tempfile
from collections.abc import AsyncIterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import pyvips
from nats.js import JetStreamContext
from nats.js.api import KeyValueConfig
from nats.js.errors import KeyNotFoundError

from libs.blobs import BlobStore
from libs.bus.buckets import LazyBucket
from libs.errors import InvalidArgument, PayloadTooLarge
from libs.logs import get_logger
from services.image.thumbnails import ImageLimits, ImageRejected, probe_file, root_cause
from services.image.uploaders import Uploaders

__all__ = ["StoredImage", "UploadIndex", "Uploads"]

log = get_logger(__name__)

INDEX_BUCKET = "image-uploads"
# Source format -> (saver suffix, content type, saver options). GIF and TIFF become PNG:
# references are stills, and PNG keeps every pixel. keep="none" drops all metadata.
_NORMALISED = {
    # No optimize_coding: measured on a 12 MP upload it took 135 MB instead of 17 MB and 2.6x
    # the time, to save a few percent of the file.
    "jpeg": (".jpg", "image/jpeg", {"Q": 92, "keep": "none"}),
    "png": (".png", "image/png", {"compression": 6, "keep": "none"}),
    "webp": (".webp", "image/webp", {"Q": 92, "keep": "none"}),
    "gif": (".png", "image/png", {"compression": 6, "keep": "none"}),
    "tiff": (".png", "image/png", {"compression": 6, "keep": "none"}),
}
_WRITE_CHUNK = 1 << 20


@dataclass(frozen=True)
class StoredImage:
    blob: str  # SHA-256 of the normalised image in the blob store
    size: int
    content_type: str
    width: int
    height: int


@dataclass(frozen=True)
class _Received:
    path: Path
    digest: str  # SHA-256 of the bytes as sent
    size: int


class UploadIndex:
    """Uploads already seen: SHA-256 of the bytes as sent -> the image stored for them."""

    def __init__(self, js: JetStreamContext) -> None:
        self._bucket = LazyBucket(js, KeyValueConfig(bucket=INDEX_BUCKET, history=1))

    async def get(self, digest: str) -> StoredImage | None:
        try:
            entry = await (await self._bucket.get()).get(digest)
        except KeyNotFoundError:
            return None
        try:
            return StoredImage(**json.loads(entry.value or b""))
        except (ValueError, TypeError) as exc:  # an entry from an incompatible release
            log.warning("upload_index.unreadable", key=digest, error=str(exc))
            return None

    async def put(self, digest: str, image: StoredImage) -> None:
        await (await self._bucket.get()).put(digest, json.dumps(asdict(image)).encode())


class Uploads:
    def __init__(
        self,
        blobs: BlobStore,
        index: UploadIndex,
        uploaders: Uploaders,
        limits: ImageLimits,
        *,
        processing: asyncio.Semaphore | None = None,
    ) -> None:
        self._blobs = blobs
        self._index = index
        self._uploaders = uploaders
        self._limits = limits
        # Decoding is what costs memory: at most this many at once, however many upload.
        self._processing = processing or asyncio.Semaphore(1)

    async def store(self, chunks: AsyncIterator[bytes], uploader: str) -> tuple[StoredImage, bool]:
        """Take an upload: (what was stored, whether ``uploader`` had stored it before)."""
        folder = Path(tempfile.mkdtemp(prefix="upload-"))
        try:
            received = await self._receive(chunks, folder)
            known = await self._index.get(received.digest)
            if known is not None:
                return known, await self._uploaders.add(known.blob, uploader)
            async with self._processing:
                normalised, content_type, width, height = await asyncio.to_thread(
                    _normalise, received.path, self._limits
                )
            blob = await self._blobs.put_file(normalised, content_type)
            stored = StoredImage(blob, normalised.stat().st_size, content_type, width, height)
            await self._index.put(received.digest, stored)
            # Two different files may normalise to one blob that this user already holds.
            return stored, await self._uploaders.add(stored.blob, uploader)
        finally:
            await asyncio.to_thread(shutil.rmtree, folder, True)

    async def _receive(self, chunks: AsyncIterator[bytes], folder: Path) -> _Received:
        """The upload in a file, hashed on the way, refused as soon as it passes the limit."""
        path = folder / "upload"
        sha = hashlib.sha256()
        size = 0
        with path.open("wb") as file:
            async for chunk in chunks:
                size += len(chunk)
                if size > self._limits.max_bytes:
                    raise PayloadTooLarge(f"upload is larger than {self._limits.max_bytes} bytes")
                sha.update(chunk)
                await asyncio.to_thread(file.write, chunk)
        if size == 0:
            raise InvalidArgument("upload is empty (zero bytes)")
        return _Received(path, sha.hexdigest(), size)


def _normalise(path: Path, limits: ImageLimits) -> tuple[Path, str, int, int]:
    """The upload at ``path`` upright, sRGB and without metadata, in a file beside it."""
    try:
        info = probe_file(path, limits)
    except ImageRejected as exc:
        raise InvalidArgument(f"not an acceptable image ({exc.reason}): {exc.detail}") from exc
    suffix, content_type, options = _NORMALISED[info.format]
    target = path.with_name("normalised" + suffix)
    try:
        image = pyvips.Image.new_from_file(str(path), access="sequential", fail_on="error")
        if _needs_turning(image):  # turning needs random access: libvips spills big ones to disk
            image = pyvips.Image.new_from_file(str(path), access="random", fail_on="error")
        image = _srgb(image.autorot())
        image.write_to_file(str(target), **options)
    except pyvips.Error as exc:  # e.g. a truncated file behind a valid header
        raise InvalidArgument(f"cannot decode the {info.format} image: {root_cause(exc)}") from None
    return target, content_type, image.width, image.height


def _needs_turning(image: pyvips.Image) -> bool:
    orientation = image.get("orientation") if image.get_typeof("orientation") else 1
    return orientation not in (0, 1)


def _srgb(image: pyvips.Image) -> Any:
    """Pixels in sRGB: through the embedded ICC profile when there is one (CMYK included)."""
    if image.get_typeof("icc-profile-data"):
        return image.icc_transform("srgb", embedded=True, intent="perceptual")
    if image.interpretation != "srgb":
        return image.colourspace("srgb")
    return image
