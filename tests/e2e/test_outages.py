"""A dependency that goes down costs one feature a quick 503, never a hang or the platform.

These tests stop servers, so they run on a platform of their own.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import aiohttp
import pytest

from libs.launcher import Platform
from tests.e2e.conftest import running_platform
from tests.e2e.otlp import OtlpReceiver
from tests.e2e.test_batches import wait_until
from tests.e2e.test_canvases import SET_PIECE, create, node, save

pytestmark = pytest.mark.e2e

# Generous enough for a loaded CI machine; a hang would hit it, a quick 503 never does.
NO_HANG = aiohttp.ClientTimeout(total=10)


@pytest.fixture(scope="module")
def fragile(otlp: OtlpReceiver) -> Iterator[Platform]:
    with running_platform(otlp) as platform:
        yield platform


@pytest.fixture
async def http(fragile: Platform) -> AsyncIterator[aiohttp.ClientSession]:
    key = fragile.create_api_key("outage-user")
    async with aiohttp.ClientSession(
        base_url=fragile.gateway_url, headers={"Authorization": f"Bearer {key}"}, timeout=NO_HANG
    ) as session:
        yield session


async def _assert_unavailable(response: aiohttp.ClientResponse) -> None:
    assert response.status == 503, await response.text()
    assert response.content_type == "application/problem+json"
    assert int(response.headers["Retry-After"]) > 0
    assert json.loads(await response.text())["status"] == 503


async def test_a_stopped_service_is_a_quick_503_and_recovers(
    fragile: Platform, http: aiohttp.ClientSession
) -> None:
    canvas = await (await http.post("/v1/canvases", json={"name": "survivor"})).json()
    fragile.stop_service("canvas")
    try:
        for _ in range(8):  # past the breaker's threshold too: it fails fast while open
            await _assert_unavailable(await http.get(f"/v1/canvases/{canvas['id']}"))
        # The rest of the platform keeps working.
        batch = await http.post(
            "/v1/batches",
            json={"jobs": [{"function": "render.scad", "input": {"source": "cube(1);"}}]},
        )
        assert batch.status == 202
    finally:
        fragile.start_service("canvas")
        fragile.wait_ready(["canvas"])
    async with aiohttp.ClientSession(base_url=fragile.gateway_url, headers=http.headers) as fresh:
        # The breaker reopens the path after its cool-down; poll until it has.
        for _ in range(100):
            response = await fresh.get(f"/v1/canvases/{canvas['id']}")
            if response.status == 200:
                break
            await _assert_unavailable(response)
            await asyncio.sleep(0.1)
        assert response.status == 200


async def test_a_canvas_service_restarted_mid_execute_catches_up(
    fragile: Platform, http: aiohttp.ClientSession
) -> None:
    """The render finishes while the canvas service is down: back up, its durable consumer
    (or its reconciliation after a restart) brings the node's state and result in."""
    canvas = await create(http, "restarted")
    scene = node(
        "yard", "scene", {"location": f"Yard {time.time_ns()}", "set_piece": {"source": SET_PIECE}}
    )
    assert (await save(http, canvas["id"], 1, {"nodes": [scene], "edges": []})).status == 201
    fragile.stop_service("render")  # so the job waits until the canvas service is down
    try:
        started = await http.post(f"/v1/canvases/{canvas['id']}/execute")
        assert started.status == 202, await started.text()
        batch_id = (await started.json())["batch_id"]
        fragile.stop_service("canvas")
    finally:
        fragile.start_service("render")
    try:
        done = await wait_until(http, batch_id)
        assert done["state"] == "succeeded", done
    finally:
        fragile.start_service("canvas")
        fragile.wait_ready(["render", "canvas"])

    deadline = time.monotonic() + 60
    results: dict[str, Any] = {}
    while time.monotonic() < deadline:
        response = await http.get(f"/v1/canvases/{canvas['id']}/results")
        if response.status == 200:  # a 503 while the gateway's breaker reopens the path
            results = {n["node_id"]: n for n in (await response.json())["nodes"]}
            if results["yard"]["state"] == "succeeded":
                break
        await asyncio.sleep(0.2)
    assert results["yard"]["state"] == "succeeded", results
    assert results["yard"]["output"]["render"]["glb"]


async def test_redis_down_degrades_reads_to_postgres(
    fragile: Platform, http: aiohttp.ClientSession
) -> None:
    canvas = await (await http.post("/v1/canvases", json={"name": "cached"})).json()
    assert (await http.get(f"/v1/canvases/{canvas['id']}")).status == 200  # now cached
    assert fragile.stack is not None
    fragile.stack.stop_server("redis")
    for _ in range(3):
        response = await http.get(f"/v1/canvases/{canvas['id']}")
        assert response.status == 200
        assert (await response.json())["name"] == "cached"


async def test_postgres_down_is_a_quick_503(fragile: Platform, http: aiohttp.ClientSession) -> None:
    assert fragile.stack is not None
    fragile.stack.stop_server("postgres")
    await _assert_unavailable(await http.post("/v1/canvases", json={"name": "nowhere"}))
    async with aiohttp.ClientSession(timeout=NO_HANG) as probe:
        ready = await probe.get(f"{fragile.services['canvas'].admin_url}/readyz")
        await _assert_unavailable(ready)
        assert "postgres" in (await ready.json())["failing"]
