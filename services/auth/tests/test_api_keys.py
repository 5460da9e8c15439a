"""API keys with a life cycle: scopes within the user's own, expiry, last use, listing without
the key, and revocation announced on the bus."""

from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack
from datetime import UTC, datetime, timedelta

import grpc
import nats
import pytest
from google.protobuf.timestamp_pb2 import Timestamp
from nats.aio.msg import Msg

from libs.bus import Envelope
from libs.bus.events import CredentialRevoked
from libs.bus.subjects import auth_revoked_subject
from libs.devstack import DevStack
from services.auth.tests.conftest import Auth, rpc_error
from shotgraph.auth.v1 import auth_pb2


def at(moment: datetime) -> Timestamp:
    stamp = Timestamp()
    stamp.FromDatetime(moment)
    return stamp


async def test_a_key_by_user_name_is_read_and_write_as_before(auth: Auth) -> None:
    created = await auth.stub.CreateApiKey(
        auth_pb2.CreateApiKeyRequest(user_name=auth.name(), key_name="dev")
    )
    assert created.info.prefix == created.key[:12]
    assert created.key.startswith("sg_")
    assert list(created.info.scopes) == ["read", "write"]
    assert not created.info.HasField("expires_at")
    verified = await auth.stub.VerifyApiKey(auth_pb2.VerifyApiKeyRequest(key=created.key))
    assert (verified.user_id, verified.key_id) == (created.user_id, created.key_id)
    identity = verified.identity
    assert (identity.credential_kind, identity.credential_id) == ("key", created.key_id)
    assert sorted(identity.scopes) == ["read", "write"]
    assert identity.plan == "standard"
    assert not identity.HasField("expires_at")


async def test_a_read_only_key(auth: Auth) -> None:
    user = await auth.user()
    created = await auth.stub.CreateApiKey(
        auth_pb2.CreateApiKeyRequest(user_id=user.user_id, key_name="ro", scopes=["read"])
    )
    verified = await auth.stub.VerifyApiKey(auth_pb2.VerifyApiKeyRequest(key=created.key))
    assert list(verified.identity.scopes) == ["read"]


async def test_only_an_admin_may_hold_an_admin_key(auth: Auth) -> None:
    user, admin = await auth.user(), await auth.user(admin=True)
    error = await rpc_error(
        auth.stub.CreateApiKey(
            auth_pb2.CreateApiKeyRequest(user_id=user.user_id, key_name="k", scopes=["admin"])
        )
    )
    assert error.code() == grpc.StatusCode.PERMISSION_DENIED
    created = await auth.stub.CreateApiKey(
        auth_pb2.CreateApiKeyRequest(user_id=admin.user_id, key_name="k", scopes=["admin", "read"])
    )
    verified = await auth.stub.VerifyApiKey(auth_pb2.VerifyApiKeyRequest(key=created.key))
    assert sorted(verified.identity.scopes) == ["admin", "read"]


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({"scopes": ["delete"]}, grpc.StatusCode.INVALID_ARGUMENT),
        ({"key_name": "k" * 101}, grpc.StatusCode.INVALID_ARGUMENT),
        ({"user_id": "00000000-0000-0000-0000-000000000000"}, grpc.StatusCode.NOT_FOUND),
        ({"user_id": "not-a-uuid"}, grpc.StatusCode.NOT_FOUND),
        ({"user_name": "Not A Name"}, grpc.StatusCode.INVALID_ARGUMENT),
        (
            {"user_name": "someone", "client": auth_pb2.Client(address="9" * 65)},
            grpc.StatusCode.INVALID_ARGUMENT,
        ),
    ],
)
async def test_create_key_refuses_bad_input(
    auth: Auth, fields: dict[str, object], code: grpc.StatusCode
) -> None:
    request = auth_pb2.CreateApiKeyRequest(**{"key_name": "k", **fields})  # type: ignore[arg-type]
    error = await rpc_error(auth.stub.CreateApiKey(request))
    assert error.code() == code


async def test_an_expiry_in_the_past_is_refused(auth: Auth) -> None:
    error = await rpc_error(
        auth.stub.CreateApiKey(
            auth_pb2.CreateApiKeyRequest(
                user_name=auth.name(), expires_at=at(datetime.now(UTC) - timedelta(minutes=1))
            )
        )
    )
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT


async def test_an_expired_key_stops_working(auth: Auth) -> None:
    expires = datetime.now(UTC) + timedelta(hours=1)
    created = await auth.stub.CreateApiKey(
        auth_pb2.CreateApiKeyRequest(user_name=auth.name(), expires_at=at(expires))
    )
    verified = await auth.stub.VerifyApiKey(auth_pb2.VerifyApiKeyRequest(key=created.key))
    assert verified.identity.expires_at.ToSeconds() == int(expires.timestamp())
    await auth.pool.execute(
        "UPDATE auth.api_keys SET expires_at = now() - interval '1 second' WHERE id = $1::uuid",
        created.key_id,
    )
    error = await rpc_error(auth.stub.VerifyApiKey(auth_pb2.VerifyApiKeyRequest(key=created.key)))
    assert error.code() == grpc.StatusCode.UNAUTHENTICATED


