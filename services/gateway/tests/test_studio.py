"""The studio at ``/``, as the whole gateway serves it: ``index.html`` for the app's routes and
revalidated on every load, hashed assets cached as immutable, all under the edge's security
headers, and the API's unknown paths still 404 problem documents."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from aiohttp import hdrs

from services.gateway.headers import SECURITY_HEADERS
from services.gateway.settings import STUDIO_DIST
from services.gateway.studio import IMMUTABLE, REVALIDATE
from services.gateway.tests.conftest import GatewayClient, MakeGateway

PROBLEM = "application/problem+json"
INDEX = (
    '<!doctype html><html><head><script type="module" src="/assets/index-Bx7a91Qz.js"></script>'
    "</head><body><div id=root></div></body></html>"
)
SCRIPT = "export const studio = 'the studio';\n" * 200  # big enough to be compressed


@pytest.fixture
async def studio(make_gateway: MakeGateway, tmp_path: Path) -> GatewayClient:
    build = tmp_path / "dist"
    (build / "assets").mkdir(parents=True)
    (build / "index.html").write_text(INDEX)
    (build / "assets" / "index-Bx7a91Qz.js").write_text(SCRIPT)
    return await make_gateway(studio_dir=str(build))


@pytest.mark.parametrize("path", ["/", "/canvases/0f3c9a", "/sign-in/"])
async def test_the_apps_routes_answer_index_html(studio: GatewayClient, path: str) -> None:
    response = await studio.get(path)
    assert response.status == 200
    assert response.content_type == "text/html"
    assert await response.text() == INDEX
    assert response.headers[hdrs.CACHE_CONTROL] == REVALIDATE
    for name, value in SECURITY_HEADERS.items():
        assert response.headers[name] == value, name


async def test_index_html_revalidates_without_a_body(studio: GatewayClient) -> None:
    etag = (await studio.get("/")).headers[hdrs.ETAG]
    response = await studio.get("/", headers={hdrs.IF_NONE_MATCH: etag})
    assert response.status == 304
    assert await response.read() == b""


async def test_a_hashed_asset_is_immutable_and_compressed(studio: GatewayClient) -> None:
    response = await studio.get("/assets/index-Bx7a91Qz.js", headers={hdrs.ACCEPT_ENCODING: "br"})
    assert response.status == 200
    assert response.content_type == "text/javascript"
    assert response.headers[hdrs.CACHE_CONTROL] == IMMUTABLE
    assert response.headers[hdrs.CONTENT_ENCODING] == "br"
    assert await response.text() == SCRIPT
    assert (
        response.headers["Content-Security-Policy"] == SECURITY_HEADERS["Content-Security-Policy"]
    )


@pytest.mark.parametrize(
    "path", ["/v1/unknown", "/v1", "/assets/index-missing.js", "/favicon.ico", "/healthz"]
)
async def test_what_the_studio_does_not_hold_is_a_404_problem(
    studio: GatewayClient, path: str
) -> None:
    response = await studio.get(path)
    assert response.status == 404
    assert response.content_type == PROBLEM


async def test_only_get_and_head_reach_the_studio(studio: GatewayClient) -> None:
    assert (await studio.head("/canvases/0f3c9a")).status == 200
    response = await studio.post("/canvases/0f3c9a", data=b"")
    assert response.status == 404
    assert response.content_type == PROBLEM


async def test_without_a_build_the_root_is_a_404_problem(make_gateway: MakeGateway) -> None:
    response = await (await make_gateway()).get("/")
    assert response.status == 404
    assert response.content_type == PROBLEM


def test_the_built_studio_needs_no_inline_script_or_style() -> None:
    """The edge's CSP has no 'unsafe-inline': every script and style of the real build is a
    file under /assets/ with a content hash in its name."""
    index = STUDIO_DIST / "index.html"
    if not index.is_file():
        pytest.fail("web/dist is not built: run `make web`")
    html = index.read_text()
    assert "<style" not in html and " style=" not in html
    scripts = re.findall(r"<script\b([^>]*)>(.*?)</script>", html, re.S)
    assert scripts, "index.html loads no script"
    for attributes, body in scripts:
        assert body.strip() == "", "an inline script"
        assert re.search(r'src="/assets/[\w-]+-[\w-]{8}\.js"', attributes), attributes
    for href in re.findall(r'<link\b[^>]*href="([^"]+)"', html):
        assert re.fullmatch(r"/assets/[\w-]+-[\w-]{8}\.\w+", href), href
