"""Blobs as HTTP responses, from the real NATS object store: cached forever by their digest,
revalidated for nothing, typed and named as stored."""

from __future__ import annotations

import hashlib
from contextlib import AsyncExitStack

import pytest
from aiohttp import web
from nats.js import JetStreamContext

from libs.blobs import BlobStore
from libs.bus import ensure_streams
from libs.web import create_app
from services.gateway.downloads import blob_response
from services.gateway.tests.conftest import GatewayClient, client_of

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4
# Private: who may read a blob depends on the caller, which a shared cache cannot tell.
IMMUTABLE = "private, max-age=31536000, immutable"
PROBLEM = "application/problem+json"


@pytest.fixture
async def store(nats_js: JetStreamContext) -> BlobStore:
    await ensure_streams(nats_js)
    return BlobStore(nats_js)


@pytest.fixture
async def http(stack: AsyncExitStack, store: BlobStore) -> GatewayClient:
    """``GET /blobs/{digest}`` (``?filename=`` makes it a download), as routes serve blobs."""

    async def download(request: web.Request) -> web.Response:
        filename = request.query.get("filename", "")
        return await blob_response(request, store, request.match_info["digest"], filename=filename)

    app = create_app("gateway", max_body_bytes=1 << 20)
    app.router.add_get("/blobs/{digest}", download)
    return await client_of(stack, app)


@pytest.fixture
async def digest(store: BlobStore) -> str:
    return await store.put(PNG, "image/png")


async def test_a_blob_is_served_with_its_digest_as_a_strong_etag(
    http: GatewayClient, digest: str
) -> None:
    response = await http.get(f"/blobs/{digest}")
    assert response.status == 200
    assert await response.read() == PNG
    assert digest == hashlib.sha256(PNG).hexdigest()
    assert response.headers["ETag"] == f'"{digest}"', "strong: no W/ prefix"
    assert response.headers["Cache-Control"] == IMMUTABLE
    assert response.content_type == "image/png"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "Content-Disposition" not in response.headers, "shown inline unless named"


@pytest.mark.parametrize(
    "if_none_match",
    ["{etag}", 'W/"0000", {etag}', "W/{etag}"],
    ids=["its-etag", "among-others", "weak-form"],  # If-None-Match compares weakly (RFC 9110)
)
async def test_a_client_that_has_it_gets_a_304_without_the_bytes(
    http: GatewayClient, digest: str, if_none_match: str
) -> None:
    etag = f'"{digest}"'
    response = await http.get(
        f"/blobs/{digest}", headers={"If-None-Match": if_none_match.format(etag=etag)}
    )
    assert response.status == 304
    assert await response.read() == b""
    assert response.headers["ETag"] == etag
    assert response.headers["Cache-Control"] == IMMUTABLE


async def test_another_etag_gets_the_bytes(http: GatewayClient, digest: str) -> None:
    other = hashlib.sha256(b"another blob").hexdigest()
    response = await http.get(f"/blobs/{digest}", headers={"If-None-Match": f'"{other}"'})
    assert response.status == 200 and await response.read() == PNG


async def test_a_named_blob_is_a_download_under_that_name(http: GatewayClient, digest: str) -> None:
    response = await http.get(f"/blobs/{digest}", params={"filename": "render.png"})
    assert response.headers["Content-Disposition"] == 'attachment; filename="render.png"'
    assert response.content_type == "image/png"


async def test_a_digest_that_was_never_stored_is_a_404(http: GatewayClient) -> None:
    unknown = hashlib.sha256(b"never stored").hexdigest()
    response = await http.get(f"/blobs/{unknown}")
    assert response.status == 404
    assert (await response.json(content_type=PROBLEM))["detail"] == f"no blob {unknown}"


@pytest.mark.parametrize(
    "digest",
    ["not-a-digest", "A" * 64, "a" * 63, "a" * 65, "g" * 64, "%2e%2e%2fetc%2fpasswd"],
    ids=["words", "uppercase", "63-digits", "65-digits", "not-hex", "encoded-path"],
)
async def test_a_malformed_digest_is_a_400_before_the_store_is_asked(
    http: GatewayClient, digest: str
) -> None:
    response = await http.get(f"/blobs/{digest}")
    assert response.status == 400
    body = await response.json(content_type=PROBLEM)
    assert body["detail"] == "a blob id is a lowercase hex SHA-256 (64 characters)"
