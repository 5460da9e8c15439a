"""Content codings on the gateway as ``build`` wires it: responses in the coding the client
prefers (or none), and request bodies in a coding refused when they are not what they claim.

Handlers of the test's own stand behind the whole edge for response shapes no backend-free route
gives (a large document, a secret, an image, an event stream)."""

from __future__ import annotations

import gzip
import hashlib
import json
import zlib
from collections.abc import Callable

import brotli
import pytest
from aiohttp import hdrs, web
from aiohttp.client import ClientResponse
from google.protobuf import struct_pb2

from services.gateway.compression import (
    ENCODINGS,
    THREAD_BYTES,
    Coding,
    compressible,
    negotiate,
)
from services.gateway.protojson import revalidated_response
from services.gateway.secret import secret_response
from services.gateway.tests.conftest import Auth, GatewayClient, MakeGateway

PROBLEM = "application/problem+json"
# A document of the API's shape, well above the 1 KiB threshold.
DOCUMENT = {
    "nodes": [
        {"id": f"shot-{i}", "type": "shot", "properties": {"name": f"Shot {i}", "framing": "wide"}}
        for i in range(200)
    ]
}
SMALL = {"status": "ok"}
PNG_LIKE = bytes(range(256)) * 64  # compressible bytes, yet an image type is never compressed
DECODERS = {
    "br": brotli.decompress,
    "gzip": gzip.decompress,
}


def _document_message() -> struct_pb2.Struct:
    message = struct_pb2.Struct()
    message.update(DOCUMENT)
    return message


async def _document(request: web.Request) -> web.Response:
    return revalidated_response(request, _document_message())


async def _small(_: web.Request) -> web.Response:
    return web.json_response(SMALL)


async def _secret(_: web.Request) -> web.Response:
    return secret_response({"key": "sk_live_" + "x" * 40, **DOCUMENT})


async def _image(_: web.Request) -> web.Response:
    return web.Response(body=PNG_LIKE, content_type="image/png")


async def _events(request: web.Request) -> web.StreamResponse:
    response = web.StreamResponse(headers={hdrs.CONTENT_TYPE: "text/event-stream"})
    await response.prepare(request)
    await response.write(f"data: {json.dumps(DOCUMENT)}\n\n".encode())
    await response.write_eof()
    return response


async def _echo(request: web.Request) -> web.Response:
    return web.json_response({"read": len(await request.read())})


ROUTES = [
    web.get("/test/document", _document),
    web.get("/test/small", _small),
    web.get("/test/secret", _secret),
    web.get("/test/image", _image),
    web.get("/test/events", _events),
    web.post("/test/echo", _echo),
]


@pytest.fixture
async def gateway(make_gateway: MakeGateway) -> GatewayClient:
    return await make_gateway(routes=ROUTES)


async def _get_raw(gateway: GatewayClient, path: str, **headers: str) -> ClientResponse:
    """The response as sent: the client leaves its body in its coding."""
    sent = {hdrs.ACCEPT_ENCODING: headers.pop("accept_encoding", "identity"), **headers}
    return await gateway.get(path, headers=sent, auto_decompress=False)


# --- negotiation -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("accept_encoding", "chosen"),
    [
        (None, Coding.IDENTITY),  # a client that names no coding may read none
        ("", Coding.IDENTITY),
        ("gzip, deflate, br", Coding.BR),  # equal weights: brotli first
        ("gzip;q=1.0, br;q=0.5", Coding.GZIP),
        ("br;q=0, gzip", Coding.GZIP),
        ("BR", Coding.BR),
        ("x-gzip", Coding.GZIP),
        ("br;q=0.2", Coding.BR),  # identity unnamed: acceptable, but after what is asked for
        ("gzip;q=0.5, identity", Coding.IDENTITY),
        ("*", Coding.BR),
        ("*;q=0, gzip", Coding.GZIP),
        ("identity;q=0, gzip;q=0.1", Coding.GZIP),
        ("compress, zstd, deflate", Coding.IDENTITY),  # none we compress in
        ("br;q=lots, gzip", Coding.GZIP),  # an unreadable weight is no consent
        ("identity;q=0, *;q=0", Coding.IDENTITY),  # nothing acceptable: readable beats none
    ],
)
def test_the_coding_follows_the_clients_weights(
    accept_encoding: str | None, chosen: Coding
) -> None:
    assert negotiate(accept_encoding) is chosen


