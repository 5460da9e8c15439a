"""JetStream KV buckets that a service opens on first use, creating them if they are missing."""

from __future__ import annotations

from nats.js import JetStreamContext
from nats.js.api import KeyValueConfig
from nats.js.errors import BucketNotFoundError
from nats.js.kv import KeyValue

__all__ = ["LazyBucket"]


class LazyBucket:
    """One KV bucket, looked up once (a JetStream API round trip) and created when absent.

    Creating is idempotent with the same configuration, so racing workers are fine.
    """

    def __init__(self, js: JetStreamContext, config: KeyValueConfig) -> None:
        self._js = js
        self._config = config
        self._bucket: KeyValue | None = None

    async def get(self) -> KeyValue:
        if self._bucket is None:
            try:
                self._bucket = await self._js.key_value(self._config.bucket)
            except BucketNotFoundError:
                self._bucket = await self._js.create_key_value(self._config)
        return self._bucket
