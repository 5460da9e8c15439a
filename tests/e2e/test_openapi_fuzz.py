"""schemathesis against the live platform: requests made from the OpenAPI document, and every
answer checked against it (no 5xx; status codes, content types, headers and bodies as
documented).

The budget is bounded and the run reproducible: a few examples per operation, derandomized,
without shrinking. It calls as a user of its own, so what it makes and the limits it spends
touch no other test. ``GET /v1/events`` is left out: its answer is a stream that never ends.
"""

from __future__ import annotations

from collections import Counter
from typing import Any, Final

import pytest
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

EXAMPLES_PER_OPERATION: Final = 6
REQUEST_TIMEOUT_S: Final = 30.0
CHECKS: Final = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]

# Requests made per operation, and answers by status class, printed at the end of the run
# (tests/e2e/conftest.py).
FUZZED: Counter[str] = Counter()
ANSWERED: Counter[str] = Counter()
SUCCEEDED: Counter[str] = Counter()  # 2xx answers per operation

schema = schemathesis.openapi.from_dict(document()).exclude(path="/v1/events")


@pytest.fixture(scope="module")
def fuzz_session(platform: Platform) -> requests.Session:
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {platform.create_api_key('openapi-fuzz')}"
    return session


@pytest.fixture(scope="module")
def existing(platform: Platform, fuzz_session: requests.Session) -> dict[str, str]:
    """Path parameters that name things the fuzzing user has: a canvas with two versions and
    a render (queued: it may finish meanwhile). Every other case of an operation uses them,
    so its answers are not only 404s."""
    started = fuzz_session.post(
        f"{platform.gateway_url}/v1/renders", json={"source": "cube(1);", "formats": ["png"]}
    )
    assert started.status_code == 202, started.text
    made = fuzz_session.post(f"{platform.gateway_url}/v1/canvases", json={"name": "fuzzed"})
    made.raise_for_status()
    canvas_id = made.json()["id"]
    for base in (1, 2):
        saved = fuzz_session.post(
            f"{platform.gateway_url}/v1/canvases/{canvas_id}/versions",
            json={"base_version": base, "graph": {"nodes": [], "edges": []}, "message": "v"},
        )
        assert saved.status_code in (200, 201), saved.text
    return {"canvas_id": canvas_id, "number": "1", "render_id": started.json()["id"]}


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
    case: Any, platform: Platform, fuzz_session: requests.Session, existing: dict[str, str]
) -> None:
    FUZZED[case.operation.label] += 1
    if case.path_parameters and FUZZED[case.operation.label] % 2 == 0:
        for name in case.path_parameters.keys() & existing.keys():
            case.path_parameters[name] = existing[name]
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
    return (
        f"schemathesis: {len(FUZZED)} operations, {sum(FUZZED.values())} examples "
        f"(at most {EXAMPLES_PER_OPERATION} generated per operation, derandomized); "
        + ", ".join(f"{n} answered {status}" for status, n in sorted(ANSWERED.items()))
        + f"; {len(SUCCEEDED)} operations answered 2xx at least once"
    )
