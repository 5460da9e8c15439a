"""``relayed_event`` and ``route_of`` on their own: what a client gets for each message of the
EVENTS stream, that a message which is no event of its subject is logged with its subject and
gives nothing, and which connections each subject reaches."""

from __future__ import annotations

import json
import uuid

import msgspec
import pytest
import structlog

from libs.bus import encode
from libs.bus.events import BatchProgress, CanvasExecution, NodeResult
from libs.bus.states import NodeState, ReportedState
from libs.bus.work import JobReport
from services.fanout.events import Route, relayed_event, route_of
from services.fanout.tests.samples import (
    NOT_USER_EVENTS,
    envelope,
    nodes,
    progress,
    progress_fields,
)

SUBJECT = "events.user.u-relay"

MORE_NOT_USER_EVENTS: list[tuple[str, bytes]] = [
    ("empty bytes", b""),
    ("a MessagePack string", msgspec.msgpack.encode("batch.progress")),
    (
        "an envelope without an id",
        msgspec.msgpack.encode({"type": "batch.progress", "time": 1.0, "payload": {}}),
    ),
    (
        "batch.progress without its batch_id",
        envelope("batch.progress", {k: v for k, v in progress_fields().items() if k != "batch_id"}),
    ),
    (
        "a job.result message",
        encode(
            JobReport(
                job_id=str(uuid.uuid4()),
                batch_id=str(uuid.uuid4()),
                state=ReportedState.SUCCEEDED,
            )
        ),
    ),
]
ALL_BAD = NOT_USER_EVENTS + MORE_NOT_USER_EVENTS


@pytest.mark.parametrize(("label", "data"), ALL_BAD, ids=[label for label, _ in ALL_BAD])
def test_a_message_that_is_no_user_event_gives_nothing_and_is_logged(
    label: str, data: bytes
) -> None:
    with structlog.testing.capture_logs() as logs:
        assert relayed_event(SUBJECT, data) is None, label

    assert [(e["event"], e["subject"], e["log_level"]) for e in logs] == [
        ("nats.malformed", SUBJECT, "error")
    ]


def test_a_user_event_is_its_envelope_fields_beside_its_payload_fields() -> None:
    event = CanvasExecution(
        canvas_id=str(uuid.uuid4()),
        version=3,
        nodes=[NodeResult(node_id="shot-1", key="k" * 64, state=NodeState.CACHED)],
    )

    relayed = relayed_event(SUBJECT, encode(event, message_id="e-1", sent_at=42.5))

    assert relayed is not None
    assert relayed.type == "canvas.execution"
    assert (
        json.loads(relayed.json)
        == relayed.fields
        == {
            "type": "canvas.execution",
            "id": "e-1",
            "time": 42.5,
            "schema_version": CanvasExecution.VERSION,
            **msgspec.to_builtins(event),
        }
    )


NEWER = BatchProgress.VERSION + 1
FIELDS = progress_fields()


OTHER_RELEASES: list[tuple[str, str, int, dict[str, object]]] = [
    ("a newer batch.progress that still fits", "batch.progress", NEWER, FIELDS | {"eta_s": 9}),
    (
        "a newer batch.progress that no longer fits",
        "batch.progress",
        NEWER,
        FIELDS | {"total": "4", "jobs": {"a": 1}},
    ),
    ("an unknown type", "canvas.comment", 1, {"text": "nice", "mentions": ["u2"]}),
]


@pytest.mark.parametrize(
    ("label", "type_", "version", "payload"), OTHER_RELEASES, ids=[o[0] for o in OTHER_RELEASES]
)
def test_an_event_of_another_release_is_relayed_as_written(
    label: str, type_: str, version: int, payload: dict[str, object]
) -> None:
    data = envelope(type_, payload, schema_version=version, id="e-2", time=7.25)

    relayed = relayed_event(SUBJECT, data)

    assert relayed is not None, label
    assert relayed.type == type_
    assert json.loads(relayed.json) == {
        "type": type_,
        "id": "e-2",
        "time": 7.25,
        "schema_version": version,
        **payload,
    }


def test_a_newer_event_is_not_logged_as_malformed() -> None:
    data = envelope("batch.progress", FIELDS | {"total": "many"}, schema_version=NEWER)

    with structlog.testing.capture_logs() as logs:
        assert relayed_event(SUBJECT, data) is not None

    assert "nats.malformed" not in [e["event"] for e in logs]


def test_a_sample_event_relays() -> None:
    """The control for the bad inputs: the same sample, unspoilt, is a user event."""
    assert relayed_event(SUBJECT, encode(progress(1))) is not None


CANVAS_SUBJECT = f"events.canvas.{uuid.uuid4()}"


def test_a_canvas_event_relays_on_a_canvas_subject_and_not_on_a_user_one() -> None:
    data = encode(nodes(str(uuid.uuid4())))

    relayed = relayed_event(CANVAS_SUBJECT, data)

    assert relayed is not None and relayed.type == "canvas.nodes"
    with structlog.testing.capture_logs() as logs:
        assert relayed_event(SUBJECT, data) is None
    assert [e["error"] for e in logs] == ["a 'canvas.nodes' message is no user event"]


def test_a_user_event_on_a_canvas_subject_gives_nothing() -> None:
    with structlog.testing.capture_logs() as logs:
        assert relayed_event(CANVAS_SUBJECT, encode(progress(1))) is None

    assert [e["error"] for e in logs] == ["a 'batch.progress' message is no canvas event"]


@pytest.mark.parametrize(
    ("subject", "route"),
    [
        ("events.user.u1", Route(("user:u1",), "user")),
        ("events.user.u1.batch.b1", Route(("user:u1", "batch:b1"), "batch:b1")),
        ("events.user.u1.renders.r1", Route(("user:u1",), "user")),
        ("events.canvas.c1", Route(("canvas:c1",), "canvas:c1")),
        ("events.canvas.c1.extra", None),
        ("events.other.x", None),
        ("events.user", None),
    ],
)
def test_a_subject_reaches_the_keys_its_tokens_name(subject: str, route: Route | None) -> None:
    assert route_of(subject) == route
