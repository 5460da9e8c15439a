"""The live connection's contract: ``libs/live/protocol.py``, the AsyncAPI document's live
channels and the prose of ``docs/live-events.md`` say the same, both ways: every message type
of the code is in the document and the prose, and neither has one the code does not.

The committed document being exactly what the code makes is checked with the bus's part
(``test_messages.py``); when a test here fails after a change to the protocol, run ``make
contracts`` and bring the prose along.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import Any

import msgspec
import pytest
import yaml
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from libs.live.protocol import (
    CLIENT_MESSAGES,
    CLOSE_CODES,
    SERVER_MESSAGES,
    SSE_MESSAGES,
    CloseCode,
    ErrorMessage,
    EventMessage,
    Hello,
    Ping,
    Pong,
    PresenceMessage,
    Reconnect,
    Refused,
    Reset,
    Resume,
    Resumed,
    Subscribe,
    Subscribed,
    Unsubscribe,
    Unsubscribed,
    Viewer,
)
from services.contract import ASYNCAPI_PATH
from services.live_contract import SETTINGS, SSE_CHANNEL, WS_CHANNEL, message_name

PROSE = Path(__file__).resolve().parents[2] / "docs" / "live-events.md"
_URI = "urn:shotgraph:asyncapi"


@cache
def document() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(ASYNCAPI_PATH.read_text())
    return loaded


def _section(title: str) -> str:
    """The text of one ``##``/``###`` section of the prose."""
    text = PROSE.read_text()
    start = text.index(f"{title}\n")
    end = re.compile(r"^#{2,3} ", re.M).search(text, start + len(title))
    return text[start : end.start() if end else len(text)]


def _table(section: str) -> list[list[str]]:
    """The body rows of the first Markdown table in ``section``, cell text stripped."""
    rows = [line for line in section.splitlines() if line.startswith("|")]
    return [[cell.strip() for cell in row.strip("|").split("|")] for row in rows[2:]]


def _names(channel: str) -> set[str]:
    messages = document()["components"]["messages"]
    refs = document()["channels"][channel]["messages"].values()
    return {messages[ref["$ref"].rsplit("/", 1)[-1]]["name"] for ref in refs}


def _tags(kinds: tuple[type[msgspec.Struct], ...]) -> set[str]:
    return {message_name(kind) for kind in kinds}


def _operation_names(operation: str) -> set[str]:
    refs = document()["operations"][operation]["messages"]
    messages = document()["components"]["messages"]
    return {messages[ref["$ref"].rsplit("/", 1)[-1]]["name"] for ref in refs}


def test_every_message_of_the_protocol_is_in_the_document_and_no_other() -> None:
    assert _names(WS_CHANNEL) == _tags(SERVER_MESSAGES) | _tags(CLIENT_MESSAGES)
    assert _operation_names(f"fanout.send.{WS_CHANNEL}") == _tags(SERVER_MESSAGES)
    assert _operation_names(f"fanout.receive.{WS_CHANNEL}") == _tags(CLIENT_MESSAGES)
    assert _names(SSE_CHANNEL) == _tags(SSE_MESSAGES)
    assert _operation_names(f"fanout.send.{SSE_CHANNEL}") == _tags(SSE_MESSAGES)
    live = {
        m["name"]: m["x-direction"]
        for m in document()["components"]["messages"].values()
        if "x-direction" in m
    }
    assert live == {t: "server" for t in _tags(SERVER_MESSAGES)} | {
        t: "client" for t in _tags(CLIENT_MESSAGES)
    }


def test_every_message_of_the_protocol_is_in_the_prose_and_no_other() -> None:
    websocket = _section("## WebSocket")
    server = {row[0].strip("`") for row in _table(websocket)}
    assert server == _tags(SERVER_MESSAGES)
    client_text = websocket[websocket.index("Client messages:") :].split("\n\n")[0]
    assert set(re.findall(r'"type": "(\w+)"', client_text)) == _tags(CLIENT_MESSAGES)
    sse = set(re.findall(r"`shotgraph\.(\w+)`", _section("## SSE")))
    assert sse == _tags(SSE_MESSAGES) - {"event"}


def test_the_close_codes_are_the_same_in_code_document_and_prose() -> None:
    assert set(CLOSE_CODES) == set(CloseCode)
    documented = document()["channels"][WS_CHANNEL]["x-close-codes"]
    assert documented == {
        str(int(code)): {"meaning": meaning, "client_should": should}
        for code, (meaning, should) in CLOSE_CODES.items()
    }
    rows = _table(_section("### Close codes"))
    prose = {int(code): (meaning, should) for code, meaning, should in rows}
    assert prose == {int(code): texts for code, texts in CLOSE_CODES.items()}


