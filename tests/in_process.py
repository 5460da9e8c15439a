"""Real services served in the test's own process, and clients of them.

``serve`` puts a servicer on a gRPC server of the platform's own (error mapping included) on a
free port; ``downstream`` is a client as a calling service has one. ``serve_batch`` runs the
real batch service for the tests of the services that call it: its servicer, store (Postgres,
migrated with its own migrations), function catalog and events (NATS). Only its dispatcher does
not run, so a job stays queued (or pending on its dependencies) until the test reports on it
the way a worker would: ``BatchService.hand_out`` claims the ready jobs as the dispatcher does,
and ``BatchService.report`` applies reports with batch's own results handler, which tells the
owner of each change (its progress events are sent at once, not coalesced over an interval).
The ``batch_service`` fixture (root ``conftest.py``) serves one per test.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from typing import TypeVar

import asyncpg
import grpc
import msgspec
from nats.js import JetStreamContext
from opentelemetry import trace

from libs.bus import ensure_streams
from libs.bus.bulk import Received
from libs.bus.work import JobReport
from libs.db import migrate
from libs.downstream import Downstream
from libs.jobs import cancellations, register_functions
from libs.ports import free_port
from libs.resilience import Breakers
from libs.rpc import Registrar, create_server
from services.batch.app import MIGRATIONS
from services.batch.dispatcher import Dispatcher
from services.batch.events import ProgressEvents
from services.batch.functions import FunctionCatalog
from services.batch.handlers import BatchServicer
from services.batch.results import results_handler
from services.batch.store import BatchStore, Dispatch
from services.image.jobs import FRAME, THUMBNAIL, TRANSFORM
from services.render.jobs import RENDER_SCAD
from shotgraph.batch.v1 import batch_pb2_grpc

__all__ = [
    "WORKER_FUNCTIONS",
    "BatchClient",
    "BatchService",
    "downstream",
    "serve",
    "serve_batch",
]

Stub = TypeVar("Stub")
_ALL = 10_000  # more jobs than any test makes
BatchClient = Downstream[batch_pb2_grpc.BatchServiceStub]

# What the render and image workers announce when they start (image.generate only with a
# generation backend configured).
WORKER_FUNCTIONS = (RENDER_SCAD, THUMBNAIL, TRANSFORM, FRAME)


@dataclass
class BatchService:
    address: str
    store: BatchStore
    client: BatchClient  # as a service calling batch has one
    events: ProgressEvents
    handed_out: dict[str, Dispatch] = field(default_factory=dict)  # by job id

    async def hand_out(self) -> list[Dispatch]:
        """Claim the ready jobs as the dispatcher does. Nothing is published: the test plays
        the workers, and a ``Dispatch`` holds what a worker learns from its job message."""
        claimed: list[Dispatch] = []

        async def take(dispatches: list[Dispatch]) -> None:
            claimed.extend(dispatches)

        await self.store.dispatch_ready(_ALL, _ALL, take)
        self.handed_out |= {dispatch.job_id: dispatch for dispatch in claimed}
        return claimed

    async def report(self, *reports: JobReport) -> None:
        """Workers' reports on jobs they were handed, applied in one group as batch's results
        handler applies them; the jobs ready by then are handed out first."""
        await self.hand_out()
        apply = results_handler(self.store, self.events, lambda: None)
        await apply(
            [
                Received(
                    msgspec.structs.replace(
                        report, dispatch=self.handed_out[report.job_id].dispatch
                    ),
                    trace.INVALID_SPAN,
                )
                for report in reports
            ]
        )
        await self.events.flush()


_BIND_TRIES = 5


async def serve(stack: AsyncExitStack, register: Registrar, port: int = 0) -> str:
    """A real gRPC server (the platform's own, with its error mapping); its address.

    Without a ``port`` it takes a free one; one taken by someone else between that choice and
    gRPC's bind (which binds every address, not only loopback) is tried again with another."""
    for attempt in range(1 if port else _BIND_TRIES):
        chosen = port or free_port()
        try:
            server, _ = await create_server("peer", chosen, [register])
        except RuntimeError as exc:
            if port or attempt == _BIND_TRIES - 1 or "Failed to bind" not in str(exc):
                raise
            continue
        stack.push_async_callback(server.stop, None)
        return f"127.0.0.1:{chosen}"
    raise AssertionError("unreachable: the last attempt returns or raises")


def downstream(
    stack: AsyncExitStack,
    name: str,
    address: str,
    stub: Callable[[grpc.aio.Channel], Stub],
    *,
    breakers: Breakers | None = None,
    deadline_s: float = 15.0,
) -> Downstream[Stub]:
    """A client of the service at ``address``, closed with ``stack``."""
    client = Downstream(name, address, stub, deadline_s=deadline_s, breakers=breakers or Breakers())
    stack.push_async_callback(client.close)
    return client


@asynccontextmanager
async def serve_batch(pool: asyncpg.Pool, js: JetStreamContext) -> AsyncIterator[BatchService]:
    """The batch service on ``pool`` and ``js``, stopped on leaving."""
    await ensure_streams(js)
    await migrate(pool, "batch", MIGRATIONS)
    await register_functions(js, WORKER_FUNCTIONS)
    store = BatchStore(pool)
    events = ProgressEvents(js)
    servicer = BatchServicer(
        store, FunctionCatalog(js), Dispatcher(store, js), events, await cancellations(js)
    )
    async with AsyncExitStack() as stack:
        address = await serve(
            stack, lambda s: batch_pb2_grpc.add_BatchServiceServicer_to_server(servicer, s)
        )
        client = downstream(stack, "batch", address, batch_pb2_grpc.BatchServiceStub)
        yield BatchService(address, store, client, events)
