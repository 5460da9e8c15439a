"""The AuthService gRPC API."""

from __future__ import annotations

import grpc

from libs.errors import InvalidArgument, Unauthenticated
from services.auth.keys import check_user_name, hash_key, looks_like_key, new_key
from services.auth.store import AuthStore
from shotgraph.auth.v1 import auth_pb2, auth_pb2_grpc

__all__ = ["AuthServicer"]


class AuthServicer(auth_pb2_grpc.AuthServiceServicer):
    def __init__(self, store: AuthStore) -> None:
        self._store = store

    async def CreateApiKey(
        self, request: auth_pb2.CreateApiKeyRequest, context: grpc.aio.ServicerContext
    ) -> auth_pb2.CreateApiKeyResponse:
        user_name = check_user_name(request.user_name)
        key_name = request.key_name or "default"
        if len(key_name) > 100:
            raise InvalidArgument("key name is longer than 100 characters")
        key = new_key()
        owner = await self._store.create_key(user_name, key_name, hash_key(key))
        return auth_pb2.CreateApiKeyResponse(user_id=owner.user_id, key_id=owner.key_id, key=key)

    async def VerifyApiKey(
        self, request: auth_pb2.VerifyApiKeyRequest, context: grpc.aio.ServicerContext
    ) -> auth_pb2.VerifyApiKeyResponse:
        if not looks_like_key(request.key):
            raise Unauthenticated("API key is malformed")
        owner = await self._store.find_key(hash_key(request.key))
        if owner is None:
            raise Unauthenticated("API key is unknown or revoked")
        return auth_pb2.VerifyApiKeyResponse(
            user_id=owner.user_id, key_id=owner.key_id, user_name=owner.user_name
        )
