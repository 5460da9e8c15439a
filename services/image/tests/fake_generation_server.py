"""A fake generation backend with ComfyUI's queue API, whose behaviour each test switches.

Modes: "ok" (a few quick progress steps, then PNG outputs), "slow" (progress over ~1.5 s),
"failing" (every request answers 500), "flapping" (every other request answers 500),
"invalid" (400 on /prompt), "error" (the execution fails), "garbage" (/view returns bytes that
are no image). ``stop()`` takes it down. Calls are counted per route, e.g. ``calls["/prompt"]``.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

import pyvips
from aiohttp import WSMsgType, web

__all__ = ["FakeGenerationServer"]

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

_INVALID = {
    "error": {
        "type": "prompt_outputs_failed_validation",
        "message": "Prompt outputs failed validation",
        "details": "",
        "extra_info": {},
    },
    "node_errors": {
        "3": {
            "errors": [{"message": "Required input is missing", "details": "model"}],
            "dependent_outputs": ["9"],
            "class_type": "KSampler",
        }
    },
}


class FakeGenerationServer:
    def __init__(self, mode: str = "ok", *, websocket: bool = True, images: int = 2) -> None:
        self.mode = mode
        self.websocket = websocket
        self.images = images
        self.calls: Counter[str] = Counter()
        self.failures = 0  # requests answered with a 500 on purpose
        self.interrupts: list[dict[str, Any]] = []
        self.deleted: list[str] = []
        self.started = asyncio.Event()  # some prompt has begun executing
        self.url = ""
        self._history: dict[str, dict[str, Any]] = {}
        self._files: dict[str, bytes] = {}
        self._interrupted: set[str] = set()
        self._sockets: dict[str, web.WebSocketResponse] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._runner: web.AppRunner | None = None

    async def start(self) -> str:
        app = web.Application(middlewares=[self._behave])
        app.router.add_post("/prompt", self._prompt)
        app.router.add_get("/history/{prompt_id}", self._history_of)
        app.router.add_get("/view", self._view)
        app.router.add_get("/ws", self._ws)
        app.router.add_post("/interrupt", self._interrupt)
        app.router.add_post("/queue", self._queue)
        self._runner = web.AppRunner(app, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        host, port = self._runner.addresses[0][:2]
        self.url = f"http://{host}:{port}"
        return self.url

    async def stop(self) -> None:
        """Go down: executions stop, sockets close, new connections are refused."""
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for socket in list(self._sockets.values()):
            await socket.close()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    @web.middleware
    async def _behave(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        route = request.match_info.route.resource
        self.calls[route.canonical if route is not None else request.path] += 1
        if self.mode == "failing" or (self.mode == "flapping" and sum(self.calls.values()) % 2):
            self.failures += 1
            raise web.HTTPInternalServerError(text="the GPU is on fire")
        return await handler(request)

    async def _prompt(self, request: web.Request) -> web.Response:
        if self.mode == "invalid":
            return web.json_response(_INVALID, status=400)
        body = await request.json()
        prompt_id = str(uuid.uuid4())
        task = asyncio.create_task(self._execute(prompt_id, str(body.get("client_id")), self.mode))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return web.json_response({"prompt_id": prompt_id, "number": len(self._history)})

    async def _execute(self, prompt_id: str, client_id: str, mode: str) -> None:
        steps, step_s = (6, 0.25) if mode == "slow" else (4, 0.01)
        self.started.set()
        await self._send(client_id, "execution_start", {"prompt_id": prompt_id})
        for step in range(1, steps + 1):
            await asyncio.sleep(step_s)
            if prompt_id in self._interrupted:
                interrupted = {"prompt_id": prompt_id, "node_id": "3", "node_type": "KSampler"}
                self._finish(prompt_id, "error", [["execution_interrupted", interrupted]])
                await self._send(client_id, "execution_interrupted", interrupted)
                return
            progress = {"value": step, "max": steps, "prompt_id": prompt_id, "node": "3"}
            await self._send(client_id, "progress", progress)
        if mode == "error":
            error = {"prompt_id": prompt_id, "node_id": "3", "node_type": "KSampler",
                     "exception_message": "CUDA out of memory"}  # fmt: skip
            self._finish(prompt_id, "error", [["execution_error", error]])
            await self._send(client_id, "execution_error", error)
            return
        saved = []
        for index in range(self.images):
            filename = f"{prompt_id}_{index:05}.png"
            self._files[filename] = pyvips.Image.black(8 + index, 8).write_to_buffer(".png")
            saved.append({"filename": filename, "subfolder": "", "type": "output"})
        preview = {"filename": "preview.png", "subfolder": "", "type": "temp"}  # not an output
        outputs = {"9": {"images": saved}, "10": {"images": [preview]}}
        await self._send(client_id, "execution_success", {"prompt_id": prompt_id})
        self._finish(prompt_id, "success", [], outputs)
        await self._send(client_id, "executing", {"node": None, "prompt_id": prompt_id})

    def _finish(
        self, prompt_id: str, status: str, messages: list[Any], outputs: Any = None
    ) -> None:
        self._history[prompt_id] = {
            "prompt": [],
            "outputs": outputs or {},
            "status": {
                "status_str": status,
                "completed": status == "success",
                "messages": messages,
            },
        }

    async def _send(self, client_id: str, kind: str, data: dict[str, Any]) -> None:
        socket = self._sockets.get(client_id)
        if socket is not None and not socket.closed:
            await socket.send_json({"type": kind, "data": data})

    async def _history_of(self, request: web.Request) -> web.Response:
        prompt_id = request.match_info["prompt_id"]
        record = self._history.get(prompt_id)
        return web.json_response({prompt_id: record} if record else {})

    async def _view(self, request: web.Request) -> web.Response:
        data = self._files.get(request.query.get("filename", ""))
        if data is None or request.query.get("type") != "output":
            raise web.HTTPNotFound()
        if self.mode == "garbage":
            data = b"this is not a PNG"
        return web.Response(body=data, content_type="image/png")

    async def _ws(self, request: web.Request) -> web.StreamResponse:
        if not self.websocket:
            raise web.HTTPNotFound()
        socket = web.WebSocketResponse()
        await socket.prepare(request)
        client_id = request.query.get("clientId", "")
        self._sockets[client_id] = socket
        try:
            await socket.send_json({"type": "status", "data": {"sid": client_id}})
            async for message in socket:
                if message.type is WSMsgType.ERROR:
                    break
        finally:
            self._sockets.pop(client_id, None)
        return socket

    async def _interrupt(self, request: web.Request) -> web.Response:
        body = await request.json() if request.can_read_body else {}
        self.interrupts.append(body)
        self._interrupted.add(str(body.get("prompt_id")))
        return web.Response()

    async def _queue(self, request: web.Request) -> web.Response:
        self.deleted.extend((await request.json()).get("delete", []))
        return web.Response()
