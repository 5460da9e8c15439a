"""Login: one answer and one argon2 verification for an unknown user and a wrong password, a new
session every time, throttling per account and per address before any hashing, and a rehash
when the hashing parameters change."""

from __future__ import annotations

import uuid
from contextlib import AsyncExitStack

import asyncpg
import grpc
import pytest

from libs.devstack import DevStack
from libs.errors import STATUS_DETAILS_KEY, TooManyRequests, from_status_details
from services.auth.settings import AuthSettings
from services.auth.tests.conftest import CHEAP, PASSWORD, Auth, rpc_error, serve_auth
from shotgraph.auth.v1 import auth_pb2


@pytest.fixture
def auth_settings() -> AuthSettings:
    """Cheap hashing, and an address threshold low enough to reach in a test."""
    return AuthSettings(**CHEAP, login_address_failures=8)  # type: ignore[arg-type]


def retry_after(error: grpc.aio.AioRpcError) -> int:
    """The retry delay a throttled answer carries across the hop."""
    raw = dict(error.trailing_metadata() or ())[STATUS_DETAILS_KEY]
    domain = from_status_details(error.code(), error.details() or "", raw)
    assert isinstance(domain, TooManyRequests)
    return domain.retry_after


async def test_login_returns_a_session_for_the_right_password(auth: Auth) -> None:
    user = await auth.user()
    session = await auth.login(user.user_name)
    assert len(session.token) == 43
    identity = session.identity
    assert (identity.user_id, identity.user_name) == (user.user_id, user.user_name)
    assert (identity.credential_kind, identity.credential_id) == (
        "session",
        session.info.session_id,
    )
    assert sorted(identity.scopes) == ["read", "write"]
    assert identity.plan == "standard"
    assert identity.expires_at.ToSeconds() == session.info.idle_expires_at.ToSeconds()


async def test_an_admin_session_has_the_admin_scope(auth: Auth) -> None:
    admin = await auth.user(admin=True)
    session = await auth.login(admin.user_name)
    assert sorted(session.identity.scopes) == ["admin", "read", "write"]


async def test_every_login_makes_a_new_session(auth: Auth) -> None:
    user = await auth.user()
    first, second = await auth.login(user.user_name), await auth.login(user.user_name)
    assert first.token != second.token
    assert first.info.session_id != second.info.session_id
    listed = await auth.stub.ListSessions(auth_pb2.ListSessionsRequest(user_id=user.user_id))
    assert {s.session_id for s in listed.sessions} == {
        first.info.session_id,
        second.info.session_id,
    }


async def test_unknown_user_and_wrong_password_look_the_same_and_cost_the_same(
    auth: Auth,
) -> None:
    user = await auth.user()
    address = auth.address()

    before = auth.hasher.verified
    wrong = await rpc_error(auth.login(user.user_name, "wrong password!", address))
    wrong_cost = auth.hasher.verified - before

    before = auth.hasher.verified
    unknown = await rpc_error(auth.login(auth.name(), "wrong password!", address))
    unknown_cost = auth.hasher.verified - before

    assert (wrong.code(), wrong.details()) == (unknown.code(), unknown.details())
    assert wrong.code() == grpc.StatusCode.UNAUTHENTICATED
    assert wrong.details() == "user name or password is wrong"
    assert wrong_cost == unknown_cost == 1, "one argon2 verification each"


async def test_a_user_without_a_password_cannot_log_in(auth: Auth) -> None:
    name = auth.name()
    await auth.stub.CreateApiKey(auth_pb2.CreateApiKeyRequest(user_name=name))
    before = auth.hasher.verified
    error = await rpc_error(auth.login(name, ""))
    assert error.details() == "user name or password is wrong"
    assert auth.hasher.verified - before == 1


async def test_an_account_is_throttled_after_five_failures(auth: Auth) -> None:
    user = await auth.user()
    for _ in range(5):  # from as many addresses: the account's own counter
        error = await rpc_error(auth.login(user.user_name, "not the password", auth.address()))
        assert error.code() == grpc.StatusCode.UNAUTHENTICATED

    before = auth.hasher.verified
    throttled = await rpc_error(auth.login(user.user_name, PASSWORD, auth.address()))
    assert throttled.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert retry_after(throttled) == 1
    assert auth.hasher.verified == before, "refused before any hashing"


