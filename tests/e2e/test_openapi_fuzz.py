"""schemathesis against the live platform: requests made from the OpenAPI document, and every
answer checked against it (no 5xx; status codes, content types, headers and bodies as
documented).

The budget is bounded and the run reproducible: a few examples per operation, derandomized,
without shrinking. It calls as a user of its own, an admin with a password, through a key with
every scope, so what it makes and the limits it spends touch no other test, and the account
routes answer too. A worker serves ``test.*`` functions, so batches run.

Every second case of an operation names things that exist (``Known``): the user's canvas,
versions, render, batch, job, uploaded image and its signed URL, a session, a spare key and an
invitation; and the operations whose generated bodies would never pass validation get a body
that does. So the success schemas are checked against live answers, not only the problems.
``GET /v1/events`` is left out: its answer is a stream that never ends.
"""

from __future__ import annotations

import secrets
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Final
from urllib.parse import urlsplit

import grpc
import pytest
import pyvips
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from libs.launcher import Platform
from services.gateway.openapi import document
from shotgraph.auth.v1 import auth_pb2, auth_pb2_grpc

EXAMPLES_PER_OPERATION: Final = 6
REQUEST_TIMEOUT_S: Final = 30.0
CHECKS: Final = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]

EMPTY_GRAPH: Final[dict[str, list[Any]]] = {"nodes": [], "edges": []}

# Operations that never answer 2xx here, by design, and why (printed with the summary).
NEVER_SUCCEEDS: Final = {
    "POST /v1/auth/password": "changes a password only from a signed-in session; the run calls"
    " with a key (403)",
    "GET /v1/ws": "a WebSocket upgrade, which an HTTP fuzzer does not make (400); its relay is"
    " tested in services/gateway/tests/test_websocket.py",
}

# Requests made per operation, and answers by status class, printed at the end of the run
# (tests/e2e/conftest.py).
FUZZED: Counter[str] = Counter()
ANSWERED: Counter[str] = Counter()
SUCCEEDED: Counter[str] = Counter()  # 2xx answers per operation

schema = schemathesis.openapi.from_dict(document()).exclude(path="/v1/events")


@dataclass(frozen=True)
class Known:
    """What the fuzzing user has, put into every second case of an operation."""

    path: Mapping[str, str | Callable[[], str]]  # a callable makes a fresh one per case
    query: Mapping[str, str]
    bodies: Mapping[str, Any] = field(default_factory=dict)  # by operation label
    # By operation label: path parameters of its own (a delete gets a canvas made for it).
    own_path: Mapping[str, Mapping[str, Callable[[], str]]] = field(default_factory=dict)

    def apply(self, case: Any) -> None:
        path = {**self.path, **self.own_path.get(case.operation.label, {})}
        for name in case.path_parameters.keys() & path.keys():
            value = path[name]
            case.path_parameters[name] = value if isinstance(value, str) else value()
        for name in (case.query or {}).keys() & self.query.keys():
            case.query[name] = self.query[name]
        if case.operation.label in self.bodies:
            case.body = self.bodies[case.operation.label]


@dataclass(frozen=True)
class FuzzUser:
    name: str
    password: str
    key: str


@contextmanager
def _auth(platform: Platform) -> Iterator[auth_pb2_grpc.AuthServiceStub]:
    with grpc.insecure_channel(f"127.0.0.1:{platform.services['auth'].grpc_port}") as channel:
        yield auth_pb2_grpc.AuthServiceStub(channel)


@pytest.fixture(scope="module")
def fuzz_user(platform: Platform) -> Iterator[FuzzUser]:
    """An admin with a password and a key of every scope, as the command line makes them."""
    name, password = f"openapi-fuzz-{secrets.token_hex(4)}", secrets.token_urlsafe(16)
    with _auth(platform) as auth:
        auth.CreateUser(
            auth_pb2.CreateUserRequest(user_name=name, password=password, is_admin=True),
            timeout=30,
        )
        key = auth.CreateApiKey(
            auth_pb2.CreateApiKeyRequest(
                user_name=name, key_name="fuzz", scopes=["read", "write", "admin"]
            ),
            timeout=30,
        ).key
    yield FuzzUser(name, password, key)


@pytest.fixture(scope="module")
def fuzz_session(fuzz_user: FuzzUser) -> requests.Session:
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {fuzz_user.key}"
    return session


@pytest.fixture(scope="module")
def test_worker(platform: Platform) -> Iterator[None]:
    """A worker serving ``test.*``, so a batch of them is accepted and runs; stopped after."""
    platform.add_process("fuzzworker", "tests.e2e.worker")
    yield
    platform.stop_service("fuzzworker")


def _ok(response: requests.Response, *statuses: int) -> dict[str, Any]:
    assert response.status_code in statuses, f"{response.status_code}: {response.text}"
    body: dict[str, Any] = response.json()
    return body


