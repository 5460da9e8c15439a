"""Blob upload (streamed to the image service) and download (straight from the blob store)."""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web
from google.protobuf import json_format

from libs.blobs import BlobStore, check_digest
from libs.errors import PayloadTooLarge
from libs.resilience import Breakers
from services.gateway.auth import IDENTITY
from shotgraph.image.v1 import image_pb2, image_pb2_grpc

__all__ = ["Blobs", "blob_response"]

_CHUNK_BYTES = 1 << 20
# Content-addressed: the bytes behind an id never change, so caches may keep them forever.
_IMMUTABLE = "public, max-age=31536000, immutable"


class Blobs:
    def __init__(
        self,
        store: BlobStore,
        images: image_pb2_grpc.ImageServiceStub,
        breakers: Breakers,
        max_upload_bytes: int,
    ) -> None:
        self._store = store
        self._images = images
        self._breakers = breakers
        self._max_upload_bytes = max_upload_bytes

    def add_routes(self, app: web.Application) -> None:
        app.router.add_post("/v1/blobs", self.upload)
        app.router.add_get("/v1/blobs/{digest}", self.download)

    async def upload(self, request: web.Request) -> web.Response:
        if (request.content_length or 0) > self._max_upload_bytes:
            raise PayloadTooLarge(f"uploads are limited to {self._max_upload_bytes} bytes")
        owner_id = request[IDENTITY].user_id
        filename = request.query.get("filename", "")[:255]

        async def chunks() -> AsyncIterator[image_pb2.UploadChunk]:
            sent = 0
            async for data in request.content.iter_chunked(_CHUNK_BYTES):
                sent += len(data)
                if sent > self._max_upload_bytes:
                    raise PayloadTooLarge(f"uploads are limited to {self._max_upload_bytes} bytes")
                yield image_pb2.UploadChunk(owner_id=owner_id, filename=filename, data=data)

        blob = await self._breakers.call("image", lambda: self._images.Upload(chunks()))
        body = json_format.MessageToDict(blob, preserving_proto_field_name=True)
        return web.json_response(body, status=201, headers={"Location": f"/v1/blobs/{blob.sha256}"})

    async def download(self, request: web.Request) -> web.Response:
        return await blob_response(request, self._store, request.match_info["digest"])


async def blob_response(
    request: web.Request, store: BlobStore, digest: str, *, filename: str = ""
) -> web.Response:
    """A stored blob with a strong ETag (its digest) and immutable caching; 304 on a match.

    ``filename`` makes it a download under that name.
    """
    digest = check_digest(digest)
    etag = f'"{digest}"'
    headers = {"ETag": etag, "Cache-Control": _IMMUTABLE}
    if etag in request.headers.get("If-None-Match", ""):
        return web.Response(status=304, headers=headers)
    blob = await store.get(digest)
    headers["X-Content-Type-Options"] = "nosniff"
    if filename:
        headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return web.Response(body=blob.data, content_type=blob.content_type, headers=headers)
