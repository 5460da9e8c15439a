"""Blobs as HTTP responses: one place for their caching headers."""

from __future__ import annotations

from aiohttp import web

from libs.blobs import BlobStore, check_digest

__all__ = ["blob_response"]

# Content-addressed: the bytes behind an id never change, so caches may keep them forever.
_IMMUTABLE = "public, max-age=31536000, immutable"


async def blob_response(
    request: web.Request, store: BlobStore, digest: str, *, filename: str = ""
) -> web.Response:
    """A stored blob with a strong ETag (its digest) and immutable caching; 304 on a match.

    ``filename`` makes it a download under that name.
    """
    digest = check_digest(digest)
    etag = f'"{digest}"'
    headers = {"ETag": etag, "Cache-Control": _IMMUTABLE}
    if etag in request.headers.get("If-None-Match", ""):
        return web.Response(status=304, headers=headers)
    blob = await store.get(digest)
    headers["X-Content-Type-Options"] = "nosniff"
    if filename:
        headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return web.Response(body=blob.data, content_type=blob.content_type, headers=headers)
