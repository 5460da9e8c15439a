"""Messages on the bus that are not what their subject carries: each is logged with its subject
and terminated by the service that reads it, and the next message goes on; an event of a
newer release reaches the browser unchanged.

Every bad message here is marked with ``Shotgraph-Test-Expect: invalid``: the bus audit
(``bus_audit.py``) must find it malformed, while every other message of the run must fit the
contract.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
import msgpack
import nats
import pytest
from nats.aio.client import Client

from libs.bus import encode
from libs.bus.states import ReportedState
from libs.bus.subjects import batch_events_subject, user_events_subject
from libs.bus.work import JobMessage, JobReport
from libs.launcher import Platform
from tests.contract.bus_document import EXPECT_INVALID_HEADER
from tests.e2e.conftest import read_events

pytestmark = pytest.mark.e2e

MARKED = {EXPECT_INVALID_HEADER: "invalid"}
LOG_TIMEOUT_S = 30.0
EVENT_TIMEOUT_S = 60.0


def _envelope(kind: str, payload: object, schema_version: int = 1) -> bytes:
    """An envelope written by hand, as a foreign or newer producer might."""
    return msgpack.packb(
        {
            "type": kind,
            "schema_version": schema_version,
            "id": uuid.uuid4().hex,
            "time": time.time(),
            "payload": payload,
        }
    )


def _uuid() -> str:
    return str(uuid.uuid4())


def _job(**changes: Any) -> dict[str, Any]:
    return {
        "job_id": _uuid(),
        "batch_id": _uuid(),
        "owner_id": "nobody",
        "function": "render.scad",
        "input": {"source": "cube(1);"},
        "dispatch": 1,
    } | changes


@dataclass(frozen=True)
class Bad:
    """One malformed message: where it goes, who reads it, what that service must log."""

    label: str
    subject: str  # {user} is the e2e user, {uuid} a fresh UUID
    data: Callable[[], bytes]
    reader: str  # the service whose log names it
    says: str  # part of the logged error


BAD = [
    Bad("garbage bytes for a render", "work.render.scad", lambda: b"\x00 not msgpack", "render",
        "not a message envelope"),
    Bad("a report where a render job belongs", "work.render.scad",
        lambda: encode(JobReport(job_id=_uuid(), batch_id=_uuid(), state=ReportedState.RUNNING)),
        "render", "'job.result' message where 'job.run' belongs"),
    Bad("a thumbnail job without its job id", "work.image.thumbnail",
        lambda: _envelope("job.run", {k: v for k, v in _job().items() if k != "job_id"}),
        "image", "missing required field `job_id`"),
    Bad("a frame job whose input is a list", "work.image.frame",
        lambda: _envelope("job.run", _job(function="image.frame", input=[1, 2])),
        "image", "Expected `object`, got `array`"),
    Bad("a transform job with a nil type", "work.image.transform",
        lambda: msgpack.packb({"type": None, "id": "x", "time": 1.0, "payload": {}}),
        "image", "not a message envelope"),
    Bad("garbage for batch's results", "job.result.{uuid}", lambda: b"garbage", "batch",
        "not a message envelope"),
    Bad("a report of a state no worker reports", "job.result.{uuid}",
        lambda: _envelope("job.result", {"job_id": _uuid(), "batch_id": _uuid(),
                                         "state": "exploded"}),
        "batch", "Invalid enum value 'exploded'"),
    Bad("a job where a report belongs", "job.result.{uuid}",
        lambda: encode(JobMessage(**_job())), "batch",
        "'job.run' message where 'job.result' belongs"),
    Bad("a job on a user's event subject", "events.user.{user}",
        lambda: encode(JobMessage(**_job())), "fanout", "is no user event"),
    Bad("a progress event whose total is text", "events.user.{user}.batch.{uuid}",
        lambda: _envelope("batch.progress", {"batch_id": _uuid(), "state": "running",
                                             "total": "many", "counts": {}, "jobs": []}),
        "fanout", "Expected `int`, got `str`"),
    Bad("garbage for the canvas cache", "canvas.changed.{uuid}", lambda: b"\xc1", "canvas",
        "not a message envelope"),
    Bad("a canvas change without its stamp", "canvas.changed.{uuid}",
        lambda: _envelope("canvas.changed", {"canvas_id": _uuid(), "version": 2}),
        "canvas", "missing required field `stamp`"),
    Bad("a max-deliveries advisory with text for its sequence",
        "$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.WORK.e2e",
        lambda: json.dumps({"type": "io.nats.jetstream.advisory.v1.max_deliver",
                            "stream": "WORK", "consumer": "e2e", "stream_seq": "seven",
                            "deliveries": 5}).encode(),
        "batch", "not a max-deliveries advisory"),
]  # fmt: skip


@dataclass
class Published:
    """What the module's one round of bad messages went out as, and what came after it."""

    subjects: dict[str, str]  # label -> subject it went to
    events: list[dict[str, Any]]  # what the user's event stream delivered
    newer: dict[str, Any]  # the newer-release event, as published
    unknown: dict[str, Any]  # an event type this release does not know, as published


async def _connect(platform: Platform) -> Client:
    assert platform.stack is not None
    return await nats.connect(platform.stack.nats_url)