@pytest.mark.parametrize(
    ("content_type", "compresses"),
    [
        ("application/json", True),
        ("application/problem+json", True),
        ("text/html", True),
        ("image/svg+xml", True),
        ("image/png", False),
        ("image/webp", False),
        ("model/gltf-binary", False),
        ("application/vnd.ms-package.3dmanufacturing-3dmodel+xml", False),
        ("application/zip", False),
        ("application/octet-stream", False),
        ("font/woff2", False),
        ("text/event-stream", False),  # read as it arrives, even in a whole body
    ],
)
def test_only_text_types_are_compressed(content_type: str, compresses: bool) -> None:
    assert compressible(content_type) is compresses


# --- responses through the whole edge --------------------------------------------------------


@pytest.mark.parametrize("coding", ["br", "gzip"])
async def test_a_large_document_arrives_in_the_negotiated_coding(
    gateway: GatewayClient, coding: str
) -> None:
    plain = await _get_raw(gateway, "/test/document")
    assert plain.status == 200
    assert hdrs.CONTENT_ENCODING not in plain.headers
    identity = await plain.read()

    response = await _get_raw(gateway, "/test/document", accept_encoding=f"{coding}, identity")
    raw = await response.read()

    assert response.status == 200
    assert response.headers[hdrs.CONTENT_ENCODING] == coding
    assert DECODERS[coding](raw) == identity
    assert int(response.headers[hdrs.CONTENT_LENGTH]) == len(raw)
    assert len(raw) < len(identity) * 0.3
    for sent in (plain, response):
        assert "Accept-Encoding" in sent.headers[hdrs.VARY]


async def test_a_compressed_body_has_a_weak_etag_that_still_revalidates(
    gateway: GatewayClient,
) -> None:
    plain = await _get_raw(gateway, "/test/document")
    strong = plain.headers[hdrs.ETAG]
    assert strong.startswith('"')

    compressed = await _get_raw(gateway, "/test/document", accept_encoding="br")
    weak = compressed.headers[hdrs.ETAG]
    assert weak == f"W/{strong}"

    revalidated = await _get_raw(
        gateway, "/test/document", accept_encoding="br", **{hdrs.IF_NONE_MATCH: weak}
    )
    assert revalidated.status == 304
    assert revalidated.headers[hdrs.ETAG] == weak
    assert "Accept-Encoding" in revalidated.headers[hdrs.VARY]


async def test_a_body_under_the_threshold_is_sent_as_is(gateway: GatewayClient) -> None:
    response = await _get_raw(gateway, "/test/small", accept_encoding="br, gzip")
    assert hdrs.CONTENT_ENCODING not in response.headers
    assert json.loads(await response.read()) == SMALL
    assert "Accept-Encoding" in response.headers[hdrs.VARY]


async def test_the_threshold_is_a_setting(make_gateway: MakeGateway) -> None:
    gateway = await make_gateway(routes=ROUTES, compress_min_bytes="8")
    response = await _get_raw(gateway, "/test/small", accept_encoding="gzip")
    assert response.headers[hdrs.CONTENT_ENCODING] == "gzip"
    assert json.loads(gzip.decompress(await response.read())) == SMALL


async def test_a_secret_is_never_compressed(gateway: GatewayClient) -> None:
    response = await _get_raw(gateway, "/test/secret", accept_encoding="br, gzip")
    assert response.status == 200
    assert hdrs.CONTENT_ENCODING not in response.headers
    assert json.loads(await response.read())["key"].startswith("sk_live_")


async def test_an_image_is_never_compressed(gateway: GatewayClient) -> None:
    response = await _get_raw(gateway, "/test/image", accept_encoding="br, gzip")
    assert hdrs.CONTENT_ENCODING not in response.headers
    assert await response.read() == PNG_LIKE
    assert "Accept-Encoding" not in response.headers.get(hdrs.VARY, "")


async def test_an_event_stream_is_never_compressed(gateway: GatewayClient) -> None:
    response = await _get_raw(gateway, "/test/events", accept_encoding="br, gzip")
    assert hdrs.CONTENT_ENCODING not in response.headers
    assert (await response.read()).startswith(b"data: {")


async def test_a_head_is_never_compressed(gateway: GatewayClient) -> None:
    response = await gateway.head(
        "/test/document", headers={hdrs.ACCEPT_ENCODING: "br"}, auto_decompress=False
    )
    assert response.status == 200
    assert hdrs.CONTENT_ENCODING not in response.headers


