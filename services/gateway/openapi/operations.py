"""Every operation of the public API: what it takes, what it answers, how it fails.

Response bodies made from protobuf replies take their schemas from the messages themselves
(``protoschema``); the JSON bodies the handlers read, and the few answers they compose, are
written out here beside the route they belong to.
"""

from __future__ import annotations

from typing import Final

from google.protobuf.descriptor import Descriptor, ServiceDescriptor

from services.gateway.batching import BATCH_PATH, MAX_ID_CHARS, MAX_REQUESTS, METHODS
from services.gateway.canvas_shares import ACCESS as SHARE_ACCESS
from services.gateway.canvas_shares import MAX_USER_CHARS
from services.gateway.images import MAX_OPTIONS, OPTIONS_PATTERN
from services.gateway.openapi.parts import (
    BINARY,
    IF_NONE_MATCH,
    PAGE,
    STRING,
    Operation,
    Param,
    Reply,
    obj,
)
from services.gateway.openapi.protoschema import JsonSchema, MessageSchemas
from services.gateway.renders import FORMATS
from shotgraph.auth.v1 import auth_pb2
from shotgraph.batch.v1 import batch_pb2
from shotgraph.canvas.v1 import canvas_pb2
from shotgraph.image.v1 import image_pb2
from shotgraph.render.v1 import render_pb2

__all__ = ["operations"]

# Every call of the API can be refused on these grounds.
_CALL: Final = frozenset({400, 401, 403, 429, 503})
_VERSION: Final[JsonSchema] = {"type": "integer", "minimum": 1, "maximum": 2**31 - 1}
_ANY_JSON: Final[JsonSchema] = {"type": ["null", "boolean", "number", "string", "array", "object"]}
_DIGEST: Final[JsonSchema] = {"type": "string", "pattern": "^[0-9a-f]{64}$"}
_IDEMPOTENCY_KEY: Final = Param(
    "Idempotency-Key", "header", {"type": "string", "maxLength": 255}, "A repeat is answered 200."
)
# A canvas's name: trimmed, 1-200 characters and no control character (the canvas service's
# rules; a pattern cannot say "once trimmed", so the bounds are loose here).
_CANVAS_NAME: Final[JsonSchema] = {
    "type": "string",
    "minLength": 1,
    "pattern": "^[^\\x00-\\x1f\\x7f-\\x9f]*$",
}
_REVOKED: Final = obj({"sessions_revoked": {"type": "integer", "minimum": 0}}, "sessions_revoked")


def _batch() -> Operation:
    headers: JsonSchema = {
        "type": "object",
        "additionalProperties": {"type": "string"},
        "maxProperties": 64,
    }
    request = obj(
        {
            "id": {"type": "string", "minLength": 1, "maxLength": MAX_ID_CHARS},
            "method": {"type": "string", "enum": sorted(METHODS)},
            "url": {"type": "string", "pattern": "^/", "maxLength": 2048},
            "headers": headers,
            "body": _ANY_JSON,
            "dependsOn": {"type": "array", "items": {"type": "string"}, "maxItems": MAX_REQUESTS},
        },
        "id",
        "method",
        "url",
    )
    response = obj(
        {
            "id": STRING,
            "status": {"type": "integer", "minimum": 100, "maximum": 599},
            "headers": headers,
            "body": _ANY_JSON,
        },
        "id",
        "status",
        "headers",
    )
    return Operation(
        "POST",
        BATCH_PATH,
        "Up to 20 calls of this API in one round trip (Microsoft Graph's JSON batching): each"
        " is routed, authenticated, limited and checked as if sent alone",
        "batching",
        (
            Reply(
                200,
                "Every call's answer, in the order asked; 424 for one whose dependency failed.",
                obj({"responses": {"type": "array", "items": response}}, "responses"),
            ),
        ),
        _CALL | {413},
        body=obj(
            {
                "requests": {
                    "type": "array",
                    "items": request,
                    "minItems": 1,
                    "maxItems": MAX_REQUESTS,
                }
            },
            "requests",
        ),
    )