def test_the_limits_are_the_same_in_document_and_prose() -> None:
    rows = _table(_section("## Limits (settings)"))
    prose = {name.strip("`"): (int(default), text) for name, default, text in rows}
    assert prose == SETTINGS
    limits = document()["channels"][WS_CHANNEL]["x-limits"]
    assert {name: value["default"] for name, value in limits["settings"].items()} == {
        name: default for name, (default, _) in SETTINGS.items()
    }
    assert f"at most {limits['max_client_message_bytes'] // 1024} KiB" in _section("## WebSocket")
    assert f"At most {limits['max_topics']} topics per connection" in _section("## Topics")
    assert "kept an hour" in _section("## Sequence numbers and resume")
    assert limits["history_s"] == 3600


# One message of each type, as fan-out or a client sends it.
EXAMPLES: list[msgspec.Struct] = [
    Hello(connection_id="c1", user_id="u1", last_seq=41, window_ms=50, heartbeat_s=20),
    EventMessage(
        seq=42,
        topic="canvas:c1",
        event={"type": "canvas.nodes", "id": "e1", "time": 1.5, "schema_version": 1, "x": 1},
    ),
    Subscribed(topic="canvas:c1", presence=[Viewer(user_id="u2", user_name="Bo")]),
    Refused(topic="canvas:c9", reason="not_allowed", detail="not yours"),
    Unsubscribed(topic="batch:b1", reason="access_lost"),
    Resumed(after=41, replayed=1),
    Reset(after=3, first_seq=40, last_seq=42),
    PresenceMessage(topic="canvas:c1", action="leave", user_id="u2", user_name="Bo"),
    Pong(id=7),
    ErrorMessage(code="bad_resume", detail="seq 99 is beyond the stream"),
    Reconnect(after_ms=1200),
    Subscribe(topic="render:r1"),
    Unsubscribe(topic="render:r1"),
    Resume(after=41, topics=["canvas:c1", "batch:b1"]),
    Ping(id="p1"),
]


def test_every_message_type_has_an_example() -> None:
    assert {type(example) for example in EXAMPLES} == {*SERVER_MESSAGES, *CLIENT_MESSAGES}


def _validator(pointer: str) -> Draft202012Validator:
    registry: Registry[Any] = Registry().with_resource(
        _URI, Resource.from_contents(document(), default_specification=DRAFT202012)
    )
    return Draft202012Validator({"$ref": f"{_URI}#{pointer}"}, registry=registry)


def _errors(pointer: str, value: Any) -> list[str]:
    return [error.message for error in _validator(pointer).iter_errors(value)]


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda m: type(m).__name__)
def test_a_message_as_sent_fits_its_schema_in_the_document(example: msgspec.Struct) -> None:
    value = msgspec.json.decode(msgspec.json.encode(example))
    assert not _errors(f"/components/messages/{type(example).__name__}/payload", value)


def test_frames_as_sent_fit_the_documents_frames() -> None:
    channel = document()["channels"][WS_CHANNEL]
    server = [m for m in EXAMPLES if type(m) in SERVER_MESSAGES]
    frame = msgspec.json.decode(msgspec.json.encode(server))
    assert not _errors(channel["x-server-frame"]["$ref"].removeprefix("#"), frame)
    for message in (m for m in EXAMPLES if type(m) in CLIENT_MESSAGES):
        value = msgspec.json.decode(msgspec.json.encode(message))
        assert not _errors(channel["x-client-frame"]["$ref"].removeprefix("#"), value)


@pytest.mark.parametrize(
    ("label", "pointer", "value"),
    [
        ("a resume from a negative seq", "Resume", {"type": "resume", "after": -1}),
        ("a subscribe to an empty topic", "Subscribe", {"type": "subscribe", "topic": ""}),
        ("a hello without its connection", "Hello", {"type": "hello", "user_id": "u"}),
        (
            "an event whose event has no type",
            "EventMessage",
            {"type": "event", "seq": 1, "topic": "user", "event": {"id": "e", "time": 1}},
        ),
        (
            "a refusal for a reason the protocol has not",
            "Refused",
            {"type": "refused", "topic": "canvas:c", "reason": "busy"},
        ),
        ("a client frame of two messages", "client-frame", [{"type": "ping", "id": 1}] * 2),
        ("a server frame that is one message", "server-frame", {"type": "pong", "id": 1}),
        ("a client message of a server's type", "client-frame", {"type": "pong", "id": 1}),
    ],
)
def test_control_the_document_tells_a_bad_message(label: str, pointer: str, value: Any) -> None:
    channel = document()["channels"][WS_CHANNEL]
    frames = {
        "client-frame": channel["x-client-frame"]["$ref"],
        "server-frame": channel["x-server-frame"]["$ref"],
    }
    where = frames.get(pointer, f"#/components/messages/{pointer}/payload")
    assert _errors(where.removeprefix("#"), value), label
