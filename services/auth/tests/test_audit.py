"""The audit log: an entry for each action, with who, when and from where, newest first."""

from __future__ import annotations

import grpc

from services.auth.tests.conftest import PASSWORD, Auth, rpc_error
from shotgraph.auth.v1 import auth_pb2


async def audit(auth: Auth, user_id: str) -> list[auth_pb2.AuditEvent]:
    events: list[auth_pb2.AuditEvent] = []
    token = ""
    while True:
        page = await auth.stub.ListAuditEvents(
            auth_pb2.ListAuditEventsRequest(user_id=user_id, page_size=3, page_token=token)
        )
        events += page.events
        token = page.next_page_token
        if not token:
            return events


async def test_every_action_is_recorded_with_its_address_and_user_agent(auth: Auth) -> None:
    admin = await auth.user(admin=True)
    client = auth_pb2.Client(address="198.51.100.4", user_agent="Firefox/128")
    await auth.stub.CreateInvite(
        auth_pb2.CreateInviteRequest(created_by=admin.user_id, client=client)
    )
    await rpc_error(auth.login(admin.user_name, "not the password", "198.51.100.4", "Firefox/128"))
    here = await auth.login(admin.user_name, PASSWORD, "198.51.100.4", "Firefox/128")
    there = await auth.login(admin.user_name, PASSWORD, "198.51.100.4", "Firefox/128")
    key = await auth.stub.CreateApiKey(
        auth_pb2.CreateApiKeyRequest(user_id=admin.user_id, client=client)
    )
    await auth.stub.RevokeApiKey(
        auth_pb2.RevokeApiKeyRequest(user_id=admin.user_id, key_id=key.key_id, client=client)
    )
    await auth.stub.ChangePassword(
        auth_pb2.ChangePasswordRequest(
            user_id=admin.user_id,
            current_password=PASSWORD,
            new_password="another passphrase",
            session_id=here.info.session_id,
            client=client,
        )
    )
    await auth.stub.Logout(auth_pb2.LogoutRequest(token=here.token, client=client))

    events = await audit(auth, admin.user_id)
    actions = [e.action for e in reversed(events)]
    assert actions == [
        "user.created",
        "invite.created",
        "login.failed",
        "login.succeeded",
        "login.succeeded",
        "key.created",
        "key.revoked",
        "password.changed",
        "session.revoked",
        "logout",
    ]
    assert all(e.client.address == "198.51.100.4" for e in events if e.action != "user.created")
    assert all(e.client.user_agent == "Firefox/128" for e in events if e.action != "user.created")
    by_action = {e.action: e for e in events}
    assert by_action["session.revoked"].subject_id == there.info.session_id
    assert by_action["key.revoked"].subject_id == key.key_id
    assert by_action["logout"].subject_id == here.info.session_id
    stamps = [e.at.ToNanoseconds() for e in events]
    assert stamps == sorted(stamps, reverse=True), "newest first"


async def test_a_failed_login_of_an_unknown_name_is_recorded_without_a_user(auth: Auth) -> None:
    name = auth.name()
    await rpc_error(auth.login(name, "whatever password", "203.0.113.9"))
    events = await auth.stub.ListAuditEvents(
        auth_pb2.ListAuditEventsRequest(all_users=True, page_size=100)
    )
    mine = [e for e in events.events if e.user_name == name]
    assert [(e.action, e.user_id, e.client.address) for e in mine] == [
        ("login.failed", "", "203.0.113.9")
    ]


async def test_a_throttled_login_is_recorded(auth: Auth) -> None:
    user = await auth.user()
    for _ in range(6):
        await rpc_error(auth.login(user.user_name, "not the password"))
    actions = [e.action for e in await audit(auth, user.user_id)]
    assert actions.count("login.failed") == 5
    events = await auth.stub.ListAuditEvents(
        auth_pb2.ListAuditEventsRequest(all_users=True, page_size=100)
    )
    assert any(
        e.action == "login.throttled" and e.user_name == user.user_name for e in events.events
    )


async def test_one_users_log_is_only_theirs(auth: Auth) -> None:
    one, other = await auth.user(), await auth.user()
    await auth.login(other.user_name)
    assert {e.user_id for e in await audit(auth, one.user_id)} == {one.user_id}


async def test_a_user_id_is_needed_unless_all_users_are_asked_for(auth: Auth) -> None:
    error = await rpc_error(auth.stub.ListAuditEvents(auth_pb2.ListAuditEventsRequest()))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    bad_token = await rpc_error(
        auth.stub.ListAuditEvents(
            auth_pb2.ListAuditEventsRequest(all_users=True, page_token="garbage!")
        )
    )
    assert bad_token.code() == grpc.StatusCode.INVALID_ARGUMENT
