"""The gateway's kept canvas answers (``services/gateway/canvas_reads.py``) on two gateways of one
platform: a repeated read costs the canvas service nothing, a read right after a save's answer
never returns the old canvas on either gateway, and a share taken away is felt at once."""

from __future__ import annotations

import asyncio
import re
import urllib.request
from collections.abc import AsyncIterator, Iterator

import aiohttp
import pytest

from libs.launcher import Platform, ServiceProcess
from tests.e2e.conftest import problem
from tests.e2e.test_canvases import create, head, save, storyboard


@pytest.fixture(scope="module")
def second_gateway(platform: Platform) -> Iterator[ServiceProcess]:
    """Another gateway process on the same platform: another worker, with caches of its own."""
    gateway = platform.add_process("gateway-second", "services.gateway")
    yield gateway
    platform.stop_service("gateway-second")
    del platform.services["gateway-second"]


@pytest.fixture
async def both(
    platform: Platform, api_key: str, second_gateway: ServiceProcess
) -> AsyncIterator[tuple[aiohttp.ClientSession, aiohttp.ClientSession]]:
    auth = {"Authorization": f"Bearer {api_key}"}
    async with (
        aiohttp.ClientSession(base_url=platform.gateway_url, headers=auth) as first,
        aiohttp.ClientSession(base_url=second_gateway.url, headers=auth) as second,
    ):
        yield first, second


def get_canvas_calls(platform: Platform) -> int:
    """How many GetCanvas calls the canvas service has answered (its own metrics)."""
    url = f"{platform.services['canvas'].admin_url}/metrics"
    with urllib.request.urlopen(url, timeout=5) as response:
        text = response.read().decode()
    return sum(
        int(float(m))
        for m in re.findall(
            r'^shotgraph_grpc_requests_total\{[^}]*method="GetCanvas"[^}]*\} ([0-9.e+]+)$',
            text,
            re.MULTILINE,
        )
    )


async def test_a_repeated_read_is_answered_by_the_gateway(
    platform: Platform, both: tuple[aiohttp.ClientSession, aiohttp.ClientSession]
) -> None:
    first, _ = both
    canvas = await create(first, "kept")
    await head(first, canvas["id"])  # asked of the canvas service, then kept
    before = await asyncio.to_thread(get_canvas_calls, platform)
    for _ in range(5):
        assert (await head(first, canvas["id"]))["version"] == canvas["version"]
    assert await asyncio.to_thread(get_canvas_calls, platform) == before
    response = await first.get(
        f"/v1/canvases/{canvas['id']}", headers={"If-None-Match": '"nothing"'}
    )
    etag = response.headers["ETag"]
    revalidated = await first.get(f"/v1/canvases/{canvas['id']}", headers={"If-None-Match": etag})
    assert revalidated.status == 304
    assert await asyncio.to_thread(get_canvas_calls, platform) == before


async def test_a_read_after_a_save_never_returns_the_old_canvas_on_any_gateway(
    both: tuple[aiohttp.ClientSession, aiohttp.ClientSession],
) -> None:
    first, second = both
    canvas = await create(first, "saved often")
    version = canvas["version"]
    for round_ in range(10):
        for gateway in both:  # both keep the current canvas
            assert (await head(gateway, canvas["id"]))["version"] == version
        saver = both[round_ % 2]
        saved = await save(saver, canvas["id"], version, storyboard(duration_s=1.0 + round_))
        assert saved.status == 201, await saved.text()
        version = (await saved.json())["number"]
        for gateway in (second, first):
            assert (await head(gateway, canvas["id"]))["version"] == version


async def test_a_share_taken_away_is_felt_at_once_on_every_gateway(
    platform: Platform,
    both: tuple[aiohttp.ClientSession, aiohttp.ClientSession],
    second_gateway: ServiceProcess,
) -> None:
    first, _ = both
    key = await asyncio.to_thread(platform.create_api_key, "e2e-reader")
    canvas = await create(first, "shared for a while")
    async with aiohttp.ClientSession(
        base_url=second_gateway.url, headers={"Authorization": f"Bearer {key}"}
    ) as reader:
        reader_id = (await (await reader.get("/v1/auth/session")).json())["identity"]["user_id"]
        shared = await first.post(
            f"/v1/canvases/{canvas['id']}/shares", json={"user_id": reader_id, "access": "read"}
        )
        assert shared.status == 200, await shared.text()
        assert (await head(reader, canvas["id"]))["access"] == "read"  # now kept for the reader
        taken = await first.post(
            f"/v1/canvases/{canvas['id']}/shares", json={"user_id": reader_id, "access": "none"}
        )
        assert taken.status == 200, await taken.text()
        await problem(await reader.get(f"/v1/canvases/{canvas['id']}"), 404)
