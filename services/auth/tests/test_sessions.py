"""Sessions: verified and kept alive, idle and absolute expiry, listing, signing out one or
everywhere else, a password change that ends the other sessions and says so on the bus, and
what happens while Redis is down."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack

import asyncpg
import grpc
import nats
import pytest
from nats.aio.msg import Msg

from libs.bus import Envelope
from libs.bus.events import CredentialRevoked
from libs.bus.subjects import auth_revoked_subject
from libs.devstack import DevStack
from libs.ports import free_port
from services.auth.settings import AuthSettings
from services.auth.tests.conftest import (
    CHEAP,
    PASSWORD,
    Auth,
    eventually,
    rpc_error,
    serve_auth,
)
from shotgraph.auth.v1 import auth_pb2


async def revocations(stack: AsyncExitStack, nats_url: str, user_id: str) -> asyncio.Queue[Msg]:
    """Messages on the user's revocation subject from now on."""
    nc = await nats.connect(nats_url)
    stack.push_async_callback(nc.close)
    received: asyncio.Queue[Msg] = asyncio.Queue()
    await nc.subscribe(auth_revoked_subject(user_id), cb=received.put)
    await nc.flush()
    return received


async def revoked_ids(received: asyncio.Queue[Msg], count: int) -> set[str]:
    ids = set()
    async with asyncio.timeout(5):
        for _ in range(count):
            event = Envelope.decode((await received.get()).data).open(CredentialRevoked)
            assert event.credential_kind == "session"
            ids.add(event.credential_id)
    return ids


async def verify(auth: Auth, token: str) -> auth_pb2.Identity:
    return await auth.stub.VerifySession(auth_pb2.VerifySessionRequest(token=token))


async def test_verify_session_returns_the_identity(auth: Auth) -> None:
    user = await auth.user()
    session = await auth.login(user.user_name)
    identity = await verify(auth, session.token)
    assert identity.user_id == user.user_id
    assert identity.credential_id == session.info.session_id
    assert sorted(identity.scopes) == ["read", "write"]


@pytest.mark.parametrize("token", ["", "x", "A" * 43, "A" * 257, "\x00" * 43])
async def test_a_forged_token_is_unauthenticated(auth: Auth, token: str) -> None:
    error = await rpc_error(verify(auth, token))
    assert error.code() == grpc.StatusCode.UNAUTHENTICATED


async def test_sessions_are_stored_by_the_hash_of_their_token(
    auth: Auth, devstack: DevStack
) -> None:
    from redis.asyncio import Redis

    session = await auth.login((await auth.user()).user_name)
    redis = Redis.from_url(devstack.redis_url)
    try:
        keys = [k async for k in redis.scan_iter(match=f"*{session.token}*")]
    finally:
        await redis.aclose()
    assert keys == []


async def test_logout_ends_the_session_and_announces_it(
    auth: Auth, stack: AsyncExitStack, devstack: DevStack
) -> None:
    user = await auth.user()
    session = await auth.login(user.user_name)
    received = await revocations(stack, devstack.nats_url, user.user_id)
    await auth.stub.Logout(auth_pb2.LogoutRequest(token=session.token))
    assert await revoked_ids(received, 1) == {session.info.session_id}
    error = await rpc_error(verify(auth, session.token))
    assert error.code() == grpc.StatusCode.UNAUTHENTICATED
    await auth.stub.Logout(auth_pb2.LogoutRequest(token=session.token)), "twice is fine"
    await auth.stub.Logout(auth_pb2.LogoutRequest(token="not a token"))


async def test_list_marks_the_current_session_and_revoke_ends_one(auth: Auth) -> None:
    user = await auth.user()
    first, second = await auth.login(user.user_name), await auth.login(user.user_name)
    listed = await auth.stub.ListSessions(
        auth_pb2.ListSessionsRequest(user_id=user.user_id, session_id=first.info.session_id)
    )
    current = {s.session_id: s.current for s in listed.sessions}
    assert current == {first.info.session_id: True, second.info.session_id: False}
    assert all(s.client.user_agent == "pytest" for s in listed.sessions)

    revoked = await auth.stub.RevokeSessions(
        auth_pb2.RevokeSessionsRequest(user_id=user.user_id, session_id=second.info.session_id)
    )
    assert revoked.sessions_revoked == 1
    assert await verify(auth, first.token)
    assert (await rpc_error(verify(auth, second.token))).code() == grpc.StatusCode.UNAUTHENTICATED


