"""Who may read a blob: a user who uploaded it, whose job produced it, or who can read a canvas
that references it.

The services that keep those records answer for them (``CanReadBlob`` on image, batch and
canvas); the gateway asks all three at once and takes the first yes, so a download waits for
the slowest "no" only when nobody grants it. A blob nobody grants is a 404, as if it did not
exist: a SHA-256 alone must not tell a user that someone else holds those bytes.

Whatever a user asks the platform to keep or to process (a canvas's graph, a batch's jobs) may
name only blobs that user may read: otherwise referencing someone else's SHA-256 in a canvas
of one's own, or feeding it to a job, would grant it.

Yeses are remembered per worker, so a popular thumbnail costs no call. An upload or a job's
output is never taken back and is remembered for ``KEPT_GRANT_S``; a grant through a canvas ends
when the canvas is unshared, so it is remembered for ``CANVAS_GRANT_S`` only: that is how long
an unshared user may still download a blob the canvas referenced.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from libs.blobs import blob_ids, check_digest
from libs.downstream import Downstream
from libs.errors import NotFound, Unprocessable
from shotgraph.batch.v1 import batch_pb2, batch_pb2_grpc
from shotgraph.canvas.v1 import canvas_pb2, canvas_pb2_grpc
from shotgraph.image.v1 import image_pb2, image_pb2_grpc

__all__ = ["CANVAS_GRANT_S", "KEPT_GRANT_S", "BlobAccess"]

KEPT_GRANT_S = 600.0
CANVAS_GRANT_S = 5.0
MAX_REMEMBERED = 100_000  # (user, blob) pairs per worker, the oldest forgotten first


@dataclass(frozen=True)
class _Owner:
    """One service that keeps a record of who may read blobs, and how long its yes holds."""

    ask: Callable[[str, str], Awaitable[bool]]
    remember_s: float


class BlobAccess:
    def __init__(
        self,
        image: Downstream[image_pb2_grpc.ImageServiceStub],
        batch: Downstream[batch_pb2_grpc.BatchServiceStub],
        canvas: Downstream[canvas_pb2_grpc.CanvasServiceStub],
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        async def uploaded(user_id: str, blob: str) -> bool:
            call = image_pb2.CanReadBlobRequest(user_id=user_id, sha256=blob)
            reply: image_pb2.CanReadBlobResponse = await image.call(image.stub.CanReadBlob, call)
            return reply.readable

        async def produced(user_id: str, blob: str) -> bool:
            call = batch_pb2.CanReadBlobRequest(user_id=user_id, sha256=blob)
            reply: batch_pb2.CanReadBlobResponse = await batch.call(batch.stub.CanReadBlob, call)
            return reply.readable

        async def referenced(user_id: str, blob: str) -> bool:
            call = canvas_pb2.CanReadBlobRequest(user_id=user_id, sha256=blob)
            reply: canvas_pb2.CanReadBlobResponse = await canvas.call(canvas.stub.CanReadBlob, call)
            return reply.readable

        self._owners = (
            _Owner(uploaded, KEPT_GRANT_S),
            _Owner(produced, KEPT_GRANT_S),
            _Owner(referenced, CANVAS_GRANT_S),
        )
        self._clock = clock
        self._granted: OrderedDict[tuple[str, str], float] = OrderedDict()
        self._unanswered: set[asyncio.Future[_Owner | None]] = set()

    async def require(self, user_id: str, blob: str) -> str:
        """``blob`` if ``user_id`` may read it; NotFound (never Forbidden) if not."""
        blob = check_digest(blob)
        key = (user_id, blob)
        until = self._granted.get(key)
        if until is not None and until > self._clock():
            return blob
        granted = await self._ask(user_id, blob)
        if granted is None:
            self._granted.pop(key, None)
            raise NotFound(f"no blob {blob}")
        self._granted[key] = self._clock() + granted.remember_s
        self._granted.move_to_end(key)
        if len(self._granted) > MAX_REMEMBERED:
            self._granted.popitem(last=False)
        return blob

    async def require_all(self, user_id: str, value: object, where: str) -> None:
        """Unprocessable unless ``user_id`` may read every blob that ``value`` names (a graph,
        a job's input); a blob nobody has and another user's are refused alike."""
        blobs = sorted(blob_ids(value))
        answers = await asyncio.gather(
            *(self.require(user_id, blob) for blob in blobs), return_exceptions=True
        )
        for blob, answer in zip(blobs, answers, strict=True):
            if isinstance(answer, NotFound):
                raise Unprocessable(f"{where} names blob {blob}, which is not one of yours")
            if isinstance(answer, BaseException):
                raise answer

    async def _ask(self, user_id: str, blob: str) -> _Owner | None:
        """The first owner that grants the blob; a failure counts only if nobody grants it."""

        async def grant(owner: _Owner) -> _Owner | None:
            return owner if await owner.ask(user_id, blob) else None

        tasks = [asyncio.ensure_future(grant(owner)) for owner in self._owners]
        failure: Exception | None = None
        try:
            for answer in asyncio.as_completed(tasks):
                try:
                    granted = await answer
                except Exception as exc:  # an owner down: another may still grant it
                    failure = failure or exc
                    continue
                if granted is not None:
                    return granted
        finally:
            # The other questions finish on their own (each is one quick read): cut off, their
            # calls would leave the owners' spans without a parent in the caller's trace.
            for task in tasks:
                if not task.done():
                    self._unanswered.add(task)
                    task.add_done_callback(self._forget)
        if failure is not None:
            raise failure
        return None

    def _forget(self, task: asyncio.Future[_Owner | None]) -> None:
        self._unanswered.discard(task)
        if not task.cancelled():
            task.exception()  # retrieved: an owner's outage was already answered for
