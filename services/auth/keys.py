"""API keys: how they look, how they are made, and how they are hashed for storage."""

from __future__ import annotations

import hashlib
import re
import secrets

from libs.errors import InvalidArgument

__all__ = ["KEY_PREFIX", "check_user_name", "hash_key", "looks_like_key", "new_key"]

KEY_PREFIX = "sg_"
_KEY = re.compile(r"sg_[A-Za-z0-9_-]{43}")
_USER_NAME = re.compile(r"[a-z0-9][a-z0-9._-]{0,62}")


def new_key() -> str:
    """256 random bits: high enough entropy that a fast hash is the right storage form."""
    return KEY_PREFIX + secrets.token_urlsafe(32)


def hash_key(key: str) -> bytes:
    return hashlib.sha256(key.encode()).digest()


def looks_like_key(key: str) -> bool:
    """Cheap shape check so garbage never reaches the database."""
    return bool(_KEY.fullmatch(key))


def check_user_name(name: str) -> str:
    if not _USER_NAME.fullmatch(name):
        raise InvalidArgument(
            "user name must be 1-63 characters of lowercase letters, digits, '.', '_' or '-'"
        )
    return name
