"""API keys, sessions' and invitations' tokens: how they look, how they are made and hashed,
and the names and scopes they carry."""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Iterable

from libs.errors import Forbidden, InvalidArgument
from libs.identity import SCOPES

__all__ = [
    "DEFAULT_SCOPES",
    "KEY_PREFIX",
    "MAX_TOKEN",
    "PREFIX_LENGTH",
    "check_key_name",
    "check_scopes",
    "check_user_name",
    "hash_key",
    "key_prefix",
    "looks_like_key",
    "looks_like_token",
    "new_key",
    "new_token",
    "token_hash",
    "user_scopes",
]

KEY_PREFIX = "sg_"
PREFIX_LENGTH = 12  # what a listing shows of a key: "sg_" and 9 characters of it
MAX_TOKEN = 256  # longer is refused before any lookup
DEFAULT_SCOPES: tuple[str, ...] = ("read", "write")
_KEY = re.compile(r"sg_[A-Za-z0-9_-]{43}")
_TOKEN = re.compile(r"[A-Za-z0-9_-]{43}")
_USER_NAME = re.compile(r"[a-z0-9][a-z0-9._-]{0,62}")
MAX_KEY_NAME = 100


def new_key() -> str:
    """256 random bits: high enough entropy that a fast hash is the right storage form."""
    return KEY_PREFIX + secrets.token_urlsafe(32)


def new_token() -> str:
    """A session's or an invitation's token: 256 random bits, stored only as its SHA-256."""
    return secrets.token_urlsafe(32)


def hash_key(key: str) -> bytes:
    return hashlib.sha256(key.encode()).digest()


def token_hash(token: str) -> str:
    """The SHA-256 of a session's or stream token, hex: what Redis finds it by."""
    return hashlib.sha256(token.encode()).hexdigest()


def key_prefix(key: str) -> str:
    return key[:PREFIX_LENGTH]


def looks_like_key(key: str) -> bool:
    """Cheap shape check so garbage never reaches the database."""
    return bool(_KEY.fullmatch(key))


def looks_like_token(token: str) -> bool:
    """The shape of ``new_token``'s tokens, checked before any lookup."""
    return len(token) <= MAX_TOKEN and bool(_TOKEN.fullmatch(token))


def check_user_name(name: str) -> str:
    if not _USER_NAME.fullmatch(name):
        raise InvalidArgument(
            "user name must be 1-63 characters of lowercase letters, digits, '.', '_' or '-'"
        )
    return name


def check_key_name(name: str) -> str:
    if not 1 <= len(name) <= MAX_KEY_NAME:
        raise InvalidArgument(f"key name must be 1-{MAX_KEY_NAME} characters")
    return name


def user_scopes(is_admin: bool) -> frozenset[str]:
    """What a user may do at most: read and write, and admin for admins."""
    return frozenset(SCOPES) if is_admin else frozenset(DEFAULT_SCOPES)


def check_scopes(requested: Iterable[str], *, is_admin: bool) -> tuple[str, ...]:
    """A key's scopes, in canonical order: a subset of the user's own (none given: read and
    write). InvalidArgument for an unknown scope, Forbidden for admin asked by a non-admin."""
    wanted = set(requested) or set(DEFAULT_SCOPES)
    unknown = wanted - set(SCOPES)
    if unknown:
        raise InvalidArgument(
            f"unknown scope {sorted(unknown)[0][:20]!r}: scopes are {', '.join(SCOPES)}"
        )
    if not wanted <= user_scopes(is_admin):
        raise Forbidden("only an admin may hold a key with the admin scope")
    return tuple(scope for scope in SCOPES if scope in wanted)