def _output(service: ServiceDescriptor, method: str) -> Descriptor:
    return service.methods_by_name[method].output_type


def _path(name: str, description: str, schema: JsonSchema = STRING) -> Param:
    return Param(name, "path", schema, description)


def operations(messages: MessageSchemas) -> list[Operation]:
    """The whole API, with the schemas of the messages it answers collected in ``messages``."""
    return [
        *_canvases(messages),
        *_batches(messages),
        *_blobs_and_images(messages),
        *_renders(messages),
        *_accounts(messages),
        _batch(),
        *_live(),
        Operation(
            "GET",
            "/v1/openapi.json",
            "This document",
            "meta",
            (
                Reply(
                    200,
                    "The OpenAPI 3.1 document of this API.",
                    obj(
                        {
                            "openapi": STRING,
                            "info": {"type": "object"},
                            "paths": {"type": "object"},
                        },
                        "openapi",
                        "info",
                        "paths",
                        closed=False,
                    ),
                ),
            ),
            frozenset({429}),
        ),
    ]


def _live() -> list[Operation]:
    """The live connections (``docs/live-events.md``) and the tokens that open them."""
    tag = "events"
    seq: JsonSchema = {"type": "string", "pattern": "^[0-9]{1,19}$"}
    token = Param(
        "token",
        "query",
        {"type": "string", "maxLength": 256},
        "A stream token (`POST /v1/events/tokens`), for a client that cannot set a header.",
    )
    return [
        Operation(
            "POST",
            "/v1/events/tokens",
            "A stream token: opens live connections (`?token=` on `/v1/events` and `/v1/ws`) for"
            " 60 s, as the session or key that asked, and what it opened ends with that",
            tag,
            (
                Reply(
                    200,
                    "The token, shown once, and when it stops opening connections (epoch s).",
                    obj(
                        {"token": STRING, "expires_at": {"type": "integer", "minimum": 0}},
                        "token",
                        "expires_at",
                    ),
                ),
            ),
            _CALL,
            body=None,
        ),
        Operation(
            "GET",
            "/v1/events",
            "The caller's live events as Server-Sent Events (resumes after `Last-Event-ID`)",
            tag,
            (
                Reply(
                    200, "The event stream, until the client leaves.", STRING, "text/event-stream"
                ),
            ),
            _CALL,
            params=(
                Param("Last-Event-ID", "header", seq, "The last event seen."),
                Param("last_event_id", "query", seq, "The same, where a header cannot be set."),
                Param(
                    "topics",
                    "query",
                    {"type": "string", "maxLength": 10_000},
                    "Topics beside the user's own feed, comma-separated: `canvas:<id>`,"
                    " `batch:<id>`, `render:<id>`.",
                ),
                token,
            ),
        ),
        Operation(
            "GET",
            "/v1/ws",
            "The caller's live connection as a WebSocket (subprotocol `shotgraph.v1.msgpack` or"
            " `shotgraph.v1.json`); a cookie upgrade must come from an allowed `Origin`",
            tag,
            (Reply(101, "Switching protocols: the WebSocket, until either side closes it."),),
            _CALL,
            params=(
                Param(
                    "Sec-WebSocket-Protocol",
                    "header",
                    STRING,
                    "The subprotocols offered; the one chosen is in the answer's header.",
                    required=True,
                ),
                token,
            ),
        ),
    ]


