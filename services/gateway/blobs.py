"""Blob upload (streamed to the image service) and download (straight from the blob store).

A download is served only to a caller who may read the blob (``BlobAccess``), checked before
the blob store (and its in-memory copies of hot blobs) is touched; anyone else gets a 404.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence

from aiohttp import web
from google.protobuf import json_format

from libs.blobs import BlobStore
from libs.downstream import Downstream
from libs.errors import PayloadTooLarge
from services.gateway.auth import IDENTITY
from services.gateway.blob_access import BlobAccess
from services.gateway.downloads import blob_response
from services.gateway.images import signed_url, url_expiry
from shotgraph.image.v1 import image_pb2, image_pb2_grpc

__all__ = ["Blobs"]

# What an upload holds in flight is a few of these (the request buffer, the message, gRPC's
# copy): fifty 10 MB uploads at once grew the gateway by 272 MB with 1 MiB chunks and by
# 55 MB with these, as much as fifty 1 MB uploads.
_CHUNK_BYTES = 64 << 10
THUMBNAIL_OPTIONS = "th:256"
# An upload streams for as long as the client sends: not the deadline of a quick call.
UPLOAD_DEADLINE_S = 600.0  # what every screen shows of an upload


class Blobs:
    def __init__(
        self,
        store: BlobStore,
        access: BlobAccess,
        image: Downstream[image_pb2_grpc.ImageServiceStub],
        max_upload_bytes: int,
        url_keys: Sequence[bytes],
    ) -> None:
        self._store = store
        self._access = access
        self._image = image
        self._max_upload_bytes = max_upload_bytes
        self._url_keys = url_keys

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

        blob: image_pb2.Blob = await self._image.call(
            self._image.stub.Upload, chunks(), deadline_s=UPLOAD_DEADLINE_S
        )
        body = json_format.MessageToDict(
            blob, preserving_proto_field_name=True, always_print_fields_with_no_presence=True
        )
        body["thumbnail_url"] = signed_url(
            self._url_keys, blob.sha256, THUMBNAIL_OPTIONS, expires=url_expiry()
        )
        # 200 for a file this caller uploaded before, 201 for one new to them (even when another
        # user holds the same bytes: that is never told).
        status = 200 if blob.duplicate else 201
        return web.json_response(
            body, status=status, headers={"Location": f"/v1/blobs/{blob.sha256}"}
        )

    async def download(self, request: web.Request) -> web.Response:
        user_id = request[IDENTITY].user_id
        digest = await self._access.require(user_id, request.match_info["digest"])
        return await blob_response(request, self._store, digest)
