"""The thin path through every service, as one user action with one trace.

key -> canvas -> upload -> batch (one render, one thumbnail) -> SSE progress -> download results.
"""

from __future__ import annotations

import asyncio
import secrets
from typing import Any

import aiohttp
import pytest
import pyvips

from libs.launcher import Platform
from tests.e2e.conftest import next_event, read_events, traceparent
from tests.e2e.otlp import OtlpReceiver, ReceivedSpan

pytestmark = pytest.mark.e2e

SERVER, CLIENT, PRODUCER, CONSUMER = 2, 3, 4, 5
SERVICES = {"gateway", "canvas", "batch", "render", "image", "fanout"}
# (parent service, kind) -> (child service, kind): HTTP -> gRPC -> NATS -> worker -> NATS -> fanout.
EXPECTED_EDGES = [
    (("gateway", CLIENT), ("canvas", SERVER)),
    (("gateway", CLIENT), ("batch", SERVER)),
    (("gateway", CLIENT), ("image", SERVER)),
    (("batch", PRODUCER), ("render", CONSUMER)),
    (("batch", PRODUCER), ("image", CONSUMER)),
    (("render", PRODUCER), ("batch", CONSUMER)),
    (("image", PRODUCER), ("batch", CONSUMER)),
    (("batch", PRODUCER), ("fanout", CONSUMER)),
]


def _reference_png() -> bytes:
    gradient = pyvips.Image.xyz(320, 200)[0].cast("uchar")
    return bytes(gradient.bandjoin([gradient, gradient]).write_to_buffer(".png"))


def _by_id(spans: list[ReceivedSpan]) -> dict[str, ReceivedSpan]:
    return {s.span_id: s for s in spans}


def _roots(spans: list[ReceivedSpan]) -> set[tuple[str, int]]:
    """(service, kind) of the spans whose parent is not in the trace: the browser's requests."""
    index = _by_id(spans)
    return {(s.service, s.kind) for s in spans if s.parent_span_id not in index}


def _has_edge(spans: list[ReceivedSpan], parent: tuple[str, int], child: tuple[str, int]) -> bool:
    """Some span of ``child`` (service, kind) has a parent span of ``parent`` (service, kind)."""
    index = _by_id(spans)
    for span in spans:
        up = index.get(span.parent_span_id)
        if up and (span.service, span.kind) == child and (up.service, up.kind) == parent:
            return True
    return False


async def test_thin_path_runs_through_every_service_in_one_trace(
    platform: Platform, api_key: str, otlp: OtlpReceiver
) -> None:
    trace_id = secrets.token_hex(16)
    headers = {"Authorization": f"Bearer {api_key}", "traceparent": traceparent(trace_id)}
    events: asyncio.Queue[dict[str, Any]] = asyncio.Queue()

    async with aiohttp.ClientSession(base_url=platform.gateway_url, headers=headers) as http:
        stream = await http.get("/v1/events", timeout=aiohttp.ClientTimeout(total=120))
        assert stream.status == 200
        assert stream.content_type == "text/event-stream"
        reader = asyncio.create_task(read_events(stream, events))
        try:
            canvas = await (await http.post("/v1/canvases", json={"name": "Opening shot"})).json()
            assert canvas["name"] == "Opening shot"

            upload = await http.post(
                "/v1/blobs", data=_reference_png(), headers={"Content-Type": "image/png"}
            )
            assert upload.status == 201, await upload.text()
            reference = await upload.json()
            assert (reference["width"], reference["height"]) == (320, 200)

            submitted = await http.post(
                "/v1/batches",
                json={
                    "canvas_id": canvas["id"],
                    "jobs": [
                        {
                            "function": "render.scad",
                            "input": {"source": 'color("red") cube([10, 10, 10]);'},
                        },
                        {
                            "function": "image.thumbnail",
                            "input": {"blob": reference["sha256"], "size": 64},
                        },
                    ],
                },
            )
            assert submitted.status == 202, await submitted.text()
            batch = await submitted.json()
            assert batch["total"] == 2

            done = await next_event(events, "batch.completed")
            while done["batch_id"] != batch["id"]:  # an earlier test's batch finishing now
                done = await next_event(events, "batch.completed")
            assert done["state"] == "succeeded"
        finally:
            reader.cancel()
            stream.close()

        seen: list[dict[str, Any]] = []
        while not events.empty():
            seen.append(events.get_nowait())
        final = await (await http.get(f"/v1/batches/{batch['id']}")).json()
        assert final["state"] == "succeeded"
        assert final["counts"] == {"succeeded": 2}
        jobs = await (await http.get(f"/v1/batches/{batch['id']}/jobs")).json()
        render_job, thumb_job = jobs["jobs"]
        assert render_job["state"] == thumb_job["state"] == "succeeded"

        for blob_id in (render_job["output"]["png"], thumb_job["output"]["thumbnail"]):
            response = await http.get(f"/v1/blobs/{blob_id}")
            assert response.status == 200
            assert response.headers["ETag"] == f'"{blob_id}"'
            assert "immutable" in response.headers["Cache-Control"]
            image = pyvips.Image.new_from_buffer(await response.read(), "")
            assert image.width > 0 and image.height > 0
            again = await http.get(
                f"/v1/blobs/{blob_id}", headers={"If-None-Match": f'"{blob_id}"'}
            )
            assert again.status == 304
        thumbnail = pyvips.Image.new_from_buffer(
            await (await http.get(f"/v1/blobs/{thumb_job['output']['thumbnail']}")).read(), ""
        )
        assert max(thumbnail.width, thumbnail.height) == 64
        stl = await (await http.get(f"/v1/blobs/{render_job['output']['stl']}")).read()
        assert stl.startswith(b"solid") or len(stl) > 84

    spans = otlp.wait_for(
        trace_id,
        lambda got: (
            {s.service for s in got} >= SERVICES
            and all(_has_edge(got, parent, child) for parent, child in EXPECTED_EDGES)
            and _roots(got) == {("gateway", SERVER)}
        ),
    )
    assert {s.service for s in spans} >= SERVICES, {s.service for s in spans}
    missing = [edge for edge in EXPECTED_EDGES if not _has_edge(spans, *edge)]
    assert not missing, missing
    # Every span but the browser-side root hangs off another span of this same trace.
    # (The SSE request spans end when the stream closes, so they are waited for too.)
    assert _roots(spans) == {("gateway", SERVER)}