def _canvases(m: MessageSchemas) -> list[Operation]:
    canvas = canvas_pb2.DESCRIPTOR.services_by_name["CanvasService"]

    def out(method: str) -> JsonSchema:
        return m.of(_output(canvas, method))

    graph = {"type": "object", "description": '{"nodes": [...], "edges": [...]}'}
    canvas_id = _path("canvas_id", "The canvas.")
    number = _path("number", "A version number.", _VERSION)
    tag = "canvases"
    found = _CALL | {404}
    return [
        Operation(
            "GET",
            "/v1/canvas-node-types",
            "The node types a canvas may hold, with their ports and properties",
            tag,
            (Reply(200, "The node types.", out("ListNodeTypes")),),
            _CALL,
            revalidated=True,
        ),
        Operation(
            "POST",
            "/v1/graphs/validate",
            "Check a graph without saving it",
            tag,
            (Reply(200, "What is wrong with it, if anything.", out("ValidateGraph")),),
            _CALL | {413},
            body=obj({"graph": graph}, "graph", closed=False),
        ),
        Operation(
            "POST",
            "/v1/canvases",
            "Create a canvas",
            tag,
            (Reply(201, "The new canvas.", out("CreateCanvas")),),
            _CALL | {413},
            body=obj({"name": _CANVAS_NAME}, "name", closed=False),
        ),
        Operation(
            "GET",
            "/v1/canvases",
            "The caller's canvases, a page at a time",
            tag,
            (Reply(200, "A page of canvases.", out("ListCanvases")),),
            _CALL,
            params=PAGE,
        ),
        Operation(
            "GET",
            "/v1/canvases/{canvas_id}",
            "A canvas with its newest version",
            tag,
            (Reply(200, "The canvas.", out("GetCanvas")),),
            found,
            params=(
                canvas_id,
                Param(
                    "with",
                    "query",
                    {"type": "string", "enum": ["problems"]},
                    "`problems`: also what validation finds in the newest graph (`problems`, as"
                    " `POST /v1/graphs/validate` answers), for an editor opening the canvas.",
                ),
            ),
            revalidated=True,
        ),
        Operation(
            "PATCH",
            "/v1/canvases/{canvas_id}",
            "Rename a canvas (its owner, or a user it is shared with to write)",
            tag,
            (Reply(200, "The canvas renamed.", out("RenameCanvas")),),
            found | {413},
            params=(canvas_id,),
            body=obj({"name": _CANVAS_NAME}, "name"),
        ),
        Operation(
            "DELETE",
            "/v1/canvases/{canvas_id}",
            "Delete a canvas with its versions and shares (its owner only): its viewers lose it"
            " at once",
            tag,
            (Reply(204, "Deleted."),),
            found,
            params=(canvas_id,),
        ),
        Operation(
            "POST",
            "/v1/canvases/{canvas_id}/versions",
            "Save a new version on top of `base_version`",
            tag,
            (
                Reply(201, "The new version.", out("SaveCanvas")),
                Reply(
                    200, "An autosave that changed nothing: the current version.", out("SaveCanvas")
                ),
            ),
            found | {409, 413, 422},
            params=(canvas_id,),
            body=obj(
                {
                    "base_version": _VERSION,
                    "graph": graph,
                    "message": STRING,
                    "autosave": {"type": "boolean"},
                },
                "base_version",
                "graph",
            ),
        ),
        Operation(
            "GET",
            "/v1/canvases/{canvas_id}/versions",
            "A canvas's versions, newest first",
            tag,
            (Reply(200, "A page of versions.", out("ListVersions")),),
            found,
            params=(canvas_id, *PAGE),
            revalidated=True,
        ),
        Operation(
            "GET",
            "/v1/canvases/{canvas_id}/versions/{number}",
            "One version of a canvas",
            tag,
            (Reply(200, "The version.", out("GetVersion")),),
            found,
            params=(canvas_id, number),
            revalidated=True,
        ),
        Operation(
            "POST",
            "/v1/canvases/{canvas_id}/versions/{number}/restore",
            "Make an old version the newest again",
            tag,
            (Reply(201, "The new version, a copy of the old one.", out("RestoreVersion")),),
            found | {409, 413},
            params=(canvas_id, number),
            body=obj({"base_version": _VERSION}, "base_version"),
        ),
        Operation(
            "GET",
            "/v1/canvases/{canvas_id}/diff",
            "What changed between two versions",
            tag,
            (Reply(200, "The difference.", out("DiffVersions")),),
            found,
            params=(
                canvas_id,
                Param("from", "query", _VERSION, "The older version.", required=True),
                Param("to", "query", _VERSION, "The newer version.", required=True),
            ),
        ),
        Operation(
            "POST",
            "/v1/canvases/{canvas_id}/shares",
            "Share a canvas with another user, named by user name or email (exactly, letter case"
            " aside) or by id; `none` takes the share back (the owner only)",
            tag,
            (Reply(200, "The share, with the user's id and name.", out("ShareCanvas")),),
            found | {409, 413},
            params=(canvas_id,),
            body={
                **obj(
                    {
                        "user": {
                            "type": "string",
                            "minLength": 1,
                            "maxLength": MAX_USER_CHARS,
                            "description": "A user name or an email.",
                        },
                        "user_id": STRING,
                        "access": {"type": "string", "enum": list(SHARE_ACCESS)},
                    },
                    "access",
                ),
                "oneOf": [{"required": ["user"]}, {"required": ["user_id"]}],
            },
        ),
        Operation(
            "GET",
            "/v1/canvases/{canvas_id}/shares",
            "Whom a canvas is shared with (the owner only)",
            tag,
            (Reply(200, "Every share, oldest first, with each user's name.", out("ListShares")),),
            found,
            params=(canvas_id,),
            revalidated=True,
        ),
        Operation(
            "POST",
            "/v1/canvases/{canvas_id}/execute",
            "Run a version (the newest unless `version` is given)",
            tag,
            (Reply(202, "Accepted: every node's state.", out("ExecuteCanvas")),),
            found | {409, 413, 422},
            params=(canvas_id,),
            body=obj({"version": _VERSION}),
            body_required=False,
        ),
        Operation(
            "GET",
            "/v1/canvases/{canvas_id}/results",
            "The results of each node of a version",
            tag,
            (Reply(200, "Each node's results.", out("GetNodeResults")),),
            found,
            params=(canvas_id, Param("version", "query", _VERSION, "The version; the newest.")),
        ),
    ]


