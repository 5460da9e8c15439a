"""Fixtures shared by every test folder: the real backends of the dev stack, one per session.

The servers (NATS with JetStream, PostgreSQL, Redis) are started once in a temporary folder.
What a test changes on them is its own: every ``pg_pool`` test gets a fresh schema, and NATS
tests name their streams, subjects and durables uniquely (a uuid in each name). On them, a
test of a service that calls the batch service gets one in its own process: ``batch_service``.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack
from pathlib import Path
from typing import TYPE_CHECKING

import asyncpg
import nats
import pytest
from nats.js import JetStreamContext
from nats.js.kv import KeyValue
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from libs.db import create_pool
from libs.devstack import DevStack
from libs.jobs import CancelledBatches, cancellations

if TYPE_CHECKING:
    from tests.in_process import BatchService

# Schema names must match libs.db.migrate's ``[a-z_]+``, so hex digits are spelled as letters.
_DIGITS_AS_LETTERS = str.maketrans("0123456789", "ghijklmnop")


@pytest.fixture(scope="session")
def devstack() -> Iterator[DevStack]:
    """NATS, PostgreSQL and Redis on free ports, started for this session and stopped after it.

    The folder is deliberately not under pytest's ``tmp_path_factory``: run as root, pgserver
    runs PostgreSQL as the ``pgserver`` user, and every pytest session that starts on the
    machine resets ``/tmp/pytest-of-root`` to mode 0700, locking that user out of its data.
    """
    root = Path(tempfile.mkdtemp(prefix="shotgraph-devstack-"))
    try:
        stack = DevStack.attach_or_start(root)
        try:
            yield stack
        finally:
            stack.release()
    finally:
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
async def nats_js(devstack: DevStack) -> AsyncIterator[JetStreamContext]:
    """A JetStream context on its own connection, closed after the test."""
    nc = await nats.connect(devstack.nats_url, connect_timeout=5, max_reconnect_attempts=0)
    try:
        yield nc.jetstream(timeout=5)
    finally:
        await nc.close()


@pytest.fixture
async def cancelled_batches(nats_js: JetStreamContext) -> KeyValue:
    """The cancellations bucket, for tests that cancel a batch."""
    return await cancellations(nats_js)


@pytest.fixture
async def watched_cancellations(cancelled_batches: KeyValue) -> AsyncIterator[CancelledBatches]:
    """What a worker checks: the bucket's local copy, kept current by its watch."""
    watched = CancelledBatches(cancelled_batches)
    stopping = asyncio.Event()
    watching = asyncio.create_task(watched.run(stopping))
    yield watched
    stopping.set()
    await watching


@pytest.fixture
def pg_schema() -> str:
    """A schema name no other test uses; ``pg_pool`` drops it after the test."""
    return "test_" + uuid.uuid4().hex.translate(_DIGITS_AS_LETTERS)


@pytest.fixture
async def pg_pool(devstack: DevStack, pg_schema: str) -> AsyncIterator[asyncpg.Pool]:
    """A pool from ``libs.db.create_pool``; the test's ``pg_schema`` is dropped afterwards."""
    pool = await create_pool(devstack.database_url)
    try:
        yield pool
        await pool.execute(f"DROP SCHEMA IF EXISTS {pg_schema} CASCADE")
    finally:
        await pool.close()


@pytest.fixture
async def stack() -> AsyncIterator[AsyncExitStack]:
    """Servers, channels and clients a test opens, closed after it in reverse order."""
    async with AsyncExitStack() as stack:
        yield stack


@pytest.fixture
async def batch_service(
    pg_pool: asyncpg.Pool, nats_js: JetStreamContext
) -> AsyncIterator[BatchService]:
    """The batch service in this process (``tests/in_process.py``): no dispatcher runs, so
    its jobs wait for the test to apply workers' reports."""
    # Imported here: it brings in the batch, image and render services, which a session that
    # never serves batch (libs, a single service's tests) need not load.
    from tests.in_process import serve_batch

    async with serve_batch(pg_pool, nats_js) as service:
        yield service


@pytest.fixture
def redis_url(devstack: DevStack) -> str:
    """The dev stack's Redis; tests keep to their own keys or namespaces."""
    return devstack.redis_url


@pytest.fixture(scope="session")
def span_exporter() -> InMemorySpanExporter:
    """Every span this process ends from now on, kept in memory.

    The global tracer provider can be set only once per process, so an SDK provider already in
    place gets the exporter added instead of being replaced.
    """
    exporter = InMemorySpanExporter()
    provider = trace.get_tracer_provider()
    if not isinstance(provider, TracerProvider):
        provider = TracerProvider()
        trace.set_tracer_provider(provider)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return exporter
