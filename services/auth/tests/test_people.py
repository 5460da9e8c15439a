"""Users made with a password, and sign-up by invitation: once, before it expires, by an admin's
invitation only."""

from __future__ import annotations

import grpc
import pytest

from services.auth.tests.conftest import PASSWORD, Auth, rpc_error
from shotgraph.auth.v1 import auth_pb2


async def test_create_user_stores_an_argon2id_hash_and_a_lower_case_email(auth: Auth) -> None:
    name = auth.name()
    reply = await auth.stub.CreateUser(
        auth_pb2.CreateUserRequest(
            user_name=name, password=PASSWORD, email="Someone@Example.ORG", plan="studio"
        )
    )
    assert (reply.user.user_name, reply.user.email, reply.user.plan) == (
        name,
        "someone@example.org",
        "studio",
    )
    assert not reply.user.is_admin
    stored = await auth.pool.fetchval("SELECT password_hash FROM auth.users WHERE name = $1", name)
    assert stored.startswith("$argon2id$")
    assert PASSWORD not in stored


@pytest.mark.parametrize(
    ("password", "rule"),
    [
        ("", "at least 10"),
        ("short", "at least 10"),
        ("123456789", "at least 10"),
        ("x" * 257, "at most 256"),
    ],
)
async def test_create_user_refuses_a_weak_or_overlong_password(
    auth: Auth, password: str, rule: str
) -> None:
    error = await rpc_error(
        auth.stub.CreateUser(auth_pb2.CreateUserRequest(user_name=auth.name(), password=password))
    )
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert rule in (error.details() or "")
    assert auth.hasher.hashed == 0, "refused before any hashing"


async def test_create_user_refuses_the_user_name_as_password(auth: Auth) -> None:
    name = auth.name() + "-long-name"
    error = await rpc_error(
        auth.stub.CreateUser(auth_pb2.CreateUserRequest(user_name=name, password=name.upper()))
    )
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "user name" in (error.details() or "")


@pytest.mark.parametrize(
    "email", ["no-at-sign", "two@@example.org", "a b@example.org", "x@" + "e" * 250 + ".org"]
)
async def test_create_user_refuses_a_malformed_email(auth: Auth, email: str) -> None:
    error = await rpc_error(
        auth.stub.CreateUser(
            auth_pb2.CreateUserRequest(user_name=auth.name(), password=PASSWORD, email=email)
        )
    )
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT


async def test_a_taken_name_or_email_already_exists(auth: Auth) -> None:
    first = await auth.stub.CreateUser(
        auth_pb2.CreateUserRequest(
            user_name=auth.name(), password=PASSWORD, email=f"{auth.prefix}@example.org"
        )
    )
    again = await rpc_error(
        auth.stub.CreateUser(
            auth_pb2.CreateUserRequest(user_name=first.user.user_name, password=PASSWORD)
        )
    )
    assert again.code() == grpc.StatusCode.ALREADY_EXISTS
    assert "user name" in (again.details() or "")
    same_email = await rpc_error(
        auth.stub.CreateUser(
            auth_pb2.CreateUserRequest(
                user_name=auth.name(), password=PASSWORD, email=f"{auth.prefix}@EXAMPLE.org"
            )
        )
    )
    assert same_email.code() == grpc.StatusCode.ALREADY_EXISTS
    assert "email" in (same_email.details() or "")


async def invite(
    auth: Auth, admin: auth_pb2.User, **fields: object
) -> auth_pb2.CreateInviteResponse:
    return await auth.stub.CreateInvite(
        auth_pb2.CreateInviteRequest(
            created_by=admin.user_id,
            client=auth_pb2.Client(address="192.0.2.7", user_agent="invite-test"),
            **fields,  # type: ignore[arg-type]
        )
    )


