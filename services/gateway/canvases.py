"""``/v1/canvases``: canvases and their versions and Execute, answered by the canvas service
over gRPC; ``/v1/canvas-node-types`` and ``/v1/graphs/validate`` for editors. Shares are
``canvas_shares.py``'s (they ask the auth service too)."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from google.protobuf.struct_pb2 import Struct

from libs.downstream import Downstream
from libs.errors import InvalidArgument
from libs.web import read_json
from services.gateway.auth import IDENTITY
from services.gateway.blob_access import BlobAccess
from services.gateway.canvas_reads import CanvasReads, Kept, current_stamp
from services.gateway.compression import ENCODINGS
from services.gateway.protojson import (
    etagged_body,
    known_fields,
    message_response,
    query_int,
    revalidated,
    revalidated_response,
)
from shotgraph.canvas.v1 import canvas_pb2, canvas_pb2_grpc

__all__ = ["Canvases", "canvas_of", "user_of"]

# Protobuf refuses to decode a Struct nested about 100 levels deep; a graph needs a handful
# (graph > nodes > node > properties > a value's own structure).
MAX_GRAPH_DEPTH = 32


class Canvases:
    def __init__(
        self,
        canvas: Downstream[canvas_pb2_grpc.CanvasServiceStub],
        access: BlobAccess,
        reads: CanvasReads | None = None,
    ) -> None:
        self._canvas = canvas
        self._access = access  # a graph may reference only blobs its author may read
        self._reads = reads or CanvasReads()

    def add_routes(self, app: web.Application) -> None:
        add = app.router
        add.add_get("/v1/canvas-node-types", self.node_types)
        add.add_post("/v1/graphs/validate", self.validate)
        add.add_post("/v1/canvases", self.create)
        add.add_get("/v1/canvases", self.list)
        add.add_get("/v1/canvases/{canvas_id}", self.get)
        add.add_patch("/v1/canvases/{canvas_id}", self.rename)
        add.add_delete("/v1/canvases/{canvas_id}", self.delete)
        add.add_post("/v1/canvases/{canvas_id}/versions", self.save)
        add.add_get("/v1/canvases/{canvas_id}/versions", self.versions)
        add.add_get("/v1/canvases/{canvas_id}/versions/{number}", self.version)
        add.add_post("/v1/canvases/{canvas_id}/versions/{number}/restore", self.restore)
        add.add_get("/v1/canvases/{canvas_id}/diff", self.diff)
        add.add_post("/v1/canvases/{canvas_id}/execute", self.execute)
        add.add_get("/v1/canvases/{canvas_id}/results", self.results)

    async def node_types(self, request: web.Request) -> web.Response:
        reply = await self._canvas.call(
            self._canvas.stub.ListNodeTypes, canvas_pb2.ListNodeTypesRequest()
        )
        return revalidated_response(request, reply)

    async def validate(self, request: web.Request) -> web.Response:
        body = await read_json(request)
        call = canvas_pb2.ValidateGraphRequest(graph=_graph(body))
        return message_response(await self._canvas.call(self._canvas.stub.ValidateGraph, call))

    async def create(self, request: web.Request) -> web.Response:
        body = await read_json(request)
        name = body.get("name")
        if not isinstance(name, str):
            raise InvalidArgument("'name' must be a string")
        call = canvas_pb2.CreateCanvasRequest(owner_id=user_of(request), name=name)
        return message_response(await self._canvas.call(self._canvas.stub.CreateCanvas, call), 201)

    async def get(self, request: web.Request) -> web.Response:
        """The canvas, from this worker's kept answers while they are current
        (``canvas_reads.py``), else from the canvas service."""
        user, canvas_id, stamp = user_of(request), canvas_of(request), current_stamp(request)
        if request.query.get("with") == "problems":
            return await self._get_with_problems(request, user, canvas_id)
        if stamp is not None:
            kept = self._reads.get(user, canvas_id, stamp)
            if kept is not None:
                response = revalidated(request, kept.body, kept.etag)
                response[ENCODINGS] = kept.encodings
                return response
        call = canvas_pb2.GetCanvasRequest(owner_id=user, canvas_id=canvas_id)
        canvas: canvas_pb2.Canvas = await self._canvas.call(self._canvas.stub.GetCanvas, call)
        body, etag = etagged_body(canvas)
        if stamp is not None:
            updated = canvas.updated_at.seconds * 1_000_000 + canvas.updated_at.nanos // 1000
            self._reads.put(user, canvas_id, Kept(updated, body, etag), stamp)
        return revalidated(request, body, etag)

    async def rename(self, request: web.Request) -> web.Response:
        """``{"name"}``: the canvas renamed, as ``get`` answers it."""
        body = await read_json(request)
        known_fields(body, {"name"})
        name = body.get("name")
        if not isinstance(name, str):
            raise InvalidArgument("'name' must be a string")
        call = canvas_pb2.RenameCanvasRequest(
            user_id=user_of(request), canvas_id=canvas_of(request), name=name
        )
        renamed = await self._canvas.call(self._canvas.stub.RenameCanvas, call)
        self._reads.forget(renamed.id, older_than=None)  # others learn of it from the stamp
        return message_response(renamed)

    async def delete(self, request: web.Request) -> web.Response:
        """The canvas gone for everyone: 204."""
        call = canvas_pb2.DeleteCanvasRequest(
            user_id=user_of(request), canvas_id=canvas_of(request)
        )
        await self._canvas.call(self._canvas.stub.DeleteCanvas, call)
        self._reads.forget(call.canvas_id, older_than=None)
        return web.Response(status=204)

    async def _get_with_problems(
        self, request: web.Request, user: str, canvas_id: str
    ) -> web.Response:
        """``?with=problems``: the canvas and what validation finds in its newest graph, as
        an editor opens it (one call instead of a read and a validation); never kept."""
        call = canvas_pb2.GetCanvasRequest(owner_id=user, canvas_id=canvas_id, with_problems=True)
        return revalidated_response(
            request, await self._canvas.call(self._canvas.stub.GetCanvas, call)
        )

    async def list(self, request: web.Request) -> web.Response:
        call = canvas_pb2.ListCanvasesRequest(
            owner_id=user_of(request),
            page_size=query_int(request, "limit"),
            page_token=request.query.get("cursor", ""),
        )
        return message_response(await self._canvas.call(self._canvas.stub.ListCanvases, call))

    async def save(self, request: web.Request) -> web.Response:
        """A new version: ``{"base_version", "graph", "message"?, "autosave"?}``; 201, or 200
        when an autosave changed nothing."""
        body = await read_json(request)
        known_fields(body, {"base_version", "graph", "message", "autosave"})
        message, autosave = body.get("message", ""), body.get("autosave", False)
        if not isinstance(message, str) or not isinstance(autosave, bool):
            raise InvalidArgument("'message' must be a string and 'autosave' a boolean")
        await self._access.require_all(user_of(request), body.get("graph"), "the graph")
        call = canvas_pb2.SaveCanvasRequest(
            user_id=user_of(request),
            canvas_id=canvas_of(request),
            base_version=_version_number(body.get("base_version"), "base_version"),
            graph=_graph(body),
            message=message,
            autosave=autosave,
        )
        saved = await self._canvas.call(self._canvas.stub.SaveCanvas, call)
        return message_response(saved, 200 if saved.unchanged else 201)

    async def versions(self, request: web.Request) -> web.Response:
        call = canvas_pb2.ListVersionsRequest(
            user_id=user_of(request),
            canvas_id=canvas_of(request),
            page_size=query_int(request, "limit"),
            page_token=request.query.get("cursor", ""),
        )
        return revalidated_response(
            request, await self._canvas.call(self._canvas.stub.ListVersions, call)
        )

    async def version(self, request: web.Request) -> web.Response:
        call = canvas_pb2.GetVersionRequest(
            user_id=user_of(request),
            canvas_id=canvas_of(request),
            number=_version_in_url(request.match_info["number"], "version"),
        )
        return revalidated_response(
            request, await self._canvas.call(self._canvas.stub.GetVersion, call)
        )

    async def restore(self, request: web.Request) -> web.Response:
        body = await read_json(request)
        known_fields(body, {"base_version"})
        call = canvas_pb2.RestoreVersionRequest(
            user_id=user_of(request),
            canvas_id=canvas_of(request),
            number=_version_in_url(request.match_info["number"], "version"),
            base_version=_version_number(body.get("base_version"), "base_version"),
        )
        return message_response(
            await self._canvas.call(self._canvas.stub.RestoreVersion, call), 201
        )

    async def diff(self, request: web.Request) -> web.Response:
        call = canvas_pb2.DiffVersionsRequest(
            user_id=user_of(request),
            canvas_id=canvas_of(request),
            from_version=_version_in_url(request.query.get("from"), "from"),
            to_version=_version_in_url(request.query.get("to"), "to"),
        )
        return message_response(await self._canvas.call(self._canvas.stub.DiffVersions, call))

    async def execute(self, request: web.Request) -> web.Response:
        """Run a version (``{"version"}``, else the newest): 202 with every node's state."""
        body = await read_json(request, optional=True)
        known_fields(body, {"version"})
        version = body.get("version")
        call = canvas_pb2.ExecuteCanvasRequest(
            user_id=user_of(request),
            canvas_id=canvas_of(request),
            version=0 if version is None else _version_number(version, "version"),
        )
        return message_response(await self._canvas.call(self._canvas.stub.ExecuteCanvas, call), 202)

    async def results(self, request: web.Request) -> web.Response:
        version = request.query.get("version")
        call = canvas_pb2.GetNodeResultsRequest(
            user_id=user_of(request),
            canvas_id=canvas_of(request),
            version=0 if version is None else _version_in_url(version, "version"),
        )
        return message_response(await self._canvas.call(self._canvas.stub.GetNodeResults, call))


