"""Who may read a blob, on the whole platform: whoever uploaded it, whose job produced it, or who
can read a canvas that references it. Anyone else is told it does not exist (404), even when
the blob is hot in the gateway's memory; an upload never says that someone else holds the same
bytes; signed image URLs are checked when signed and expire."""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from libs.launcher import Platform
from libs.urlsigning import sign
from services.gateway.blob_access import CANVAS_GRANT_S
from services.image.tests.conftest import gradient
from tests.e2e.conftest import problem
from tests.e2e.test_batches import wait_until

pytestmark = pytest.mark.e2e

# How long past the bound a revoked grant may take to show: requests in flight, clocks.
SLACK_S = 5.0


def photo() -> bytes:
    """A PNG of its own per call (the trailing bytes change the upload's SHA-256)."""
    return bytes(gradient(64, 48).pngsave_buffer()) + uuid.uuid4().bytes


@pytest.fixture
async def bob(platform: Platform) -> AsyncIterator[aiohttp.ClientSession]:
    """A second user."""
    key = await asyncio.to_thread(platform.create_api_key, f"e2e-bob-{uuid.uuid4().hex[:8]}")
    async with aiohttp.ClientSession(
        base_url=platform.gateway_url, headers={"Authorization": f"Bearer {key}"}
    ) as session:
        yield session


async def upload(http: aiohttp.ClientSession, data: bytes) -> tuple[int, dict[str, Any]]:
    response = await http.post("/v1/blobs", data=data)
    assert response.status in (200, 201), await response.text()
    return response.status, dict(await response.json())


async def status_of(http: aiohttp.ClientSession, blob: str) -> int:
    response = await http.get(f"/v1/blobs/{blob}")
    await response.read()
    return response.status


async def test_another_users_blob_is_a_404_even_when_hot(
    http: aiohttp.ClientSession, bob: aiohttp.ClientSession
) -> None:
    data = photo()
    status, uploaded = await upload(http, data)
    assert (status, uploaded["duplicate"]) == (201, False)
    blob = uploaded["sha256"]
    for _ in range(3):  # hot in every gateway worker this connection reaches
        mine = await http.get(f"/v1/blobs/{blob}")
        assert mine.status == 200
        assert mine.headers["Cache-Control"] == "private, max-age=31536000, immutable"
        stored = await mine.read()

    await problem(await bob.get(f"/v1/blobs/{blob}"), 404)
    revalidated = await bob.get(f"/v1/blobs/{blob}", headers={"If-None-Match": f'"{blob}"'})
    await problem(revalidated, 404)

    # Bob's upload of the same bytes reads exactly as Alice's first one did; then it is his.
    status, again = await upload(bob, data)
    assert status == 201
    assert {k: v for k, v in again.items() if k != "thumbnail_url"} == {
        k: v for k, v in uploaded.items() if k != "thumbnail_url"
    }
    assert await (await bob.get(f"/v1/blobs/{blob}")).read() == stored
    status, repeat = await upload(http, data)
    assert (status, repeat["duplicate"]) == (200, True), "Alice's own repeat is hers to know"


async def test_a_shared_canvas_lends_its_blobs_until_unshared(
    http: aiohttp.ClientSession, bob: aiohttp.ClientSession
) -> None:
    _, uploaded = await upload(http, photo())
    blob = uploaded["sha256"]
    bob_id = (await (await bob.post("/v1/canvases", json={"name": "Bob's"})).json())["owner_id"]
    created = await http.post("/v1/canvases", json={"name": "Referenced"})
    canvas = (await created.json())["id"]
    ada = {"id": "ada", "type": "character", "position": {"x": 0, "y": 0}}
    ada["properties"] = {"name": "Ada", "reference_images": [blob]}
    saved = await http.post(
        f"/v1/canvases/{canvas}/versions",
        json={"base_version": 1, "graph": {"nodes": [ada], "edges": []}},
    )
    assert saved.status == 201, await saved.text()
    assert await status_of(bob, blob) == 404

    shares = f"/v1/canvases/{canvas}/shares"
    assert (await http.post(shares, json={"user_id": bob_id, "access": "read"})).status == 200
    assert await status_of(bob, blob) == 200
    assert (await http.post(shares, json={"user_id": bob_id, "access": "none"})).status == 200
    deadline = time.monotonic() + CANVAS_GRANT_S + SLACK_S
    while await status_of(bob, blob) != 404:
        assert time.monotonic() < deadline, f"still readable {CANVAS_GRANT_S} s after unsharing"
        await asyncio.sleep(0.25)
    assert await status_of(http, blob) == 200, "the uploader keeps it"


async def test_a_jobs_output_is_its_owners_alone(
    http: aiohttp.ClientSession, bob: aiohttp.ClientSession
) -> None:
    _, uploaded = await upload(http, photo())
    job = {"function": "image.thumbnail", "input": {"blob": uploaded["sha256"], "size": 64}}
    submitted = await http.post("/v1/batches", json={"jobs": [job]})
    assert submitted.status == 202, await submitted.text()
    batch = await wait_until(http, (await submitted.json())["id"])
    assert batch["state"] == "succeeded", batch
    jobs = await (await http.get(f"/v1/batches/{batch['id']}/jobs")).json()
    thumbnail = jobs["jobs"][0]["output"]["thumbnail"]
    assert await status_of(http, thumbnail) == 200
    await problem(await bob.get(f"/v1/blobs/{thumbnail}"), 404)
    # Nor can Bob make it his by naming it in a job or a canvas of his own.
    stolen = {"function": "image.thumbnail", "input": {"blob": thumbnail}}
    await problem(await bob.post("/v1/batches", json={"jobs": [stolen]}), 422)


async def test_signed_urls_are_for_readable_blobs_and_expire(
    platform: Platform, http: aiohttp.ClientSession, bob: aiohttp.ClientSession
) -> None:
    _, uploaded = await upload(http, photo())
    blob = uploaded["sha256"]
    asked = {"blob": blob, "options": "rs:fit:32:32"}
    await problem(await bob.post("/v1/images/urls", json=asked), 404)
    signed = await (await http.post("/v1/images/urls", json=asked)).json()
    assert "/exp:" in signed["url"] and signed["expires_at"]
    async with aiohttp.ClientSession(base_url=platform.gateway_url) as anonymous:
        shown = await anonymous.get(signed["url"])
        assert shown.status == 200 and shown.headers["Cache-Control"].startswith("public")
        # An hour past its expiry, signed with the platform's own key: still refused.
        tail = f"/rs:fit:32:32/exp:{int(time.time()) - 3600}/{blob}"
        expired = await anonymous.get(f"/images/{sign(_url_key(platform), tail)}{tail}")
        assert "expired" in (await problem(expired, 403))["detail"]


def _url_key(platform: Platform) -> bytes:
    """The first key the gateway signs image URLs with."""
    name = "SHOTGRAPH_IMAGE_URL_KEYS"
    keys = platform.env.get(name) or os.environ.get(name)
    if not keys and platform.stack is not None:
        keys = platform.stack.environment()[name]
    assert keys, "the platform's image URL keys"
    return bytes.fromhex(keys.split(",")[0].strip())
