"""Content codings at the edge: responses compressed as the client accepts, and request bodies
that claim a coding they are not in refused.

Responses: aiohttp's own ``enable_compression`` knows gzip and deflate only and picks a coding
by substring, ignoring q-values (``gzip;q=0`` still gets gzip), so negotiation and brotli live
here. Only whole bodies of text types above a threshold are compressed; never a response marked
``SECRET`` (BREACH, see ``secret.py``), an already-compressed type, a streamed response, an
event stream or a WebSocket (live messages must leave as they are written, and a WebSocket
compresses per connection or not at all: ``websocket.py``), a HEAD, 204 or 304. A compressed
body's strong ETag turns weak: the bytes differ per coding, and weak comparison (what
``If-None-Match`` uses) still revalidates it.

Requests: aiohttp's parser already decodes gzip, deflate and br bodies a chunk at a time and
counts the decoded bytes against ``client_max_size``, so a bomb is a 413 without the memory.
What it leaves is naming its failures: a body not valid in its coding is a 400, not a 500, and
a coding it does not decode is a 415 instead of raw bytes read as if plain.
"""

from __future__ import annotations

import asyncio
import zlib
from enum import StrEnum

import brotli
from aiohttp import hdrs, web
from aiohttp.http_exceptions import ContentEncodingError
from aiohttp.typedefs import Handler, Middleware
from aiohttp.web_protocol import RequestPayloadError

from libs.errors import InvalidArgument
from libs.web import problem_response
from services.gateway.secret import SECRET

__all__ = [
    "ENCODINGS",
    "Coding",
    "compress_responses",
    "compressible",
    "decode_request_bodies",
    "encode",
    "negotiate",
]


class Coding(StrEnum):
    BR = "br"
    GZIP = "gzip"
    IDENTITY = "identity"


# Equal weights go to the first: brotli is some 10-15 % smaller than gzip on the API's JSON.
_PREFERENCE = (Coding.BR, Coding.GZIP, Coding.IDENTITY)
_ALIASES = {"x-gzip": "gzip"}  # RFC 9110 §8.4.1.3
# Identity when the client names neither it nor "*": acceptable, but after any coding it asks for.
_UNNAMED_IDENTITY_Q = 0.001

# Brotli 5 and gzip 6: on a 46 KiB canvas brotli 5 takes 0.6 ms and is within 15 % of brotli
# 11's size, which takes 100 ms; gzip 9 costs three times gzip 6 for 2 % less.
BROTLI_QUALITY = 5
GZIP_LEVEL = 6
# Below this a body compresses in well under a millisecond, less than a hop to a thread costs
# in latency; above, the event loop is left to other requests (zlib and brotli release the GIL).
THREAD_BYTES = 32 << 10

_TEXT_TYPES = frozenset(
    {"application/json", "application/javascript", "application/xml", "application/wasm"}
)
# An XML suffix on a zip container: 3MF packages are already deflated.
_ZIPPED_XML = frozenset({"application/vnd.ms-package.3dmanufacturing-3dmodel+xml"})
# Events are read as they arrive: a compressed stream would wait in the coder's buffer.
_EVENT_STREAM = "text/event-stream"
_DECODED_REQUEST_CODINGS = frozenset({"gzip", "deflate", "br", "identity"})
_NOT_COMPRESSED_STATUSES = frozenset({204, 304})


def negotiate(accept_encoding: str | None) -> Coding:
    """The coding to send for an ``Accept-Encoding`` header (RFC 9110 §12.5.3): the highest
    q-value among the codings we have, brotli first among equals; unknown codings are ignored.
    Identity when the header is absent, or when nothing is acceptable at all (a body the client
    may not read beats none)."""
    if accept_encoding is None:
        return Coding.IDENTITY
    weights: dict[str, float] = {}
    for item in accept_encoding.split(","):
        name, *params = (part.strip() for part in item.split(";"))
        name = _ALIASES.get(name.lower(), name.lower())
        q = 1.0
        for param in params:
            key, _, value = param.partition("=")
            if key.strip().lower() == "q":
                try:
                    q = min(max(float(value), 0.0), 1.0)
                except ValueError:
                    q = 0.0  # a weight we cannot read is no consent
        if name:
            weights[name] = q
    wildcard = weights.get("*")

    def weight(coding: Coding) -> float:
        if coding in weights:
            return weights[coding]
        if wildcard is not None:
            return wildcard
        return _UNNAMED_IDENTITY_Q if coding is Coding.IDENTITY else 0.0

    best = max(_PREFERENCE, key=weight)  # max keeps the first of equals
    return best if weight(best) > 0 else Coding.IDENTITY


