"""The CanvasService gRPC API: who may do what, and the graphs checked before they are kept.

A canvas the caller neither owns nor was shared is NOT_FOUND, exactly like one that does not
exist; a reader who tries to write is told it is forbidden. A graph is validated on every save:
faults of structure or type refuse it (422, each one listed), while an incomplete graph (a shot
still without its scene) is saved with warnings, since it is work in progress, and refused only
by Execute.
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any, Final

import grpc
from google.protobuf import json_format
from google.protobuf.struct_pb2 import Struct

from libs.blobs import check_digest
from libs.errors import Conflict, Forbidden, InvalidArgument, NotFound, Unprocessable
from libs.pagination import paginate, paginate_numbered
from libs.rpc import struct, timestamp
from services.canvas.cache import CanvasCache
from services.canvas.diff import GraphDiff, diff
from services.canvas.execution import Executions
from services.canvas.graph import Graph, GraphLimits, Problem
from services.canvas.kinds import DEFAULT_TYPES
from services.canvas.nodetypes import NodeTypeRegistry
from services.canvas.store import ACCESS_LEVELS, CanvasRecord, CanvasStore, StaleBase, VersionRecord
from services.canvas.validation import validate
from shotgraph.canvas.v1 import canvas_pb2, canvas_pb2_grpc

__all__ = ["INCOMPLETE", "CanvasServicer"]

MAX_NAME_LENGTH: Final = 200
# C0, DEL and C1: no name needs one, and Postgres text cannot hold a NUL.
_CONTROL: Final = re.compile(r"[\x00-\x1f\x7f-\x9f]")
MAX_MESSAGE_LENGTH: Final = 500
MAX_USER_ID_LENGTH: Final = 200
# Problems of a graph that is not finished yet: saved with a warning, refused by Execute.
INCOMPLETE: Final = frozenset({"missing_connection", "required_property"})
_WRITERS: Final = ("owner", "write")
# A huge graph can have tens of thousands of faults; the first ones are what a user fixes.
MAX_REPORTED_PROBLEMS: Final = 200


class CanvasServicer(canvas_pb2_grpc.CanvasServiceServicer):
    def __init__(
        self,
        store: CanvasStore,
        cache: CanvasCache,
        executions: Executions,
        *,
        registry: NodeTypeRegistry = DEFAULT_TYPES,
        limits: GraphLimits | None = None,
    ) -> None:
        self._store = store
        self._cache = cache
        self._executions = executions
        self._registry = registry
        self._limits = limits or GraphLimits()

    # -- access ---------------------------------------------------------------------------

    async def CanReadBlob(
        self, request: canvas_pb2.CanReadBlobRequest, context: grpc.aio.ServicerContext
    ) -> canvas_pb2.CanReadBlobResponse:
        if not request.user_id:
            raise InvalidArgument("the caller's user id is required")
        readable = await self._store.can_read_blob(request.user_id, check_digest(request.sha256))
        return canvas_pb2.CanReadBlobResponse(readable=readable)

    async def readable(self, user_id: str, canvas_id: str) -> CanvasRecord:
        """The canvas as ``user_id`` sees it; NotFound unless they own it or it is shared."""
        if not user_id:
            raise InvalidArgument("the caller's user id is required")
        found = await self._cache.get(canvas_id)
        if found is not None:
            record, shares = found
            access = "owner" if record.owner_id == user_id else shares.get(user_id)
            if access is not None:
                return replace(record, access=access)
        raise NotFound(f"no canvas {canvas_id}")

    async def writable(self, user_id: str, canvas_id: str) -> CanvasRecord:
        record = await self.readable(user_id, canvas_id)
        if record.access not in _WRITERS:
            raise Forbidden(f"canvas {canvas_id} is shared with you to read, not to change")
        return record

    async def owned(self, user_id: str, canvas_id: str, what: str) -> CanvasRecord:
        """The canvas if ``user_id`` owns it; Forbidden for a user it is shared with (they
        know it exists), NotFound for anyone else."""
        record = await self.readable(user_id, canvas_id)
        if record.access != "owner":
            raise Forbidden(f"only the canvas's owner {what}")
        return record

    # -- canvases -------------------------------------------------------------------------

    async def CreateCanvas(
        self, request: canvas_pb2.CreateCanvasRequest, context: grpc.aio.ServicerContext
    ) -> canvas_pb2.Canvas:
        name = _name(request.name)
        if not request.owner_id:
            raise InvalidArgument("owner_id is required")
        record = await self._store.create(request.owner_id, name)
        await self._cache.refresh(record.id)  # a new canvas is opened next, as a rule
        return _canvas(record)

    async def GetCanvas(
        self, request: canvas_pb2.GetCanvasRequest, context: grpc.aio.ServicerContext
    ) -> canvas_pb2.Canvas:
        record = await self.readable(request.owner_id, request.canvas_id)
        canvas = _canvas(record)
        if request.with_problems:
            canvas.problems.extend(self._problems(record.graph))
        return canvas

    async def ListCanvases(
        self, request: canvas_pb2.ListCanvasesRequest, context: grpc.aio.ServicerContext
    ) -> canvas_pb2.ListCanvasesResponse:
        if not request.owner_id:
            raise InvalidArgument("owner_id is required")
        page, next_token = await paginate(
            lambda limit, after: self._store.list_canvases(request.owner_id, limit, after),
            request.page_size,
            request.page_token,
        )
        return canvas_pb2.ListCanvasesResponse(
            canvases=[_canvas(r) for r in page], next_page_token=next_token
        )

    async def RenameCanvas(
        self, request: canvas_pb2.RenameCanvasRequest, context: grpc.aio.ServicerContext
    ) -> canvas_pb2.Canvas:
        record = await self.writable(request.user_id, request.canvas_id)
        await self._store.rename(record.id, _name(request.name))
        await self._cache.changed(record.id)
        return _canvas(await self.readable(request.user_id, record.id))

    async def DeleteCanvas(
        self, request: canvas_pb2.DeleteCanvasRequest, context: grpc.aio.ServicerContext
    ) -> canvas_pb2.DeleteCanvasResponse:
        record = await self.owned(request.user_id, request.canvas_id, "deletes it")
        # Read before the delete takes the records with it: their jobs would be wasted work.
        running = await self._executions.running(record.id)
        gone = await self._store.delete(record.id)
        await self._cache.deleted(record.id, gone)
        await self._executions.cancel(running)
        return canvas_pb2.DeleteCanvasResponse()

    async def ShareCanvas(
        self, request: canvas_pb2.ShareCanvasRequest, context: grpc.aio.ServicerContext
    ) -> canvas_pb2.Share:
        record = await self.owned(request.owner_id, request.canvas_id, "shares it")
        if request.access not in (*ACCESS_LEVELS, "none"):
            raise InvalidArgument(f"access must be one of {[*ACCESS_LEVELS, 'none']}")
        if not 0 < len(request.user_id) <= MAX_USER_ID_LENGTH:
            raise InvalidArgument(f"user_id must be 1-{MAX_USER_ID_LENGTH} characters")
        if request.user_id == record.owner_id:
            raise InvalidArgument(
                "a canvas is shared with another user: its owner has every access already"
            )
        access = None if request.access == "none" else request.access
        await self._store.share(record.id, request.user_id, access)
        await self._cache.changed(record.id)
        return canvas_pb2.Share(canvas_id=record.id, user_id=request.user_id, access=request.access)

    async def ListShares(
        self, request: canvas_pb2.ListSharesRequest, context: grpc.aio.ServicerContext
    ) -> canvas_pb2.ListSharesResponse:
        record = await self.owned(request.user_id, request.canvas_id, "sees whom it is shared with")
        return canvas_pb2.ListSharesResponse(
            shares=[
                canvas_pb2.Share(canvas_id=record.id, user_id=s.user_id, access=s.access)
                for s in await self._store.shares(record.id)
            ]
        )

    # -- versions -------------------------------------------------------------------------

    async def SaveCanvas(
        self, request: canvas_pb2.SaveCanvasRequest, context: grpc.aio.ServicerContext
    ) -> canvas_pb2.Version:
        record = await self.writable(request.user_id, request.canvas_id)
        if len(request.message) > MAX_MESSAGE_LENGTH:
            raise InvalidArgument(f"message is over {MAX_MESSAGE_LENGTH} characters")
        graph, warnings = self._checked(_json(request.graph))
        return await self._save(
            record,
            request.user_id,
            request.base_version,
            graph,
            request.message,
            warnings,
            autosave=request.autosave,
        )

    async def RestoreVersion(
        self, request: canvas_pb2.RestoreVersionRequest, context: grpc.aio.ServicerContext
    ) -> canvas_pb2.Version:
        record = await self.writable(request.user_id, request.canvas_id)
        earlier = await self._version(record, request.number)
        graph, warnings = self._checked(earlier.graph)
        message = f"Restored version {earlier.number}"
        return await self._save(
            record,
            request.user_id,
            request.base_version,
            graph,
            message,
            warnings,
            autosave=False,
        )

    async def ListVersions(
        self, request: canvas_pb2.ListVersionsRequest, context: grpc.aio.ServicerContext
    ) -> canvas_pb2.ListVersionsResponse:
        record = await self.readable(request.user_id, request.canvas_id)
        page, next_token = await paginate_numbered(
            lambda limit, before: self._store.versions(record.id, limit, before),
            request.page_size,
            request.page_token,
        )
        return canvas_pb2.ListVersionsResponse(
            versions=[_version(v) for v in page], next_page_token=next_token
        )

    async def GetVersion(
        self, request: canvas_pb2.GetVersionRequest, context: grpc.aio.ServicerContext
    ) -> canvas_pb2.Version:
        record = await self.readable(request.user_id, request.canvas_id)
        return _version(await self._version(record, request.number))

    async def DiffVersions(
        self, request: canvas_pb2.DiffVersionsRequest, context: grpc.aio.ServicerContext
    ) -> canvas_pb2.GraphDiff:
        record = await self.readable(request.user_id, request.canvas_id)
        old = await self._version(record, request.from_version)
        new = await self._version(record, request.to_version)
        return _diff(diff(self._parsed(old.graph), self._parsed(new.graph)))

    # -- graphs ---------------------------------------------------------------------------

    async def ValidateGraph(
        self, request: canvas_pb2.ValidateGraphRequest, context: grpc.aio.ServicerContext
    ) -> canvas_pb2.ValidateGraphResponse:
        problems = self._problems(_json(request.graph))
        return canvas_pb2.ValidateGraphResponse(problems=problems, executable=not problems)

    def _problems(self, graph: Any) -> list[Struct]:
        """What validation finds in ``graph``, the first ``MAX_REPORTED_PROBLEMS`` of it."""
        _, problems = validate(graph, self._registry, self._limits)
        return [_struct(p.as_dict()) for p in problems[:MAX_REPORTED_PROBLEMS]]

    async def ListNodeTypes(
        self, request: canvas_pb2.ListNodeTypesRequest, context: grpc.aio.ServicerContext
    ) -> canvas_pb2.ListNodeTypesResponse:
        return canvas_pb2.ListNodeTypesResponse(
            node_types=[_struct(t) for t in self._registry.describe()]
        )

    # -- execute --------------------------------------------------------------------------

    async def ExecuteCanvas(
        self, request: canvas_pb2.ExecuteCanvasRequest, context: grpc.aio.ServicerContext
    ) -> canvas_pb2.Execution:
        record = await self.writable(request.user_id, request.canvas_id)
        version = await self._version(record, request.version or record.version)
        graph, problems = validate(version.graph, self._registry, self._limits)
        if graph is None or problems:
            raise Unprocessable(
                f"version {version.number} is not complete enough to execute",
                extensions=_problems(problems),
            )
        return await self._executions.execute(record.id, version.number, request.user_id, graph)

    async def GetNodeResults(
        self, request: canvas_pb2.GetNodeResultsRequest, context: grpc.aio.ServicerContext
    ) -> canvas_pb2.NodeResults:
        record = await self.readable(request.user_id, request.canvas_id)
        version = await self._version(record, request.version or record.version)
        graph, problems = self._stored(version.graph)
        return await self._executions.node_results(
            record.id, version.number, graph, complete=not problems
        )

    # -- the parts ------------------------------------------------------------------------

    def _checked(self, data: object) -> tuple[dict[str, Any], list[Problem]]:
        """The graph's wire form, and what it lacks; Unprocessable if it has faults."""
        graph, problems = validate(data, self._registry, self._limits)
        faults = [p for p in problems if p.kind not in INCOMPLETE]
        if graph is None or faults:
            count = len(faults) or len(problems)
            raise Unprocessable(
                f"the graph has {count} problem{'s' if count != 1 else ''}",
                extensions=_problems(faults or problems),
            )
        return graph.to_json(), problems

    def _parsed(self, data: dict[str, Any] | None) -> Graph:
        return self._stored(data)[0]

    def _stored(self, data: dict[str, Any] | None) -> tuple[Graph, list[Problem]]:
        """A graph as stored, and what it lacks: it had no faults when it was saved."""
        graph, problems = validate(data, self._registry, self._limits)
        if graph is None:
            raise ValueError("a stored graph no longer parses")
        return graph, problems

    async def _version(self, record: CanvasRecord, number: int) -> VersionRecord:
        found = await self._store.version(record.id, number) if number > 0 else None
        if found is None:
            raise NotFound(f"canvas {record.id} has no version {number}")
        return found

    async def _save(
        self,
        record: CanvasRecord,
        author_id: str,
        base: int,
        graph: dict[str, Any],
        message: str,
        warnings: list[Problem],
        *,
        autosave: bool,
    ) -> canvas_pb2.Version:
        try:
            saved, made = await self._store.save(
                record.id, author_id, base, graph, message, autosave=autosave
            )
        except StaleBase as stale:
            raise await self._conflict(record, stale) from None
        if made:
            await self._cache.changed(record.id)
        reply = _version(saved, with_graph=False)
        reply.warnings.extend(_struct(p.as_dict()) for p in warnings)
        reply.unchanged = not made
        return reply

    async def _conflict(self, record: CanvasRecord, stale: StaleBase) -> Conflict:
        """The 409 of a stale save: the newest version, and what changed since the base, so
        the client can merge and save again from it."""
        current = stale.current
        extensions: dict[str, Any] = {
            "base_version": stale.base,
            "current_version": current.number,
            "current_author": current.author_id,
        }
        base = await self._store.version(record.id, stale.base) if stale.base > 0 else None
        if base is not None:  # gone when it was an autosave that another replaced
            extensions["changes"] = diff(
                self._parsed(base.graph), self._parsed(current.graph)
            ).as_dict()
        return Conflict(
            f"version {stale.base} is not the newest: {current.number} is; merge and save again",
            extensions=extensions,
        )


