"""Stream tokens in Redis: one-minute tickets that open live connections where a browser cannot
send a header (``EventSource``, ``WebSocket``), each standing for the session or key that asked.

A token is kept only as its SHA-256, ``auth:stream-token:<sha256 of token>``, a hash holding
which kind of credential asked and the SHA-256 of that credential; Redis's TTL ends it. It can
be presented more than once while it lasts (the gateway and fan-out both verify it), and it is
only ever as good as its credential: each verification looks that credential up again.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from typing import Final, Literal

from redis.asyncio import Redis

from services.auth.keys import token_hash
from services.auth.sessions import redis_outage

__all__ = [
    "STREAM_TOKEN_PREFIX",
    "StreamTokenRecord",
    "StreamTokens",
    "looks_like_stream_token",
]

# Recognisable in a URL or a leak scanner, and never mistaken for a session's token.
STREAM_TOKEN_PREFIX: Final = "st_"
_TOKEN_CHARS: Final = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")
_TOKEN_LENGTH: Final = len(STREAM_TOKEN_PREFIX) + 43  # 256 random bits, base64url
_KEY: Final = "auth:stream-token:"

CredentialKind = Literal["session", "key"]


def looks_like_stream_token(token: str) -> bool:
    """The shape of the tokens made here, checked before any lookup."""
    return (
        len(token) == _TOKEN_LENGTH
        and token.startswith(STREAM_TOKEN_PREFIX)
        and _TOKEN_CHARS.issuperset(token[len(STREAM_TOKEN_PREFIX) :])
    )


@dataclass(frozen=True)
class StreamTokenRecord:
    """What a token stands for: the kind of credential that asked, and its SHA-256 (hex)."""

    credential_kind: CredentialKind
    credential_hash: str


class StreamTokens:
    def __init__(self, redis: Redis, *, valid_s: float) -> None:
        self._redis = redis
        self._valid_s = valid_s

    async def create(self, record: StreamTokenRecord) -> tuple[str, float]:
        """A new token for ``record``, and when it stops working (epoch seconds)."""
        token = STREAM_TOKEN_PREFIX + secrets.token_urlsafe(32)
        expires_at = time.time() + self._valid_s
        key = _KEY + token_hash(token)
        with redis_outage("stream tokens are"):
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.hset(
                    key,
                    mapping={"kind": record.credential_kind, "credential": record.credential_hash},
                )
                pipe.pexpire(key, max(1, int(self._valid_s * 1000)))
                await pipe.execute()
        return token, expires_at

    async def find(self, token: str) -> StreamTokenRecord | None:
        """What a live token stands for; None when it is unknown or has expired."""
        with redis_outage("stream tokens are"):
            raw: dict[bytes, bytes] = await self._redis.hgetall(_KEY + token_hash(token))  # type: ignore[misc, assignment]
        kind = raw.get(b"kind", b"").decode()
        credential = raw.get(b"credential", b"").decode()
        if kind not in ("session", "key") or not credential:
            return None
        return StreamTokenRecord("session" if kind == "session" else "key", credential)
