"""What the auth service reads: only what every service does (its keys live in Postgres)."""

from __future__ import annotations

from libs.config import Settings

__all__ = ["AuthSettings"]


class AuthSettings(Settings):
    """The auth service's settings."""

    service = "auth"
