"""Bad input at the public edge gets a clear problem+json answer and changes nothing."""

from __future__ import annotations

import io
import json

import aiohttp
import pytest

from libs.launcher import Platform
from tests.e2e.conftest import problem

pytestmark = pytest.mark.e2e


async def test_unknown_route_is_404_problem(http: aiohttp.ClientSession) -> None:
    await problem(await http.get("/v1/no-such-thing"), 404)


async def test_malformed_json_is_400_problem(http: aiohttp.ClientSession) -> None:
    body = await problem(
        await http.post(
            "/v1/canvases", data=b'{"name": ', headers={"Content-Type": "application/json"}
        ),
        400,
    )
    assert "JSON" in str(body["detail"])


@pytest.mark.parametrize("payload", [b"[1, 2]", b'"just a string"', b'{"name": 42}'])
async def test_json_of_the_wrong_shape_is_400_problem(
    http: aiohttp.ClientSession, payload: bytes
) -> None:
    await problem(await http.post("/v1/canvases", data=payload), 400)


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer sg_wrong"},
        {"Authorization": "Bearer " + "sg_" + "A" * 43},
        {"Authorization": "Basic dXNlcjpwYXNz"},
        {"Authorization": "Bearer " + "x" * 5000},
    ],
    ids=["missing", "malformed", "unknown", "wrong-scheme", "huge"],
)
async def test_missing_or_wrong_api_key_is_401_problem(
    platform: Platform, headers: dict[str, str]
) -> None:
    async with aiohttp.ClientSession(base_url=platform.gateway_url) as anonymous:
        await problem(await anonymous.get("/v1/canvases", headers=headers), 401)


async def test_body_over_the_limit_is_413_problem(http: aiohttp.ClientSession) -> None:
    oversized = io.BytesIO(json.dumps({"name": "x" * (2 << 20)}).encode())
    await problem(await http.post("/v1/canvases", data=oversized), 413)


async def test_upload_that_is_not_an_image_is_400_problem(http: aiohttp.ClientSession) -> None:
    body = await problem(await http.post("/v1/blobs", data=b"GIF89a but not really"), 400)
    assert "image" in str(body["detail"])


@pytest.mark.parametrize("blob_id", ["nothex", "A" * 64, "0" * 63])
async def test_malformed_blob_id_is_400_problem(http: aiohttp.ClientSession, blob_id: str) -> None:
    await problem(await http.get(f"/v1/blobs/{blob_id}"), 400)


async def test_unknown_blob_is_404_problem(http: aiohttp.ClientSession) -> None:
    await problem(await http.get(f"/v1/blobs/{'0' * 64}"), 404)


@pytest.mark.parametrize(
    "batch",
    [
        {"jobs": []},
        {"jobs": "render"},
        {"jobs": [{"function": "nope.nothing"}]},
        {"jobs": [{"function": "render.scad", "input": [1]}]},
        {"jobs": [{}]},
    ],
    ids=["empty", "not-a-list", "unknown-function", "input-not-object", "no-function"],
)
async def test_invalid_batch_is_400_problem(http: aiohttp.ClientSession, batch: object) -> None:
    await problem(await http.post("/v1/batches", json=batch), 400)


@pytest.mark.parametrize(
    "path", ["/v1/canvases/not-a-uuid", f"/v1/canvases/{'0' * 8}-0000-0000-0000-{'0' * 12}"]
)
async def test_unknown_canvas_is_404_problem(http: aiohttp.ClientSession, path: str) -> None:
    await problem(await http.get(path), 404)


@pytest.mark.parametrize("query", ["limit=abc", "limit=1000", "cursor=%%%garbage"])
async def test_bad_pagination_is_400_problem(http: aiohttp.ClientSession, query: str) -> None:
    await problem(await http.get(f"/v1/canvases?{query}"), 400)


async def test_garbage_last_event_id_is_400_problem(http: aiohttp.ClientSession) -> None:
    await problem(await http.get("/v1/events", headers={"Last-Event-ID": "yesterday"}), 400)


async def test_another_users_canvas_is_not_visible(
    platform: Platform, http: aiohttp.ClientSession
) -> None:
    mine = await (await http.post("/v1/canvases", json={"name": "private"})).json()
    other_key = platform.create_api_key("someone-else")
    async with aiohttp.ClientSession(
        base_url=platform.gateway_url, headers={"Authorization": f"Bearer {other_key}"}
    ) as other:
        await problem(await other.get(f"/v1/canvases/{mine['id']}"), 404)
