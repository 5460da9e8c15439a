"""``GET /v1/openapi.json``: the OpenAPI 3.1 document of the public API, open to anyone."""

from __future__ import annotations

import json

from aiohttp import web

from services.gateway.openapi.document import document

__all__ = ["add_routes", "document"]


def add_routes(app: web.Application) -> None:
    # Serialised once: the document is the same for the life of the process.
    body = json.dumps(document(), separators=(",", ":")).encode()

    async def openapi(_: web.Request) -> web.Response:
        return web.Response(
            body=body, content_type="application/json", headers={"Cache-Control": "no-cache"}
        )

    app.router.add_get("/v1/openapi.json", openapi)
