"""Blobs (uploads, renders, thumbnails) in the JetStream object store, addressed by SHA-256."""

from __future__ import annotations

import asyncio
import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from nats.js import JetStreamContext
from nats.js.api import ObjectMeta
from nats.js.errors import ObjectNotFoundError
from nats.js.object_store import ObjectStore

from libs.bus.streams import BLOB_BUCKET
from libs.errors import InvalidArgument, NotFound

__all__ = ["Blob", "BlobStore", "check_digest", "file_digest"]

_DIGEST = re.compile(r"[0-9a-f]{64}")


def check_digest(digest: str) -> str:
    """A blob address is a lowercase hex SHA-256; anything else is rejected before any lookup."""
    if not _DIGEST.fullmatch(digest):
        raise InvalidArgument("a blob id is a lowercase hex SHA-256 (64 characters)")
    return digest


def file_digest(path: Path) -> str:
    """SHA-256 of a file, read a megabyte at a time."""
    with path.open("rb") as file:
        return hashlib.file_digest(file, "sha256").hexdigest()


@dataclass(frozen=True)
class Blob:
    digest: str
    data: bytes
    content_type: str


class BlobStore:
    def __init__(self, js: JetStreamContext) -> None:
        self._js = js
        self._store: ObjectStore | None = None

    async def _bucket(self) -> ObjectStore:
        # Looking the bucket up is a JetStream API round trip: do it once, not per blob.
        if self._store is None:
            self._store = await self._js.object_store(BLOB_BUCKET)
        return self._store

    async def put(self, data: bytes, content_type: str) -> str:
        """Store ``data`` once; storing the same bytes again is a no-op returning the same id."""
        digest = hashlib.sha256(data).hexdigest()
        if not await self._exists(digest):
            store = await self._bucket()
            await store.put(digest, data, meta=ObjectMeta(name=digest, description=content_type))
        return digest

    async def put_file(self, path: Path, content_type: str) -> str:
        """Store the file at ``path`` without reading it whole into memory (large uploads)."""
        digest = await asyncio.to_thread(file_digest, path)
        if not await self._exists(digest):
            store = await self._bucket()
            with path.open("rb") as file:
                await store.put(
                    digest, file, meta=ObjectMeta(name=digest, description=content_type)
                )
        return digest

    async def _exists(self, digest: str) -> bool:
        try:
            await (await self._bucket()).get_info(digest)
        except ObjectNotFoundError:
            return False
        return True

    async def content_type(self, digest: str) -> str:
        """What a blob is, from its metadata alone."""
        try:
            info = await (await self._bucket()).get_info(check_digest(digest))
        except ObjectNotFoundError as exc:
            raise NotFound(f"no blob {digest}") from exc
        return _content_type(info.description)

    async def get_to_file(self, digest: str, path: Path) -> str:
        """Write a blob into ``path`` chunk by chunk; its content type."""
        store = await self._bucket()
        try:
            with path.open("wb") as file:
                result = await store.get(check_digest(digest), writeinto=file)
        except ObjectNotFoundError as exc:
            raise NotFound(f"no blob {digest}") from exc
        return _content_type(result.info.description)

    async def get(self, digest: str) -> Blob:
        store = await self._bucket()
        try:
            result = await store.get(check_digest(digest))
        except ObjectNotFoundError as exc:
            raise NotFound(f"no blob {digest}") from exc
        info = result.info
        return Blob(
            digest=digest,
            data=result.data or b"",
            content_type=_content_type(info.description),
        )


def _content_type(description: str | None) -> str:
    """A blob's content type travels in its object's description."""
    return description or "application/octet-stream"
