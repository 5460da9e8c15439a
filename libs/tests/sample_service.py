"""A minimal service for the runner tests: spawned workers import its ``build`` by name."""

from __future__ import annotations

import asyncio
import os
from contextlib import AsyncExitStack

from aiohttp import web

from libs.config import Settings
from libs.runner import ServiceParts
from libs.web import create_app

SLOW_S = 1.5


class SampleSettings(Settings):
    """The sample service reads only what every service does."""

    service = "sample"


class UnparsedSettings(SampleSettings):
    """A field declared without a parser: the runner must refuse to start with it."""

    colour: str = "red"


async def build(settings: SampleSettings, stack: AsyncExitStack) -> ServiceParts:
    app = create_app(settings.service, max_body_bytes=settings.max_body_bytes)

    async def pid(_: web.Request) -> web.Response:
        return web.json_response({"pid": os.getpid()})

    async def slow(request: web.Request) -> web.StreamResponse:
        """Sends the status and a first line at once, so a client knows it is in flight."""
        response = web.StreamResponse()
        await response.prepare(request)
        await response.write(b"started\n")
        await asyncio.sleep(SLOW_S)
        await response.write(b"done\n")
        await response.write_eof()
        return response

    app.router.add_get("/pid", pid)
    app.router.add_get("/slow", slow)
    return ServiceParts(app=app)
