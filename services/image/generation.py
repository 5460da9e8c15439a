"""``image.generate``: run a workflow on an external generation backend with ComfyUI's queue API.

The backend is a GPU box we do not control, so every call to it is guarded twice: each HTTP
call is retried a few times on outages (tenacity), and what still fails counts against one
circuit breaker per backend (purgatory). While a breaker is open, jobs are deferred without
touching the backend, so a dead GPU box delays jobs instead of spending their attempts.

Progress streams over the backend's WebSocket when it has one; the history endpoint stays the
source of truth for completion and outputs, and is polled either way.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, TypeVar

import aiohttp
from purgatory import AsyncCircuitBreakerFactory
from purgatory.domain.model import OPENED, OpenedState
from purgatory.service._async.circuitbreaker import AsyncCircuitBreaker
from tenacity import AsyncRetrying, retry_if_exception, stop_after_attempt, wait_random_exponential

from libs.blobs import BlobStore
from libs.errors import Deferred, JobCancelled, PermanentError
from libs.jobs import IMAGE_FIELD, FunctionSpec, JobContext
from libs.logs import get_logger
from services.image.settings import GenerationBackend
from services.image.thumbnails import ImageLimits, ImageRejected, probe

__all__ = [
    "GENERATE",
    "BackendUnavailable",
    "GenerationFunction",
]

T = TypeVar("T")
Stream = aiohttp.ClientWebSocketResponse
log = get_logger(__name__)

GENERATE = FunctionSpec(
    name="image.generate",
    input_schema={
        "type": "object",
        "required": ["backend", "workflow"],
        "additionalProperties": False,
        "properties": {
            "backend": {"type": "string", "minLength": 1, "maxLength": 64},
            "workflow": {"type": "object", "minProperties": 1, "maxProperties": 500},
        },
    },
    description="Run a ComfyUI-style workflow graph on a generation backend; store its images.",
)

_ATTEMPTS = 3  # per HTTP call, before what is left counts as one failure for the breaker
_BACKOFF = wait_random_exponential(multiplier=0.2, max=2.0)  # "full jitter"
_FINISHED = ("execution_success", "execution_error", "execution_interrupted")
_MAX_ERROR_CHARS = 500


class BackendUnavailable(RuntimeError):
    """The backend is down (connection error, timeout, 5xx) even after retries; retryable."""


def _is_outage(exc: BaseException) -> bool:
    """The backend is down, as opposed to answering no (4xx) or this worker giving up."""
    if isinstance(exc, aiohttp.ClientResponseError):
        return exc.status >= 500
    return isinstance(exc, aiohttp.ClientError | TimeoutError)


def _open_for(breaker: AsyncCircuitBreaker) -> float:
    """Seconds the breaker stays open; 0 when closed or due for its half-open probe."""
    context = breaker.context
    if context.state != OPENED or context.opened_at is None:
        return 0.0
    return max(0.0, context.opened_at + context.ttl - time.time())


def _trim(text: str) -> str:
    return text if len(text) <= _MAX_ERROR_CHARS else text[: _MAX_ERROR_CHARS - 3] + "..."


class GenerationFunction:
    """The ``image.generate`` job function; one HTTP session and one breaker per backend."""

    def __init__(
        self,
        backends: Iterable[GenerationBackend],
        blobs: BlobStore,
        *,
        max_image_bytes: int = 50 << 20,
        max_images: int = 64,
    ) -> None:
        self._backends = {backend.name: backend for backend in backends}
        self._blobs = blobs
        self._limits = ImageLimits(max_bytes=max_image_bytes)
        self._max_images = max_images
        self._session: aiohttp.ClientSession | None = None
        # Refusals (4xx), bad outputs and cancellation are no outages: they leave breakers alone.
        self._breakers = AsyncCircuitBreakerFactory(
            exclude=[(BaseException, lambda exc: not _is_outage(exc))]
        )

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def __call__(self, job_input: dict[str, Any], ctx: JobContext) -> dict[str, Any]:
        backend = self._backends.get(str(job_input.get("backend")))
        if backend is None:
            known = ", ".join(sorted(self._backends)) or "none"
            raise PermanentError(f"unknown backend {job_input.get('backend')!r}; known: {known}")
        workflow = job_input.get("workflow")
        if not isinstance(workflow, dict) or not workflow:
            raise PermanentError("'workflow' must be a non-empty workflow graph object")
        breaker = await self._breaker(backend)
        if _open_for(breaker) > 0:
            raise self._deferred(backend, breaker)

        client_id = uuid.uuid4().hex
        stream = await self._listen(backend, client_id)  # before submitting: no event is missed
        try:
            prompt_id = await self._submit(backend, workflow, client_id)
            try:
                async with asyncio.timeout(backend.timeout_s) as deadline:
                    record = await self._wait(backend, prompt_id, stream, ctx)
            except JobCancelled:
                await self._abandon(backend, prompt_id)
                raise
            except TimeoutError as exc:
                if not deadline.expired():
                    raise
                await self._abandon(backend, prompt_id)
                raise TimeoutError(
                    f"{backend.name} did not finish {prompt_id} in {backend.timeout_s:g} s"
                ) from exc
        finally:
            if stream is not None:
                await stream.close()
        images = [await self._store(backend, ref, ctx) for ref in self._outputs(backend, record)]
        await ctx.progress(100, f"{len(images)} image(s) stored")
        # The first saved image stands for the run where one image is read ({"from": job}).
        return {
            "backend": backend.name,
            "prompt_id": prompt_id,
            "images": images,
            IMAGE_FIELD: images[0]["blob"],
        }

    async def _wait(
        self, backend: GenerationBackend, prompt_id: str, stream: Stream | None, ctx: JobContext
    ) -> dict[str, Any]:
        """Progress from the stream while it lasts; completion only ever from the history."""
        loop = asyncio.get_running_loop()
        next_poll = loop.time() + backend.poll_interval_s
        while True:
            await ctx.check_cancelled()
            finished = False
            # receive(timeout=0) would mean "no timeout", hence the floor.
            wait = max(0.001, next_poll - loop.time())
            if stream is None:
                await asyncio.sleep(wait)
            else:
                try:
                    message = await stream.receive(timeout=wait)
                except TimeoutError:
                    pass
                else:
                    if message.type is aiohttp.WSMsgType.TEXT:
                        finished = await _on_event(message.data, prompt_id, ctx)
                    elif message.type is not aiohttp.WSMsgType.BINARY:  # closed: poll alone
                        stream = None
            if finished or loop.time() >= next_poll:
                record = await self._history(backend, prompt_id)
                if record is not None:
                    return record
                next_poll = loop.time() + backend.poll_interval_s

    def _outputs(self, backend: GenerationBackend, record: dict[str, Any]) -> list[dict[str, Any]]:
        """The saved images of a finished prompt. A failed or image-less run will not improve."""
        status = record.get("status") or {}
        if status.get("status_str", "success") != "success":
            raise PermanentError(f"{backend.name} failed the workflow: {_execution_error(status)}")
        refs = [
            image
            for node in (record.get("outputs") or {}).values()
            for image in (node.get("images") or [] if isinstance(node, dict) else [])
            if isinstance(image, dict) and image.get("type", "output") == "output"
        ]
        if not refs:
            raise PermanentError("the workflow saved no image; does it end in a SaveImage node?")
        if len(refs) > self._max_images:
            raise PermanentError(
                f"the workflow saved {len(refs)} images; at most {self._max_images}"
            )
        return refs

    async def _store(
        self, backend: GenerationBackend, ref: dict[str, Any], ctx: JobContext
    ) -> dict[str, str]:
        """Fetch one output and keep it; blobs are content-addressed, so a rerun stores it once."""
        await ctx.check_cancelled()
        data = await self._fetch(backend, ref)
        try:
            info = await asyncio.to_thread(probe, data, self._limits)
        except ImageRejected as exc:
            raise RuntimeError(f"{backend.name} output {ref.get('filename')!r}: {exc}") from exc
        content_type = f"image/{info.format}"
        digest = await self._blobs.put(data, content_type)
        return {"blob": digest, "content_type": content_type, "filename": str(ref.get("filename"))}

    # --- the backend's HTTP API ----------------------------------------------------------------

    async def _listen(self, backend: GenerationBackend, client_id: str) -> Stream | None:
        """The backend's progress stream, or None: then completion is found by polling alone."""
        try:
            async with asyncio.timeout(backend.request_timeout_s):
                return await self._http().ws_connect(
                    f"{backend.url}/ws",
                    params={"clientId": client_id},
                    timeout=aiohttp.ClientWSTimeout(ws_close=1.0),
                )
        except (aiohttp.ClientError, TimeoutError) as exc:
            log.info("generation.no_progress_stream", backend=backend.name, error=repr(exc))
            return None

    async def _submit(self, backend: GenerationBackend, workflow: dict[str, Any], cid: str) -> str:
        async def submit(http: aiohttp.ClientSession) -> str:
            body = {"prompt": workflow, "client_id": cid}
            async with http.post(f"{backend.url}/prompt", json=body) as resp:
                if resp.status == 400:
                    raise PermanentError(f"{backend.name} refused the workflow: {await _why(resp)}")
                resp.raise_for_status()
                return str((await resp.json())["prompt_id"])

        return await self._call(backend, submit)

    async def _history(self, backend: GenerationBackend, prompt_id: str) -> dict[str, Any] | None:
        """The prompt's history record once it has finished; None while queued or running."""

        async def poll(http: aiohttp.ClientSession) -> dict[str, Any] | None:
            async with http.get(f"{backend.url}/history/{prompt_id}") as resp:
                resp.raise_for_status()
                record = (await resp.json()).get(prompt_id)
                return record if isinstance(record, dict) else None

        return await self._call(backend, poll)

    async def _fetch(self, backend: GenerationBackend, ref: dict[str, Any]) -> bytes:
        """One output image, refused as soon as it is known to be over the byte limit."""
        limit = self._limits.max_bytes
        params = {key: str(ref.get(key, "")) for key in ("filename", "subfolder", "type")}
        too_large = PermanentError(f"output {params['filename']!r} is over {limit} bytes")

        async def fetch(http: aiohttp.ClientSession) -> bytes:
            async with http.get(f"{backend.url}/view", params=params) as resp:
                if resp.status == 404:
                    raise RuntimeError(f"{backend.name} has no output {params['filename']!r}")
                resp.raise_for_status()
                if (resp.content_length or 0) > limit:
                    raise too_large
                data = bytearray()
                async for chunk in resp.content.iter_chunked(1 << 16):
                    data += chunk
                    if len(data) > limit:
                        raise too_large
                return bytes(data)

        return await self._call(backend, fetch)

    async def _call(
        self, backend: GenerationBackend, request: Callable[[aiohttp.ClientSession], Awaitable[T]]
    ) -> T:
        """One HTTP exchange, retried on outages; if still down, one failure for the breaker."""
        breaker = await self._breaker(backend)
        try:
            async with breaker:
                async for attempt in AsyncRetrying(
                    stop=stop_after_attempt(_ATTEMPTS),
                    wait=_BACKOFF,
                    retry=retry_if_exception(_is_outage),
                    reraise=True,
                ):
                    with attempt:
                        async with asyncio.timeout(backend.request_timeout_s):
                            return await request(self._http())
        except OpenedState as exc:
            raise self._deferred(backend, breaker) from exc
        except Exception as exc:
            if not _is_outage(exc):
                raise
            if _open_for(breaker) > 0:  # this very failure may have opened it
                raise self._deferred(backend, breaker) from exc
            raise BackendUnavailable(f"{backend.name} is unavailable: {exc!r}") from exc
        raise AssertionError("unreachable")  # AsyncRetrying either returns or re-raises

    async def _abandon(self, backend: GenerationBackend, prompt_id: str) -> None:
        """Best effort: take the prompt off the queue, or stop it, so the GPU serves others."""
        for path, body in (
            ("queue", {"delete": [prompt_id]}),
            ("interrupt", {"prompt_id": prompt_id}),
        ):
            try:
                async with asyncio.timeout(backend.request_timeout_s):
                    async with self._http().post(f"{backend.url}/{path}", json=body):
                        pass
            except (aiohttp.ClientError, TimeoutError) as exc:
                log.warning("generation.abandon_failed", backend=backend.name, error=repr(exc))

    async def _breaker(self, backend: GenerationBackend) -> AsyncCircuitBreaker:
        return await self._breakers.get_breaker(
            backend.name, backend.breaker_threshold, backend.breaker_ttl_s
        )

    @staticmethod
    def _deferred(backend: GenerationBackend, breaker: AsyncCircuitBreaker) -> Deferred:
        delay_s = max(1.0, _open_for(breaker))
        return Deferred(f"backend {backend.name} is unavailable; its circuit is open", delay_s)

    def _http(self) -> aiohttp.ClientSession:
        # Created on first use: a session belongs to the event loop it is created in.
        if self._session is None:
            self._session = aiohttp.ClientSession()
        return self._session


