"""Derived images: a blob transformed by processing options, made once and kept as a blob.

The key of a derived image is the SHA-256 of its source blob and the canonical spelling of
its options with the output format settled (`Transform.canonical`), so equivalent URLs share
one entry. The entry (a JetStream KV bucket) points at the output's blob; the output itself
is content-addressed like every blob.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import shutil
import tempfile
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from nats.js import JetStreamContext
from nats.js.api import KeyValueConfig
from nats.js.errors import KeyNotFoundError

from libs.blobs import BlobStore
from libs.bus.buckets import LazyBucket
from libs.errors import InvalidArgument
from services.image.thumbnails import ImageLimits, ImageRejected, probe_file
from services.image.transforms import Output, Transform, apply, negotiate_format, parse_options
from services.image.working import WorkingCopies, WorkingCopy, make_working_copy

__all__ = ["DerivedImage", "DerivedImages"]

BUCKET = "image-derived"


@dataclass(frozen=True)
class DerivedImage:
    blob: str
    content_type: str
    width: int
    height: int
    cached: bool = False
    negotiated: bool = False  # chosen from Accept: responses must say Vary: Accept


class DerivedImages:
    def __init__(
        self,
        js: JetStreamContext,
        blobs: BlobStore,
        limits: ImageLimits,
        processing: asyncio.Semaphore,
    ) -> None:
        self._blobs = blobs
        self._limits = limits
        self._processing = processing
        self._bucket = LazyBucket(js, KeyValueConfig(bucket=BUCKET, history=1))
        self._copies = WorkingCopies(js)

    async def derive(self, blob: str, options: str, accept: str | None) -> DerivedImage:
        """``blob`` transformed by ``options``, from the cache when it was made before.

        InvalidArgument for bad options or an image the limits refuse; NotFound for no blob.
        """
        try:
            transform = parse_options(options, self._limits)
            fmt, negotiated = negotiate_format(
                accept,
                await self._source_kind(blob) if transform.format is None else "",
                requested=transform.format,
                animated=transform.animate,
            )
        except ImageRejected as exc:
            raise InvalidArgument(f"{exc.reason}: {exc.detail}") from exc
        settled = transform.with_format(fmt)
        key = hashlib.sha256(f"{blob}/{settled.canonical()}".encode()).hexdigest()
        kv = await self._bucket.get()
        try:
            entry = await kv.get(key)
            known = DerivedImage(**json.loads(entry.value or b""))
            return replace(known, cached=True, negotiated=negotiated)
        except (KeyNotFoundError, ValueError, TypeError):
            pass
        try:
            copy = await self._copies.get(blob)
            if copy is not None and copy.serves(settled, self._limits):
                output = await self._from_working_copy(copy, settled)
            else:
                output = await self._from_source(blob, settled, keep_copy=copy is None)
        except ImageRejected as exc:
            raise InvalidArgument(f"{exc.reason}: {exc.detail}") from exc
        digest = await self._blobs.put(output.data, output.content_type)
        made = DerivedImage(digest, output.content_type, output.width, output.height)
        await kv.put(key, json.dumps(asdict(made)).encode())
        return replace(made, negotiated=negotiated)

    async def _from_working_copy(self, copy: WorkingCopy, transform: Transform) -> Output:
        data = (await self._blobs.get(copy.blob)).data
        async with self._processing:
            return await asyncio.to_thread(
                apply, data, transform, self._limits, working_copy_of=copy.original
            )

    async def _from_source(self, blob: str, transform: Transform, *, keep_copy: bool) -> Output:
        """``transform`` made from the source blob; with ``keep_copy``, its working copy too."""
        folder = Path(tempfile.mkdtemp(prefix="derive-"))
        try:
            source = folder / "source"
            await self._blobs.get_to_file(blob, source)
            async with self._processing:
                output = await asyncio.to_thread(apply, source, transform, self._limits)
                copy = None
                if keep_copy:
                    info = probe_file(source, self._limits)
                    copy = await asyncio.to_thread(make_working_copy, source, info)
            if copy is not None:
                data, width, height = copy
                digest = await self._blobs.put(data, "image/jpeg")
                await self._copies.put(blob, digest, (width, height), info)
            return output
        finally:
            await asyncio.to_thread(shutil.rmtree, folder, True)

    async def _source_kind(self, blob: str) -> str:
        """What negotiation falls back to: photos stay JPEG, anything else becomes PNG."""
        return "jpeg" if await self._blobs.content_type(blob) == "image/jpeg" else "png"