def user_of(request: web.Request) -> str:
    return str(request[IDENTITY].user_id)


def canvas_of(request: web.Request) -> str:
    return request.match_info["canvas_id"]


def _version_in_url(text: str | None, name: str) -> int:
    """A version number from a path or query string: digits."""
    return _version_number(int(text) if text and text.isdigit() and len(text) <= 9 else 0, name)


def _version_number(value: object, name: str) -> int:
    """A version number from JSON: a positive integer."""
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value < 2**31:
        raise InvalidArgument(f"'{name}' must be a version number (a positive integer)")
    return value


def _graph(body: dict[str, Any]) -> Struct:
    graph = body.get("graph")
    if not isinstance(graph, dict):
        raise InvalidArgument('\'graph\' must be an object: {"nodes": [...], "edges": [...]}')
    if _deeper_than(graph, MAX_GRAPH_DEPTH):
        raise InvalidArgument(f"'graph' is nested more than {MAX_GRAPH_DEPTH} levels deep")
    message = Struct()
    message.update(graph)
    return message


def _deeper_than(value: object, levels: int) -> bool:
    """Whether JSON ``value`` nests more than ``levels`` objects and arrays deep."""
    if not isinstance(value, dict | list):
        return False
    if levels == 0:
        return True
    children = value.values() if isinstance(value, dict) else value
    return any(_deeper_than(child, levels - 1) for child in children)
