"""``POST /v1/$batch`` on the gateway as ``app.build`` makes it, with the real auth service:
each request inside is routed, authenticated, scope-checked, CSRF-checked and rate limited as
if it were sent alone."""

from __future__ import annotations

import uuid
from collections import Counter
from contextlib import AsyncExitStack
from dataclasses import dataclass
from typing import Any

import pytest

from libs.devstack import DevStack
from services.gateway.batching import MAX_HEADER_BYTES
from services.gateway.csrf import CSRF_HEADER
from services.gateway.tests.conftest import Auth, GatewayClient, MakeGateway
from services.gateway.tests.test_edge_limits import fresh_redis_url
from shotgraph.auth.v1 import auth_pb2, auth_pb2_grpc
from tests.in_process import downstream

PASSWORD = "a long enough password"


@dataclass(frozen=True)
class Keys:
    name: str  # of a user with PASSWORD
    admin: str  # read, write and admin
    read_only: str


@pytest.fixture
async def keys(stack: AsyncExitStack, auth: Auth) -> Keys:
    """An admin with a password, a key with every scope and a key that may only read."""
    client = downstream(stack, "auth", auth.address, auth_pb2_grpc.AuthServiceStub)
    name = f"batcher-{uuid.uuid4().hex[:10]}"
    made: auth_pb2.CreateUserResponse = await client.call(
        client.stub.CreateUser,
        auth_pb2.CreateUserRequest(user_name=name, password=PASSWORD, is_admin=True),
    )

    async def key(*scopes: str) -> str:
        created: auth_pb2.CreateApiKeyResponse = await client.call(
            client.stub.CreateApiKey,
            auth_pb2.CreateApiKeyRequest(
                user_id=made.user.user_id, key_name="-".join(scopes), scopes=scopes
            ),
        )
        return created.key

    return Keys(name, await key("read", "write", "admin"), await key("read"))


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def batch(
    gateway: GatewayClient, requests: list[dict[str, Any]], headers: dict[str, str]
) -> dict[str, dict[str, Any]]:
    """The answers of a batch that must itself succeed, by id."""
    response = await gateway.post("/v1/$batch", json={"requests": requests}, headers=headers)
    assert response.status == 200, await response.text()
    answers = (await response.json())["responses"]
    assert [a["id"] for a in answers] == [r["id"] for r in requests]
    return {answer["id"]: answer for answer in answers}


async def test_a_batch_answers_each_request_and_a_failed_dependency_is_424(
    whole_gateway: GatewayClient, keys: Keys
) -> None:
    answers = await batch(
        whole_gateway,
        [
            {"id": "keys", "method": "GET", "url": "/keys?limit=5"},
            {"id": "missing", "method": "GET", "url": "/no-such-thing"},
            {"id": "after-missing", "method": "GET", "url": "/keys", "dependsOn": ["missing"]},
            {"id": "after-keys", "method": "GET", "url": "keys", "dependsOn": ["keys"]},
        ],
        bearer(keys.admin),
    )
    assert answers["keys"]["status"] == 200
    assert answers["keys"]["headers"]["Content-Type"].startswith("application/json")
    assert len(answers["keys"]["body"]["keys"]) == 2  # a JSON value, not a string
    assert answers["missing"]["status"] == 404
    assert answers["missing"]["body"]["status"] == 404  # its own problem document
    assert answers["after-missing"]["status"] == 424
    assert "'missing'" in answers["after-missing"]["body"]["detail"]
    assert answers["after-keys"]["status"] == 200


async def test_a_request_the_caller_may_not_make_is_its_own_403_inside_a_200_batch(
    whole_gateway: GatewayClient, keys: Keys
) -> None:
    answers = await batch(
        whole_gateway,
        [
            {"id": "create", "method": "POST", "url": "/canvases", "body": {"name": "x"}},
            {"id": "keys", "method": "GET", "url": "/keys"},
        ],
        bearer(keys.read_only),
    )
    assert answers["create"]["status"] == 403
    assert "'write' scope" in answers["create"]["body"]["detail"]
    assert answers["keys"]["status"] == 403  # managing credentials needs a session or admin


async def test_a_batch_needs_a_credential_and_a_request_may_not_bring_its_own(
    whole_gateway: GatewayClient, keys: Keys
) -> None:
    listing = {"id": "1", "method": "GET", "url": "/keys"}
    anonymous = await whole_gateway.post("/v1/$batch", json={"requests": [listing]})
    assert anonymous.status == 401
    for name, value in [("Authorization", f"Bearer {keys.admin}"), ("Cookie", "a=b")]:
        smuggled = await whole_gateway.post(
            "/v1/$batch",
            json={"requests": [{**listing, "headers": {name: value}}]},
            headers=bearer(keys.read_only),
        )
        assert smuggled.status == 400, name
        assert name in (await smuggled.json())["detail"]


async def test_a_cookie_batch_needs_the_csrf_token_and_its_requests_run_as_the_session(
    whole_gateway: GatewayClient, keys: Keys
) -> None:
    login = await whole_gateway.post(
        "/v1/auth/login", json={"user_name": keys.name, "password": PASSWORD}
    )
    assert login.status == 200, await login.text()
    token = (await login.json())["csrf_token"]
    create_key = {"id": "key", "method": "POST", "url": "/keys", "body": {"name": "from-batch"}}
    # The client's cookie jar sends the session; without the token the batch itself is refused.
    forged = await whole_gateway.post("/v1/$batch", json={"requests": [create_key]})
    assert forged.status == 403
    assert CSRF_HEADER in (await forged.json())["detail"]
    # ... and a request inside may not carry the token (or an Origin) for itself.
    for name in (CSRF_HEADER, "Origin", "Sec-Fetch-Site"):
        smuggled = await whole_gateway.post(
            "/v1/$batch",
            json={"requests": [{**create_key, "headers": {name: token}}]},
            headers={CSRF_HEADER: token},
        )
        assert smuggled.status == 400, name

    response = await whole_gateway.post(
        "/v1/$batch", json={"requests": [create_key]}, headers={CSRF_HEADER: token}
    )
    assert response.status == 200, await response.text()
    assert response.headers["Cache-Control"] == "no-store"  # a new key is inside
    (answer,) = (await response.json())["responses"]
    assert answer["status"] == 201, answer  # a session may manage keys; a read/write key may not
    assert answer["body"]["key"].startswith("sg_")


