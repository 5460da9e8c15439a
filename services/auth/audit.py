"""The audit log: who did what to which credential, when and from where (``auth.audit_events``)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Final, Literal

import asyncpg

from libs.pagination import Cursor

__all__ = ["ACTIONS", "Action", "AuditLog", "AuditRecord", "ClientInfo"]

Action = Literal[
    "login.succeeded",
    "login.failed",
    "login.throttled",
    "logout",
    "password.changed",
    "session.revoked",
    "key.created",
    "key.revoked",
    "invite.created",
    "invite.accepted",
    "user.created",
    "stream_token.created",
]
ACTIONS: Final[frozenset[str]] = frozenset(Action.__args__)  # type: ignore[attr-defined]


@dataclass(frozen=True)
class ClientInfo:
    """Where a request came from, as the gateway saw it (already bounded)."""

    address: str = ""
    user_agent: str = ""


@dataclass(frozen=True)
class AuditRecord:
    id: str
    created_at: datetime  # when it happened; named for the pagination cursor
    action: str
    user_id: str
    user_name: str
    client: ClientInfo
    subject_id: str

    @classmethod
    def from_row(cls, row: asyncpg.Record) -> AuditRecord:
        return cls(
            id=str(row["id"]),
            created_at=row["at"],
            action=row["action"],
            user_id=str(row["user_id"] or ""),
            user_name=row["user_name"],
            client=ClientInfo(row["address"], row["user_agent"]),
            subject_id=row["subject_id"],
        )


class AuditLog:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def record(
        self,
        action: Action,
        client: ClientInfo,
        *,
        user_id: str = "",
        user_name: str = "",
        subject_id: str = "",
    ) -> None:
        await self._pool.execute(
            "INSERT INTO auth.audit_events"
            " (action, user_id, user_name, address, user_agent, subject_id)"
            " VALUES ($1, $2, $3, $4, $5, $6)",
            action,
            uuid.UUID(user_id) if user_id else None,
            user_name,
            client.address,
            client.user_agent,
            subject_id,
        )

    async def list_events(
        self, user_id: str | None, limit: int, after: Cursor | None
    ) -> list[AuditRecord]:
        """Newest first: one user's entries, or everyone's with ``user_id`` None."""
        params: list[object] = [limit]
        where: list[str] = []
        if user_id is not None:
            params.append(uuid.UUID(user_id))
            where.append(f"user_id = ${len(params)}")
        if after is not None:
            params += [after[0], uuid.UUID(after[1])]
            where.append(f"(at, id) < (${len(params) - 1}, ${len(params)})")
        clause = f" WHERE {' AND '.join(where)}" if where else ""
        rows = await self._pool.fetch(
            "SELECT id, at, action, user_id, user_name, address, user_agent, subject_id"
            f" FROM auth.audit_events{clause} ORDER BY at DESC, id DESC LIMIT $1",
            *params,
        )
        return [AuditRecord.from_row(r) for r in rows]
