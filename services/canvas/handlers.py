"""The CanvasService gRPC API, with reads served through the Redis cache."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime

import grpc

from libs.cache import ReadCache
from libs.errors import InvalidArgument, NotFound
from libs.pagination import paginate
from libs.rpc import timestamp
from services.canvas.store import CanvasRecord, CanvasStore
from shotgraph.canvas.v1 import canvas_pb2, canvas_pb2_grpc

__all__ = ["CanvasServicer"]

MAX_NAME_LENGTH = 200


def _to_message(record: CanvasRecord) -> canvas_pb2.Canvas:
    return canvas_pb2.Canvas(
        id=record.id,
        owner_id=record.owner_id,
        name=record.name,
        version=record.version,
        created_at=timestamp(record.created_at),
        updated_at=timestamp(record.updated_at),
    )


def _check_owner(owner_id: str) -> str:
    if not owner_id:
        raise InvalidArgument("owner_id is required")
    return owner_id


class CanvasServicer(canvas_pb2_grpc.CanvasServiceServicer):
    def __init__(self, store: CanvasStore, cache: ReadCache) -> None:
        self._store = store
        self._cache = cache

    async def CreateCanvas(
        self, request: canvas_pb2.CreateCanvasRequest, context: grpc.aio.ServicerContext
    ) -> canvas_pb2.Canvas:
        name = request.name.strip()
        if not name or len(name) > MAX_NAME_LENGTH:
            raise InvalidArgument(f"name must be 1-{MAX_NAME_LENGTH} characters")
        record = await self._store.create(_check_owner(request.owner_id), name)
        return _to_message(record)

    async def GetCanvas(
        self, request: canvas_pb2.GetCanvasRequest, context: grpc.aio.ServicerContext
    ) -> canvas_pb2.Canvas:
        owner_id = _check_owner(request.owner_id)
        key = f"{owner_id}:{request.canvas_id}"
        cached = await self._cache.get(key)
        if cached is not None:
            return _to_message(_from_cache(cached))
        record = await self._store.get(owner_id, request.canvas_id)
        if record is None:
            raise NotFound(f"no canvas {request.canvas_id}")
        await self._cache.set(key, _to_cache(record))
        return _to_message(record)

    async def ListCanvases(
        self, request: canvas_pb2.ListCanvasesRequest, context: grpc.aio.ServicerContext
    ) -> canvas_pb2.ListCanvasesResponse:
        owner_id = _check_owner(request.owner_id)
        page, next_token = await paginate(
            lambda limit, after: self._store.list(owner_id, limit, after),
            request.page_size,
            request.page_token,
        )
        return canvas_pb2.ListCanvasesResponse(
            canvases=[_to_message(r) for r in page], next_page_token=next_token
        )


def _to_cache(record: CanvasRecord) -> dict[str, object]:
    return {
        **asdict(record),
        "created_at": record.created_at.isoformat(),
        "updated_at": record.updated_at.isoformat(),
    }


def _from_cache(data: dict[str, str]) -> CanvasRecord:
    return CanvasRecord(
        id=data["id"],
        owner_id=data["owner_id"],
        name=data["name"],
        version=int(data["version"]),
        created_at=datetime.fromisoformat(data["created_at"]),
        updated_at=datetime.fromisoformat(data["updated_at"]),
    )