def compressible(content_type: str) -> bool:
    """Whether a body of this media type is text that compresses; images, models, archives,
    fonts and opaque bytes are already compressed or not worth trying."""
    if content_type in _ZIPPED_XML or content_type == _EVENT_STREAM:
        return False
    return (
        content_type.startswith("text/")
        or content_type in _TEXT_TYPES
        or content_type.endswith(("+json", "+xml"))
    )


# Where a handler that answers the same body again and again (a kept canvas) lets the body's
# encodings be kept with it, so each is made once, not once per request.
ENCODINGS = web.ResponseKey("encodings", dict)


def encode(body: bytes, coding: Coding) -> bytes:
    """``body`` in ``coding``."""
    if coding is Coding.BR:
        return bytes(brotli.compress(body, mode=brotli.MODE_TEXT, quality=BROTLI_QUALITY))
    if coding is Coding.GZIP:
        return zlib.compress(body, GZIP_LEVEL, wbits=31)  # 31: a gzip header and trailer
    return body


async def _encoded(body: bytes, coding: Coding) -> bytes:
    if len(body) < THREAD_BYTES:
        return encode(body, coding)
    return await asyncio.to_thread(encode, body, coding)


def _vary_on_encoding(response: web.StreamResponse) -> None:
    vary = response.headers.get(hdrs.VARY, "")
    if "accept-encoding" not in vary.lower() and vary.strip() != "*":
        response.headers[hdrs.VARY] = f"{vary}, Accept-Encoding" if vary else "Accept-Encoding"


def _weak(etag: str) -> str:
    return etag if etag.startswith("W/") else f"W/{etag}"


def _revalidated_compressed(request: web.Request, response: web.StreamResponse) -> bool:
    """A 304 for a compressed representation: the client revalidates the weak tag we sent."""
    etag = response.headers.get(hdrs.ETAG, "")
    return (
        response.status == 304
        and etag.startswith('"')
        and _weak(etag) in request.headers.get(hdrs.IF_NONE_MATCH, "")
    )


def compress_responses(*, min_bytes: int) -> Middleware:
    """Compress whole text bodies of ``min_bytes`` or more in the coding the client prefers,
    with ``Vary: Accept-Encoding`` on every response whose coding depends on it."""

    @web.middleware
    async def compress(request: web.Request, handler: Handler) -> web.StreamResponse:
        response = await handler(request)
        if _revalidated_compressed(request, response):
            # The 304 updates the stored compressed copy: it keeps the tag the client holds.
            response.headers[hdrs.ETAG] = _weak(response.headers[hdrs.ETAG])
            _vary_on_encoding(response)
            return response
        if (
            not isinstance(response, web.Response)  # a stream, a WebSocket
            or response.prepared
            or response.compression
            or response.get(SECRET, False)
            or hdrs.CONTENT_ENCODING in response.headers
            or not compressible(response.content_type)
        ):
            return response
        _vary_on_encoding(response)
        body = response.body
        if (
            request.method == hdrs.METH_HEAD
            or response.status in _NOT_COMPRESSED_STATUSES
            or not isinstance(body, bytes | bytearray)
            or len(body) < min_bytes
        ):
            return response
        coding = negotiate(request.headers.get(hdrs.ACCEPT_ENCODING))
        if coding is Coding.IDENTITY:
            return response
        kept = response.get(ENCODINGS)
        encoded = kept.get(coding) if kept is not None else None
        if encoded is None:
            encoded = await _encoded(bytes(body), coding)
            if kept is not None:
                kept[coding] = encoded
        response.body = encoded
        response.headers.popall(hdrs.CONTENT_LENGTH, None)  # aiohttp counts the new body
        response.headers[hdrs.CONTENT_ENCODING] = coding
        if (etag := response.headers.get(hdrs.ETAG)) is not None:
            response.headers[hdrs.ETAG] = _weak(etag)
        return response

    return compress


def decode_request_bodies() -> Middleware:
    """A body in a coding aiohttp does not decode is a 415 (with the ones it does); a body not
    valid in the coding it claims is a 400, wherever a handler reads it."""

    @web.middleware
    async def decode(request: web.Request, handler: Handler) -> web.StreamResponse:
        coding = request.headers.get(hdrs.CONTENT_ENCODING, "identity").strip().lower()
        if coding not in _DECODED_REQUEST_CODINGS:
            return problem_response(
                415,
                "Unsupported content encoding",
                f"request bodies may be in gzip, deflate or br, not {coding!r}",
                type_slug="unsupported-content-encoding",
                instance=request.path,
                headers={hdrs.ACCEPT_ENCODING: "gzip, deflate, br"},
            )
        try:
            return await handler(request)
        except RequestPayloadError as exc:
            if isinstance(exc.__cause__, ContentEncodingError):
                raise InvalidArgument(f"body is not valid {coding}") from exc
            raise

    return decode