def _batches(m: MessageSchemas) -> list[Operation]:
    batch = batch_pb2.DESCRIPTOR.services_by_name["BatchService"]

    def out(method: str) -> JsonSchema:
        return m.of(_output(batch, method))

    the_batch = m.of(_output(batch, "SubmitBatch").fields_by_name["batch"].message_type)
    batch_id = _path("batch_id", "The batch.")
    job = obj(
        {
            "function": STRING,
            "input": {"type": "object"},
            "key": STRING,
            "depends_on": {"type": "array", "items": STRING},
        },
        "function",
        closed=False,
    )
    tag = "batches"
    found = _CALL | {404}
    no_fields = obj({})
    return [
        Operation(
            "POST",
            "/v1/batches",
            "Submit a batch of jobs",
            tag,
            (
                Reply(202, "Accepted: the new batch.", the_batch),
                Reply(200, "The batch first submitted with this Idempotency-Key.", the_batch),
            ),
            _CALL | {404, 409, 413, 422},
            params=(_IDEMPOTENCY_KEY,),
            body=obj(
                {
                    "canvas_id": STRING,
                    "priority": STRING,
                    "idempotency_key": STRING,
                    "jobs": {"type": "array", "items": job},
                },
                "jobs",
                closed=False,
            ),
        ),
        Operation(
            "GET",
            "/v1/batches",
            "The caller's batches, newest first",
            tag,
            (Reply(200, "A page of batches.", out("ListBatches")),),
            _CALL,
            params=PAGE,
        ),
        Operation(
            "GET",
            "/v1/batches/{batch_id}",
            "A batch and its progress",
            tag,
            (Reply(200, "The batch.", out("GetBatch")),),
            found,
            params=(batch_id,),
        ),
        Operation(
            "GET",
            "/v1/batches/{batch_id}/jobs",
            "A batch's jobs",
            tag,
            (Reply(200, "A page of jobs.", out("ListJobs")),),
            found,
            params=(batch_id, *PAGE),
        ),
        Operation(
            "POST",
            "/v1/batches/{batch_id}/cancel",
            "Cancel what is left of a batch",
            tag,
            (Reply(200, "The batch.", out("CancelBatch")),),
            found | {409, 413},
            params=(batch_id,),
            body=no_fields,
            body_required=False,
        ),
        Operation(
            "POST",
            "/v1/batches/{batch_id}/retry",
            "Run a batch's failed jobs again",
            tag,
            (Reply(200, "The batch.", out("RetryBatch")),),
            found | {409, 413},
            params=(batch_id,),
            body=no_fields,
            body_required=False,
        ),
        Operation(
            "GET",
            "/v1/jobs/{job_id}",
            "One job",
            tag,
            (Reply(200, "The job.", out("GetJob")),),
            found,
            params=(_path("job_id", "The job."),),
        ),
        Operation(
            "GET",
            "/v1/queues",
            "How much work waits in each queue",
            tag,
            (Reply(200, "The queues.", out("GetQueues")),),
            _CALL,
        ),
    ]


