"""Sessions in Redis, found by the SHA-256 of their token, with an idle and an absolute expiry.

A session is one hash, ``auth:session:<sha256 of token>``, whose TTL is the idle expiry capped by
the absolute one; each user's sessions are indexed by id in ``auth:user-sessions:<user_id>``
(session id -> token hash), so they can be listed and revoked by id without the token. Ids of
sessions that expired on their own are cleaned out of the index as it is read.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace

from redis.asyncio import Redis
from redis.exceptions import RedisError

from libs.errors import Unavailable
from services.auth.audit import ClientInfo
from services.auth.keys import new_token, token_hash

__all__ = ["SessionRecord", "Sessions", "redis_outage"]

_SESSION = "auth:session:"
_INDEX = "auth:user-sessions:"


@contextmanager
def redis_outage(what: str) -> Iterator[None]:
    """Redis errors as UNAVAILABLE, saying what cannot be done."""
    try:
        yield
    except (RedisError, OSError) as exc:
        detail = f"{what} unavailable: the session store (Redis) cannot be reached"
        raise Unavailable(detail) from exc


@dataclass(frozen=True)
class SessionRecord:
    id: str
    user_id: str
    user_name: str
    is_admin: bool
    plan: str
    created: float  # epoch seconds
    last_seen: float
    expires: float  # the absolute expiry
    idle_s: float
    client: ClientInfo

    @property
    def idle_expires(self) -> float:
        return min(self.last_seen + self.idle_s, self.expires)

    def fields(self) -> dict[str, str]:
        return {
            "id": self.id,
            "user_id": self.user_id,
            "user_name": self.user_name,
            "is_admin": "1" if self.is_admin else "0",
            "plan": self.plan,
            "created": repr(self.created),
            "last_seen": repr(self.last_seen),
            "expires": repr(self.expires),
            "address": self.client.address,
            "user_agent": self.client.user_agent,
        }

    @classmethod
    def from_fields(cls, raw: dict[bytes, bytes], idle_s: float) -> SessionRecord:
        text = {key.decode(): value.decode() for key, value in raw.items()}
        return cls(
            id=text["id"],
            user_id=text["user_id"],
            user_name=text["user_name"],
            is_admin=text["is_admin"] == "1",
            plan=text["plan"],
            created=float(text["created"]),
            last_seen=float(text["last_seen"]),
            expires=float(text["expires"]),
            idle_s=idle_s,
            client=ClientInfo(text["address"], text["user_agent"]),
        )


def _ttl_ms(record: SessionRecord, now: float) -> int:
    return max(1, int((record.idle_expires - now) * 1000))


class Sessions:
    def __init__(
        self, redis: Redis, *, idle_s: float, absolute_s: float, touch_s: float = 60.0
    ) -> None:
        self._redis = redis
        self._idle_s = idle_s
        self._absolute_s = absolute_s
        self._touch_s = touch_s

    async def create(
        self, user_id: str, user_name: str, *, is_admin: bool, plan: str, client: ClientInfo
    ) -> tuple[str, SessionRecord]:
        """A new session with a new token (never one reused from before a login)."""
        token = new_token()
        now = time.time()
        record = SessionRecord(
            id=secrets.token_hex(16),
            user_id=user_id,
            user_name=user_name,
            is_admin=is_admin,
            plan=plan,
            created=now,
            last_seen=now,
            expires=now + self._absolute_s,
            idle_s=self._idle_s,
            client=client,
        )
        key = _SESSION + token_hash(token)
        with redis_outage("sign-in is"):
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.hset(key, mapping=record.fields())  # type: ignore[arg-type]
                pipe.pexpire(key, _ttl_ms(record, now))
                pipe.hset(_INDEX + user_id, record.id, token_hash(token))
                pipe.pexpire(_INDEX + user_id, int(self._absolute_s * 1000))
                await pipe.execute()
        return token, record

    async def verify(self, token: str) -> SessionRecord | None:
        """The live session of ``token``, kept alive: its last-seen time (and so its idle
        expiry) is moved on when it is older than the touch interval."""
        key = _SESSION + token_hash(token)
        now = time.time()
        with redis_outage("sessions are"):
            record = await self._read(key, now)
            if record is None or now - record.last_seen < self._touch_s:
                return record
            record = replace(record, last_seen=now)
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.hset(key, "last_seen", repr(now))
                pipe.pexpire(key, _ttl_ms(record, now))
                await pipe.execute()
        return record

    async def live(self, hashed: str) -> SessionRecord | None:
        """The live session whose token has the SHA-256 ``hashed`` (hex), as it is: a stream
        token's look at the session it stands for does not keep that session alive."""
        with redis_outage("sessions are"):
            return await self._read(_SESSION + hashed, time.time())

    async def end(self, token: str) -> SessionRecord | None:
        """End the session of ``token``; None when there was none."""
        key = _SESSION + token_hash(token)
        with redis_outage("signing out is"):
            record = await self._read(key, time.time())
            if record is None:
                return None
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.delete(key)
                pipe.hdel(_INDEX + record.user_id, record.id)
                await pipe.execute()
        return record

    async def of_user(self, user_id: str) -> list[SessionRecord]:
        """The user's live sessions, newest first; expired ones leave the index."""
        now = time.time()
        with redis_outage("sessions are"):
            index: dict[bytes, bytes] = await self._redis.hgetall(_INDEX + user_id)  # type: ignore[misc, assignment]
            if not index:
                return []
            ids = list(index)
            async with self._redis.pipeline(transaction=False) as pipe:
                for session_id in ids:
                    pipe.hgetall(_SESSION + index[session_id].decode())
                found = await pipe.execute()
            live: list[SessionRecord] = []
            stale: list[bytes] = []
            for session_id, raw in zip(ids, found, strict=True):
                record = SessionRecord.from_fields(raw, self._idle_s) if raw else None
                if record is None or record.idle_expires <= now:
                    stale.append(session_id)
                else:
                    live.append(record)
            if stale:
                await self._redis.hdel(_INDEX + user_id, *stale)  # type: ignore[misc]
        return sorted(live, key=lambda r: r.created, reverse=True)

    async def revoke(self, user_id: str, session_ids: Sequence[str]) -> list[str]:
        """End the user's sessions of ``session_ids``; returns the ids of those that were live."""
        if not session_ids:
            return []
        with redis_outage("sessions are"):
            hashes: list[bytes | None] = await self._redis.hmget(  # type: ignore[misc, assignment]
                _INDEX + user_id, list(session_ids)
            )
            known = [(sid, h) for sid, h in zip(session_ids, hashes, strict=True) if h]
            if not known:
                return []
            async with self._redis.pipeline(transaction=True) as pipe:
                for _, hashed in known:
                    pipe.delete(_SESSION + hashed.decode())
                pipe.hdel(_INDEX + user_id, *(sid for sid, _ in known))
                deleted = await pipe.execute()
        return [sid for (sid, _), gone in zip(known, deleted, strict=False) if gone]

    async def revoke_all_but(self, user_id: str, keep: str) -> list[str]:
        """End every session of the user but ``keep``."""
        others = [record.id for record in await self.of_user(user_id) if record.id != keep]
        return await self.revoke(user_id, others)

    async def _read(self, key: str, now: float) -> SessionRecord | None:
        raw: dict[bytes, bytes] = await self._redis.hgetall(key)  # type: ignore[misc, assignment]
        if not raw:
            return None
        record = SessionRecord.from_fields(raw, self._idle_s)
        # The TTL ends it too; this check holds between its expiry and Redis's sweep.
        return record if record.idle_expires > now else None
