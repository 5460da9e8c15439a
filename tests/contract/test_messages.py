"""The bus contract: the committed AsyncAPI document and the studio's event types are exactly
what the message types declare, the document is valid AsyncAPI 3, and it tells a message that
fits from one that does not.

When a test here fails after a change to a message type, run ``make contracts`` and commit
the documents it writes (and follow the rules for changing a message in libs/bus/messages.py).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft7Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT7

from libs.bus import Message, encode, events
from libs.bus.channels import CHANNELS
from libs.bus.messages import MESSAGE_TYPES
from libs.bus.states import BatchState, JobState, NodeState, ReportedState
from libs.bus.work import JobMessage, JobReport
from services.contract import ASYNCAPI_PATH, asyncapi_document, asyncapi_yaml, user_events_schema
from tests.contract.bus_document import BusDocument

ROOT = Path(__file__).resolve().parents[2]
WEB = ROOT / "web"
EVENT_TYPES = WEB / "src" / "api" / "events.ts"
ASYNCAPI_SCHEMA = WEB / "node_modules" / "@asyncapi" / "specs" / "schemas" / "3.0.0.json"


def _differences(committed: Any, made: Any, where: str = "") -> Iterator[str]:
    """Where two documents differ, as readable paths."""
    if isinstance(committed, dict) and isinstance(made, dict):
        for key in committed.keys() | made.keys():
            if key not in made:
                yield f"{where}/{key}: in the committed document only"
            elif key not in committed:
                yield f"{where}/{key}: declared by the code only"
            else:
                yield from _differences(committed[key], made[key], f"{where}/{key}")
    elif committed != made:
        yield f"{where}: committed {committed!r}, declared {made!r}"


def _made(document: dict[str, Any]) -> Any:
    return yaml.safe_load(asyncapi_yaml(document))  # as it would be committed


def test_the_committed_asyncapi_document_is_what_the_types_declare() -> None:
    committed = yaml.safe_load(ASYNCAPI_PATH.read_text())
    differences = sorted(_differences(committed, _made(asyncapi_document())))
    assert not differences, "run `make contracts`:\n" + "\n".join(differences[:40])


class BatchProgress(events.BatchProgress, kw_only=True, frozen=True):
    """Jobs of a batch moved. Coalesced: at most a few a second per batch, with the newest
    state of up to ``MAX_JOBS_PER_EVENT`` changed jobs and how many more changed."""

    # The one change: a field added. It is not registered (no TYPE of its own), and has the
    # same name and text as the real one, so only the field can tell the documents apart.
    eta_s: float = 0.0


def test_control_changing_one_field_of_a_type_fails_the_comparison() -> None:
    changed = [
        channel
        if channel.id != "events.user.batch"
        else type(channel)(
            **{
                **channel.__dict__,
                "senders": {
                    party: tuple(BatchProgress if k is events.BatchProgress else k for k in kinds)
                    for party, kinds in channel.senders.items()
                },
            }
        )
        for channel in CHANNELS
    ]
    committed = yaml.safe_load(ASYNCAPI_PATH.read_text())
    differences = sorted(_differences(committed, _made(asyncapi_document(changed))))
    assert differences == [
        "/components/schemas/BatchProgress/properties/eta_s: declared by the code only"
    ]


def _asyncapi_validator() -> Draft7Validator:
    spec = json.loads(ASYNCAPI_SCHEMA.read_text())
    resources = [
        (sub["$id"], Resource.from_contents(sub, default_specification=DRAFT7))
        for sub in spec["definitions"].values()
        if "$id" in sub
    ]
    return Draft7Validator(spec, registry=Registry().with_resources(resources))


def test_the_document_is_valid_asyncapi_3() -> None:
    errors = [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message[:200]}"
        for e in _asyncapi_validator().iter_errors(yaml.safe_load(ASYNCAPI_PATH.read_text()))
    ]
    assert not errors, errors[:10]


def test_control_an_invalid_document_fails_the_asyncapi_schema() -> None:
    document = yaml.safe_load(ASYNCAPI_PATH.read_text())
    document["operations"]["batch.send.work"]["action"] = "publish"  # AsyncAPI 2's word
    assert list(_asyncapi_validator().iter_errors(document))


def test_every_message_type_of_the_platform_travels_on_a_channel() -> None:
    platform = {kind for kind in MESSAGE_TYPES.values() if kind.__module__.startswith("libs.bus")}
    carried = {kind for channel in CHANNELS for kind in channel.messages}
    assert platform == carried


def _id() -> str:
    return str(uuid.uuid4())


# One message of each type, as its producer sends it, on a subject of its channel.
EXAMPLES: list[tuple[str, Message]] = [
    (
        "work.render.scad",
        JobMessage(
            job_id=_id(),
            batch_id=_id(),
            owner_id="ada",
            function="render.scad",
            input={"source": "cube(1);", "formats": ["png"]},
        ),
    ),
    (
        "work.test.echo",
        JobMessage(job_id=_id(), batch_id=_id(), owner_id="ada", function="test.echo", input={}),
    ),
    (
        "job.result." + _id(),
        JobReport(
            job_id=_id(),
            batch_id=_id(),
            state=ReportedState.SUCCEEDED,
            progress=100,
            output={"png": "0" * 64},
        ),
    ),
    (
        "events.user.ada.batch." + _id(),
        events.BatchSubmitted(
            batch_id=_id(), state=BatchState.QUEUED, total=2, counts={JobState.QUEUED: 2}
        ),
    ),
    (
        "events.user.ada.batch." + _id(),
        events.BatchProgress(
            batch_id=_id(),
            state=BatchState.RUNNING,
            total=1,
            counts={JobState.RUNNING: 1},
            jobs=[
                events.JobProgress(
                    job_id=_id(),
                    key="s010/frame",
                    function="image.frame",
                    state=JobState.RUNNING,
                    progress=40,
                )
            ],
        ),
    ),
    (
        "events.user.ada.batch." + _id(),
        events.BatchCompleted(
            batch_id=_id(), state=BatchState.FAILED, total=1, counts={JobState.FAILED: 1}
        ),
    ),
    (
        "events.user.ada.batch." + _id(),
        events.BatchCancelled(
            batch_id=_id(), state=BatchState.CANCELLED, total=1, counts={JobState.CANCELLED: 1}
        ),
    ),
    (
        "events.user.ada.batch." + _id(),
        events.BatchRetried(
            batch_id=_id(),
            state=BatchState.QUEUED,
            total=2,
            counts={JobState.SUCCEEDED: 1, JobState.QUEUED: 1},
            canvas_id=_id(),
        ),
    ),
    (
        "events.canvas." + _id(),
        events.CanvasNodes(
            canvas_id=_id(),
            version=3,
            batch_id=_id(),
            nodes=[
                events.NodeResult(
                    node_id="s010",
                    key="k" * 64,
                    state=NodeState.SUCCEEDED,
                    progress=100,
                    output={"frame": "0" * 64, "image": "0" * 64},
                )
            ],
        ),
    ),
    (
        "events.user.ada",
        events.CanvasExecution(
            canvas_id=_id(),
            version=3,
            nodes=[events.NodeResult(node_id="ada", key="k" * 64, state=NodeState.CACHED)],
        ),
    ),
    ("canvas.changed.c1", events.CanvasChanged(canvas_id=_id(), version=3, stamp=1_700_000)),
    (
        "auth.revoked." + _id(),
        events.CredentialRevoked(user_id=_id(), credential_kind="key", credential_id=_id()),
    ),
]


def test_every_type_has_an_example() -> None:
    assert {type(message) for _, message in EXAMPLES} == {
        kind for channel in CHANNELS for kind in channel.messages
    }


@pytest.mark.parametrize(("subject", "message"), EXAMPLES, ids=[m.TYPE for _, m in EXAMPLES])
def test_a_message_as_its_producer_sends_it_fits_the_document(
    subject: str, message: Message
) -> None:
    verdict = BusDocument.committed().check(subject, {}, encode(message))
    assert verdict.ok, verdict.problem


@pytest.mark.parametrize(
    ("label", "subject", "data", "says"),
    [
        ("garbage", "work.render.scad", b"\xc1", "not application/msgpack"),
        ("a bare number", "work.render.scad", b"\x00", "no message of type None"),
        (
            "a report where a job belongs",
            "work.render.scad",
            encode(EXAMPLES[2][1]),
            "no message of type 'job.result'",
        ),
        (
            "a render job without its source",
            "work.render.scad",
            encode(
                JobMessage(
                    job_id=_id(), batch_id=_id(), owner_id="a", function="render.scad", input={}
                )
            ),
            "'source' is a required property",
        ),
        (
            "a job on an undocumented subject",
            "jobs.render",
            encode(EXAMPLES[0][1]),
            "no channel of the document carries 'jobs.render'",
        ),
        (
            "a batch event on its owner's own subject",
            "events.user.ada",
            encode(EXAMPLES[4][1]),
            "no message of type 'batch.progress'",
        ),
        (
            "a batch event under a batch id with a dot",
            "events.user.ada.batch.b.1",
            encode(EXAMPLES[4][1]),
            "no channel of the document carries",
        ),
        ("a function registry entry that is no JSON", "$KV.functions.x.y", b"{", "not"),
    ],
)
def test_control_the_document_tells_a_bad_message(
    label: str, subject: str, data: bytes, says: str
) -> None:
    verdict = BusDocument.committed().check(subject, {}, data)
    assert not verdict.ok and says in verdict.problem, verdict


def test_nats_own_subjects_are_infrastructure_not_undocumented() -> None:
    document = BusDocument.committed()
    for subject in ("$JS.API.STREAM.INFO.WORK", "_INBOX.abc.def", "$O.blobs.C.xyz"):
        assert document.check(subject, {}, b"").infrastructure, subject


def _node() -> str:
    node = shutil.which("node")
    if node is None or not (WEB / "node_modules").is_dir():
        pytest.fail("node and web/node_modules are needed: run `make bootstrap`")
    return node


def test_the_committed_event_types_are_what_the_types_declare() -> None:
    made = subprocess.run(
        [_node(), "scripts/event-types.mjs"],
        input=json.dumps(user_events_schema()),
        capture_output=True,
        text=True,
        cwd=WEB,
        check=True,
        timeout=60,
    ).stdout
    assert made == EVENT_TYPES.read_text(), "run `make contracts`"


def test_the_event_types_compile_under_strict_typescript() -> None:
    _node()
    compiled = subprocess.run(
        [str(WEB / "node_modules" / ".bin" / "tsc"), "--noEmit", "-p", "."],
        capture_output=True,
        text=True,
        cwd=WEB,
        timeout=120,
    )
    assert compiled.returncode == 0, compiled.stdout + compiled.stderr