@pytest.fixture(scope="module")
def known(
    platform: Platform, fuzz_user: FuzzUser, fuzz_session: requests.Session, test_worker: None
) -> Known:
    """A canvas with two versions, a render (queued: it may finish meanwhile), a batch and its
    job, an uploaded PNG and its signed URL, sessions, a spare key, an invitation, another
    user to share with (by name), and a canvas of its own for each delete."""
    url, call = platform.gateway_url, fuzz_session
    render = _ok(call.post(f"{url}/v1/renders", json={"source": "cube(1);"}), 202)
    canvas_id = _ok(call.post(f"{url}/v1/canvases", json={"name": "fuzzed"}), 201)["id"]
    head = 1
    for _ in range(2):
        save: dict[str, Any] = {"base_version": head, "graph": EMPTY_GRAPH, "message": "v"}
        saved = call.post(f"{url}/v1/canvases/{canvas_id}/versions", json=save)
        head = _ok(saved, 201)["number"]
    batch_body = {"jobs": [{"function": "test.noop", "key": "a"}]}
    batch = _ok(call.post(f"{url}/v1/batches", json=batch_body), 202)
    job_id = _ok(call.get(f"{url}/v1/batches/{batch['id']}/jobs"), 200)["jobs"][0]["id"]
    png = pyvips.Image.black(8, 8).pngsave_buffer()
    digest = _ok(call.post(f"{url}/v1/blobs", data=png), 200, 201)["sha256"]
    signed = _ok(call.post(f"{url}/v1/images/urls", json={"blob": digest}), 200)["url"]
    signature, tail = urlsplit(signed).path.removeprefix("/images/").split("/", 1)
    login = {"user_name": fuzz_user.name, "password": fuzz_user.password}

    def new_session() -> str:
        """A session to end: "sign out everywhere" in an earlier case ends every one."""
        signed_in = requests.post(f"{url}/v1/auth/login", json=login)
        return str(_ok(signed_in, 200)["session"]["session_id"])

    spare_key = _ok(call.post(f"{url}/v1/keys", json={"name": "spare"}), 201)["key_id"]
    invite = _ok(call.post(f"{url}/v1/invites", json={}), 201)
    reader = requests.get(
        f"{url}/v1/auth/session",
        headers={"Authorization": f"Bearer {platform.create_api_key('openapi-fuzz-reader')}"},
    )
    reader_name = _ok(reader, 200)["identity"]["user_name"]

    def doomed_canvas() -> str:
        """A canvas to delete: every other operation keeps the one they share."""
        return str(_ok(call.post(f"{url}/v1/canvases", json={"name": "doomed"}), 201)["id"])

    return Known(
        path={
            "canvas_id": canvas_id,
            "number": "1",
            "render_id": render["id"],
            "format": "png",
            "batch_id": batch["id"],
            "job_id": job_id,
            "digest": digest,
            "signature": signature,
            "tail": tail,
            "session_id": new_session,
            "key_id": spare_key,
        },
        query={"from": "1", "to": "2", "version": "2"},
        bodies={
            "POST /v1/graphs/validate": EMPTY_GRAPH,
            # An autosave that changes nothing keeps the head, so every such case succeeds;
            # the first restore makes a new head, so only it does.
            "POST /v1/canvases/{canvas_id}/versions": {
                "base_version": head,
                "graph": EMPTY_GRAPH,
                "autosave": True,
            },
            "POST /v1/canvases/{canvas_id}/versions/{number}/restore": {"base_version": head},
            "PATCH /v1/canvases/{canvas_id}": {"name": "fuzzed, renamed"},
            "POST /v1/canvases/{canvas_id}/shares": {"user": reader_name, "access": "read"},
            "POST /v1/canvases/{canvas_id}/execute": {"version": 2},
            "POST /v1/batches": batch_body,
            "POST /v1/blobs": png,
            "POST /v1/images/urls": {"blob": digest},
            "POST /v1/render/parameters": {"source": "size = 2; cube(size);"},
            "POST /v1/render/preview": {"source": "cube(1);"},
            "POST /v1/renders": {"source": "cube(1);"},
            "POST /v1/auth/login": login,
            "POST /v1/keys": {"name": "fuzzed", "scopes": ["read"]},
            "POST /v1/invites": {},
            "POST /v1/invites/accept": {
                "token": invite["token"],
                "user_name": f"invited-{secrets.token_hex(4)}",
                "password": secrets.token_urlsafe(16),
            },
            "POST /v1/$batch": {"requests": [{"id": "1", "method": "GET", "url": "/canvases"}]},
        },
        own_path={"DELETE /v1/canvases/{canvas_id}": {"canvas_id": doomed_canvas}},
    )


@schema.parametrize()
@settings(
    max_examples=EXAMPLES_PER_OPERATION,
    derandomize=True,
    database=None,
    deadline=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
)
def test_every_answer_matches_the_document(
    case: Any, platform: Platform, fuzz_session: requests.Session, known: Known
) -> None:
    FUZZED[case.operation.label] += 1
    if FUZZED[case.operation.label] % 2 == 0:
        known.apply(case)
    response = case.call_and_validate(
        base_url=platform.gateway_url,
        session=fuzz_session,
        checks=CHECKS,
        timeout=REQUEST_TIMEOUT_S,
    )
    ANSWERED[f"{response.status_code // 100}xx"] += 1
    if response.status_code < 300:
        SUCCEEDED[case.operation.label] += 1


def summary() -> str:
    never = [label for label in FUZZED if label not in SUCCEEDED]
    return (
        f"schemathesis: {len(FUZZED)} operations, {sum(FUZZED.values())} examples "
        f"(at most {EXAMPLES_PER_OPERATION} generated per operation, derandomized); "
        + ", ".join(f"{n} answered {status}" for status, n in sorted(ANSWERED.items()))
        + f"; {len(SUCCEEDED)} operations answered 2xx at least once"
        + "".join(
            f"\n  never 2xx: {label}: {NEVER_SUCCEEDS.get(label, 'unexplained')}" for label in never
        )
        + "\n  left out: GET /v1/events: a stream that never ends"
    )
