"""API keys: their shape, their randomness, their stored hash, and the user names they name."""

from __future__ import annotations

import pytest

from libs.errors import InvalidArgument
from services.auth.keys import KEY_PREFIX, check_user_name, hash_key, looks_like_key, new_key


def test_new_key_has_the_prefix_and_43_url_safe_characters() -> None:
    key = new_key()
    assert key.startswith(KEY_PREFIX)
    assert len(key) == len(KEY_PREFIX) + 43
    assert looks_like_key(key)


def test_new_keys_are_unique() -> None:
    keys = {new_key() for _ in range(1000)}
    assert len(keys) == 1000


@pytest.mark.parametrize(
    "candidate",
    [
        "",
        "sg_",
        "sg_short",
        "xx_" + "a" * 43,
        "sg_" + "a" * 42,
        "sg_" + "a" * 44,
        "sg_" + "a" * 42 + "!",
        "sg_" + "a" * 42 + "=",
        " sg_" + "a" * 43,
        "SG_" + "a" * 43,
        "Bearer sg_" + "a" * 43,
    ],
)
def test_looks_like_key_rejects_garbage(candidate: str) -> None:
    assert not looks_like_key(candidate)


def test_hash_key_is_deterministic_and_not_the_key() -> None:
    key = new_key()
    digest = hash_key(key)
    assert digest == hash_key(key)
    assert len(digest) == 32
    assert key.encode() not in digest
    assert hash_key(new_key()) != digest


@pytest.mark.parametrize("name", ["alice", "a", "bob.smith", "ci-bot_2", "7up", "a" * 63])
def test_check_user_name_accepts(name: str) -> None:
    assert check_user_name(name) == name


@pytest.mark.parametrize(
    "name",
    [
        "",
        "Alice",
        "ALICE",
        "a" * 64,
        "a" * 100,
        "al ice",
        " alice",
        ".alice",
        "-alice",
        "_alice",
        "al/ice",
        "élodie",
    ],
)
def test_check_user_name_rejects(name: str) -> None:
    with pytest.raises(InvalidArgument, match="user name"):
        check_user_name(name)


def test_looks_like_key_rejects_a_trailing_newline() -> None:
    assert not looks_like_key(new_key() + "\n")


def test_check_user_name_rejects_a_trailing_newline() -> None:
    with pytest.raises(InvalidArgument, match="user name"):
        check_user_name("alice\n")