async def test_each_request_counts_once_against_the_limits_and_so_does_the_batch(
    stack: AsyncExitStack, devstack: DevStack, make_gateway: MakeGateway, keys: Keys
) -> None:
    policy = '{"address": {"limit": 3, "window_s": 60, "burst": 3}}'
    gateway = await make_gateway(
        redis_url=await fresh_redis_url(stack, devstack), rate_limits=policy
    )
    requests = [{"id": str(n), "method": "GET", "url": "/no-such-thing"} for n in range(5)]
    answers = await batch(gateway, requests, bearer(keys.admin))
    # The batch took one of the three; two requests inside fit, three do not.
    assert Counter(a["status"] for a in answers.values()) == {404: 2, 429: 3}
    refused = next(a for a in answers.values() if a["status"] == 429)
    assert refused["headers"]["RateLimit"].startswith('"address";r=0;')
    after = await gateway.post(
        "/v1/$batch", json={"requests": requests[:1]}, headers=bearer(keys.admin)
    )
    assert after.status == 429


def _requests(n: int, **extra: Any) -> list[dict[str, Any]]:
    return [{"id": str(i), "method": "GET", "url": "/keys", **extra} for i in range(n)]


BAD_BATCHES: list[tuple[str, Any, str]] = [
    ("21 requests", {"requests": _requests(21)}, "at most 20"),
    ("no requests", {"requests": []}, "non-empty list"),
    ("not an object", [], "JSON object"),
    (
        "a nested $batch",
        {"requests": [{"id": "1", "method": "POST", "url": "/$batch", "body": {"requests": []}}]},
        "cannot be batched",
    ),
    (
        "a nested $batch, percent-encoded",
        {"requests": [{"id": "1", "method": "POST", "url": "/%24batch", "body": {}}]},
        "cannot be batched",
    ),
    (
        "signing in inside a batch",
        {"requests": [{"id": "1", "method": "POST", "url": "/auth/login", "body": {}}]},
        "cannot be batched",
    ),
    (
        "the event stream inside a batch",
        {"requests": [{"id": "1", "method": "GET", "url": "/events"}]},
        "cannot be batched",
    ),
    (
        "a dependsOn cycle",
        {
            "requests": [
                {"id": "a", "method": "GET", "url": "/keys", "dependsOn": ["b"]},
                {"id": "b", "method": "GET", "url": "/keys", "dependsOn": ["a"]},
            ]
        },
        "cycle",
    ),
    ("depending on itself", {"requests": _requests(1, dependsOn=["0"])}, "cycle"),
    ("a dependsOn unknown id", {"requests": _requests(1, dependsOn=["zz"])}, "unknown ids"),
    ("dependsOn not a list", {"requests": _requests(1, dependsOn="0")}, "dependsOn"),
    ("duplicate ids", {"requests": _requests(1) + _requests(1)}, "unique"),
    ("an id not a string", {"requests": [{"id": 1, "method": "GET", "url": "/keys"}]}, "'id'"),
    ("a method not a string", {"requests": _requests(1, method=["GET"])}, "'method'"),
    ("an unknown method", {"requests": _requests(1, method="TRACE")}, "'method'"),
    ("a url not a string", {"requests": _requests(1, url=7)}, "'url'"),
    ("an absolute url", {"requests": _requests(1, url="https://evil.example/v1/keys")}, "/v1"),
    ("a scheme-relative url", {"requests": _requests(1, url="//evil.example/keys")}, "/v1"),
    ("a url climbing out of /v1", {"requests": _requests(1, url="/../images/x/y")}, "/v1"),
    ("an unknown field", {"requests": _requests(1, verb="GET")}, "unknown fields"),
    ("headers not strings", {"requests": _requests(1, headers={"Accept": 1})}, "'headers'"),
    (
        "headers too large",
        {"requests": _requests(1, headers={"X-Filler": "x" * MAX_HEADER_BYTES})},
        "exceed",
    ),
    (
        "a body of another type",
        {"requests": _requests(1, headers={"Content-Type": "text/plain"}, body="x")},
        "JSON",
    ),
]


async def test_bad_batches_are_400_naming_what_is_wrong(
    whole_gateway: GatewayClient, keys: Keys
) -> None:
    for what, body, says in BAD_BATCHES:
        response = await whole_gateway.post("/v1/$batch", json=body, headers=bearer(keys.admin))
        assert response.status == 400, (what, await response.text())
        assert response.content_type == "application/problem+json", what
        assert says in (await response.json())["detail"], what


async def test_a_batch_is_bounded_by_the_max_body_size(
    make_gateway: MakeGateway, keys: Keys
) -> None:
    gateway = await make_gateway(max_body_bytes="4096")
    body = {"requests": _requests(1, body={"filler": "x" * 5000})}
    response = await gateway.post("/v1/$batch", json=body, headers=bearer(keys.admin))
    assert response.status == 413