@pytest.fixture(scope="module")
def published(platform: Platform, api_key: str) -> Published:
    """Every bad message, then events of a newer release, then a batch that must still run."""
    return asyncio.run(_publish(platform, api_key))


async def _publish(platform: Platform, api_key: str) -> Published:
    headers = {"Authorization": f"Bearer {api_key}"}
    async with aiohttp.ClientSession(base_url=platform.gateway_url, headers=headers) as http:
        canvas = await (await http.post("/v1/canvases", json={"name": "bus"})).json()
        user = canvas["owner_id"]
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        stream = await http.get("/v1/events", timeout=aiohttp.ClientTimeout(total=180))
        reader = asyncio.create_task(read_events(stream, queue))
        nc = await _connect(platform)
        try:
            subjects = {}
            for bad in BAD:
                subject = bad.subject.format(user=user, uuid=_uuid())
                subjects[bad.label] = subject
                await nc.publish(subject, bad.data(), headers=MARKED)
            newer_batch = _uuid()
            newer = {
                "type": "batch.progress",
                "schema_version": 7,
                "id": uuid.uuid4().hex,
                "time": time.time(),
                "payload": {
                    "batch_id": newer_batch,
                    "state": "running",
                    "total": {"jobs": 3, "frames": 12},  # a field whose type has changed
                    "counts": {"running": 3},
                    "jobs": [],
                    "eta_s": 12.5,  # a field this release does not know
                },
            }
            unknown = {**newer, "type": "batch.paused", "id": uuid.uuid4().hex, "payload": {"x": 1}}
            newer_subject = batch_events_subject(user, newer_batch)
            for subject, event in ((newer_subject, newer), (user_events_subject(user), unknown)):
                await nc.publish(subject, msgpack.packb(event), headers=MARKED)
            await nc.flush()
            batch = await http.post(
                "/v1/batches",
                json={"jobs": [{"function": "render.scad", "input": {"source": "sphere(5);"}}]},
            )
            assert batch.status == 202, await batch.text()
            batch_id = (await batch.json())["id"]
            events = []  # everything the browser is told, up to that batch's completion
            while True:
                event = await asyncio.wait_for(queue.get(), timeout=EVENT_TIMEOUT_S)
                events.append(event)
                if event["type"] == "batch.completed" and event["batch_id"] == batch_id:
                    return Published(subjects, events, newer, unknown)
        finally:
            await nc.close()
            reader.cancel()
            stream.close()


def _logged(platform: Platform, service: str, subject: str, says: str) -> bool:
    for line in platform.services[service].log_path.read_text(errors="replace").splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if (
            entry.get("event") == "nats.malformed"
            and entry.get("subject") == subject
            and says in str(entry.get("error", ""))
        ):
            return True
    return False


@pytest.mark.parametrize("bad", BAD, ids=[bad.label for bad in BAD])
async def test_a_message_of_the_wrong_type_or_shape_is_logged_with_its_subject(
    platform: Platform, published: Published, bad: Bad
) -> None:
    subject = published.subjects[bad.label]
    deadline = time.monotonic() + LOG_TIMEOUT_S
    while not _logged(platform, bad.reader, subject, bad.says):
        assert time.monotonic() < deadline, f"{bad.reader} did not log {bad.label} on {subject}"
        await asyncio.sleep(0.2)


async def test_the_next_messages_go_on_after_the_bad_ones(published: Published) -> None:
    completed = [e for e in published.events if e["type"] == "batch.completed"]
    assert completed and completed[-1]["state"] == "succeeded"
    # The bad events never reached the browser.
    assert all(e["type"] != "job.run" for e in published.events)
    assert all(e.get("total") != "many" for e in published.events)


async def test_no_bad_message_is_left_in_a_stream(platform: Platform) -> None:
    """Terminated means removed: the work-queue streams hold none of them."""
    nc = await _connect(platform)
    try:
        js = nc.jetstream()
        for stream in ("WORK", "RESULTS"):
            deadline = time.monotonic() + LOG_TIMEOUT_S
            while (await js.stream_info(stream)).state.messages:
                assert time.monotonic() < deadline, f"{stream} still holds messages"
                await asyncio.sleep(0.2)
    finally:
        await nc.close()


def _as_relayed(published: dict[str, Any]) -> dict[str, Any]:
    envelope = {k: published[k] for k in ("type", "id", "time", "schema_version")}
    return {**envelope, **published["payload"]}


async def test_an_event_of_a_newer_schema_version_reaches_the_browser_unchanged(
    published: Published,
) -> None:
    relayed = [e for e in published.events if e["id"] == published.newer["id"]]
    assert len(relayed) == 1
    assert {k: v for k, v in relayed[0].items() if k != "_sse_id"} == _as_relayed(published.newer)


async def test_an_event_type_this_release_does_not_know_reaches_the_browser_unchanged(
    published: Published,
) -> None:
    relayed = [e for e in published.events if e["type"] == "batch.paused"]
    assert len(relayed) == 1
    event = {k: v for k, v in relayed[0].items() if k != "_sse_id"}
    assert event == _as_relayed(published.unknown)
