"""The shared aiohttp apps: problem documents, body limits, JSON depth and request ids on the
public one; health, readiness and metrics on the admin one, and only there."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from libs.errors import (
    Conflict,
    InvalidArgument,
    NotFound,
    PayloadTooLarge,
    ShotgraphError,
    Unauthenticated,
    Unavailable,
)
from libs.web import (
    ADMIN_APP,
    MAX_JSON_DEPTH,
    PROBLEM_CONTENT_TYPE,
    ReadinessCheck,
    create_app,
    read_json,
)

MAX_BODY_BYTES = 1024
ERRORS: dict[str, type[ShotgraphError]] = {
    "invalid": InvalidArgument,
    "unauthenticated": Unauthenticated,
    "not-found": NotFound,
    "conflict": Conflict,
    "too-large": PayloadTooLarge,
    "unavailable": Unavailable,
    "internal": ShotgraphError,
}

MakeClient = Callable[..., Any]


def _app(
    readiness: Mapping[str, ReadinessCheck] | None, max_body_bytes: int = MAX_BODY_BYTES
) -> web.Application:
    app = create_app("web-test", max_body_bytes=max_body_bytes, readiness=readiness)

    async def fail(request: web.Request) -> web.Response:
        raise ERRORS[request.match_info["kind"]](f"case {request.match_info['kind']}")

    async def crash(_: web.Request) -> web.Response:
        raise RuntimeError("secret internals")

    async def echo(request: web.Request) -> web.Response:
        return web.json_response(await read_json(request))

    app.router.add_get("/fail/{kind}", fail)
    app.router.add_get("/crash", crash)
    app.router.add_post("/echo", echo)
    return app


@pytest.fixture
async def make_client() -> AsyncIterator[MakeClient]:
    """``await make_client(readiness={...}, admin=False)``: a test client of the public app, or
    of its admin app with ``admin=True``, on a real local server."""
    clients: list[TestClient[web.Request, web.Application]] = []

    async def make(
        readiness: Mapping[str, ReadinessCheck] | None = None, *, admin: bool = False
    ) -> TestClient[web.Request, web.Application]:
        app = _app(readiness)
        client = TestClient(TestServer(app[ADMIN_APP] if admin else app))
        await client.start_server()
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.close()


@pytest.fixture
async def client(make_client: MakeClient) -> TestClient[web.Request, web.Application]:
    return await make_client()


@pytest.fixture
async def admin(make_client: MakeClient) -> TestClient[web.Request, web.Application]:
    return await make_client(admin=True)


async def _problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status == status
    assert response.content_type == PROBLEM_CONTENT_TYPE
    body: dict[str, Any] = json.loads(await response.text())
    assert body["status"] == status
    assert {"type", "title", "status", "detail"} <= body.keys()
    return body


@pytest.mark.parametrize("kind", sorted(ERRORS))
async def test_domain_error_becomes_its_problem(client: TestClient[Any, Any], kind: str) -> None:
    error = ERRORS[kind]
    response = await client.get(f"/fail/{kind}")
    body = await _problem(response, error.status)
    assert body["type"] == f"https://shotgraph.dev/problems/{error.type_slug}"
    assert body["title"] == error.title
    assert body["detail"] == f"case {kind}"
    assert body["instance"] == f"/fail/{kind}"


async def test_unavailable_says_when_to_retry(client: TestClient[Any, Any]) -> None:
    response = await client.get("/fail/unavailable")
    await _problem(response, 503)
    assert response.headers["Retry-After"] == str(Unavailable.retry_after)


async def test_unexpected_exception_is_a_500_without_internals(
    client: TestClient[Any, Any],
) -> None:
    body = await _problem(await client.get("/crash"), 500)
    assert "secret" not in json.dumps(body)


async def test_unknown_route_is_a_404_problem(client: TestClient[Any, Any]) -> None:
    body = await _problem(await client.get("/no/such/route"), 404)
    assert body["type"] == "about:blank"


async def test_an_escaped_surrogate_pair_is_read(client: TestClient[Any, Any]) -> None:
    response = await client.post(
        "/echo", data=b'{"name": "\\ud83c\\udfac"}', headers={"Content-Type": "application/json"}
    )
    assert await response.json() == {"name": "\N{CLAPPER BOARD}"}


async def test_a_problems_instance_is_a_uri_reference(client: TestClient[Any, Any]) -> None:
    body = await _problem(await client.get("/no/such/caf%C3%A9"), 404)
    assert body["instance"] == "/no/such/caf%C3%A9"


async def test_wrong_method_is_a_405_problem_with_allow(client: TestClient[Any, Any]) -> None:
    response = await client.delete("/echo")
    await _problem(response, 405)
    assert "POST" in response.headers["Allow"]


async def test_json_object_body_is_read(client: TestClient[Any, Any]) -> None:
    response = await client.post("/echo", json={"name": "shot 010"})
    assert response.status == 200
    assert await response.json() == {"name": "shot 010"}


@pytest.mark.parametrize(
    ("label", "body", "detail"),
    [
        ("malformed JSON", b'{"name": ', "not valid JSON"),
        ("empty body", b"", "not valid JSON"),
        ("JSON array", b"[1, 2]", "must be a JSON object"),
        ("JSON string", b'"text"', "must be a JSON object"),
        ("not UTF-8", b'{"name": "\xff"}', "not UTF-8"),
        ("half a surrogate pair", b'{"name": ["\\udbf8"]}', "lone UTF-16 surrogate"),
        ("half a surrogate pair in a key", b'{"\\udc00": 1}', "lone UTF-16 surrogate"),
    ],
)
async def test_bad_json_body_is_a_400_problem(
    client: TestClient[Any, Any], label: str, body: bytes, detail: str
) -> None:
    response = await client.post("/echo", data=body, headers={"Content-Type": "application/json"})
    problem = await _problem(response, 400)
    assert detail in problem["detail"]


async def test_body_over_the_limit_is_a_413_problem(client: TestClient[Any, Any]) -> None:
    oversized = json.dumps({"data": "x" * MAX_BODY_BYTES}).encode()
    response = await client.post(
        "/echo", data=oversized, headers={"Content-Type": "application/json"}
    )
    await _problem(response, 413)


async def test_healthz(admin: TestClient[Any, Any]) -> None:
    response = await admin.get("/healthz")
    assert response.status == 200
    assert await response.json() == {"status": "ok", "service": "web-test"}


async def test_readyz_when_every_check_passes(make_client: MakeClient) -> None:
    async def ok() -> bool:
        return True

    client = await make_client({"postgres": ok, "nats": ok}, admin=True)
    response = await client.get("/readyz")
    assert response.status == 200
    assert (await response.json())["checked"] == ["postgres", "nats"]


async def test_readyz_lists_failing_checks(make_client: MakeClient) -> None:
    async def ok() -> bool:
        return True

    async def down() -> bool:
        return False

    async def broken() -> bool:
        raise ConnectionRefusedError("postgres is down")

    client = await make_client({"nats": ok, "redis": down, "postgres": broken}, admin=True)
    response = await client.get("/readyz")
    body = await _problem(response, 503)
    assert body["failing"] == ["redis", "postgres"]
    assert "redis" in body["detail"] and "postgres" in body["detail"]
    assert response.headers["Retry-After"] == "5"


async def test_readyz_gives_up_on_a_hanging_check(make_client: MakeClient) -> None:
    async def hangs() -> bool:
        await asyncio.Event().wait()
        return True

    client = await make_client({"nats": hangs}, admin=True)
    started = time.monotonic()
    response = await asyncio.wait_for(client.get("/readyz"), 2.5)
    assert time.monotonic() - started < 2.0
    body = await _problem(response, 503)
    assert body["failing"] == ["nats"]
    assert response.headers["Retry-After"] == "5"


async def test_metrics_count_requests() -> None:
    app = _app(None)
    async with (
        TestClient(TestServer(app)) as client,
        TestClient(TestServer(app[ADMIN_APP])) as admin,
    ):
        await client.get("/fail/conflict")
        response = await admin.get("/metrics")
        text = await response.text()
    assert response.status == 200
    assert response.content_type == "text/plain"
    assert "shotgraph_http_requests_total{" in text
    assert 'route="/fail/{kind}"' in text and 'service="web-test"' in text


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/fail/not-found"),
        ("GET", "/crash"),
        ("GET", "/no/such/route"),
        ("POST", "/echo"),
    ],
)
async def test_every_response_has_a_request_id(
    client: TestClient[Any, Any], method: str, path: str
) -> None:
    generated = await client.request(method, path, data=b"[]")
    echoed = await client.request(method, path, data=b"[]", headers={"X-Request-Id": "req-42"})
    assert len(generated.headers["X-Request-Id"]) == 32
    assert echoed.headers["X-Request-Id"] == "req-42"


async def test_request_ids_differ_and_are_bounded(client: TestClient[Any, Any]) -> None:
    first = await client.get("/crash")
    second = await client.get("/crash")
    assert first.headers["X-Request-Id"] != second.headers["X-Request-Id"]
    long = await client.get("/crash", headers={"X-Request-Id": "r" * 500})
    assert long.headers["X-Request-Id"] == "r" * 64


async def test_a_claimed_charset_is_ignored_json_is_utf8(client: TestClient[Any, Any]) -> None:
    # RFC 8259: JSON is UTF-8 and application/json has no charset parameter.
    response = await client.post(
        "/echo", data=b'{"a": 1}', headers={"Content-Type": "application/json; charset=klingon"}
    )
    assert response.status == 200


async def test_body_that_is_not_utf8_is_a_400_problem(client: TestClient[Any, Any]) -> None:
    latin1 = '{"name": "café"}'.encode("latin-1")
    response = await client.post("/echo", data=latin1, headers={"Content-Type": "application/json"})
    await _problem(response, 400)


@pytest.mark.parametrize("path", ["/healthz", "/readyz", "/metrics"])
async def test_operations_are_only_on_the_admin_app(
    client: TestClient[Any, Any], admin: TestClient[Any, Any], path: str
) -> None:
    await _problem(await client.get(path), 404)
    assert (await admin.get(path)).status == 200


async def test_admin_app_answers_problems(admin: TestClient[Any, Any]) -> None:
    await _problem(await admin.get("/v1/canvases"), 404)


def _nested(opening: str, closing: str, levels: int) -> bytes:
    """``levels`` arrays or objects, one inside the next, as a JSON object body."""
    return ('{"a":' + opening * (levels - 1) + "1" + closing * (levels - 1) + "}").encode()


@pytest.fixture
async def roomy() -> AsyncIterator[TestClient[web.Request, web.Application]]:
    """The public app taking bodies of a megabyte, enough for 100,000 levels of nesting."""
    async with TestClient(TestServer(_app(None, max_body_bytes=1 << 20))) as client:
        yield client


@pytest.mark.parametrize(("opening", "closing"), [("[", "]"), ('{"a":', "}")])
async def test_json_nested_past_the_limit_is_a_400(
    roomy: TestClient[Any, Any], opening: str, closing: str
) -> None:
    body = await _problem(await roomy.post("/echo", data=_nested(opening, closing, 100_000)), 400)
    assert f"more than {MAX_JSON_DEPTH} deep" in body["detail"]
    await _problem(await roomy.post("/echo", data=_nested(opening, closing, 65)), 400)


@pytest.mark.parametrize(("opening", "closing"), [("[", "]"), ('{"a":', "}")])
async def test_json_nested_to_the_limit_is_read(
    client: TestClient[Any, Any], opening: str, closing: str
) -> None:
    response = await client.post("/echo", data=_nested(opening, closing, MAX_JSON_DEPTH))
    assert response.status == 200
    echoed = json.dumps(await response.json(), separators=(",", ":")).encode()
    assert echoed == _nested(opening, closing, MAX_JSON_DEPTH)


async def test_brackets_inside_strings_do_not_count(roomy: TestClient[Any, Any]) -> None:
    text = '[[[{{{\\"' * 10_000
    response = await roomy.post("/echo", data=json.dumps({"a": text, "b": ['"]']}).encode())
    assert response.status == 200
    assert (await response.json())["a"] == text
