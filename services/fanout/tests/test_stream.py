"""A user's live events over SSE against a real JetStream: order, ids, resume, bad messages
skipped, newer and unknown events relayed unchanged, and streams that end when they should.

``stream_events`` runs behind a small app of its own (the service's app minus the API-key check,
with a fixed user id), each test with a user id of its own on the shared EVENTS stream.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import msgspec
import pytest
import structlog
from aiohttp import ClientResponse, web
from aiohttp.test_utils import TestClient, TestServer
from nats.js import JetStreamContext

from libs.bus import Envelope, Message, ensure_streams, publish
from libs.bus.events import BatchProgress
from libs.bus.subjects import user_events_subject
from libs.web import PROBLEM_CONTENT_TYPE, create_app
from services.fanout.stream import stream_events
from services.fanout.tests.samples import NOT_USER_EVENTS, envelope, progress, progress_fields

TIMEOUT_S = 10.0
# The server drops a push consumer a few seconds after its subscriber leaves.
CONSUMER_GONE_TIMEOUT_S = 20.0


@dataclass(frozen=True)
class Received:
    """One event as a browser's EventSource sees it."""

    id: int
    name: str
    data: dict[str, Any]


@dataclass
class EventSource:
    """One open ``/v1/events`` connection, read as it arrives."""

    response: ClientResponse
    events: asyncio.Queue[Received] = field(default_factory=asyncio.Queue)
    ended: asyncio.Event = field(default_factory=asyncio.Event)

    def __post_init__(self) -> None:
        self._reading = asyncio.create_task(self._read())

    async def _read(self) -> None:
        fields: dict[str, str] = {}
        try:
            async for raw in self.response.content:
                line = raw.decode().rstrip("\r\n")
                if line:
                    if not line.startswith(":"):  # ":" starts a ping
                        name, _, value = line.partition(":")
                        fields[name] = value.removeprefix(" ")
                    continue
                if "data" in fields:
                    data = json.loads(fields["data"])
                    self.events.put_nowait(Received(int(fields["id"]), fields["event"], data))
                fields = {}
        finally:
            self.ended.set()

    async def next(self) -> Received:
        return await asyncio.wait_for(self.events.get(), TIMEOUT_S)

    async def until(self, last_id: int) -> list[Received]:
        """Every event received up to and including the one with id ``last_id``."""
        received = [await self.next()]
        while received[-1].id < last_id:
            received.append(await self.next())
        return received

    async def close(self) -> None:
        self.response.close()
        self._reading.cancel()
        await asyncio.gather(self._reading, return_exceptions=True)


@dataclass
class Fanout:
    """The stream of one user (``user_id``), what is published to it, and shutdown."""

    client: TestClient[web.Request, web.Application]
    js: JetStreamContext
    user_id: str
    closing: asyncio.Event
    opened: list[EventSource] = field(default_factory=list)

    @property
    def subject(self) -> str:
        return user_events_subject(self.user_id)

    async def connect(
        self, headers: Mapping[str, str] | None = None, params: Mapping[str, str] | None = None
    ) -> EventSource:
        """An open stream; its JetStream consumer exists once the response has begun."""
        response = await self.client.get("/v1/events", headers=headers, params=params)
        assert response.status == 200, await response.text()
        assert response.content_type == "text/event-stream"
        self.opened.append(EventSource(response))
        return self.opened[-1]

    async def publish(self, event: Message, *, user_id: str | None = None) -> int:
        """Publish ``event`` as services do; its stream sequence, the id the browser gets."""
        subject = user_events_subject(user_id or self.user_id)
        await publish(self.js, subject, event)
        seq = (await self.js.get_last_msg("EVENTS", subject)).seq
        assert seq is not None
        return seq

    async def publish_raw(self, data: bytes) -> int:
        return (await self.js.publish(self.subject, data)).seq

    async def consumers(self) -> int:
        """How many consumers of the EVENTS stream deliver this user's events."""
        infos = await self.js.consumers_info("EVENTS")
        return sum(1 for info in infos if info.config.filter_subject == self.subject)


