"""Stream tokens: made for a live session or key, resolved to that credential's identity, kept in
Redis only by their hash for a minute, and never worth more than their credential."""

from __future__ import annotations

import hashlib
import time
from contextlib import AsyncExitStack

import asyncpg
import grpc
import pytest
from redis.asyncio import Redis

from libs.devstack import DevStack
from libs.ports import free_port
from services.auth.settings import AuthSettings
from services.auth.tests.conftest import CHEAP, Auth, eventually, rpc_error, serve_auth
from services.auth.tests.test_audit import audit
from shotgraph.auth.v1 import auth_pb2, auth_pb2_grpc

CLIENT = auth_pb2.Client(address="198.51.100.7", user_agent="EventSource")


async def create(
    stub: auth_pb2_grpc.AuthServiceStub, *, session: str = "", key: str = ""
) -> auth_pb2.CreateStreamTokenResponse:
    request = auth_pb2.CreateStreamTokenRequest(client=CLIENT)
    if session:
        request.session_token = session
    if key:
        request.api_key = key
    return await stub.CreateStreamToken(request)


async def verify(stub: auth_pb2_grpc.AuthServiceStub, token: str) -> auth_pb2.Identity:
    return await stub.VerifyStreamToken(auth_pb2.VerifyStreamTokenRequest(token=token))


@pytest.fixture
async def redis(devstack: DevStack, stack: AsyncExitStack) -> Redis:
    client = Redis.from_url(devstack.redis_url)
    stack.push_async_callback(client.aclose)
    return client


async def test_a_sessions_token_resolves_to_that_session(auth: Auth) -> None:
    user = await auth.user()
    session = await auth.login(user.user_name)
    before = time.time()
    created = await create(auth.stub, session=session.token)
    assert created.token.startswith("st_") and len(created.token) == 46
    assert before + 59 <= created.expires_at.ToSeconds() <= time.time() + 61
    identity = await verify(auth.stub, created.token)
    assert identity == session.identity  # same kind and id: its revocation reaches the token
    assert identity.credential_kind == "session"
    assert identity.credential_id == session.info.session_id
    assert created.identity == identity


async def test_a_keys_token_resolves_to_that_key_with_its_scopes(auth: Auth) -> None:
    user = await auth.user()
    key = await auth.stub.CreateApiKey(
        auth_pb2.CreateApiKeyRequest(user_id=user.user_id, key_name="ro", scopes=["read"])
    )
    created = await create(auth.stub, key=key.key)
    identity = await verify(auth.stub, created.token)
    assert (identity.credential_kind, identity.credential_id) == ("key", key.key_id)
    assert list(identity.scopes) == ["read"]
    assert identity.user_id == user.user_id
    again = await verify(auth.stub, created.token)  # the gateway and fan-out both verify it
    assert again == identity


async def test_only_the_tokens_hash_is_kept_and_only_for_a_minute(auth: Auth, redis: Redis) -> None:
    session = await auth.login((await auth.user()).user_name)
    created = await create(auth.stub, session=session.token)
    kept = f"auth:stream-token:{hashlib.sha256(created.token.encode()).hexdigest()}"
    assert 55_000 < await redis.pttl(kept) <= 60_000
    stored: dict[bytes, bytes] = await redis.hgetall(kept)  # type: ignore[misc, assignment]
    assert stored[b"kind"] == b"session"
    everything = b"".join([*stored, *stored.values()])
    assert created.token.encode() not in everything
    assert session.token.encode() not in everything


async def test_a_token_past_its_time_is_refused(
    auth: Auth, stack: AsyncExitStack, pg_pool: asyncpg.Pool, devstack: DevStack, redis: Redis
) -> None:
    brief = AuthSettings(**CHEAP, stream_token_valid_s=0.2)  # type: ignore[arg-type]
    stub, _, _ = await serve_auth(stack, pg_pool, brief, redis_url=devstack.redis_url)
    session = await auth.login((await auth.user()).user_name)
    created = await create(stub, session=session.token)
    kept = f"auth:stream-token:{hashlib.sha256(created.token.encode()).hexdigest()}"

    async def gone() -> bool:
        return not await redis.exists(kept)

    await eventually(gone, "Redis let the token expire", within_s=5)
    error = await rpc_error(verify(stub, created.token))
    assert error.code() == grpc.StatusCode.UNAUTHENTICATED
    assert "unknown or expired" in (error.details() or "")