async def test_a_session_of_another_user_cannot_be_revoked(auth: Auth) -> None:
    owner, other = await auth.user(), await auth.user()
    session = await auth.login(owner.user_name)
    error = await rpc_error(
        auth.stub.RevokeSessions(
            auth_pb2.RevokeSessionsRequest(
                user_id=other.user_id, session_id=session.info.session_id
            )
        )
    )
    assert error.code() == grpc.StatusCode.NOT_FOUND
    assert await verify(auth, session.token)


async def test_sign_out_everywhere_else(
    auth: Auth, stack: AsyncExitStack, devstack: DevStack
) -> None:
    user = await auth.user()
    sessions = [await auth.login(user.user_name) for _ in range(3)]
    keep = sessions[0]
    received = await revocations(stack, devstack.nats_url, user.user_id)
    reply = await auth.stub.RevokeSessions(
        auth_pb2.RevokeSessionsRequest(
            user_id=user.user_id, session_id=keep.info.session_id, all_but=True
        )
    )
    assert reply.sessions_revoked == 2
    assert await revoked_ids(received, 2) == {s.info.session_id for s in sessions[1:]}
    assert await verify(auth, keep.token)
    for ended in sessions[1:]:
        assert (await rpc_error(verify(auth, ended.token))).code() == (
            grpc.StatusCode.UNAUTHENTICATED
        )


async def test_sign_out_everywhere_from_a_key_keeps_no_session(auth: Auth) -> None:
    user = await auth.user()
    sessions = [await auth.login(user.user_name) for _ in range(2)]
    reply = await auth.stub.RevokeSessions(
        auth_pb2.RevokeSessionsRequest(user_id=user.user_id, session_id="", all_but=True)
    )
    assert reply.sessions_revoked == 2
    for ended in sessions:
        assert (await rpc_error(verify(auth, ended.token))).code() == (
            grpc.StatusCode.UNAUTHENTICATED
        )


async def test_change_password_revokes_the_other_sessions_and_announces_them(
    auth: Auth, stack: AsyncExitStack, devstack: DevStack
) -> None:
    user = await auth.user()
    here, elsewhere, phone = [await auth.login(user.user_name) for _ in range(3)]
    received = await revocations(stack, devstack.nats_url, user.user_id)
    reply = await auth.stub.ChangePassword(
        auth_pb2.ChangePasswordRequest(
            user_id=user.user_id,
            current_password=PASSWORD,
            new_password="a new long passphrase",
            session_id=here.info.session_id,
        )
    )
    assert reply.sessions_revoked == 2
    assert await revoked_ids(received, 2) == {elsewhere.info.session_id, phone.info.session_id}
    assert await verify(auth, here.token)
    for ended in (elsewhere, phone):
        assert (await rpc_error(verify(auth, ended.token))).code() == (
            grpc.StatusCode.UNAUTHENTICATED
        )
    assert (await rpc_error(auth.login(user.user_name))).code() == grpc.StatusCode.UNAUTHENTICATED
    assert await auth.login(user.user_name, "a new long passphrase")


async def test_change_password_needs_the_current_one_and_is_throttled(auth: Auth) -> None:
    user = await auth.user()
    session = await auth.login(user.user_name)
    request = auth_pb2.ChangePasswordRequest(
        user_id=user.user_id,
        current_password="not the password",
        new_password="a new long passphrase",
        session_id=session.info.session_id,
    )
    for _ in range(5):
        assert (await rpc_error(auth.stub.ChangePassword(request))).code() == (
            grpc.StatusCode.UNAUTHENTICATED
        )
    request.current_password = PASSWORD
    throttled = await rpc_error(auth.stub.ChangePassword(request))
    assert throttled.code() == grpc.StatusCode.RESOURCE_EXHAUSTED


async def test_change_password_refuses_a_weak_new_one(auth: Auth) -> None:
    user = await auth.user()
    session = await auth.login(user.user_name)
    error = await rpc_error(
        auth.stub.ChangePassword(
            auth_pb2.ChangePasswordRequest(
                user_id=user.user_id,
                current_password=PASSWORD,
                new_password="short",
                session_id=session.info.session_id,
            )
        )
    )
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT


