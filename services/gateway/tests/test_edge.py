"""The whole gateway app as ``build`` wires it, on real NATS and the real auth service: the
headers of every response, CORS for the configured origins only, and JSON nested too deep
refused on every route that takes a body.

The services behind the gateway other than auth listen nowhere: each check here is answered
before the gateway would call them.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from aiohttp import hdrs, web
from aiohttp.test_utils import TestClient, TestServer

from libs.web import MAX_JSON_DEPTH
from services.gateway.headers import CONTENT_SECURITY_POLICY, SECURITY_HEADERS, secure_headers
from services.gateway.tests.conftest import UPLOADED, Auth, GatewayClient, MakeGateway

PROBLEM = "application/problem+json"
STUDIO = "https://studio.example.com"
DIGEST = UPLOADED
DEEP_LEVELS = 100_000
# Routes that take a body that is not JSON, each with why.
NOT_JSON = {("POST", "/v1/blobs"): "an upload: the body is the file's bytes"}


@pytest.fixture
async def gateway(make_gateway: MakeGateway) -> GatewayClient:
    return await make_gateway()


def _assert_secure(headers: Any) -> None:
    for name, value in SECURITY_HEADERS.items():
        assert headers[name] == value, name
    assert "unsafe-inline" not in CONTENT_SECURITY_POLICY
    assert "unsafe-eval" not in CONTENT_SECURITY_POLICY
    assert "frame-ancestors 'none'" in CONTENT_SECURITY_POLICY
    assert "aiohttp" not in headers[hdrs.SERVER] and "Python" not in headers[hdrs.SERVER]


async def test_a_200_carries_the_security_headers_and_no_store(
    make_gateway: MakeGateway, auth: Auth, image_addr: str
) -> None:
    gateway = await make_gateway(image_addr=image_addr)
    response = await gateway.post(
        "/v1/images/urls", json={"blob": DIGEST}, headers={"X-API-Key": auth.key}
    )
    assert response.status == 200
    _assert_secure(response.headers)
    assert response.headers[hdrs.CACHE_CONTROL] == "no-store"


@pytest.mark.parametrize("path", ["/no/such/page", "/healthz", "/readyz", "/metrics"])
async def test_a_404_carries_the_security_headers(gateway: GatewayClient, path: str) -> None:
    response = await gateway.get(path)
    assert response.status == 404
    assert response.content_type == PROBLEM
    _assert_secure(response.headers)
    assert hdrs.CACHE_CONTROL not in response.headers  # no credentials were sent


async def test_a_401_carries_the_security_headers_and_no_store(gateway: GatewayClient) -> None:
    response = await gateway.get("/v1/canvases", headers={"Authorization": "Bearer sg_forged"})
    assert response.status == 401
    assert response.content_type == PROBLEM
    _assert_secure(response.headers)
    assert response.headers[hdrs.CACHE_CONTROL] == "no-store"


async def test_a_cookie_counts_as_a_credential(gateway: GatewayClient) -> None:
    response = await gateway.get("/v1/canvases", headers={"Cookie": "__Host-session=forged"})
    assert response.status == 401
    assert response.headers[hdrs.CACHE_CONTROL] == "no-store"


async def test_a_handlers_own_cache_control_stays() -> None:
    """Blob downloads say how they may be cached; credentials do not override them."""
    app = web.Application()
    secure_headers(app)

    async def immutable(_: web.Request) -> web.Response:
        return web.json_response({}, headers={hdrs.CACHE_CONTROL: "private, max-age=60"})

    app.router.add_get("/blob", immutable)
    async with TestClient(TestServer(app)) as client:
        response = await client.get("/blob", headers={"X-API-Key": "sg_key"})
        assert response.headers[hdrs.CACHE_CONTROL] == "private, max-age=60"
        _assert_secure(response.headers)


def _preflight(origin: str) -> dict[str, str]:
    return {
        "Origin": origin,
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "Authorization, Content-Type, X-CSRF-Token",
    }


async def test_cors_answers_an_allowed_origin(
    make_gateway: MakeGateway, auth: Auth, image_addr: str
) -> None:
    gateway = await make_gateway(
        cors_origins=f"{STUDIO}, https://other.example.com", image_addr=image_addr
    )
    preflight = await gateway.options("/v1/canvases", headers=_preflight(STUDIO))
    assert preflight.status == 200
    assert preflight.headers["Access-Control-Allow-Origin"] == STUDIO
    assert preflight.headers["Access-Control-Allow-Credentials"] == "true"
    assert "POST" in preflight.headers["Access-Control-Allow-Methods"]
    allowed = preflight.headers["Access-Control-Allow-Headers"].upper()
    assert {"AUTHORIZATION", "CONTENT-TYPE", "X-CSRF-TOKEN"} <= set(re.split(r",\s*", allowed))
    _assert_secure(preflight.headers)

    response = await gateway.post(
        "/v1/images/urls",
        json={"blob": DIGEST},
        headers={"Origin": STUDIO, "X-API-Key": auth.key},
    )
    assert response.status == 200
    assert response.headers["Access-Control-Allow-Origin"] == STUDIO
    assert response.headers["Access-Control-Allow-Credentials"] == "true"
    exposed = set(re.split(r",\s*", response.headers["Access-Control-Expose-Headers"].lower()))
    assert {"retry-after", "ratelimit", "ratelimit-policy", "etag", "x-request-id"} <= exposed


@pytest.mark.parametrize("configured", ["", STUDIO])
async def test_cors_says_nothing_to_another_origin(
    make_gateway: MakeGateway, auth: Auth, image_addr: str, configured: str
) -> None:
    gateway = await make_gateway(cors_origins=configured, image_addr=image_addr)
    stranger = "https://evil.example.net"
    preflight = await gateway.options("/v1/canvases", headers=_preflight(stranger))
    assert preflight.status >= 400
    assert "Access-Control-Allow-Origin" not in preflight.headers
    response = await gateway.post(
        "/v1/images/urls",
        json={"blob": DIGEST},
        headers={"Origin": stranger, "X-API-Key": auth.key},
    )
    assert response.status == 200
    assert not [name for name in response.headers if name.lower().startswith("access-control-")]


def _bodies_routes(gateway: GatewayClient) -> list[tuple[str, str]]:
    """Every (method, path) of the gateway that takes a body, placeholders filled in."""
    routes = []
    for route in gateway.app.router.routes():
        resource = route.resource
        if route.method not in ("POST", "PUT", "PATCH", "DELETE") or resource is None:
            continue
        if (route.method, resource.canonical) in NOT_JSON:
            continue
        routes.append((route.method, re.sub(r"\{[^}]+\}", "1", resource.canonical)))
    return routes


@pytest.mark.parametrize(
    "body",
    [
        b"[" * DEEP_LEVELS + b"]" * DEEP_LEVELS,
        b'{"a":' * DEEP_LEVELS + b"1" + b"}" * DEEP_LEVELS,
        b'{"a":' + b"[" * MAX_JSON_DEPTH + b"]" * MAX_JSON_DEPTH + b"}",
    ],
    ids=["arrays", "objects", "one-past-the-limit"],
)
async def test_json_nested_too_deep_is_a_400_on_every_route(
    gateway: GatewayClient, auth: Auth, body: bytes
) -> None:
    routes = _bodies_routes(gateway)
    assert ("POST", "/v1/canvases") in routes and ("POST", "/v1/batches") in routes
    for method, path in routes:
        response = await gateway.request(
            method,
            path,
            data=body,
            headers={"X-API-Key": auth.key, "Content-Type": "application/json"},
        )
        assert response.status == 400, (method, path, await response.text())
        problem = await response.json(content_type=PROBLEM)
        assert f"more than {MAX_JSON_DEPTH} deep" in problem["detail"], (method, path)


async def test_json_nested_to_the_limit_is_accepted(
    make_gateway: MakeGateway, auth: Auth, image_addr: str
) -> None:
    gateway = await make_gateway(image_addr=image_addr)
    nested = "[" * (MAX_JSON_DEPTH - 1) + "]" * (MAX_JSON_DEPTH - 1)
    response = await gateway.post(
        "/v1/images/urls",
        data=f'{{"blob": "{DIGEST}", "note": {nested}}}',
        headers={"X-API-Key": auth.key, "Content-Type": "application/json"},
    )
    assert response.status == 200
    assert (await response.json())["url"].endswith(DIGEST)
