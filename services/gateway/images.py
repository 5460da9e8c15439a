"""Images by signed URL: ``/images/{signature}/{options}/{blob}``, as imgproxy serves them.

The signature (HMAC-SHA256 of the path after it, `libs.urlsigning`) is the credential: such
a URL works in an ``<img>`` tag without an API key, and nobody without the key can ask the
service for a variant nobody signed. API clients get signed URLs from ``POST /v1/images/urls``,
and only for a blob they may read (``BlobAccess``; any other is a 404, as for a download).

A credential that never expires would outlive every revocation, so every URL carries its expiry
as an ``exp:<unix seconds>`` option (imgproxy's own), signed with the rest: past it, or without
it, the URL is a 403. Expiries are rounded up to the hour, so a page shown again within the
hour asks for the same URLs and the browser's cache answers.

The image service makes each variant once and keeps it as a blob; the response has a strong
ETag (the variant's SHA-256), caching until the URL expires, and ``Vary: Accept`` when the
format was negotiated.
"""

from __future__ import annotations

import re
import time
from collections import OrderedDict
from collections.abc import Sequence
from datetime import UTC, datetime

from aiohttp import web

from libs.blobs import BlobStore, check_digest
from libs.downstream import Downstream
from libs.errors import Forbidden, InvalidArgument
from libs.urlsigning import sign, verify
from libs.web import read_json
from services.gateway.auth import IDENTITY
from services.gateway.blob_access import BlobAccess
from services.gateway.downloads import blob_response
from shotgraph.image.v1 import image_pb2, image_pb2_grpc

__all__ = ["MAX_OPTIONS", "OPTIONS_PATTERN", "URL_LIFETIME_S", "Images", "signed_url", "url_expiry"]

MAX_OPTIONS = 512  # characters of processing options in one URL
# What options are made of ("th:256/f:webp"): characters a URL path holds as they are.
OPTIONS_PATTERN = re.compile(r"[A-Za-z0-9:._,/-]*")
# (URL path, Accept) -> the variant the image service made for it. A variant never changes, so
# a repeat skips the gRPC call; bounded, the oldest forgotten first.
MAX_REMEMBERED = 10_000
URL_LIFETIME_S = 24 * 3600  # at least; up to an hour more, rounded up
_EXPIRY_STEP_S = 3600
_EXPIRES = "exp:"


def url_expiry(now: float | None = None) -> int:
    """When a URL signed now expires (Unix seconds), rounded up to the hour."""
    at = int(time.time() if now is None else now) + URL_LIFETIME_S
    return -(-at // _EXPIRY_STEP_S) * _EXPIRY_STEP_S


def signed_url(keys: Sequence[bytes], blob: str, options: str = "", *, expires: int) -> str:
    """The public URL of ``blob`` processed by ``options`` until ``expires`` (Unix seconds),
    signed with the first key."""
    tail = f"/{options}/{_EXPIRES}{expires}/{blob}" if options else f"/{_EXPIRES}{expires}/{blob}"
    return f"/images/{sign(keys, tail)}{tail}"


def _unexpired(options: str, now: float) -> tuple[str, int]:
    """A signed URL's options without its expiry, and the seconds it has left; Forbidden when
    it has none or it has passed."""
    kept: list[str] = []
    expiries: list[str] = []
    for option in options.split("/") if options else []:
        (expiries if option.startswith(_EXPIRES) else kept).append(option)
    if len(expiries) != 1 or not expiries[0][len(_EXPIRES) :].isdigit():
        raise Forbidden("this image URL carries no expiry; ask for a new one")
    left = int(expiries[0][len(_EXPIRES) :]) - int(now)
    if left <= 0:
        raise Forbidden("this image URL has expired; ask for a new one")
    return "/".join(kept), left


class Images:
    def __init__(
        self,
        image: Downstream[image_pb2_grpc.ImageServiceStub],
        store: BlobStore,
        access: BlobAccess,
        keys: Sequence[bytes],
    ) -> None:
        self._image = image
        self._store = store
        self._access = access
        self._keys = keys
        self._made: OrderedDict[tuple[str, str], image_pb2.TransformedImage] = OrderedDict()

    def add_routes(self, app: web.Application) -> None:
        app.router.add_get("/images/{signature}/{tail:.+}", self.image)
        app.router.add_post("/v1/images/urls", self.sign)

    async def image(self, request: web.Request) -> web.Response:
        tail = request.match_info["tail"]
        if not verify(self._keys, request.match_info["signature"], f"/{tail}"):
            raise Forbidden("the signature does not match this image URL")
        options, _, blob = tail.rpartition("/")
        options, left = _unexpired(options, time.time())
        made = await self._variant(options, blob, request.headers.get("Accept", ""))
        # Anyone holding the URL may see it until it expires, so shared caches may keep it
        # as long, and no longer.
        cache = f"public, max-age={left}, immutable"
        response = await blob_response(request, self._store, made.blob, cache_control=cache)
        if made.negotiated:
            response.headers["Vary"] = "Accept"
        return response

    async def _variant(self, options: str, blob: str, accept: str) -> image_pb2.TransformedImage:
        """The variant of ``blob`` that ``options`` name for this Accept: remembered or made."""
        tail = f"{options}/{blob}"
        remembered = self._made.get((tail, accept))
        if remembered is not None:
            return remembered
        call = image_pb2.TransformRequest(blob=check_digest(blob), options=options, accept=accept)
        made: image_pb2.TransformedImage = await self._image.call(self._image.stub.Transform, call)
        self._made[(tail, accept)] = made
        if len(self._made) > MAX_REMEMBERED:
            self._made.popitem(last=False)
        return made

    async def sign(self, request: web.Request) -> web.Response:
        """``{"blob", "options"}`` -> ``{"url", "expires_at"}``: a signed URL for that variant
        of a blob the caller may read."""
        body = await read_json(request)
        blob, options = body.get("blob"), body.get("options", "")
        if not isinstance(blob, str) or not isinstance(options, str):
            raise InvalidArgument("'blob' and 'options' must be strings")
        if len(options) > MAX_OPTIONS:
            raise InvalidArgument(f"options are limited to {MAX_OPTIONS} characters")
        if not OPTIONS_PATTERN.fullmatch(options):
            raise InvalidArgument("options are 'name:arg' segments of letters, digits and ':._,-'")
        if _EXPIRES in options:
            raise InvalidArgument(f"options may not set the expiry ({_EXPIRES!r}): it is given")
        blob = await self._access.require(request[IDENTITY].user_id, check_digest(blob))
        expires = url_expiry()
        return web.json_response(
            {
                "url": signed_url(self._keys, blob, options, expires=expires),
                "expires_at": datetime.fromtimestamp(expires, UTC).isoformat(),
            }
        )