def _blobs_and_images(m: MessageSchemas) -> list[Operation]:
    uploaded = m.fields_of(image_pb2.Blob.DESCRIPTOR)
    uploaded["properties"]["thumbnail_url"] = {"type": "string", "format": "uri-reference"}
    uploaded["required"] = [*uploaded.get("required", ()), "thumbnail_url"]
    blob = Reply(
        200, "The blob's bytes, as their own type.", BINARY, "*/*", ("ETag", "Cache-Control")
    )
    not_modified = Reply(304, "The client's copy is current.", headers=("ETag", "Cache-Control"))
    return [
        Operation(
            "POST",
            "/v1/blobs",
            "Upload a file (an image) as the raw request body",
            "blobs",
            (
                Reply(201, "Stored.", uploaded, headers=("Location",)),
                Reply(200, "These bytes were uploaded before.", uploaded, headers=("Location",)),
            ),
            _CALL | {413, 422},
            params=(Param("filename", "query", {"type": "string"}, "The file's name."),),
            body=BINARY,
            body_type="application/octet-stream",
        ),
        Operation(
            "GET",
            "/v1/blobs/{digest}",
            "A blob by its SHA-256",
            "blobs",
            (blob, not_modified),
            _CALL | {404},
            params=(_path("digest", "The blob's SHA-256, lowercase hex.", _DIGEST), IF_NONE_MATCH),
        ),
        Operation(
            "POST",
            "/v1/images/urls",
            "A signed public URL for a blob processed by `options`",
            "images",
            (
                Reply(
                    200,
                    "The URL, which expires (its `exp:` option, signed with it).",
                    obj(
                        {
                            "url": {"type": "string", "format": "uri-reference"},
                            "expires_at": {"type": "string", "format": "date-time"},
                        },
                        "url",
                        "expires_at",
                    ),
                ),
            ),
            _CALL | {404, 413},
            body=obj(
                {
                    "blob": _DIGEST,
                    "options": {
                        "type": "string",
                        "maxLength": MAX_OPTIONS,
                        "pattern": f"^{OPTIONS_PATTERN.pattern}$",
                    },
                },
                "blob",
                closed=False,
            ),
        ),
        Operation(
            "GET",
            "/images/{signature}/{tail}",
            "An image variant by signed URL (no credential: the signature is one)",
            "images",
            (blob, not_modified),
            frozenset({400, 403, 404, 422, 429, 503}),
            params=(
                _path("signature", "HMAC-SHA256 of the path after it."),
                _path("tail", "`{options}/{blob}` or `{blob}`: may hold slashes."),
                Param("Accept", "header", STRING, "The image formats the client takes."),
                IF_NONE_MATCH,
            ),
        ),
    ]


def _render_json(m: MessageSchemas) -> JsonSchema:
    """``renders.render_json``: outputs, colours and cached appear once it succeeded."""
    output = obj({"blob": _DIGEST, "url": STRING}, "blob", "url")
    strings = {"type": "array", "items": STRING}
    return obj(
        {
            "id": STRING,
            "batch_id": STRING,
            "state": STRING,
            "progress": {"type": "integer", "minimum": 0, "maximum": 100},
            "formats": strings,
            "parameters": {"type": "object", "additionalProperties": _ANY_JSON},
            "view": m.of(render_pb2.View.DESCRIPTOR, sparse=True),
            "outputs": {"type": "object", "additionalProperties": output},
            "colours": strings,
            "cached": strings,
            "error": STRING,
        },
        "id",
        "batch_id",
        "state",
        "progress",
        "formats",
        "parameters",
        "view",
    )


