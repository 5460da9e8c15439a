"""The ImageService gRPC API: streamed uploads, and derived images by processing options."""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc

from services.image.derived import DerivedImages
from services.image.uploaders import Uploaders
from services.image.uploads import Uploads
from shotgraph.image.v1 import image_pb2, image_pb2_grpc

__all__ = ["ImageServicer"]


class ImageServicer(image_pb2_grpc.ImageServiceServicer):
    def __init__(self, uploads: Uploads, uploaders: Uploaders, derived: DerivedImages) -> None:
        self._uploads = uploads
        self._uploaders = uploaders
        self._derived = derived

    async def Upload(
        self,
        request_iterator: AsyncIterator[image_pb2.UploadChunk],
        context: grpc.aio.ServicerContext,
    ) -> image_pb2.Blob:
        first = await anext(request_iterator, image_pb2.UploadChunk())

        async def chunks() -> AsyncIterator[bytes]:
            yield first.data
            async for chunk in request_iterator:
                yield chunk.data

        stored, duplicate = await self._uploads.store(chunks(), first.owner_id)
        return image_pb2.Blob(
            sha256=stored.blob,
            size=stored.size,
            content_type=stored.content_type,
            width=stored.width,
            height=stored.height,
            duplicate=duplicate,
        )

    async def Transform(
        self, request: image_pb2.TransformRequest, context: grpc.aio.ServicerContext
    ) -> image_pb2.TransformedImage:
        made = await self._derived.derive(request.blob, request.options, request.accept or None)
        return image_pb2.TransformedImage(
            blob=made.blob,
            content_type=made.content_type,
            width=made.width,
            height=made.height,
            cached=made.cached,
            negotiated=made.negotiated,
        )

    async def CanReadBlob(
        self, request: image_pb2.CanReadBlobRequest, context: grpc.aio.ServicerContext
    ) -> image_pb2.CanReadBlobResponse:
        readable = await self._uploaders.uploaded(request.sha256, request.user_id)
        return image_pb2.CanReadBlobResponse(readable=readable)
