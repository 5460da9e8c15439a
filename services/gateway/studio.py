"""The web studio at ``/``: the files ``make web`` builds into ``web/dist``, answered for every
GET that no API route takes.

``/assets/*`` are Vite's content-hashed files: cached for a year as immutable, since a new build
names its files anew. Any other path that is not the API's (``/v1/...``), not a file name and
not an operations path is one of the app's own routes (a canvas's deep link): it gets
``index.html``, revalidated on every load (``no-cache`` with a strong ETag) so a deploy reaches
the next page load. Missing assets and unknown API paths stay 404 problem documents.

The files are read once, at start: a worker serves one build throughout, so an ``index.html``
never names assets another build replaced. Each file keeps its compressed bodies too.
"""

from __future__ import annotations

import hashlib
import logging
import mimetypes
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from aiohttp import hdrs, web
from aiohttp.typedefs import Handler, Middleware

from services.gateway.compression import ENCODINGS

__all__ = ["IMMUTABLE", "REVALIDATE", "Studio", "serve_studio"]

log = logging.getLogger(__name__)

IMMUTABLE: Final = "public, max-age=31536000, immutable"
REVALIDATE: Final = "no-cache"
ASSETS: Final = "assets/"
# Operations paths (the admin port's): never the app's, though no route here takes them.
OPERATIONS: Final = frozenset({"/healthz", "/readyz", "/metrics"})


@dataclass(frozen=True)
class File:
    body: bytes
    content_type: str
    cache_control: str
    etag: str
    encodings: dict[str, bytes] = field(default_factory=dict)

    def response(self, request: web.Request) -> web.Response:
        headers = {hdrs.CACHE_CONTROL: self.cache_control, hdrs.ETAG: f'"{self.etag}"'}
        if any(tag.value in (self.etag, "*") for tag in request.if_none_match or ()):
            return web.Response(status=304, headers=headers)
        headers[hdrs.CONTENT_TYPE] = self.content_type
        response = web.Response(body=self.body, headers=headers)
        response[ENCODINGS] = self.encodings
        return response


@dataclass(frozen=True)
class Studio:
    """A build of the studio: its files by path under the build's root."""

    files: dict[str, File]

    @classmethod
    def load(cls, root: Path) -> Studio | None:
        """The build in ``root``, or None (and a warning) when there is none."""
        if not (root / "index.html").is_file():
            log.warning("no studio build in %s: `/` is a 404 until `make web` builds it", root)
            return None
        files = {}
        for path in sorted(p for p in root.rglob("*") if p.is_file()):
            name = path.relative_to(root).as_posix()
            body = path.read_bytes()
            files[name] = File(
                body=body,
                content_type=_content_type(name),
                cache_control=IMMUTABLE if name.startswith(ASSETS) else REVALIDATE,
                etag=hashlib.sha256(body).hexdigest()[:32],
            )
        return cls(files)

    def answer(self, path: str) -> File | None:
        """The file for a GET of ``path``, or None when the studio has none for it."""
        name = path.removeprefix("/")
        found = self.files.get(name)
        if found is not None or not _app_route(path):
            return found
        return self.files["index.html"]


def _content_type(name: str) -> str:
    guessed, _ = mimetypes.guess_type(name)
    kind = guessed or "application/octet-stream"
    if kind.startswith("text/") or kind in ("image/svg+xml", "application/json"):
        return f"{kind}; charset=utf-8"
    return kind


def _app_route(path: str) -> bool:
    """Whether ``path`` may be one of the app's client-side routes: not the API's, not an
    operations path, not under ``/assets/`` and not a file name (a dot in its last segment)."""
    if path == "/v1" or path.startswith(("/v1/", f"/{ASSETS}")):
        return False
    if path.rstrip("/") in OPERATIONS:
        return False
    return "." not in path.rsplit("/", 1)[-1]


def serve_studio(studio: Studio | None) -> Middleware:
    """Answer a GET or HEAD that no route takes with the studio's file for it, if any."""

    @web.middleware
    async def studio_files(request: web.Request, handler: Handler) -> web.StreamResponse:
        if (
            studio is not None
            and request.method in (hdrs.METH_GET, hdrs.METH_HEAD)
            and isinstance(request.match_info.http_exception, web.HTTPNotFound)
        ):
            found = studio.answer(request.path)
            if found is not None:
                return found.response(request)
        return await handler(request)

    return studio_files