def _name(raw: str) -> str:
    """A canvas's name as given, trimmed; InvalidArgument unless it is one."""
    name = raw.strip()
    if not name or len(name) > MAX_NAME_LENGTH:
        raise InvalidArgument(f"name must be 1-{MAX_NAME_LENGTH} characters")
    if _CONTROL.search(name):
        raise InvalidArgument("name must not contain control characters (a tab, a line break)")
    return name


def _problems(problems: list[Problem]) -> dict[str, Any]:
    """Problem members listing the faults: the first ``MAX_REPORTED_PROBLEMS``, and how many."""
    return {
        "problems": [p.as_dict() for p in problems[:MAX_REPORTED_PROBLEMS]],
        "problem_count": len(problems),
    }


def _json(message: Struct) -> dict[str, Any]:
    return json_format.MessageToDict(message)


def _struct(value: dict[str, Any]) -> Struct:
    made = struct(value)
    assert made is not None
    return made


def _canvas(record: CanvasRecord) -> canvas_pb2.Canvas:
    return canvas_pb2.Canvas(
        id=record.id,
        owner_id=record.owner_id,
        name=record.name,
        version=record.version,
        created_at=timestamp(record.created_at),
        updated_at=timestamp(record.updated_at),
        graph=struct(record.graph),
        access=record.access,
    )


def _version(record: VersionRecord, *, with_graph: bool = True) -> canvas_pb2.Version:
    return canvas_pb2.Version(
        canvas_id=record.canvas_id,
        number=record.number,
        parent=record.parent,
        author_id=record.author_id,
        message=record.message,
        autosave=record.autosave,
        created_at=timestamp(record.created_at),
        graph=struct(record.graph) if with_graph else None,
    )


def _diff(changes: GraphDiff) -> canvas_pb2.GraphDiff:
    described = changes.as_dict()
    return canvas_pb2.GraphDiff(
        nodes_added=described["nodes_added"],
        nodes_removed=described["nodes_removed"],
        nodes_changed=[
            canvas_pb2.NodeChange(node=c["node"], fields=c["fields"])
            for c in described["nodes_changed"]
        ],
        edges_added=[_struct(e) for e in described["edges_added"]],
        edges_removed=[_struct(e) for e in described["edges_removed"]],
    )
