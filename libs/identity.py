"""Who is calling: the API key a request presents, verified by the auth service, briefly cached."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from aiocache import SimpleMemoryCache
from aiohttp import web

from libs.downstream import Downstream
from libs.errors import Unauthenticated
from shotgraph.auth.v1 import auth_pb2, auth_pb2_grpc

__all__ = ["SCOPES", "Identity", "KeyVerifier", "Scope", "presented_key"]

_MAX_KEY_LENGTH = 256


Scope = Literal["read", "write", "admin"]
SCOPES: tuple[Scope, ...] = ("read", "write", "admin")


@dataclass(frozen=True)
class Identity:
    """Who presented a credential, which one, and what it allows."""

    user_id: str
    user_name: str
    credential_kind: Literal["session", "key"] = "key"
    credential_id: str = ""  # the session's or key's id, never the secret itself
    scopes: frozenset[str] = frozenset({"read", "write"})
    plan: str = "standard"  # the rate-limit plan (``libs/ratelimit.py``)
    expires_at: float | None = None  # epoch seconds; None: a key without expiry

    @property
    def key_id(self) -> str:
        return self.credential_id if self.credential_kind == "key" else ""


def presented_key(request: web.Request) -> str:
    """The key from ``Authorization: Bearer <key>`` or ``X-API-Key``; 401 when there is none."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    key = token.strip() if scheme.lower() == "bearer" else request.headers.get("X-API-Key", "")
    if not key:
        raise Unauthenticated("send an API key as 'Authorization: Bearer <key>'")
    if len(key) > _MAX_KEY_LENGTH:
        raise Unauthenticated("API key is malformed")
    return key


class KeyVerifier:
    """Verified keys are remembered for ``ttl_s`` so a busy client costs auth one call per TTL."""

    def __init__(self, auth: Downstream[auth_pb2_grpc.AuthServiceStub], ttl_s: int = 10) -> None:
        self._auth = auth
        self._cache = SimpleMemoryCache(ttl=ttl_s)

    async def verify(self, key: str) -> Identity:
        cached = await self._cache.get(key)
        if cached is not None:
            return cached  # type: ignore[no-any-return]
        reply: auth_pb2.VerifyApiKeyResponse = await self._auth.call(
            self._auth.stub.VerifyApiKey, auth_pb2.VerifyApiKeyRequest(key=key)
        )
        identity = Identity(
            user_id=reply.user_id, user_name=reply.user_name, credential_id=reply.key_id
        )
        await self._cache.set(key, identity)
        return identity
