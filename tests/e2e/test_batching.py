"""``POST /v1/$batch`` on the whole platform: the studio opens a canvas in one call instead of
four and its queue view in one instead of ten, with the same answers, and a save followed by a
read of what it saved runs in order."""

from __future__ import annotations

import json
from typing import Any

import aiohttp
import pytest

from tests.e2e.test_canvases import create, save, storyboard

pytestmark = pytest.mark.e2e


def opening(canvas_id: str) -> list[dict[str, Any]]:
    """What the studio asks for when it opens a canvas."""
    return [
        {"id": "canvas", "method": "GET", "url": f"/canvases/{canvas_id}"},
        {"id": "versions", "method": "GET", "url": f"/canvases/{canvas_id}/versions"},
        {"id": "results", "method": "GET", "url": f"/canvases/{canvas_id}/results"},
        {"id": "node_types", "method": "GET", "url": "/canvas-node-types"},
    ]


def wire_bytes(response: aiohttp.ClientResponse, sent: bytes, received: bytes) -> int:
    """One exchange as HTTP/1.1 text, uncompressed: request line, headers and body each way."""
    info = response.request_info
    request = len(f"{info.method} {info.url.raw_path_qs} HTTP/1.1\r\n") + len(sent)
    request += sum(len(k) + len(v) + 4 for k, v in info.headers.items()) + 2
    answer = len(f"HTTP/1.1 {response.status} {response.reason}\r\n") + len(received)
    answer += sum(len(k) + len(v) + 4 for k, v in response.raw_headers) + 2
    return request + answer


async def test_opening_a_canvas_is_one_call_with_the_same_answers(
    http: aiohttp.ClientSession,
) -> None:
    canvas = await create(http, "Batched episode")
    saved = await save(http, canvas["id"], canvas["version"], storyboard())
    assert saved.status == 201, await saved.text()

    alone: dict[str, Any] = {}
    alone_bytes = 0
    for request in opening(canvas["id"]):
        async with http.get(f"/v1{request['url']}") as response:
            received = await response.read()
            assert response.status == 200, received
            alone[request["id"]] = await response.json()
            alone_bytes += wire_bytes(response, b"", received)

    body = json.dumps({"requests": opening(canvas["id"])}).encode()
    async with http.post(
        "/v1/$batch", data=body, headers={"Content-Type": "application/json"}
    ) as r:
        received = await r.read()
        assert r.status == 200, received
        batched = {a["id"]: a for a in (await r.json())["responses"]}
        batch_bytes = wire_bytes(r, body, received)

    for name, answer in alone.items():
        assert batched[name]["status"] == 200, batched[name]
        assert batched[name]["body"] == answer, name
    assert batched["canvas"]["headers"]["ETag"]  # revalidation works inside a batch too
    print(
        f"\nopening a canvas: {len(alone)} calls, {alone_bytes} bytes alone; "
        f"1 call, {batch_bytes} bytes batched "
        f"({1 - 1 / len(alone):.0%} fewer calls, {1 - batch_bytes / alone_bytes:.0%} fewer bytes)"
    )


QUEUE_VIEW_BATCHES = 8
CUBE = 'color("teal") cube(4);'


async def test_the_queue_view_is_one_call_instead_of_ten(http: aiohttp.ClientSession) -> None:
    """The queue view: the queue depth per function, the recent batches, and the jobs of each
    batch it shows (eight here): ten calls, or one batch of them."""
    batch_ids = []
    for n in range(QUEUE_VIEW_BATCHES):
        job = {"function": "render.scad", "input": {"source": f"{CUBE} // {n}"}}
        submitted = await http.post("/v1/batches", json={"jobs": [job]})
        assert submitted.status in (200, 201, 202), await submitted.text()
        batch_ids.append((await submitted.json())["id"])
    view = [
        {"id": "queues", "method": "GET", "url": "/queues"},
        {"id": "batches", "method": "GET", "url": f"/batches?limit={QUEUE_VIEW_BATCHES}"},
        *(
            {"id": f"jobs-{n}", "method": "GET", "url": f"/batches/{batch_id}/jobs"}
            for n, batch_id in enumerate(batch_ids)
        ),
    ]
    response = await http.post("/v1/$batch", json={"requests": view})
    assert response.status == 200, await response.text()
    answers = {a["id"]: a for a in (await response.json())["responses"]}
    assert all(a["status"] == 200 for a in answers.values()), answers
    for n, batch_id in enumerate(batch_ids):
        [job] = answers[f"jobs-{n}"]["body"]["jobs"]
        assert job["batch_id"] == batch_id
    print(
        f"\nthe queue view: {len(view)} calls alone, 1 batched "
        f"({1 - 1 / len(view):.0%} fewer calls)"
    )


async def test_a_save_then_a_read_of_it_run_in_order_and_a_failed_save_is_424(
    http: aiohttp.ClientSession,
) -> None:
    canvas = await create(http, "Saved in a batch")
    path = f"/canvases/{canvas['id']}"

    def save_then_read(base: int) -> list[dict[str, Any]]:
        return [
            {
                "id": "save",
                "method": "POST",
                "url": f"{path}/versions",
                "body": {"base_version": base, "graph": storyboard()},
            },
            {"id": "read", "method": "GET", "url": path, "dependsOn": ["save"]},
        ]

    response = await http.post("/v1/$batch", json={"requests": save_then_read(canvas["version"])})
    assert response.status == 200, await response.text()
    first = {a["id"]: a for a in (await response.json())["responses"]}
    assert first["save"]["status"] == 201, first["save"]
    assert first["read"]["status"] == 200
    assert first["read"]["body"]["version"] == first["save"]["body"]["number"]

    response = await http.post(
        "/v1/$batch", json={"requests": save_then_read(canvas["version"])}
    )  # stale
    stale = {a["id"]: a for a in (await response.json())["responses"]}
    assert stale["save"]["status"] == 409, stale["save"]
    assert stale["read"]["status"] == 424