async def test_revoking_the_credential_voids_its_tokens(auth: Auth) -> None:
    user = await auth.user()
    session = await auth.login(user.user_name)
    key = await auth.stub.CreateApiKey(auth_pb2.CreateApiKeyRequest(user_id=user.user_id))
    by_session = await create(auth.stub, session=session.token)
    by_key = await create(auth.stub, key=key.key)

    await auth.stub.Logout(auth_pb2.LogoutRequest(token=session.token))
    await auth.stub.RevokeApiKey(
        auth_pb2.RevokeApiKeyRequest(user_id=user.user_id, key_id=key.key_id)
    )
    for token, what in ((by_session, "session"), (by_key, "API key")):
        error = await rpc_error(verify(auth.stub, token.token))
        assert error.code() == grpc.StatusCode.UNAUTHENTICATED
        assert f"the {what} this stream token stands for" in (error.details() or "")


async def test_a_credential_that_is_not_live_gets_no_token(auth: Auth) -> None:
    user = await auth.user()
    session = await auth.login(user.user_name)
    await auth.stub.Logout(auth_pb2.LogoutRequest(token=session.token))
    calls = {
        "an ended session": create(auth.stub, session=session.token),
        "an unknown key": create(auth.stub, key="sg_" + "A" * 43),
        "a malformed session token": create(auth.stub, session="x" * 300),
        "a malformed key": create(auth.stub, key="not-a-key"),
    }
    for what, call in calls.items():
        error = await rpc_error(call)
        assert error.code() == grpc.StatusCode.UNAUTHENTICATED, what


async def test_asking_without_a_credential_is_invalid(auth: Auth) -> None:
    error = await rpc_error(auth.stub.CreateStreamToken(auth_pb2.CreateStreamTokenRequest()))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT


@pytest.mark.parametrize(
    "token",
    [
        "",
        "st_",
        "st_" + "A" * 42,
        "st_" + "A" * 44,
        "st_" + "A" * 42 + "=",
        "xx_" + "A" * 43,
        "A" * 43,  # a session token is no stream token
        "st_" + "\x00" * 43,
    ],
)
async def test_a_forged_or_unknown_token_is_refused(auth: Auth, token: str) -> None:
    error = await rpc_error(verify(auth.stub, token))
    assert error.code() == grpc.StatusCode.UNAUTHENTICATED


async def test_an_unknown_token_of_the_right_shape_is_refused(auth: Auth) -> None:
    error = await rpc_error(verify(auth.stub, "st_" + "A" * 43))
    assert error.code() == grpc.StatusCode.UNAUTHENTICATED
    assert "unknown or expired" in (error.details() or "")


async def test_each_token_is_audited_against_its_credential(auth: Auth) -> None:
    user = await auth.user()
    session = await auth.login(user.user_name)
    await create(auth.stub, session=session.token)
    [entry] = [e for e in await audit(auth, user.user_id) if e.action == "stream_token.created"]
    assert entry.subject_id == session.info.session_id
    assert (entry.client.address, entry.client.user_agent) == ("198.51.100.7", "EventSource")


async def test_without_redis_tokens_are_unavailable(
    auth: Auth, stack: AsyncExitStack, pg_pool: asyncpg.Pool
) -> None:
    user = await auth.user()
    key = await auth.stub.CreateApiKey(auth_pb2.CreateApiKeyRequest(user_id=user.user_id))
    stub, _, _ = await serve_auth(
        stack, pg_pool, auth.settings, redis_url=f"redis://127.0.0.1:{free_port()}/0"
    )
    for call in (create(stub, key=key.key), verify(stub, "st_" + "A" * 43)):
        error = await rpc_error(call)
        assert error.code() == grpc.StatusCode.UNAVAILABLE
        assert "stream tokens are unavailable" in (error.details() or "")