async def serve_short_sessions(
    stack: AsyncExitStack, pg_pool: asyncpg.Pool, devstack: DevStack, **lifetimes: float
) -> Auth:
    settings = AuthSettings(**CHEAP, **lifetimes)  # type: ignore[arg-type]
    stub, servicer, hasher = await serve_auth(
        stack, pg_pool, settings, redis_url=devstack.redis_url
    )
    return Auth(stub, servicer, hasher, settings, "", pg_pool)


async def refused(auth: Auth, token: str) -> bool:
    """Whether the session of ``token`` is refused (verifying it keeps it alive otherwise)."""
    try:
        await verify(auth, token)
    except grpc.aio.AioRpcError as exc:
        assert exc.code() == grpc.StatusCode.UNAUTHENTICATED
        return True
    return False


async def test_an_idle_session_expires(
    auth: Auth, stack: AsyncExitStack, pg_pool: asyncpg.Pool, devstack: DevStack
) -> None:
    short = await serve_short_sessions(
        stack, pg_pool, devstack, session_idle_s=0.5, session_touch_s=0.1
    )
    user = await auth.user()
    session = await short.stub.Login(
        auth_pb2.LoginRequest(user_name=user.user_name, password=PASSWORD)
    )

    # Listing does not keep a session alive: poll it until the session has left.
    async def gone() -> bool:
        return session.info.session_id not in await listed_ids(short, user.user_id)

    await eventually(gone, "the idle session expired", within_s=10)
    error = await rpc_error(verify(short, session.token))
    assert error.code() == grpc.StatusCode.UNAUTHENTICATED


async def listed_ids(auth: Auth, user_id: str) -> set[str]:
    listed = await auth.stub.ListSessions(auth_pb2.ListSessionsRequest(user_id=user_id))
    return {s.session_id for s in listed.sessions}


async def test_use_keeps_a_session_alive_until_its_absolute_expiry(
    auth: Auth, stack: AsyncExitStack, pg_pool: asyncpg.Pool, devstack: DevStack
) -> None:
    short = await serve_short_sessions(
        stack, pg_pool, devstack, session_idle_s=0.6, session_absolute_s=2.0, session_touch_s=0.05
    )
    user = await auth.user()
    session = await short.stub.Login(
        auth_pb2.LoginRequest(user_name=user.user_name, password=PASSWORD)
    )
    # Verified every 50 ms, it outlives its idle expiry several times over, then ends at its
    # absolute expiry however busy it is.
    started = time.time()
    await eventually(lambda: refused(short, session.token), "the session ended", within_s=10)
    assert time.time() >= session.info.expires_at.ToMilliseconds() / 1000
    assert time.time() - started > 0.6 * 2
    assert session.info.session_id not in await listed_ids(short, user.user_id)


@pytest.fixture
async def without_redis(
    stack: AsyncExitStack, pg_pool: asyncpg.Pool, auth: Auth
) -> AsyncIterator[Auth]:
    """The same store, with Redis at an address where nothing listens."""
    stub, servicer, hasher = await serve_auth(
        stack, pg_pool, auth.settings, redis_url=f"redis://127.0.0.1:{free_port()}/0"
    )
    yield Auth(stub, servicer, hasher, auth.settings, auth.prefix, pg_pool)


async def test_redis_down_makes_sessions_unavailable_while_keys_verify(
    auth: Auth, without_redis: Auth
) -> None:
    user = await auth.user()
    session = await auth.login(user.user_name)
    key = await without_redis.stub.CreateApiKey(
        auth_pb2.CreateApiKeyRequest(user_id=user.user_id, key_name="ci")
    )
    verified = await without_redis.stub.VerifyApiKey(auth_pb2.VerifyApiKeyRequest(key=key.key))
    assert verified.user_id == user.user_id

    calls = [
        without_redis.stub.Login(
            auth_pb2.LoginRequest(user_name=user.user_name, password=PASSWORD)
        ),
        without_redis.stub.VerifySession(auth_pb2.VerifySessionRequest(token=session.token)),
        without_redis.stub.Logout(auth_pb2.LogoutRequest(token=session.token)),
        without_redis.stub.ListSessions(auth_pb2.ListSessionsRequest(user_id=user.user_id)),
    ]
    for call in calls:
        error = await rpc_error(call)
        assert error.code() == grpc.StatusCode.UNAVAILABLE
        assert "session store (Redis) cannot be reached" in (error.details() or "")
