"""Every /v1 route of the gateway has a declared access, and each exception names a route."""

from __future__ import annotations

import pytest

from services.gateway.access import EXCEPTIONS, STREAM_TOKEN_ROUTES, Access, access_of
from services.gateway.tests.conftest import GatewayClient


def routes(http: GatewayClient) -> set[tuple[str, str]]:
    assert http.app is not None
    return {
        (route.method, route.resource.canonical)
        for route in http.app.router.routes()
        if route.resource is not None
        and route.resource.canonical.startswith("/v1/")
        and route.method != "HEAD"
    }


async def test_every_exception_names_a_route_of_the_gateway(whole_gateway: GatewayClient) -> None:
    assert set(EXCEPTIONS) <= routes(whole_gateway)


async def test_a_stream_token_is_taken_only_by_the_live_connections_which_read(
    whole_gateway: GatewayClient,
) -> None:
    assert {("GET", "/v1/events"), ("GET", "/v1/ws")} == STREAM_TOKEN_ROUTES
    assert routes(whole_gateway) >= STREAM_TOKEN_ROUTES
    assert {access_of(*route) for route in STREAM_TOKEN_ROUTES} == {Access.READ}


async def test_only_signing_in_and_up_and_the_api_description_are_public(
    whole_gateway: GatewayClient,
) -> None:
    public = {r for r in routes(whole_gateway) if access_of(*r) is Access.PUBLIC}
    assert public == {
        ("POST", "/v1/auth/login"),
        ("POST", "/v1/invites/accept"),
        ("GET", "/v1/openapi.json"),
    }


@pytest.mark.parametrize(
    ("method", "route", "access"),
    [
        ("GET", "/v1/canvases", Access.READ),
        ("POST", "/v1/canvases", Access.WRITE),
        ("POST", "/v1/invites", Access.ADMIN),
        ("POST", "/v1/keys", Access.ACCOUNT),
        ("POST", "/v1/events/tokens", Access.READ),  # it only opens what reading may
    ],
)
def test_reading_needs_read_and_changing_needs_write(
    method: str, route: str, access: Access
) -> None:
    assert access_of(method, route) is access
