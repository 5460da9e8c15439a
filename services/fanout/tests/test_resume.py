"""Resume: everything missed on the feed and the topics, in order and once each, then the live
flow with no gap between the two; a reset when the history is gone; a clear error for a resume
point the stream never had; and no consumer left behind."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from nats.js import JetStreamContext

from libs.web import PROBLEM_CONTENT_TYPE
from services.fanout.feed import STREAM
from services.fanout.replay import REPLAY_PREFIX
from services.fanout.tests.clients import Message
from services.fanout.tests.conftest import Fanout, MakeFanout
from services.fanout.tests.samples import nodes, progress
from services.fanout.wire import Wire


class DuringReplay:
    """The fan-out's JetStream, unchanged but for one thing: once armed, what the test gives
    runs right after a replay has read where the stream ends, so what it publishes arrives
    live while the replay is still going."""

    def __init__(self, js: JetStreamContext) -> None:
        self._js = js
        self._during: Callable[[], Awaitable[None]] | None = None

    def arm(self, during: Callable[[], Awaitable[None]]) -> None:
        self._during = during

    def __getattr__(self, name: str) -> Any:
        return getattr(self._js, name)

    async def stream_info(self, *args: Any, **kwargs: Any) -> Any:
        info = await self._js.stream_info(*args, **kwargs)
        during, self._during = self._during, None
        if during is not None:
            await during()
        return info


async def replay_consumers(js: JetStreamContext) -> list[str]:
    infos = await js.consumers_info(STREAM)
    return [i.name for i in infos if i.name.startswith(REPLAY_PREFIX)]


def split_at_resumed(messages: list[Message]) -> tuple[list[int], Message, list[int]]:
    """The event sequences before ``resumed``, it, and those after."""
    [at] = [i for i, m in enumerate(messages) if m["type"] in _OUTCOMES]
    seqs = [m["seq"] for m in messages if m["type"] == "event"]
    before = [m["seq"] for m in messages[:at] if m["type"] == "event"]
    return before, messages[at], seqs[len(before) :]


_OUTCOMES = ("resumed", "reset", "error")


async def received_until(client: Any, seq: int, *, outcome: bool = False) -> list[Message]:
    """Every message up to the event ``seq`` and, with ``outcome``, up to the resume's outcome
    too, whichever comes last: an event published as the stream opens may be replayed (before
    the outcome) or live (after it), and either is right."""
    messages = [await client.next()]
    # Not "the last message's seq": a replayed ``seq`` is followed by the outcome, which has none.
    while not any(m.get("seq", -1) >= seq for m in messages) or (
        outcome and not any(m["type"] in _OUTCOMES for m in messages)
    ):
        messages.append(await client.next())
    return messages


@pytest.mark.parametrize("wire", [Wire.MSGPACK, Wire.JSON])
async def test_a_resume_gets_each_event_missed_once_in_order_then_the_live_ones_with_no_gap(
    make_fanout: MakeFanout, wire: Wire
) -> None:
    js = DuringReplay((await make_fanout()).js)
    fanout = await make_fanout(js=js, fanout_first_message_wait_ms=60_000)
    alice = await fanout.user()
    missed = [await fanout.to_user(alice, progress(done)) for done in range(30)]
    after = missed[9]
    client = await fanout.ws(alice, wire, first=False)
    # Published while the connection waits for the client's first message: the hub holds
    # them as they come, and the replay has them too.
    missed += [await fanout.to_user(alice, progress(done)) for done in range(3)]
    live: list[int] = []

    async def publish_live() -> None:  # after the replay has read where the stream ends
        for done in range(5):
            live.append(await fanout.to_user(alice, progress(done)))

    js.arm(publish_live)
    await client.send({"type": "resume", "after": after})
    await client.next_of("resumed")  # by then, every live event is published
    await received_until(client, live[-1])
    messages = client.seen  # everything since hello

    replayed, resumed, then = split_at_resumed(messages)
    assert replayed == [s for s in missed if s > after]
    assert resumed == {"type": "resumed", "after": after, "replayed": len(replayed)}
    assert then == live
    assert await replay_consumers(fanout.js) == []


async def test_a_resume_covers_the_topics_it_names(fanout: Fanout) -> None:
    alice = await fanout.user()
    canvas, forbidden = str(uuid.uuid4()), str(uuid.uuid4())
    fanout.policy.allow(alice.user_id, f"canvas:{canvas}")
    seen = await fanout.to_user(alice, progress(0))
    missed = [
        await fanout.to_canvas(canvas, nodes(canvas)),
        await fanout.to_canvas(forbidden, nodes(forbidden)),
        await fanout.to_user(alice, progress(1)),
    ]
    topics = [f"canvas:{canvas}", f"canvas:{forbidden}"]

    client = await fanout.ws(alice, first={"type": "resume", "after": seen, "topics": topics})
    await client.next_of("resumed")
    live = await fanout.to_canvas(canvas, nodes(canvas))

    await received_until(client, live)
    messages = client.seen
    replies = [(m["type"], m["topic"]) for m in messages if m["type"] in ("subscribed", "refused")]
    assert replies == [("subscribed", topics[0]), ("refused", topics[1])]
    replayed, _, then = split_at_resumed(messages)
    assert replayed == [missed[0], missed[2]]
    assert then == [live]


@pytest.mark.parametrize("sent_as", ["Last-Event-ID header", "last_event_id query"])
async def test_an_event_stream_resumes_after_its_last_event_id(
    fanout: Fanout, sent_as: str
) -> None:
    alice = await fanout.user()
    seen = [await fanout.to_user(alice, progress(done)) for done in range(3)]
    missed = [await fanout.to_user(alice, progress(done)) for done in range(3, 5)]

    if sent_as == "Last-Event-ID header":
        source = await fanout.sse(alice, headers={"Last-Event-ID": str(seen[-1])})
    else:
        source = await fanout.sse(alice, params={"last_event_id": str(seen[-1])})
    live = await fanout.to_user(alice, progress(5))

    messages = await received_until(source, live, outcome=True)
    replayed, resumed, then = split_at_resumed(messages)
    # ``live`` is replayed when it reached the stream before the replay began, else it follows.
    assert replayed + then == [*missed, live]
    assert replayed in (missed, [*missed, live])
    assert resumed["sse_event"] == "shotgraph.resumed" and resumed["sse_id"] is None


async def test_the_last_event_id_header_wins_over_the_query(fanout: Fanout) -> None:
    alice = await fanout.user()
    sent = [await fanout.to_user(alice, progress(done)) for done in range(3)]

    source = await fanout.sse(
        alice, headers={"Last-Event-ID": str(sent[1])}, params={"last_event_id": str(sent[0])}
    )

    assert [e["seq"] for e in await source.events_until(sent[2])] == [sent[2]]


async def purge_before(fanout: Fanout, seq: int) -> None:
    """Drop every message of the stream below ``seq``, as its age limit would."""
    await fanout.js.purge_stream(STREAM, seq=seq)


async def test_a_resume_from_before_the_history_kept_is_a_reset_then_live(
    fanout: Fanout,
) -> None:
    alice = await fanout.user()
    old = [await fanout.to_user(alice, progress(done)) for done in range(3)]
    await purge_before(fanout, old[2])

    client = await fanout.ws(alice, first={"type": "resume", "after": old[0]})
    live = await fanout.to_user(alice, progress(3))

    messages = await received_until(client, live)
    replayed, reset, then = split_at_resumed(messages)
    assert replayed == [] and then == [live]
    assert reset["type"] == "reset" and reset["reason"] == "history_gone"
    assert (reset["after"], reset["first_seq"]) == (old[0], old[2])


async def test_a_resume_right_at_the_history_kept_is_no_reset(fanout: Fanout) -> None:
    alice = await fanout.user()
    old = [await fanout.to_user(alice, progress(done)) for done in range(3)]
    await purge_before(fanout, old[2])

    source = await fanout.sse(alice, headers={"Last-Event-ID": str(old[1])})

    await source.next_of("resumed")
    replayed, resumed, _ = split_at_resumed(source.seen)
    assert (replayed, resumed["type"]) == ([old[2]], "resumed")


async def test_an_event_stream_from_before_the_history_kept_gets_a_reset(fanout: Fanout) -> None:
    alice = await fanout.user()
    old = [await fanout.to_user(alice, progress(done)) for done in range(3)]
    await purge_before(fanout, old[2])

    source = await fanout.sse(alice, headers={"Last-Event-ID": str(old[0])})

    reset = await source.next_of("reset")
    assert (reset["sse_event"], reset["sse_id"], reset["first_seq"]) == (
        "shotgraph.reset",
        None,
        old[2],
    )


@pytest.mark.parametrize("after", ["future", "text", -1], ids=["future", "text", "negative"])
async def test_a_websocket_resume_from_nowhere_is_an_error_and_the_connection_stays(
    fanout: Fanout, after: object
) -> None:
    alice = await fanout.user()
    last = (await fanout.js.stream_info(STREAM)).state.last_seq
    point = last + 1000 if after == "future" else after

    client = await fanout.ws(alice, first={"type": "resume", "after": point})

    error = await client.next_of("error")
    assert error["code"] == "bad_resume", error
    live = await fanout.to_user(alice, progress(1))
    assert [e["seq"] for e in await client.events_until(live)] == [live]


GARBAGE_EVENT_IDS: list[tuple[str, dict[str, str], dict[str, str]]] = [
    ("letters in the header", {"Last-Event-ID": "abc"}, {}),
    ("a negative id in the header", {"Last-Event-ID": "-1"}, {}),
    ("a decimal id in the header", {"Last-Event-ID": "1.5"}, {}),
    ("digits then letters in the header", {"Last-Event-ID": "12abc"}, {}),
    ("20 digits in the header", {"Last-Event-ID": "9" * 20}, {}),
    ("letters in the query", {}, {"last_event_id": "abc"}),
    ("a superscript two in the query", {}, {"last_event_id": "\u00b2"}),
    ("Arabic-Indic digits in the query", {}, {"last_event_id": "\u0661\u0662"}),
    ("an id from the future", {"Last-Event-ID": str(2**62)}, {}),
]


@pytest.mark.parametrize(
    ("label", "headers", "params"), GARBAGE_EVENT_IDS, ids=[g[0] for g in GARBAGE_EVENT_IDS]
)
async def test_an_event_stream_from_a_bad_last_event_id_is_a_bad_request(
    fanout: Fanout, label: str, headers: dict[str, str], params: dict[str, str]
) -> None:
    alice = await fanout.user()
    response = await fanout.client.get(
        "/v1/events", headers={**alice.headers, **headers}, params=params
    )

    assert response.status == 400, label
    assert response.content_type == PROBLEM_CONTENT_TYPE
    problem = await response.json(content_type=PROBLEM_CONTENT_TYPE)
    assert "Last-Event-ID" in problem["detail"], problem
    assert fanout.live.hub.count_of(alice.user_id) == 0


async def test_no_replay_consumer_outlives_its_replay_even_when_the_client_vanishes(
    fanout: Fanout,
) -> None:
    alice = await fanout.user()
    seen = await fanout.to_user(alice, progress(0))
    for done in range(600):  # a long history: the client is gone before it is all replayed
        await fanout.to_user(alice, progress(done))
    client = await fanout.ws(alice, first={"type": "resume", "after": seen})
    await client.next_of("event")

    client.vanish()

    await asyncio.wait_for(fanout.live.hub.idle(), 10)
    assert await replay_consumers(fanout.js) == []