def _renders(m: MessageSchemas) -> list[Operation]:
    render = render_pb2.DESCRIPTOR.services_by_name["RenderService"]
    spec = m.fields_of(render_pb2.RenderSpec.DESCRIPTOR)
    spec["required"] = ["source"]
    source = obj({"source": STRING}, "source", closed=False)
    rendered = _render_json(m)
    render_id = _path("render_id", "The render.")
    tag = "renders"
    return [
        Operation(
            "POST",
            "/v1/render/parameters",
            "The customizer parameters an OpenSCAD model declares",
            tag,
            (Reply(200, "The parameters.", m.of(_output(render, "GetParameters"))),),
            _CALL | {413, 422},
            body=source,
        ),
        Operation(
            "POST",
            "/v1/render/preview",
            "A quick PNG preview, while the caller waits",
            tag,
            (
                Reply(
                    200,
                    "The preview.",
                    BINARY,
                    "image/png",
                    ("ETag", "Cache-Control", "X-Render-Cache"),
                ),
            ),
            _CALL | {413, 422},
            body=spec,
        ),
        Operation(
            "POST",
            "/v1/renders",
            "Queue a render",
            tag,
            (
                Reply(202, "Accepted: follow it at `Location`.", rendered, headers=("Location",)),
                Reply(
                    200,
                    "The render first started with this Idempotency-Key.",
                    rendered,
                    headers=("Location",),
                ),
            ),
            _CALL | {413, 422},
            params=(_IDEMPOTENCY_KEY,),
            body=spec,
        ),
        Operation(
            "GET",
            "/v1/renders/{render_id}",
            "A render's state and, once done, its outputs",
            tag,
            (Reply(200, "The render.", rendered),),
            _CALL | {404},
            params=(render_id,),
        ),
        Operation(
            "GET",
            "/v1/renders/{render_id}/{format}",
            "One output file of a finished render",
            tag,
            (
                Reply(
                    200,
                    "The file.",
                    BINARY,
                    "*/*",
                    ("ETag", "Cache-Control", "Content-Disposition"),
                ),
                Reply(304, "The client's copy is current.", headers=("ETag", "Cache-Control")),
            ),
            _CALL | {404, 409, 422},
            params=(
                render_id,
                _path("format", "The output's format.", {"type": "string", "enum": list(FORMATS)}),
                IF_NONE_MATCH,
            ),
        ),
    ]


