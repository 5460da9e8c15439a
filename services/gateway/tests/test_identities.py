"""The gateway's identity cache on the real auth service: a revocation reaches every worker at
once, an expired session stops at its expiry, and without Redis sessions fail clearly while
keys go on working."""

from __future__ import annotations

import asyncio
import time
import uuid
from contextlib import AsyncExitStack

import asyncpg
import nats
import pytest

from libs.devstack import DevStack
from libs.downstream import Downstream
from libs.errors import Unauthenticated
from libs.identity import Credential, Identities, listen_for_revocations
from libs.ports import free_port
from services.auth.settings import AuthSettings
from services.auth.tests.conftest import CHEAP, auth_servicer
from services.gateway.tests.conftest import Auth, MakeGateway
from shotgraph.auth.v1 import auth_pb2, auth_pb2_grpc
from tests.in_process import downstream, serve

PASSWORD = "a long enough password"


async def worker(stack: AsyncExitStack, devstack: DevStack, auth_address: str) -> Identities:
    """One gateway worker's cache, trusting what it verified for a minute, on its own NATS
    connection: only a revocation can make it forget sooner."""
    nc = await nats.connect(devstack.nats_url)
    stack.push_async_callback(nc.close)
    auth = downstream(stack, "auth", auth_address, auth_pb2_grpc.AuthServiceStub)
    identities = Identities(auth, ttl_s=60)
    await listen_for_revocations(nc, identities)
    await nc.flush()
    return identities


async def auth_with_a_user(
    stack: AsyncExitStack,
    pg_pool: asyncpg.Pool,
    settings: AuthSettings,
    *,
    redis_url: str,
    nats_url: str,
) -> tuple[str, Downstream[auth_pb2_grpc.AuthServiceStub], str]:
    """An auth service of the test's own with ``settings``, and a user with PASSWORD on it:
    (its address, a client of it, the user's name)."""
    servicer, _ = await auth_servicer(
        stack, pg_pool, settings, redis_url=redis_url, nats_url=nats_url
    )
    address = await serve(
        stack, lambda server: auth_pb2_grpc.add_AuthServiceServicer_to_server(servicer, server)
    )
    client = downstream(stack, "auth", address, auth_pb2_grpc.AuthServiceStub)
    name = f"gw-{uuid.uuid4().hex[:10]}"
    await client.call(
        client.stub.CreateUser, auth_pb2.CreateUserRequest(user_name=name, password=PASSWORD)
    )
    return address, client, name


async def refused(identities: Identities, credential: Credential) -> None:
    """Wait (bounded) until ``credential`` is refused."""
    async with asyncio.timeout(10):
        while True:
            try:
                await identities.resolve(credential)
            except Unauthenticated:
                return
            await asyncio.sleep(0.02)


async def test_a_revoked_key_is_dropped_by_every_worker_and_its_streams_end(
    stack: AsyncExitStack, devstack: DevStack, auth: Auth
) -> None:
    workers = [await worker(stack, devstack, auth.address) for _ in range(2)]
    key = Credential("key", auth.key)
    identities = [await w.resolve(key) for w in workers]
    closed = [asyncio.Event() for _ in workers]
    for w, identity, event in zip(workers, identities, closed, strict=True):
        w.on_revoked(identity, event.set)

    client = downstream(stack, "auth", auth.address, auth_pb2_grpc.AuthServiceStub)
    await client.call(
        client.stub.RevokeApiKey,
        auth_pb2.RevokeApiKeyRequest(user_id=auth.user_id, key_id=identities[0].credential_id),
    )
    async with asyncio.timeout(5):
        for event in closed:
            await event.wait()
    for w in workers:
        with pytest.raises(Unauthenticated):  # at once: the cache would have held it a minute
            await w.resolve(key)


async def test_a_sessions_identity_stops_at_its_expiry_while_cached(
    stack: AsyncExitStack, devstack: DevStack, pg_pool: asyncpg.Pool
) -> None:
    address, client, name = await auth_with_a_user(
        stack,
        pg_pool,
        AuthSettings(**CHEAP, session_idle_s=3.0),  # type: ignore[arg-type]
        redis_url=devstack.redis_url,
        nats_url=devstack.nats_url,
    )
    # The worker first, so only the login and one lookup fall within the session's 3 s.
    identities = await worker(stack, devstack, address)
    session: auth_pb2.Session = await client.call(
        client.stub.Login, auth_pb2.LoginRequest(user_name=name, password=PASSWORD)
    )
    credential = Credential("session", session.token)
    identity = await identities.resolve(credential)
    assert identity.credential_kind == "session" and identity.expires_at is not None
    await refused(identities, credential)


async def test_without_redis_sessions_are_unavailable_and_keys_still_work(
    stack: AsyncExitStack, devstack: DevStack, pg_pool: asyncpg.Pool, make_gateway: MakeGateway
) -> None:
    address, client, name = await auth_with_a_user(
        stack,
        pg_pool,
        AuthSettings(**CHEAP),  # type: ignore[arg-type]
        redis_url=f"redis://127.0.0.1:{free_port()}/0",  # nothing listens there
        nats_url=devstack.nats_url,
    )
    key: auth_pb2.CreateApiKeyResponse = await client.call(
        client.stub.CreateApiKey, auth_pb2.CreateApiKeyRequest(user_name=name)
    )
    gateway = await make_gateway(auth_addr=address)

    login = await gateway.post("/v1/auth/login", json={"user_name": name, "password": PASSWORD})
    assert login.status == 503, await login.text()
    assert login.content_type == "application/problem+json"
    assert (
        "the session store (Redis) cannot be reached"
        in (await login.json(content_type=None))["detail"]
    )
    assert int(login.headers["Retry-After"]) > 0
    cookie = {"shotgraph_session": "a" * 43}
    assert (await gateway.get("/v1/auth/session", cookies=cookie)).status == 503
    who = await gateway.get("/v1/auth/session", headers={"Authorization": f"Bearer {key.key}"})
    assert who.status == 200
    assert (await who.json())["identity"]["user_name"] == name


async def test_a_credential_verified_twice_at_once_is_still_revoked_at_once(
    stack: AsyncExitStack, devstack: DevStack, auth: Auth
) -> None:
    """A page load verifies a new cookie in several requests at once: the answer kept last must
    still be found by a revocation, not served until it expires."""
    identities = await worker(stack, devstack, auth.address)
    key = Credential("key", auth.key)
    first, second = await asyncio.gather(identities.resolve(key), identities.resolve(key))
    assert first.credential_id == second.credential_id

    identities.revoke(first.credential_id)

    assert key not in identities._entries  # what a revocation must leave


async def test_an_answer_on_its_way_while_a_revocation_arrives_is_not_kept(
    stack: AsyncExitStack, devstack: DevStack, auth: Auth
) -> None:
    identities = await worker(stack, devstack, auth.address)
    key = Credential("key", auth.key)
    asking = asyncio.create_task(identities.resolve(key))
    await asyncio.sleep(0)  # the question is on its way to auth
    identities.revoke("some other credential")
    await asking

    assert identities._entries[key].until <= time.monotonic()  # asked again next time