@pytest.fixture
async def fanout(nats_js: JetStreamContext) -> AsyncIterator[Fanout]:
    await ensure_streams(nats_js)
    user_id = uuid.uuid4().hex
    closing = asyncio.Event()
    app = create_app("fanout-test", max_body_bytes=1024)

    async def events(request: web.Request) -> web.StreamResponse:
        return await stream_events(request, nats_js, user_id, closing, asyncio.Event())

    app.router.add_get("/v1/events", events)
    # TestServer cancels a handler whose client leaves, as the service's runner does.
    client = TestClient(TestServer(app))
    await client.start_server()
    fanout = Fanout(client, nats_js, user_id, closing)
    try:
        yield fanout
    finally:
        for source in fanout.opened:
            await source.close()
        closing.set()
        await client.close()


async def eventually(check: Callable[[], Awaitable[bool]], what: str, timeout_s: float) -> None:
    """Wait (bounded) until ``check`` holds: the server forgets a consumer on its own time."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not await check():
        if asyncio.get_running_loop().time() > deadline:
            pytest.fail(f"timed out waiting until {what}")
        await asyncio.sleep(0.1)


# --- Order and ownership ---------------------------------------------------------------------


async def test_a_user_gets_their_own_events_in_order_with_stream_sequences_as_ids(
    fanout: Fanout,
) -> None:
    source = await fanout.connect()
    someone_else = uuid.uuid4().hex
    sent: list[tuple[int, BatchProgress]] = []
    for done in range(3):
        await fanout.publish(progress(done), user_id=someone_else)
        event = progress(done)
        sent.append((await fanout.publish(event), event))
    await fanout.publish(progress(3), user_id=someone_else)

    received = await source.until(sent[-1][0])

    assert [(r.id, r.name) for r in received] == [(seq, "batch.progress") for seq, _ in sent]
    assert [r.data["batch_id"] for r in received] == [event.batch_id for _, event in sent]


async def test_a_stream_without_last_event_id_starts_with_new_events(fanout: Fanout) -> None:
    await fanout.publish(progress(0))
    source = await fanout.connect()
    live = await fanout.publish(progress(1))

    assert [r.id for r in await source.until(live)] == [live]


# --- Resume ----------------------------------------------------------------------------------


@pytest.mark.parametrize("sent_as", ["Last-Event-ID header", "last_event_id query"])
async def test_resume_gets_every_event_after_the_last_seen_then_live_ones(
    fanout: Fanout, sent_as: str
) -> None:
    first = await fanout.connect()
    seen = [await fanout.publish(progress(done)) for done in range(3)]
    assert [r.id for r in await first.until(seen[-1])] == seen
    await first.close()
    missed = [await fanout.publish(progress(done)) for done in range(3, 5)]

    last_seen = str(seen[1])
    if sent_as == "Last-Event-ID header":
        again = await fanout.connect(headers={"Last-Event-ID": last_seen})
    else:
        again = await fanout.connect(params={"last_event_id": last_seen})
    live = await fanout.publish(progress(5))

    assert [r.id for r in await again.until(live)] == [seen[2], *missed, live]


async def test_the_last_event_id_header_wins_over_the_query(fanout: Fanout) -> None:
    sent = [await fanout.publish(progress(done)) for done in range(3)]

    source = await fanout.connect(
        headers={"Last-Event-ID": str(sent[1])}, params={"last_event_id": str(sent[0])}
    )

    assert [r.id for r in await source.until(sent[2])] == [sent[2]]


GARBAGE_EVENT_IDS: list[tuple[str, dict[str, str], dict[str, str]]] = [
    ("letters in the header", {"Last-Event-ID": "abc"}, {}),
    ("a negative id in the header", {"Last-Event-ID": "-1"}, {}),
    ("a decimal id in the header", {"Last-Event-ID": "1.5"}, {}),
    ("digits then letters in the header", {"Last-Event-ID": "12abc"}, {}),
    ("20 digits in the header", {"Last-Event-ID": "9" * 20}, {}),
    ("letters in the query", {}, {"last_event_id": "abc"}),
    ("a superscript two in the query", {}, {"last_event_id": "\u00b2"}),
    ("Arabic-Indic digits in the query", {}, {"last_event_id": "\u0661\u0662"}),
]


@pytest.mark.parametrize(
    ("label", "headers", "params"), GARBAGE_EVENT_IDS, ids=[g[0] for g in GARBAGE_EVENT_IDS]
)
async def test_a_garbage_last_event_id_is_a_bad_request(
    fanout: Fanout, label: str, headers: dict[str, str], params: dict[str, str]
) -> None:
    response = await fanout.client.get("/v1/events", headers=headers, params=params)

    assert response.status == 400, label
    assert response.content_type == PROBLEM_CONTENT_TYPE
    problem = await response.json(content_type=PROBLEM_CONTENT_TYPE)
    assert problem["status"] == 400 and "Last-Event-ID" in problem["detail"], problem
    assert await fanout.consumers() == 0


# --- Messages that are no user event ---------------------------------------------------------


@pytest.mark.parametrize(("label", "data"), NOT_USER_EVENTS, ids=[n for n, _ in NOT_USER_EVENTS])
async def test_a_message_that_is_no_user_event_is_logged_and_skipped(
    fanout: Fanout, label: str, data: bytes
) -> None:
    source = await fanout.connect()
    with structlog.testing.capture_logs() as logs:
        await fanout.publish_raw(data)
        good = await fanout.publish(progress(2))

        assert [r.id for r in await source.until(good)] == [good], label
    malformed = [entry for entry in logs if entry["event"] == "nats.malformed"]
    assert [(e["subject"], e["log_level"]) for e in malformed] == [(fanout.subject, "error")]


# --- Events of other releases, relayed as written --------------------------------------------


@pytest.mark.parametrize(
    ("label", "changes"),
    [
        ("an extra field", {"eta_s": 12.5}),
        ("an extra field and a field whose type no longer fits", {"eta_s": 12.5, "total": "4"}),
    ],
)
async def test_a_newer_event_reaches_the_client_unchanged(
    fanout: Fanout, label: str, changes: dict[str, Any]
) -> None:
    payload = {**progress_fields(), **changes}
    version = BatchProgress.VERSION + 1
    source = await fanout.connect()

    seq = await fanout.publish_raw(
        envelope(
            "batch.progress", payload, schema_version=version, id="e-newer", time=1700000000.25
        )
    )

    received = await source.next()
    assert (received.id, received.name) == (seq, "batch.progress"), label
    assert received.data == {
        "type": "batch.progress",
        "id": "e-newer",
        "time": 1700000000.25,
        "schema_version": version,
        **payload,
    }


async def test_an_unknown_event_type_reaches_the_client_unchanged(fanout: Fanout) -> None:
    payload = {"comment_id": "c1", "text": "nice lighting", "mentions": ["u2"], "nested": {"a": 1}}
    source = await fanout.connect()

    seq = await fanout.publish_raw(envelope("canvas.comment", payload, id="e-new", time=3.0))

    received = await source.next()
    assert (received.id, received.name) == (seq, "canvas.comment")
    assert received.data == {
        "type": "canvas.comment",
        "id": "e-new",
        "time": 3.0,
        "schema_version": 1,
        **payload,
    }


async def test_an_event_holds_the_envelope_fields_beside_the_payload_fields(
    fanout: Fanout,
) -> None:
    source = await fanout.connect()
    event = progress(3)
    seq = await fanout.publish(event)
    written = Envelope.decode((await fanout.js.get_msg("EVENTS", seq)).data or b"")

    received = await source.next()

    assert received.data == {
        "type": "batch.progress",
        "id": written.id,
        "time": written.time,
        "schema_version": BatchProgress.VERSION,
        **msgspec.to_builtins(event),
    }


# --- Ending ----------------------------------------------------------------------------------


async def test_closing_ends_an_open_stream_promptly(fanout: Fanout) -> None:
    source = await fanout.connect()

    fanout.closing.set()

    # The stream notices within one poll (a second); the bound leaves room for a busy machine.
    await asyncio.wait_for(source.ended.wait(), 5.0)
    assert source.events.empty()


async def test_a_client_that_leaves_does_not_leave_its_consumer_behind(fanout: Fanout) -> None:
    before = await fanout.consumers()
    source = await fanout.connect()
    assert await fanout.consumers() == before + 1

    await source.close()

    async def gone() -> bool:
        return await fanout.consumers() == before

    await eventually(gone, "the stream's consumer is gone", CONSUMER_GONE_TIMEOUT_S)
