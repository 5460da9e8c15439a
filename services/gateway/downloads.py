"""Blobs as HTTP responses: one place for their caching headers."""

from __future__ import annotations

from aiohttp import web

from libs.blobs import BlobStore, check_digest

__all__ = ["PRIVATE", "blob_response"]

# Content-addressed: the bytes behind an id never change, so a cache may keep them forever; but
# only the browser's own: whether a caller may read a blob depends on who the caller is, which
# a shared cache keyed by URL cannot know.
PRIVATE = "private, max-age=31536000, immutable"


async def blob_response(
    request: web.Request,
    store: BlobStore,
    digest: str,
    *,
    filename: str = "",
    cache_control: str = PRIVATE,
) -> web.Response:
    """A stored blob with a strong ETag (its digest) and immutable caching; 304 on a match.

    The caller has checked that the blob may be read. ``filename`` makes it a download under
    that name.
    """
    digest = check_digest(digest)
    etag = f'"{digest}"'
    headers = {"ETag": etag, "Cache-Control": cache_control}
    if etag in request.headers.get("If-None-Match", ""):
        return web.Response(status=304, headers=headers)
    blob = await store.get(digest)
    headers["X-Content-Type-Options"] = "nosniff"
    if filename:
        headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return web.Response(body=blob.data, content_type=blob.content_type, headers=headers)
