"""Who uploaded which blob: the image service's part of the record of who may read a blob.

One KV entry per (blob, user), ``<sha256>.<user id>``, made with a create (put-if-absent) so
the same call both records an upload and tells whether this user had made it before. Whether
someone else holds the same bytes is never asked, so it can never leak into an answer.
"""

from __future__ import annotations

import re

from nats.js import JetStreamContext
from nats.js.api import KeyValueConfig
from nats.js.errors import KeyNotFoundError, KeyWrongLastSequenceError

from libs.blobs import check_digest
from libs.bus.buckets import LazyBucket
from libs.errors import InvalidArgument

__all__ = ["UPLOADERS_BUCKET", "Uploaders"]

UPLOADERS_BUCKET = "image-uploaders"
# A KV key token: a user id (a UUID from auth) must not add a token or a wildcard to the key.
_USER = re.compile(r"[A-Za-z0-9_-]{1,128}")


class Uploaders:
    def __init__(self, js: JetStreamContext) -> None:
        self._bucket = LazyBucket(js, KeyValueConfig(bucket=UPLOADERS_BUCKET, history=1))

    async def add(self, blob: str, user_id: str) -> bool:
        """Record that ``user_id`` uploaded ``blob``; whether they had already."""
        try:
            await (await self._bucket.get()).create(_key(blob, user_id), b"")
        except KeyWrongLastSequenceError:
            return True
        return False

    async def uploaded(self, blob: str, user_id: str) -> bool:
        """Whether ``user_id`` uploaded ``blob``."""
        try:
            await (await self._bucket.get()).get(_key(blob, user_id))
        except KeyNotFoundError:
            return False
        return True


def _key(blob: str, user_id: str) -> str:
    if not _USER.fullmatch(user_id):
        raise InvalidArgument("a user id is 1 to 128 letters, digits, '-' or '_'")
    return f"{check_digest(blob)}.{user_id}"
