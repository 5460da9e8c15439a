"""The OpenAPI document against the gateway: every route documented and every documented
operation routed, a valid OpenAPI 3.1 document, and no schema in it that says nothing."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from openapi_spec_validator import validate

from services.gateway.openapi import document
from services.gateway.tests.conftest import GatewayClient

_METHODS = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}
# Keywords whose value is a schema, or a mapping / list of schemas.
_SCHEMA = {"items", "additionalProperties", "not", "contains", "propertyNames"}
_SCHEMA_MAPS = {"properties", "patternProperties", "$defs"}
_SCHEMA_LISTS = {"allOf", "anyOf", "oneOf", "prefixItems"}


def routed(gateway: GatewayClient) -> set[tuple[str, str]]:
    """The API's routes; HEAD is left out where aiohttp answers it for a GET."""
    assert gateway.app is not None
    return {
        (route.method, route.resource.canonical)
        for route in gateway.app.router.routes()
        if route.resource is not None
        and route.resource.canonical.startswith(("/v1/", "/images/"))
        and route.method != "HEAD"
    }


def documented() -> set[tuple[str, str]]:
    return {
        (method.upper(), path)
        for path, item in document()["paths"].items()
        for method in item
        if method in _METHODS
    }


async def test_every_route_is_documented(whole_gateway: GatewayClient) -> None:
    assert routed(whole_gateway) - documented() == set()


async def test_every_documented_operation_is_routed(whole_gateway: GatewayClient) -> None:
    assert documented() - routed(whole_gateway) == set()


async def test_the_gateway_serves_the_document_to_anyone(whole_gateway: GatewayClient) -> None:
    async with whole_gateway.get("/v1/openapi.json") as response:
        assert response.status == 200
        assert await response.json() == document()


def test_the_document_is_valid_openapi_3_1() -> None:
    validate(document())


def schemas(node: Any, where: str) -> Iterator[tuple[str, Any]]:
    """Every schema in the document, with where it is."""
    if isinstance(node, dict):
        for key, value in node.items():
            here = f"{where}/{key}"
            if key == "schema" or (key in _SCHEMA and isinstance(value, dict)):
                yield here, value
            elif key in _SCHEMA_MAPS and isinstance(value, dict):
                yield from ((f"{here}/{name}", s) for name, s in value.items())
            elif key in _SCHEMA_LISTS and isinstance(value, list):
                yield from ((f"{here}/{i}", s) for i, s in enumerate(value))
            yield from schemas(value, here)
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from schemas(value, f"{where}/{index}")


def test_the_walk_finds_an_empty_schema_where_there_is_one() -> None:
    nested = {"content": {"application/json": {"schema": {"properties": {"a": {}}}}}}
    assert [where for where, s in schemas(nested, "#") if s == {}] == [
        "#/content/application/json/schema/properties/a"
    ]


def test_no_schema_is_empty() -> None:
    whole = document()
    found = list(schemas(whole, "#"))
    found += [(f"#/components/schemas/{n}", s) for n, s in whole["components"]["schemas"].items()]
    empty = [where for where, schema in found if schema in ({}, True)]
    assert len(found) > 200  # the walk reaches the document's schemas
    assert empty == []


def test_every_operation_has_a_response_schema_or_no_body() -> None:
    """Each answer with a body says what the body is; 101, 204 and 304 have none."""
    missing = []
    for path, item in document()["paths"].items():
        for method, operation in item.items():
            for status, response in operation["responses"].items():
                if status in ("101", "204", "304"):
                    assert "content" not in response, (method, path, status)
                    continue
                for media, content in response.get("content", {None: {}}).items():
                    if "schema" not in content:
                        missing.append((method, path, status, media))
    assert missing == []


def test_only_the_public_operations_need_no_credential() -> None:
    open_to_anyone = {
        (method.upper(), path)
        for path, item in document()["paths"].items()
        for method, operation in item.items()
        if operation["security"] == []
    }
    assert open_to_anyone == {
        ("POST", "/v1/auth/login"),
        ("POST", "/v1/invites/accept"),
        ("GET", "/v1/openapi.json"),
        ("GET", "/images/{signature}/{tail}"),
    }


def test_managing_credentials_takes_a_session_or_an_admin_key() -> None:
    security = document()["paths"]["/v1/keys"]["post"]["security"]
    assert security == [{"bearer": ["admin"]}, {"apiKey": ["admin"]}, {"session": [], "csrf": []}]