async def test_the_delay_doubles_with_each_further_failure(auth: Auth) -> None:
    user = await auth.user()
    for _ in range(5):
        await rpc_error(auth.login(user.user_name, "not the password"))
    # Past the first wait, two more failures: 2 s, then 4 s.
    await auth.servicer.throttle.failed(user.user_name, "")
    await auth.servicer.throttle.failed(user.user_name, "")
    throttled = await rpc_error(auth.login(user.user_name, PASSWORD))
    assert retry_after(throttled) == 4


async def test_an_unknown_name_is_throttled_like_a_known_one(auth: Auth) -> None:
    name = auth.name()
    for _ in range(5):
        await rpc_error(auth.login(name, "not the password"))
    throttled = await rpc_error(auth.login(name, "not the password"))
    assert throttled.code() == grpc.StatusCode.RESOURCE_EXHAUSTED


async def test_a_right_password_clears_the_accounts_failures(auth: Auth) -> None:
    user = await auth.user()
    for _ in range(4):
        await rpc_error(auth.login(user.user_name, "not the password"))
    await auth.login(user.user_name)
    for _ in range(4):
        await rpc_error(auth.login(user.user_name, "not the password"))
    assert await auth.login(user.user_name)


async def test_one_address_is_throttled_across_accounts(auth: Auth) -> None:
    address = auth.address()
    for _ in range(8):
        await rpc_error(auth.login(auth.name(), "not the password", address))
    throttled = await rpc_error(auth.login(auth.name(), "not the password", address))
    assert throttled.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    user = await auth.user()
    assert await auth.login(user.user_name, address=auth.address()), "other addresses go on"


@pytest.mark.parametrize(
    ("field", "value"),
    [("user_name", "a" * 255), ("password", "p" * 257)],
)
async def test_login_refuses_overlong_input(auth: Auth, field: str, value: str) -> None:
    request = auth_pb2.LoginRequest(user_name="someone", password=PASSWORD)
    setattr(request, field, value)
    error = await rpc_error(auth.stub.Login(request))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT


@pytest.mark.parametrize("name", ["nul\x00name", "new\nline", "\x7fdelete"])
async def test_login_refuses_a_name_with_a_control_character(auth: Auth, name: str) -> None:
    """No name holds one, and Postgres text cannot hold a NUL: a 400, not a failed query."""
    error = await rpc_error(
        auth.stub.Login(auth_pb2.LoginRequest(user_name=name, password=PASSWORD))
    )
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "control characters" in (error.details() or "")


async def test_login_refuses_an_overlong_client_address(auth: Auth) -> None:
    user = await auth.user()
    error = await rpc_error(auth.login(user.user_name, address="1" * 65))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT


async def test_login_rehashes_a_password_made_with_old_parameters(
    auth: Auth, stack: AsyncExitStack, pg_pool: asyncpg.Pool, devstack: DevStack
) -> None:
    user = await auth.user()
    stronger = AuthSettings(argon2_time_cost=2, argon2_memory_kib=16, argon2_parallelism=1)
    stub, _, hasher = await serve_auth(stack, pg_pool, stronger, redis_url=devstack.redis_url)
    await stub.Login(auth_pb2.LoginRequest(user_name=user.user_name, password=PASSWORD))
    assert hasher.hashed == 1
    stored = await pg_pool.fetchval(
        "SELECT password_hash FROM auth.users WHERE name = $1", user.user_name
    )
    assert "m=16,t=2,p=1" in stored
    await stub.Login(auth_pb2.LoginRequest(user_name=user.user_name, password=PASSWORD))
    assert hasher.hashed == 1, "rehashed once"


async def test_login_with_the_default_argon2_parameters(
    auth: Auth, stack: AsyncExitStack, pg_pool: asyncpg.Pool, devstack: DevStack
) -> None:
    defaults = AuthSettings()
    stub, _, hasher = await serve_auth(stack, pg_pool, defaults, redis_url=devstack.redis_url)
    name = auth.name()
    await stub.CreateUser(auth_pb2.CreateUserRequest(user_name=name, password=PASSWORD))
    stored = await pg_pool.fetchval("SELECT password_hash FROM auth.users WHERE name = $1", name)
    assert stored.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    session = await stub.Login(auth_pb2.LoginRequest(user_name=name, password=PASSWORD))
    assert session.identity.user_name == name
    wrong = await rpc_error(
        stub.Login(auth_pb2.LoginRequest(user_name=f"{name}-{uuid.uuid4().hex[:4]}", password="x"))
    )
    assert wrong.code() == grpc.StatusCode.UNAUTHENTICATED
    assert hasher.verified == 2