def _accounts(m: MessageSchemas) -> list[Operation]:
    auth = auth_pb2.DESCRIPTOR.services_by_name["AuthService"]

    def out(method: str) -> JsonSchema:
        return m.of(_output(auth, method))

    identity = obj(
        {
            "user_id": STRING,
            "user_name": STRING,
            "credential_kind": {"type": "string", "enum": ["session", "key"]},
            "credential_id": STRING,
            "scopes": {"type": "array", "items": STRING},
            "plan": STRING,
            "expires_at": {"type": ["string", "null"], "format": "date-time"},
        },
        "user_id",
        "user_name",
        "credential_kind",
        "credential_id",
        "scopes",
        "plan",
        "expires_at",
    )
    signed_in = obj(
        {
            "identity": identity,
            "session": m.of(auth_pb2.SessionInfo.DESCRIPTOR),
            "csrf_token": STRING,
        },
        "identity",
        "session",
        "csrf_token",
    )
    new_key = m.fields_of(auth_pb2.ApiKey.DESCRIPTOR)
    new_key["properties"]["key"] = STRING
    new_key["required"] = [*new_key.get("required", ()), "key"]
    password = {"type": "string", "minLength": 1, "maxLength": 256}
    user_name = {"type": "string", "minLength": 1, "maxLength": 63}
    secret = ("Cache-Control",)
    tag = "accounts"
    no_content = Reply(204, "Done.")
    return [
        Operation(
            "POST",
            "/v1/auth/login",
            "Sign in: a session in the `HttpOnly` cookie, and its CSRF token",
            tag,
            (Reply(200, "Signed in.", signed_in, headers=secret),),
            _CALL | {413},
            body=obj({"user_name": user_name, "password": password}, "user_name", "password"),
        ),
        Operation(
            "POST",
            "/v1/auth/logout",
            "End the caller's session",
            tag,
            (no_content,),
            _CALL | {413},
        ),
        Operation(
            "GET",
            "/v1/auth/session",
            "Who is calling; for a session, a fresh CSRF token",
            tag,
            (
                Reply(
                    200,
                    "The identity.",
                    obj({"identity": identity, "csrf_token": STRING}, "identity"),
                    headers=secret,
                ),
            ),
            _CALL,
        ),
        Operation(
            "POST",
            "/v1/auth/password",
            "Change the password (from a session); every other session ends",
            tag,
            (Reply(200, "Changed.", _REVOKED),),
            _CALL | {413},
            body=obj(
                {"current_password": password, "new_password": password},
                "current_password",
                "new_password",
            ),
        ),
        Operation(
            "GET",
            "/v1/sessions",
            "The caller's sessions",
            tag,
            (Reply(200, "The sessions.", out("ListSessions")),),
            _CALL,
        ),
        Operation(
            "DELETE",
            "/v1/sessions",
            "End every session but the one asking",
            tag,
            (Reply(200, "Ended.", _REVOKED),),
            _CALL,
        ),
        Operation(
            "DELETE",
            "/v1/sessions/{session_id}",
            "End one session",
            tag,
            (Reply(200, "Ended.", _REVOKED),),
            _CALL | {404},
            params=(_path("session_id", "The session."),),
        ),
        Operation(
            "GET",
            "/v1/keys",
            "The caller's API keys",
            tag,
            (Reply(200, "A page of keys.", out("ListApiKeys")),),
            _CALL,
            params=PAGE,
        ),
        Operation(
            "POST",
            "/v1/keys",
            "Create an API key: the key is in this answer and never again",
            tag,
            (Reply(201, "The key.", new_key, headers=secret),),
            _CALL | {413},
            body=obj(
                {
                    "name": {"type": "string", "minLength": 1, "maxLength": 100},
                    "scopes": {
                        "type": "array",
                        "minItems": 1,
                        "items": {"type": "string", "enum": ["read", "write", "admin"]},
                    },
                    "expires_in_days": {"type": "integer", "minimum": 1, "maximum": 3650},
                },
                "name",
            ),
        ),
        Operation(
            "DELETE",
            "/v1/keys/{key_id}",
            "Revoke an API key",
            tag,
            (no_content,),
            _CALL | {404},
            params=(_path("key_id", "The key."),),
        ),
        Operation(
            "POST",
            "/v1/invites",
            "Invite someone (admins): the token is in this answer and never again",
            tag,
            (Reply(201, "The invitation.", out("CreateInvite"), headers=secret),),
            _CALL | {413},
            body=obj(
                {
                    "email": {"type": "string", "maxLength": 254},
                    "is_admin": {"type": "boolean"},
                    "plan": {"type": "string", "maxLength": 32},
                    "valid_for_s": {"type": "integer", "minimum": 0},
                }
            ),
        ),
        Operation(
            "POST",
            "/v1/invites/accept",
            "Accept an invitation: the account is made and signed in",
            tag,
            (Reply(201, "Signed up and in.", signed_in, headers=secret),),
            _CALL | {404, 409, 413},
            body=obj(
                {"token": password, "user_name": user_name, "password": password},
                "token",
                "user_name",
                "password",
            ),
        ),
        Operation(
            "GET",
            "/v1/audit",
            "The caller's audit log; `all=true`: everyone's, for admins",
            tag,
            (Reply(200, "A page of entries.", out("ListAuditEvents")),),
            _CALL,
            params=(
                Param("all", "query", {"type": "string", "enum": ["true", "false"]}, "Everyone's."),
                *PAGE,
            ),
        ),
    ]
