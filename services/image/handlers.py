"""The ImageService gRPC API: streamed uploads, validated, stored by content hash."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import grpc

from libs.blobs import BlobStore
from libs.errors import InvalidArgument, PayloadTooLarge
from services.image.thumbnails import ImageLimits, ImageRejected, probe
from shotgraph.image.v1 import image_pb2, image_pb2_grpc

__all__ = ["ImageServicer"]

_CONTENT_TYPES = {
    "png": "image/png",
    "jpeg": "image/jpeg",
    "webp": "image/webp",
    "gif": "image/gif",
    "tiff": "image/tiff",
}


class ImageServicer(image_pb2_grpc.ImageServiceServicer):
    def __init__(self, blobs: BlobStore, limits: ImageLimits) -> None:
        self._blobs = blobs
        self._limits = limits

    async def Upload(
        self,
        request_iterator: AsyncIterator[image_pb2.UploadChunk],
        context: grpc.aio.ServicerContext,
    ) -> image_pb2.Blob:
        chunks: list[bytes] = []
        size = 0
        async for chunk in request_iterator:
            size += len(chunk.data)
            if size > self._limits.max_bytes:
                raise PayloadTooLarge(f"upload is larger than {self._limits.max_bytes} bytes")
            chunks.append(chunk.data)
        data = b"".join(chunks)
        if not data:
            raise InvalidArgument("upload is empty")
        try:
            info = await asyncio.to_thread(probe, data, self._limits)
        except ImageRejected as exc:
            raise InvalidArgument(f"not an acceptable image ({exc.reason}): {exc.detail}") from exc
        content_type = _CONTENT_TYPES.get(info.format)
        if content_type is None:
            raise InvalidArgument(f"image format {info.format!r} is not accepted")
        digest = await self._blobs.put(data, content_type)
        return image_pb2.Blob(
            sha256=digest,
            size=len(data),
            content_type=content_type,
            width=info.width,
            height=info.height,
        )