async def _on_event(text: str, prompt_id: str, ctx: JobContext) -> bool:
    """Report a progress event; True once an event says the prompt has stopped running."""
    try:
        event = json.loads(text)
        kind, data = event["type"], event["data"]
    except (ValueError, KeyError, TypeError):
        return False
    if not isinstance(data, dict) or data.get("prompt_id", prompt_id) != prompt_id:
        return False
    if kind == "progress":
        value, most = data.get("value"), data.get("max")
        if isinstance(value, int | float) and isinstance(most, int | float) and most > 0:
            # 100 is kept for when the images are stored.
            await ctx.progress(min(99, int(100 * value / most)), f"step {value}/{most}")
        return False
    return kind in _FINISHED or (kind == "executing" and data.get("node") is None)


def _execution_error(status: dict[str, Any]) -> str:
    """Why a run failed, from the history's ``[event, data]`` messages."""
    try:
        for kind, data in status.get("messages") or []:
            if kind == "execution_interrupted":
                return "interrupted"
            if kind == "execution_error":
                where = f"{data.get('node_type', 'node')} {data.get('node_id', '?')}"
                return _trim(f"{where}: {data.get('exception_message', 'unknown error')}")
    except (ValueError, TypeError, AttributeError):  # not ComfyUI's shape
        pass
    return "unknown error"


async def _why(resp: aiohttp.ClientResponse) -> str:
    """The backend's reason for refusing a workflow: its message, then each node's errors."""
    text = await resp.text()
    try:
        body = json.loads(text)
        reasons = [f"{body['error']['message']} {body['error'].get('details', '')}"]
        reasons += [
            f"node {node_id}: {error['message']} {error.get('details', '')}"
            for node_id, node in (body.get("node_errors") or {}).items()
            for error in node["errors"]
        ]
    except (ValueError, LookupError, TypeError, AttributeError):  # not ComfyUI's shape
        return _trim(text)
    return _trim("; ".join(reason.strip() for reason in reasons))
