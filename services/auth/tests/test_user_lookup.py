"""Finding a user to share with: one user by the exact name or email a person typed (letter
case aside), never a listing or a prefix, and names for the ids a canvas's shares hold."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import grpc
import pytest

from services.auth.handlers import MAX_NAMES_ASKED, NO_SUCH_USER
from services.auth.tests.conftest import PASSWORD, Auth, rpc_error
from shotgraph.auth.v1 import auth_pb2


async def find(auth: Auth, name_or_email: str) -> auth_pb2.UserName:
    found: auth_pb2.UserName = await auth.stub.FindUser(
        auth_pb2.FindUserRequest(name_or_email=name_or_email)
    )
    return found


async def test_a_user_is_found_by_name_or_email_whatever_the_letter_case(auth: Auth) -> None:
    name, email = auth.name(), f"ada-{uuid.uuid4().hex[:8]}@example.org"
    made = await auth.stub.CreateUser(
        auth_pb2.CreateUserRequest(user_name=name, password=PASSWORD, email=email)
    )
    expected = auth_pb2.UserName(user_id=made.user.user_id, user_name=name)

    for typed in (name, name.upper(), f"  {name} ", email, email.upper(), f"{email}\t"):
        assert await find(auth, typed) == expected, typed


NEAR_MISSES: dict[str, Callable[[str], str]] = {
    "a prefix": lambda name: name[:-1],
    "a longer name": lambda name: name + "x",
    "a LIKE pattern": lambda name: name[:-1] + "%",
    "a LIKE wildcard": lambda name: name[:-1] + "_",
    "a glob": lambda name: "*",
}


@pytest.mark.parametrize("miss", NEAR_MISSES.values(), ids=NEAR_MISSES.keys())
async def test_only_an_exact_match_is_found(auth: Auth, miss: Callable[[str], str]) -> None:
    user = await auth.user()
    error = await rpc_error(find(auth, miss(user.user_name)))
    assert error.code() == grpc.StatusCode.NOT_FOUND
    assert error.details() == NO_SUCH_USER


@pytest.mark.parametrize(
    ("typed", "rule"),
    [
        ("", "1-254 characters"),
        ("   ", "1-254 characters"),
        ("a" * 255, "1-254 characters"),
        ("ada\x00", "control characters"),
        ("ada\nbo", "control characters"),
    ],
)
async def test_a_lookup_of_no_name_is_refused_before_any_query(
    auth: Auth, typed: str, rule: str
) -> None:
    error = await rpc_error(find(auth, typed))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert rule in (error.details() or "")


async def test_names_come_back_for_known_ids_and_unknown_ones_are_left_out(auth: Auth) -> None:
    ada, bo = await auth.user(), await auth.user()
    asked = [ada.user_id, bo.user_id, str(uuid.uuid4()), "not-an-id", ada.user_id]

    reply = await auth.stub.GetUserNames(auth_pb2.GetUserNamesRequest(user_ids=asked))

    assert {(u.user_id, u.user_name) for u in reply.users} == {
        (ada.user_id, ada.user_name),
        (bo.user_id, bo.user_name),
    }
    assert len(reply.users) == 2
    empty = await auth.stub.GetUserNames(auth_pb2.GetUserNamesRequest())
    assert list(empty.users) == []


async def test_too_many_ids_at_once_are_refused(auth: Auth) -> None:
    asked = [str(uuid.uuid4()) for _ in range(MAX_NAMES_ASKED + 1)]
    error = await rpc_error(auth.stub.GetUserNames(auth_pb2.GetUserNamesRequest(user_ids=asked)))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert f"at most {MAX_NAMES_ASKED}" in (error.details() or "")