async def test_a_body_past_the_thread_threshold_decodes_whole(make_gateway: MakeGateway) -> None:
    large = {"blob": "ab" * THREAD_BYTES}

    async def handler(_: web.Request) -> web.Response:
        return web.json_response(large)

    gateway = await make_gateway(routes=[web.get("/test/large", handler)])
    response = await _get_raw(gateway, "/test/large", accept_encoding="br")
    assert json.loads(brotli.decompress(await response.read())) == large


async def test_a_body_kept_by_its_handler_is_encoded_once(make_gateway: MakeGateway) -> None:
    large = {"blob": "ab" * 2048}
    encodings: dict[str, bytes] = {}

    async def handler(_: web.Request) -> web.Response:
        response = web.json_response(large)
        response[ENCODINGS] = encodings
        return response

    gateway = await make_gateway(routes=[web.get("/test/kept", handler)])
    first = await (await _get_raw(gateway, "/test/kept", accept_encoding="br")).read()
    assert encodings == {"br": first}
    encodings["br"] = brotli.compress(b'{"made": "once"}')  # what the next answer must reuse
    again = await _get_raw(gateway, "/test/kept", accept_encoding="br")
    assert json.loads(brotli.decompress(await again.read())) == {"made": "once"}
    gzipped = await (await _get_raw(gateway, "/test/kept", accept_encoding="gzip")).read()
    assert set(encodings) == {"br", "gzip"} and encodings["gzip"] == gzipped


# --- request bodies --------------------------------------------------------------------------


async def _post(
    gateway: GatewayClient, body: bytes, coding: str, path: str = "/test/echo", **headers: str
) -> ClientResponse:
    return await gateway.post(
        path,
        data=body,
        headers={
            hdrs.CONTENT_ENCODING: coding,
            hdrs.CONTENT_TYPE: "application/json",
            hdrs.CONNECTION: "close",  # aiohttp drops a connection whose body it cannot decode
            **headers,
        },
    )


ENCODERS: dict[str, Callable[[bytes], bytes]] = {
    "gzip": gzip.compress,
    "br": brotli.compress,
    "deflate": zlib.compress,
}


@pytest.mark.parametrize("coding", list(ENCODERS))
async def test_a_body_in_a_coding_is_read_decoded(gateway: GatewayClient, coding: str) -> None:
    plain = json.dumps(DOCUMENT).encode()
    response = await _post(gateway, ENCODERS[coding](plain), coding)
    assert response.status == 200, await response.text()
    assert await response.json() == {"read": len(plain)}


@pytest.mark.parametrize("coding", ["gzip", "br", "deflate"])
async def test_a_body_that_claims_a_coding_it_is_not_in_is_a_400(
    gateway: GatewayClient, coding: str
) -> None:
    response = await _post(gateway, b'{"plain": "json, not compressed"}', coding)
    assert response.status == 400
    assert response.content_type == PROBLEM
    assert coding in (await response.json())["detail"]


async def test_a_real_route_refuses_a_body_that_is_not_gzip(
    gateway: GatewayClient, auth: Auth
) -> None:
    digest = hashlib.sha256(b"a blob").hexdigest()
    body = json.dumps({"blob": digest}).encode()
    response = await _post(gateway, body, "gzip", path="/v1/images/urls", **{"X-API-Key": auth.key})
    assert response.status == 400
    assert response.content_type == PROBLEM


async def test_a_gzip_bomb_is_a_413(gateway: GatewayClient) -> None:
    # 64 MiB of zeros in some 64 KiB: far past the 1 MiB body limit once decoded.
    bomb = gzip.compress(b"\0" * (64 << 20), compresslevel=9)
    assert len(bomb) < 100 << 10
    response = await _post(gateway, bomb, "gzip")
    assert response.status == 413
    assert response.content_type == PROBLEM


@pytest.mark.parametrize("coding", ["compress", "pack200-gzip", "gzip, br", "x-gzip"])
async def test_a_body_in_a_coding_we_do_not_decode_is_a_415(
    gateway: GatewayClient, coding: str
) -> None:
    response = await _post(gateway, b"{}", coding)
    assert response.status == 415
    assert response.content_type == PROBLEM
    assert response.headers[hdrs.ACCEPT_ENCODING] == "gzip, deflate, br"