async def test_an_accepted_invite_makes_the_user_and_signs_them_in(auth: Auth) -> None:
    admin = await auth.user(admin=True)
    invited = await invite(auth, admin, email="new@example.org", plan="studio")
    assert len(invited.token) == 43
    stored = await auth.pool.fetchrow(
        "SELECT token_hash FROM auth.invites WHERE id = $1::uuid", invited.invite_id
    )
    assert invited.token.encode() not in stored["token_hash"], "only its SHA-256 is kept"

    name = auth.name()
    session = await auth.stub.AcceptInvite(
        auth_pb2.AcceptInviteRequest(token=invited.token, user_name=name, password=PASSWORD)
    )
    assert session.token
    assert session.identity.user_name == name
    assert session.identity.plan == "studio"
    assert sorted(session.identity.scopes) == ["read", "write"]
    verified = await auth.stub.VerifySession(auth_pb2.VerifySessionRequest(token=session.token))
    assert verified.user_id == session.identity.user_id
    email = await auth.pool.fetchval("SELECT email FROM auth.users WHERE name = $1", name)
    assert email == "new@example.org"


async def test_an_invite_works_once(auth: Auth) -> None:
    invited = await invite(auth, await auth.user(admin=True))
    await auth.stub.AcceptInvite(
        auth_pb2.AcceptInviteRequest(token=invited.token, user_name=auth.name(), password=PASSWORD)
    )
    reused = await rpc_error(
        auth.stub.AcceptInvite(
            auth_pb2.AcceptInviteRequest(
                token=invited.token, user_name=auth.name(), password=PASSWORD
            )
        )
    )
    assert reused.code() == grpc.StatusCode.PERMISSION_DENIED
    assert "unknown, used or expired" in (reused.details() or "")


async def test_an_expired_invite_is_refused(auth: Auth) -> None:
    invited = await invite(auth, await auth.user(admin=True), valid_for_s=60)
    await auth.pool.execute(
        "UPDATE auth.invites SET expires_at = now() - interval '1 second' WHERE id = $1::uuid",
        invited.invite_id,
    )
    error = await rpc_error(
        auth.stub.AcceptInvite(
            auth_pb2.AcceptInviteRequest(
                token=invited.token, user_name=auth.name(), password=PASSWORD
            )
        )
    )
    assert error.code() == grpc.StatusCode.PERMISSION_DENIED


@pytest.mark.parametrize("token", ["", "wrong", "A" * 43, "A" * 300])
async def test_a_wrong_invite_token_is_refused(auth: Auth, token: str) -> None:
    hashed = auth.hasher.hashed
    error = await rpc_error(
        auth.stub.AcceptInvite(
            auth_pb2.AcceptInviteRequest(token=token, user_name=auth.name(), password=PASSWORD)
        )
    )
    assert error.code() == grpc.StatusCode.PERMISSION_DENIED
    assert auth.hasher.hashed == hashed, "a guessed token costs no password hash"


async def test_a_taken_name_leaves_the_invite_unused(auth: Auth) -> None:
    taken = await auth.user()
    invited = await invite(auth, await auth.user(admin=True))
    error = await rpc_error(
        auth.stub.AcceptInvite(
            auth_pb2.AcceptInviteRequest(
                token=invited.token, user_name=taken.user_name, password=PASSWORD
            )
        )
    )
    assert error.code() == grpc.StatusCode.ALREADY_EXISTS
    session = await auth.stub.AcceptInvite(
        auth_pb2.AcceptInviteRequest(token=invited.token, user_name=auth.name(), password=PASSWORD)
    )
    assert session.token


async def test_only_an_admin_may_invite(auth: Auth) -> None:
    error = await rpc_error(invite(auth, await auth.user(admin=False)))
    assert error.code() == grpc.StatusCode.PERMISSION_DENIED


@pytest.mark.parametrize("valid_for_s", [-1, 31 * 86_400])
async def test_an_invite_validity_beyond_the_bounds_is_refused(
    auth: Auth, valid_for_s: int
) -> None:
    error = await rpc_error(invite(auth, await auth.user(admin=True), valid_for_s=valid_for_s))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT


async def test_an_invite_holds_seven_days_by_default(auth: Auth) -> None:
    invited = await invite(auth, await auth.user(admin=True))
    created = await auth.pool.fetchval(
        "SELECT extract(epoch FROM expires_at - created_at) FROM auth.invites WHERE id = $1::uuid",
        invited.invite_id,
    )
    assert round(float(created)) == 7 * 86_400
