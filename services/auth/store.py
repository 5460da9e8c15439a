"""Users and API keys in the ``auth`` schema."""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg

__all__ = ["AuthStore", "KeyOwner"]


@dataclass(frozen=True)
class KeyOwner:
    user_id: str
    key_id: str
    user_name: str


class AuthStore:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def create_key(self, user_name: str, key_name: str, key_hash: bytes) -> KeyOwner:
        """Create the user on first use, then a key for them, in one transaction."""
        async with self._pool.acquire() as conn, conn.transaction():
            user_id = await conn.fetchval(
                "INSERT INTO auth.users (name) VALUES ($1)"
                " ON CONFLICT (name) DO UPDATE SET name = EXCLUDED.name RETURNING id",
                user_name,
            )
            key_id = await conn.fetchval(
                "INSERT INTO auth.api_keys (user_id, name, key_hash)"
                " VALUES ($1, $2, $3) RETURNING id",
                user_id,
                key_name,
                key_hash,
            )
        return KeyOwner(user_id=str(user_id), key_id=str(key_id), user_name=user_name)

    async def find_key(self, key_hash: bytes) -> KeyOwner | None:
        row = await self._pool.fetchrow(
            "SELECT k.id AS key_id, u.id AS user_id, u.name AS user_name"
            " FROM auth.api_keys k JOIN auth.users u ON u.id = k.user_id"
            " WHERE k.key_hash = $1 AND k.revoked_at IS NULL",
            key_hash,
        )
        if row is None:
            return None
        return KeyOwner(
            user_id=str(row["user_id"]), key_id=str(row["key_id"]), user_name=row["user_name"]
        )
