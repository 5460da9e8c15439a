"""Blobs (uploads, renders, thumbnails) in the JetStream object store, addressed by SHA-256."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from nats.js import JetStreamContext
from nats.js.api import ObjectMeta
from nats.js.errors import ObjectNotFoundError
from nats.js.object_store import ObjectStore

from libs.bus.streams import BLOB_BUCKET
from libs.errors import InvalidArgument, NotFound

__all__ = ["Blob", "BlobStore", "check_digest"]

_DIGEST = re.compile(r"[0-9a-f]{64}")


def check_digest(digest: str) -> str:
    """A blob address is a lowercase hex SHA-256; anything else is rejected before any lookup."""
    if not _DIGEST.fullmatch(digest):
        raise InvalidArgument("a blob id is a lowercase hex SHA-256 (64 characters)")
    return digest


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
        store = await self._bucket()
        try:
            await store.get_info(digest)
            return digest
        except ObjectNotFoundError:
            pass
        await store.put(digest, data, meta=ObjectMeta(name=digest, description=content_type))
        return digest

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
            content_type=info.description or "application/octet-stream",
        )
