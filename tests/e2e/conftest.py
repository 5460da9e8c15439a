"""The whole platform, started for real on free ports, with traces exported to the test and
every message on its bus checked against the contract (``bus_audit.py``)."""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import shutil
import tempfile
from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from libs.devstack import DevStack
from libs.launcher import Platform
from libs.ratelimit import generous_policies
from tests.e2e import test_openapi_fuzz
from tests.e2e.bus_audit import AuditReport, BusAudit
from tests.e2e.otlp import OtlpReceiver

# What each platform's bus audit saw, printed at the end of the run.
AUDITS: list[AuditReport] = []


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Everything in this folder starts the platform: ``-m "not e2e"`` leaves all of it out."""
    here = Path(__file__).parent
    for item in items:
        if here in Path(item.path).parents:
            item.add_marker(pytest.mark.e2e)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    for report in AUDITS:
        terminalreporter.write_line(report.summary())
    if test_openapi_fuzz.FUZZED:
        terminalreporter.write_line(test_openapi_fuzz.summary())


@pytest.fixture(scope="session")
def otlp() -> Iterator[OtlpReceiver]:
    receiver = OtlpReceiver()
    receiver.start()
    yield receiver
    receiver.stop()


@contextmanager
def running_platform(
    otlp: OtlpReceiver, env: Mapping[str, str] | None = None
) -> Iterator[Platform]:
    """A whole platform in a fresh folder, stopped and removed afterwards.

    Not under pytest's tmp_path: as root, pgserver runs PostgreSQL as its own user, and any pytest
    session starting meanwhile resets /tmp/pytest-of-root to 0700, locking that user out.
    """
    root = Path(tempfile.mkdtemp(prefix="shotgraph-e2e-"))
    # The backends first, so the audit hears the platform from its first message on; the
    # platform attaches to them.
    external = all(os.environ.get(f"SHOTGRAPH_{n}_URL") for n in ("NATS", "DATABASE", "REDIS"))
    stack = None if external else DevStack.attach_or_start(root)
    audit = BusAudit(stack.nats_url if stack else os.environ["SHOTGRAPH_NATS_URL"])
    platform = Platform(
        root=root,
        env={
            "OTEL_EXPORTER_OTLP_ENDPOINT": otlp.endpoint,
            "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
            # Export quickly so the test sees spans soon after the action.
            "OTEL_BSP_SCHEDULE_DELAY": "100",
            "SHOTGRAPH_LOG_LEVEL": "info",
            # Plain HTTP on loopback; the browser tests run their own gateway over HTTPS.
            "SHOTGRAPH_DEV_INSECURE_HTTP": "on",
            # Loopback traffic measures the code, not the limiter; tests of the limits
            # themselves pass "" here for the built-in policies.
            "SHOTGRAPH_RATE_LIMITS": generous_policies(),
            **(env or {}),
        },
    )
    try:
        try:
            audit.start()
            platform.start()
            yield platform
        finally:
            report = audit.stop()
            AUDITS.append(report)
            platform.stop()
            if stack is not None:
                stack.release()
    finally:
        shutil.rmtree(root, ignore_errors=True)
    problems = report.problems()
    assert not problems, "messages on the bus that the contract does not describe:\n" + "\n".join(
        problems
    )


@pytest.fixture(scope="session")
def platform(otlp: OtlpReceiver) -> Iterator[Platform]:
    with running_platform(otlp) as platform:
        yield platform


@pytest.fixture(scope="session")
def api_key(platform: Platform) -> str:
    return platform.create_api_key("e2e-user")


def traceparent(trace_id: str) -> str:
    """A W3C traceparent as a browser's instrumentation would send for one user action."""
    return f"00-{trace_id}-{secrets.token_hex(8)}-01"


@pytest.fixture
async def http(platform: Platform, api_key: str) -> AsyncIterator[aiohttp.ClientSession]:
    """The gateway, as the e2e user."""
    async with aiohttp.ClientSession(
        base_url=platform.gateway_url, headers={"Authorization": f"Bearer {api_key}"}
    ) as session:
        yield session


async def problem(response: aiohttp.ClientResponse, status: int) -> dict[str, Any]:
    """The RFC 9457 problem a response must be, with ``status``."""
    assert response.status == status, await response.text()
    assert response.content_type == "application/problem+json"
    body = dict(json.loads(await response.text()))
    assert body["status"] == status and body["title"] and body["detail"], body
    return body


async def read_events(
    response: aiohttp.ClientResponse, events: asyncio.Queue[dict[str, Any]]
) -> None:
    """Parse the SSE stream into event dicts (with their SSE id) as they arrive; the stream's
    other messages (``shotgraph.hello`` and the like, which have no id) are skipped."""
    fields: dict[str, str] = {}
    async for raw in response.content:
        line = raw.decode().rstrip("\r\n")
        if not line:
            if "data" in fields and "id" in fields:  # an event message: the event inside
                event = json.loads(fields["data"])["event"]
                await events.put({**event, "_sse_id": fields["id"]})
            fields = {}
        elif not line.startswith(":"):
            name, _, value = line.partition(":")
            fields[name] = value.removeprefix(" ")


async def next_event(events: asyncio.Queue[dict[str, Any]], kind: str) -> dict[str, Any]:
    while True:
        event = await asyncio.wait_for(events.get(), timeout=60)
        if event["type"] == kind:
            return event