async def test_last_use_is_written_at_most_once_a_minute(auth: Auth) -> None:
    created = await auth.stub.CreateApiKey(auth_pb2.CreateApiKeyRequest(user_name=auth.name()))
    assert not created.info.HasField("last_used_at")

    async def last_used() -> datetime | None:
        return await auth.pool.fetchval(  # type: ignore[no-any-return]
            "SELECT last_used_at FROM auth.api_keys WHERE id = $1::uuid", created.key_id
        )

    await auth.stub.VerifyApiKey(auth_pb2.VerifyApiKeyRequest(key=created.key))
    first = await last_used()
    assert first is not None
    await auth.stub.VerifyApiKey(auth_pb2.VerifyApiKeyRequest(key=created.key))
    assert await last_used() == first, "within the minute: not written again"
    await auth.pool.execute(
        "UPDATE auth.api_keys SET last_used_at = now() - interval '61 seconds' WHERE id = $1::uuid",
        created.key_id,
    )
    await auth.stub.VerifyApiKey(auth_pb2.VerifyApiKeyRequest(key=created.key))
    assert await last_used() > first  # type: ignore[operator]


async def test_list_keys_newest_first_in_pages_without_the_keys(auth: Auth) -> None:
    user = await auth.user()
    made = [
        await auth.stub.CreateApiKey(
            auth_pb2.CreateApiKeyRequest(user_id=user.user_id, key_name=f"k{i}")
        )
        for i in range(3)
    ]
    first = await auth.stub.ListApiKeys(
        auth_pb2.ListApiKeysRequest(user_id=user.user_id, page_size=2)
    )
    rest = await auth.stub.ListApiKeys(
        auth_pb2.ListApiKeysRequest(
            user_id=user.user_id, page_size=2, page_token=first.next_page_token
        )
    )
    assert [k.name for k in [*first.keys, *rest.keys]] == ["k2", "k1", "k0"]
    assert rest.next_page_token == ""
    listed = first.SerializeToString() + rest.SerializeToString()
    for created in made:
        assert created.key.encode() not in listed
    assert [k.prefix for k in rest.keys] == [made[0].key[:12]]


async def received_revocation(queue: asyncio.Queue[Msg]) -> CredentialRevoked:
    async with asyncio.timeout(5):
        return Envelope.decode((await queue.get()).data).open(CredentialRevoked)


async def test_a_revoked_key_stops_working_and_is_announced(
    auth: Auth, stack: AsyncExitStack, devstack: DevStack
) -> None:
    user = await auth.user()
    created = await auth.stub.CreateApiKey(auth_pb2.CreateApiKeyRequest(user_id=user.user_id))
    nc = await nats.connect(devstack.nats_url)
    stack.push_async_callback(nc.close)
    queue: asyncio.Queue[Msg] = asyncio.Queue()
    await nc.subscribe(auth_revoked_subject(user.user_id), cb=queue.put)
    await nc.flush()

    request = auth_pb2.RevokeApiKeyRequest(user_id=user.user_id, key_id=created.key_id)
    await auth.stub.RevokeApiKey(request)
    event = await received_revocation(queue)
    assert (event.user_id, event.credential_kind, event.credential_id) == (
        user.user_id,
        "key",
        created.key_id,
    )
    error = await rpc_error(auth.stub.VerifyApiKey(auth_pb2.VerifyApiKeyRequest(key=created.key)))
    assert error.code() == grpc.StatusCode.UNAUTHENTICATED
    await auth.stub.RevokeApiKey(request)  # twice is fine
    listed = await auth.stub.ListApiKeys(auth_pb2.ListApiKeysRequest(user_id=user.user_id))
    assert listed.keys[0].HasField("revoked_at")


async def test_another_users_key_is_not_found(auth: Auth) -> None:
    owner, other = await auth.user(), await auth.user()
    created = await auth.stub.CreateApiKey(auth_pb2.CreateApiKeyRequest(user_id=owner.user_id))
    for key_id in (created.key_id, "not-a-uuid"):
        error = await rpc_error(
            auth.stub.RevokeApiKey(
                auth_pb2.RevokeApiKeyRequest(user_id=other.user_id, key_id=key_id)
            )
        )
        assert error.code() == grpc.StatusCode.NOT_FOUND
    assert await auth.stub.VerifyApiKey(auth_pb2.VerifyApiKeyRequest(key=created.key))
