"""Users, API keys and invitations in the ``auth`` schema."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import asyncpg
import grpc

from libs.errors import Conflict, Forbidden, NotFound
from libs.pagination import Cursor

__all__ = [
    "AcceptedInvite",
    "AuthStore",
    "Invite",
    "KeyOwner",
    "KeyRecord",
    "NameTaken",
    "UserRecord",
]


class NameTaken(Conflict):
    """A user name or email that another user has."""

    grpc_code = grpc.StatusCode.ALREADY_EXISTS


@dataclass(frozen=True)
class UserRecord:
    id: str
    name: str
    email: str
    is_admin: bool
    plan: str
    created_at: datetime
    password_hash: str | None = None

    @classmethod
    def from_row(cls, row: asyncpg.Record) -> UserRecord:
        return cls(
            id=str(row["id"]),
            name=row["name"],
            email=row["email"] or "",
            is_admin=row["is_admin"],
            plan=row["plan"],
            created_at=row["created_at"],
            password_hash=row["password_hash"],
        )


@dataclass(frozen=True)
class KeyOwner:
    """A verified key and whose it is."""

    user_id: str
    key_id: str
    user_name: str
    scopes: tuple[str, ...] = ("read", "write")
    is_admin: bool = False
    plan: str = "standard"
    expires_at: datetime | None = None


@dataclass(frozen=True)
class KeyRecord:
    id: str
    name: str
    prefix: str
    scopes: tuple[str, ...]
    created_at: datetime
    last_used_at: datetime | None
    expires_at: datetime | None
    revoked_at: datetime | None

    @classmethod
    def from_row(cls, row: asyncpg.Record) -> KeyRecord:
        return cls(
            id=str(row["id"]),
            name=row["name"],
            prefix=row["prefix"],
            scopes=tuple(row["scopes"]),
            created_at=row["created_at"],
            last_used_at=row["last_used_at"],
            expires_at=row["expires_at"],
            revoked_at=row["revoked_at"],
        )


@dataclass(frozen=True)
class Invite:
    id: str
    expires_at: datetime


@dataclass(frozen=True)
class AcceptedInvite:
    invite_id: str
    user: UserRecord


_USER = "u.id, u.name, u.email, u.is_admin, u.plan, u.created_at, u.password_hash"
_KEY = "k.id, k.name, k.prefix, k.scopes, k.created_at, k.last_used_at, k.expires_at, k.revoked_at"


def _uuid(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(value)
    except ValueError:
        return None


class AuthStore:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    # --- users ---------------------------------------------------------------------------

    async def create_user(
        self,
        name: str,
        password_hash: str | None,
        *,
        email: str = "",
        is_admin: bool = False,
        plan: str = "standard",
        conn: asyncpg.Connection | None = None,
    ) -> UserRecord:
        """A new user; NameTaken when the name or email is another user's."""
        try:
            row = await (conn or self.pool).fetchrow(
                "INSERT INTO auth.users AS u (name, password_hash, email, is_admin, plan,"
                " password_changed_at) VALUES ($1, $2, $3, $4, $5,"
                " CASE WHEN $2::text IS NULL THEN NULL ELSE now() END)"
                f" RETURNING {_USER}",
                name,
                password_hash,
                email or None,
                is_admin,
                plan,
            )
        except asyncpg.UniqueViolationError as exc:
            what = "email" if "email" in (exc.constraint_name or "") else "user name"
            raise NameTaken(f"that {what} is taken") from exc
        assert row is not None
        return UserRecord.from_row(row)

    async def user_by_name(self, name: str) -> UserRecord | None:
        row = await self.pool.fetchrow(f"SELECT {_USER} FROM auth.users u WHERE u.name = $1", name)
        return None if row is None else UserRecord.from_row(row)

    async def user_by_name_or_email(self, name_or_email: str) -> UserRecord | None:
        """The user whose name or email is ``name_or_email``, letter case aside. Names are
        lowercase by their rules and emails are stored lowercased, so each side is one lookup
        in its unique index; a name holds no '@', so at most one user matches."""
        row = await self.pool.fetchrow(
            f"SELECT {_USER} FROM auth.users u WHERE u.name = lower($1) OR u.email = lower($1)",
            name_or_email,
        )
        return None if row is None else UserRecord.from_row(row)

    async def user_names(self, user_ids: Sequence[str]) -> dict[str, str]:
        """The names of the users with these ids, by id; ids of no user are left out."""
        keys = {key for key in map(_uuid, user_ids) if key is not None}
        rows = await self.pool.fetch(
            "SELECT id, name FROM auth.users WHERE id = ANY($1::uuid[])", list(keys)
        )
        return {str(r["id"]): r["name"] for r in rows}

    async def user_by_id(self, user_id: str) -> UserRecord | None:
        key = _uuid(user_id)
        if key is None:
            return None
        row = await self.pool.fetchrow(f"SELECT {_USER} FROM auth.users u WHERE u.id = $1", key)
        return None if row is None else UserRecord.from_row(row)

    async def set_password(self, user_id: str, password_hash: str, *, changed: bool = True) -> None:
        """Store a new hash; ``changed=False`` for the same password rehashed with new
        parameters, which is no change the user made."""
        await self.pool.execute(
            "UPDATE auth.users SET password_hash = $2,"
            " password_changed_at = CASE WHEN $3 THEN now() ELSE password_changed_at END"
            " WHERE id = $1",
            uuid.UUID(user_id),
            password_hash,
            changed,
        )

    # --- API keys ------------------------------------------------------------------------

    async def create_key(
        self,
        user_name: str,
        key_name: str,
        key_hash: bytes,
        *,
        prefix: str = "",
        scopes: Sequence[str] = ("read", "write"),
        expires_at: datetime | None = None,
    ) -> KeyOwner:
        """Create the user on first use, then a key for them, in one transaction."""
        async with self.pool.acquire() as conn, conn.transaction():
            user_id = await conn.fetchval(
                "INSERT INTO auth.users (name) VALUES ($1)"
                " ON CONFLICT (name) DO UPDATE SET name = EXCLUDED.name RETURNING id",
                user_name,
            )
            key_id = await self._insert_key(
                conn, user_id, key_name, key_hash, prefix, scopes, expires_at
            )
        return KeyOwner(
            user_id=str(user_id), key_id=key_id, user_name=user_name, scopes=tuple(scopes)
        )

    async def create_key_for(
        self,
        user: UserRecord,
        key_name: str,
        key_hash: bytes,
        *,
        prefix: str,
        scopes: Sequence[str],
        expires_at: datetime | None,
    ) -> KeyOwner:
        async with self.pool.acquire() as conn:
            key_id = await self._insert_key(
                conn, uuid.UUID(user.id), key_name, key_hash, prefix, scopes, expires_at
            )
        return KeyOwner(user_id=user.id, key_id=key_id, user_name=user.name, scopes=tuple(scopes))

    @staticmethod
    async def _insert_key(
        conn: asyncpg.Connection,
        user_id: uuid.UUID,
        key_name: str,
        key_hash: bytes,
        prefix: str,
        scopes: Sequence[str],
        expires_at: datetime | None,
    ) -> str:
        key_id = await conn.fetchval(
            "INSERT INTO auth.api_keys (user_id, name, key_hash, prefix, scopes, expires_at)"
            " VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
            user_id,
            key_name,
            key_hash,
            prefix,
            list(scopes),
            expires_at,
        )
        return str(key_id)

    async def key(self, key_id: str) -> KeyRecord:
        row = await self.pool.fetchrow(
            f"SELECT {_KEY} FROM auth.api_keys k WHERE k.id = $1", uuid.UUID(key_id)
        )
        assert row is not None
        return KeyRecord.from_row(row)

    async def find_key(self, key_hash: bytes, *, touch_after_s: float = 60.0) -> KeyOwner | None:
        """The owner of a live key (not revoked, not expired). Its last use is written in the
        same statement, but only when the one stored is older than ``touch_after_s``: a busy
        key costs one write a minute, not one per request."""
        row = await self.pool.fetchrow(
            "WITH found AS ("
            " SELECT k.id AS key_id, k.scopes, k.expires_at, k.last_used_at,"
            " u.id AS user_id, u.name AS user_name, u.is_admin, u.plan"
            " FROM auth.api_keys k JOIN auth.users u ON u.id = k.user_id"
            " WHERE k.key_hash = $1 AND k.revoked_at IS NULL"
            " AND (k.expires_at IS NULL OR k.expires_at > now())),"
            " touched AS (UPDATE auth.api_keys SET last_used_at = now() FROM found"
            " WHERE auth.api_keys.id = found.key_id AND (found.last_used_at IS NULL"
            " OR found.last_used_at < now() - make_interval(secs => $2)) RETURNING 1)"
            " SELECT * FROM found",
            key_hash,
            touch_after_s,
        )
        if row is None:
            return None
        return KeyOwner(
            user_id=str(row["user_id"]),
            key_id=str(row["key_id"]),
            user_name=row["user_name"],
            scopes=tuple(row["scopes"]),
            is_admin=row["is_admin"],
            plan=row["plan"],
            expires_at=row["expires_at"],
        )

    async def list_keys(self, user_id: str, limit: int, after: Cursor | None) -> list[KeyRecord]:
        """One user's keys, newest first; ``after`` is the (created_at, id) last served."""
        owner = _uuid(user_id)
        if owner is None:
            return []
        select = f"SELECT {_KEY} FROM auth.api_keys k WHERE k.user_id = $2"
        order = " ORDER BY k.created_at DESC, k.id DESC LIMIT $1"
        if after is None:
            rows = await self.pool.fetch(select + order, limit, owner)
        else:
            rows = await self.pool.fetch(
                select + " AND (k.created_at, k.id) < ($3, $4)" + order,
                limit,
                owner,
                after[0],
                uuid.UUID(after[1]),
            )
        return [KeyRecord.from_row(r) for r in rows]

    async def revoke_key(self, user_id: str, key_id: str) -> bool:
        """Revoke one of the user's keys: True when this call revoked it, False when it already
        was. NotFound when it is not the user's key."""
        owner, key = _uuid(user_id), _uuid(key_id)
        row = None
        if owner is not None and key is not None:
            row = await self.pool.fetchrow(
                "UPDATE auth.api_keys k SET revoked_at = coalesce(k.revoked_at, now())"
                " FROM auth.api_keys before WHERE k.id = $1 AND k.user_id = $2"
                " AND before.id = k.id RETURNING before.revoked_at IS NULL AS revoked_now",
                key,
                owner,
            )
        if row is None:
            raise NotFound("the user has no such API key")
        return bool(row["revoked_now"])

    # --- invitations ---------------------------------------------------------------------

    async def create_invite(
        self,
        created_by: str,
        token_hash: bytes,
        *,
        email: str,
        is_admin: bool,
        plan: str,
        valid_for_s: float,
    ) -> Invite:
        """An invitation by an admin; Forbidden when ``created_by`` is not one."""
        inviter = await self.user_by_id(created_by)
        if inviter is None or not inviter.is_admin:
            raise Forbidden("only an admin may invite")
        row = await self.pool.fetchrow(
            "INSERT INTO auth.invites (token_hash, created_by, email, is_admin, plan, expires_at)"
            " VALUES ($1, $2, $3, $4, $5, now() + make_interval(secs => $6))"
            " RETURNING id, expires_at",
            token_hash,
            uuid.UUID(inviter.id),
            email or None,
            is_admin,
            plan,
            valid_for_s,
        )
        assert row is not None
        return Invite(id=str(row["id"]), expires_at=row["expires_at"])

    async def invite_is_open(self, token_hash: bytes) -> bool:
        """Whether an invitation may still be accepted: checked before a password is hashed,
        so a guessed token costs a lookup, not an argon2 hash."""
        return bool(
            await self.pool.fetchval(
                "SELECT EXISTS (SELECT 1 FROM auth.invites WHERE token_hash = $1"
                " AND accepted_at IS NULL AND expires_at > now())",
                token_hash,
            )
        )

    async def accept_invite(
        self, token_hash: bytes, user_name: str, password_hash: str
    ) -> AcceptedInvite:
        """Use an invitation once and make its user, in one transaction: a taken name leaves
        the invitation unused. Forbidden for an unknown, used or expired invitation."""
        async with self.pool.acquire() as conn, conn.transaction():
            invite = await conn.fetchrow(
                "UPDATE auth.invites SET accepted_at = now()"
                " WHERE token_hash = $1 AND accepted_at IS NULL AND expires_at > now()"
                " RETURNING id, email, is_admin, plan",
                token_hash,
            )
            if invite is None:
                raise Forbidden("the invitation is unknown, used or expired")
            user = await self.create_user(
                user_name,
                password_hash,
                email=invite["email"] or "",
                is_admin=invite["is_admin"],
                plan=invite["plan"],
                conn=conn,
            )
            await conn.execute(
                "UPDATE auth.invites SET accepted_by = $2 WHERE id = $1",
                invite["id"],
                uuid.UUID(user.id),
            )
        return AcceptedInvite(invite_id=str(invite["id"]), user=user)
