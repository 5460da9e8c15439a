"""The auth service on real peers: its servicer on a gRPC server of the platform's own, Postgres
migrated with its migrations, the dev stack's Redis and NATS, and argon2 made cheap (one pass
over 8 KiB) so tests hash in microseconds. Every test's user names start with its own prefix,
and its rows are deleted after it."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from typing import Any, Literal

import asyncpg
import grpc
import nats
import pytest
from argon2 import PasswordHasher
from redis.asyncio import Redis

from libs.db import migrate
from libs.devstack import DevStack
from services.auth.app import MIGRATIONS
from services.auth.handlers import AuthServicer
from services.auth.passwords import Passwords
from services.auth.settings import AuthSettings
from services.auth.store import AuthStore
from shotgraph.auth.v1 import auth_pb2, auth_pb2_grpc
from tests.in_process import serve

PASSWORD = "correct horse battery"
CHEAP = {"argon2_time_cost": 1, "argon2_memory_kib": 8, "argon2_parallelism": 1}


class CountingHasher(PasswordHasher):
    """A PasswordHasher that counts its verifications and hashes."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.verified = 0
        self.hashed = 0

    def verify(self, hash: str | bytes, password: str | bytes) -> Literal[True]:
        self.verified += 1
        return super().verify(hash, password)

    def hash(self, password: str | bytes, *, salt: bytes | None = None) -> str:
        self.hashed += 1
        return super().hash(password, salt=salt)


@dataclass
class Auth:
    """One auth service of the test's own."""

    stub: auth_pb2_grpc.AuthServiceStub
    servicer: AuthServicer
    hasher: CountingHasher
    settings: AuthSettings
    prefix: str
    pool: asyncpg.Pool
    names: list[str] = field(default_factory=list)

    def name(self) -> str:
        """A user name unique to this test."""
        self.names.append(f"{self.prefix}{len(self.names)}")
        return self.names[-1]

    async def user(self, *, admin: bool = False, password: str = PASSWORD) -> auth_pb2.User:
        reply = await self.stub.CreateUser(
            auth_pb2.CreateUserRequest(user_name=self.name(), password=password, is_admin=admin)
        )
        return reply.user

    async def login(
        self, name: str, password: str = PASSWORD, address: str = "", agent: str = "pytest"
    ) -> auth_pb2.Session:
        return await self.stub.Login(
            auth_pb2.LoginRequest(
                user_name=name,
                password=password,
                client=auth_pb2.Client(address=address or self.address(), user_agent=agent),
            )
        )

    def address(self) -> str:
        """A client address of this test's own, so address counters do not mix."""
        return f"10.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}"


async def eventually(check: Callable[[], Awaitable[bool]], what: str, within_s: float) -> None:
    """Poll ``check`` until it holds; fail the test after ``within_s``."""
    deadline = asyncio.get_running_loop().time() + within_s
    while not await check():
        if asyncio.get_running_loop().time() > deadline:
            pytest.fail(f"timed out waiting until {what}")
        await asyncio.sleep(0.05)


async def rpc_error(call: Awaitable[Any]) -> grpc.aio.AioRpcError:
    """The gRPC error ``call`` ends with; fails the test when it succeeds."""
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await call
    return caught.value


async def auth_servicer(
    stack: AsyncExitStack,
    pool: asyncpg.Pool,
    settings: AuthSettings,
    *,
    redis_url: str | None,
    nats_url: str | None = None,
) -> tuple[AuthServicer, CountingHasher]:
    """The auth service's servicer on the given backends (none: its RPCs that need one answer
    UNAVAILABLE), with a hasher that counts its work."""
    hasher = CountingHasher(
        time_cost=settings.argon2_time_cost,
        memory_cost=settings.argon2_memory_kib,
        parallelism=settings.argon2_parallelism,
    )
    passwords = Passwords(hasher, threads=2)
    stack.callback(passwords.close)
    await passwords.prepare()
    hasher.hashed = 0
    redis = None
    if redis_url is not None:
        redis = Redis.from_url(redis_url, socket_timeout=0.25, socket_connect_timeout=0.25)
        stack.push_async_callback(redis.aclose)
    nc = None
    if nats_url is not None:
        nc = await nats.connect(nats_url, max_reconnect_attempts=0)
        stack.push_async_callback(nc.close)
    servicer = AuthServicer(
        AuthStore(pool), settings=settings, redis=redis, nats=nc, passwords=passwords
    )
    return servicer, hasher


async def serve_auth(
    stack: AsyncExitStack,
    pool: asyncpg.Pool,
    settings: AuthSettings,
    *,
    redis_url: str | None,
    nats_url: str | None = None,
) -> tuple[auth_pb2_grpc.AuthServiceStub, AuthServicer, CountingHasher]:
    servicer, hasher = await auth_servicer(
        stack, pool, settings, redis_url=redis_url, nats_url=nats_url
    )
    address = await serve(
        stack, lambda server: auth_pb2_grpc.add_AuthServiceServicer_to_server(servicer, server)
    )
    channel = grpc.aio.insecure_channel(address)
    stack.push_async_callback(channel.close)
    return auth_pb2_grpc.AuthServiceStub(channel), servicer, hasher


async def serve_cheap_auth(stack: AsyncExitStack, pool: asyncpg.Pool, devstack: DevStack) -> str:
    """The real auth service on the dev stack's Postgres, Redis and NATS, hashing cheaply, for
    other services' tests: its address."""
    await migrate(pool, "auth", MIGRATIONS)
    servicer, _ = await auth_servicer(
        stack,
        pool,
        AuthSettings(**CHEAP),  # type: ignore[arg-type]
        redis_url=devstack.redis_url,
        nats_url=devstack.nats_url,
    )
    return await serve(
        stack, lambda server: auth_pb2_grpc.add_AuthServiceServicer_to_server(servicer, server)
    )


@pytest.fixture
def auth_settings() -> AuthSettings:
    """Cheap hashing; a test that needs other settings overrides this fixture's result."""
    return AuthSettings(**CHEAP)  # type: ignore[arg-type]


@pytest.fixture
async def auth(
    stack: AsyncExitStack, pg_pool: asyncpg.Pool, devstack: DevStack, auth_settings: AuthSettings
) -> AsyncIterator[Auth]:
    await migrate(pg_pool, "auth", MIGRATIONS)
    stub, servicer, hasher = await serve_auth(
        stack, pg_pool, auth_settings, redis_url=devstack.redis_url, nats_url=devstack.nats_url
    )
    prefix = f"t{uuid.uuid4().hex[:10]}-"
    harness = Auth(stub, servicer, hasher, auth_settings, prefix, pg_pool)
    yield harness
    await delete_users(pg_pool, prefix)


async def delete_users(pool: asyncpg.Pool, prefix: str) -> None:
    """Every row of the users named with ``prefix``."""
    users = "(SELECT id FROM auth.users WHERE name LIKE $1 || '%')"
    await pool.execute(
        f"DELETE FROM auth.audit_events WHERE user_id IN {users} OR user_name LIKE $1 || '%'",
        prefix,
    )
    await pool.execute(f"DELETE FROM auth.api_keys WHERE user_id IN {users}", prefix)
    await pool.execute(
        f"DELETE FROM auth.invites WHERE created_by IN {users} OR accepted_by IN {users}", prefix
    )
    await pool.execute("DELETE FROM auth.users WHERE name LIKE $1 || '%'", prefix)
