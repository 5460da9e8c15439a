"""Images by signed URL: ``/images/{signature}/{options}/{blob}``, as imgproxy serves them.

The signature (HMAC-SHA256 of the path after it, `libs.urlsigning`) is the credential: such
a URL works in an ``<img>`` tag without an API key, and nobody without the key can ask the
service for a variant nobody signed. API clients get signed URLs from ``POST /v1/images/urls``.
The image service makes each variant once and keeps it as a blob; the response has a strong
ETag (the variant's SHA-256), immutable caching, and ``Vary: Accept`` when the format was
negotiated.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from collections.abc import Sequence

from aiohttp import web

from libs.blobs import BlobStore, check_digest
from libs.downstream import Downstream
from libs.errors import Forbidden, InvalidArgument
from libs.urlsigning import sign, verify
from libs.web import read_json
from services.gateway.downloads import blob_response
from shotgraph.image.v1 import image_pb2, image_pb2_grpc

__all__ = ["MAX_OPTIONS", "OPTIONS_PATTERN", "Images", "signed_url"]

MAX_OPTIONS = 512  # characters of processing options in one URL
# What options are made of ("th:256/f:webp"): characters a URL path holds as they are.
OPTIONS_PATTERN = re.compile(r"[A-Za-z0-9:._,/-]*")
# (URL path, Accept) -> the variant the image service made for it. A variant never changes, so
# a repeat skips the gRPC call; bounded, the oldest forgotten first.
MAX_REMEMBERED = 10_000


def signed_url(keys: Sequence[bytes], blob: str, options: str = "") -> str:
    """The public URL of ``blob`` processed by ``options``, signed with the first key."""
    tail = f"/{options}/{blob}" if options else f"/{blob}"
    return f"/images/{sign(keys, tail)}{tail}"


class Images:
    def __init__(
        self,
        image: Downstream[image_pb2_grpc.ImageServiceStub],
        store: BlobStore,
        keys: Sequence[bytes],
    ) -> None:
        self._image = image
        self._store = store
        self._keys = keys
        self._made: OrderedDict[tuple[str, str], image_pb2.TransformedImage] = OrderedDict()

    def add_routes(self, app: web.Application) -> None:
        app.router.add_get("/images/{signature}/{tail:.+}", self.image)
        app.router.add_post("/v1/images/urls", self.sign)

    async def image(self, request: web.Request) -> web.Response:
        tail = request.match_info["tail"]
        if not verify(self._keys, request.match_info["signature"], f"/{tail}"):
            raise Forbidden("the signature does not match this image URL")
        made = await self._variant(tail, request.headers.get("Accept", ""))
        response = await blob_response(request, self._store, made.blob)
        if made.negotiated:
            response.headers["Vary"] = "Accept"
        return response

    async def _variant(self, tail: str, accept: str) -> image_pb2.TransformedImage:
        """The variant a URL path names for this Accept: remembered, or made now."""
        remembered = self._made.get((tail, accept))
        if remembered is not None:
            return remembered
        options, _, blob = tail.rpartition("/")
        call = image_pb2.TransformRequest(blob=check_digest(blob), options=options, accept=accept)
        made: image_pb2.TransformedImage = await self._image.call(self._image.stub.Transform, call)
        self._made[(tail, accept)] = made
        if len(self._made) > MAX_REMEMBERED:
            self._made.popitem(last=False)
        return made

    async def sign(self, request: web.Request) -> web.Response:
        """``{"blob", "options"}`` -> ``{"url"}``: a signed URL for that variant."""
        body = await read_json(request)
        blob, options = body.get("blob"), body.get("options", "")
        if not isinstance(blob, str) or not isinstance(options, str):
            raise InvalidArgument("'blob' and 'options' must be strings")
        if len(options) > MAX_OPTIONS:
            raise InvalidArgument(f"options are limited to {MAX_OPTIONS} characters")
        if not OPTIONS_PATTERN.fullmatch(options):
            raise InvalidArgument("options are 'name:arg' segments of letters, digits and ':._,-'")
        return web.json_response({"url": signed_url(self._keys, check_digest(blob), options)})
