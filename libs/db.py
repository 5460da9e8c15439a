"""asyncpg pools and numbered SQL migrations, applied once even when replicas start together."""

from __future__ import annotations

import json
import re
from pathlib import Path

import asyncpg

__all__ = ["create_pool", "migrate"]

_MIGRATION_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")


async def _json_codecs(conn: asyncpg.Connection) -> None:
    for kind in ("json", "jsonb"):
        await conn.set_type_codec(kind, encoder=json.dumps, decoder=json.loads, schema="pg_catalog")


async def create_pool(dsn: str, *, max_size: int = 10) -> asyncpg.Pool:
    """A pool whose statements are prepared and cached per connection; queries time out.

    JSON columns come back as Python values and take them as parameters.
    """
    pool = await asyncpg.create_pool(
        dsn, min_size=1, max_size=max_size, command_timeout=10, timeout=5, init=_json_codecs
    )
    assert pool is not None
    return pool


async def migrate(pool: asyncpg.Pool, schema: str, directory: Path) -> list[str]:
    """Apply the not yet applied ``NNNN_name.sql`` files of ``directory`` to ``schema``, in order.

    A transaction-scoped advisory lock serialises concurrent starters: the first applies, the
    others wait and then find nothing left to do. Returns the names applied by this call.
    """
    if not re.fullmatch(r"[a-z_]+", schema):
        raise ValueError(f"unsafe schema name {schema!r}")
    files = sorted(p for p in directory.iterdir() if _MIGRATION_NAME.match(p.name))  # noqa: ASYNC240 (start-up only)
    applied_now: list[str] = []
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", f"migrate:{schema}")
        await conn.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
        await conn.execute(
            f"CREATE TABLE IF NOT EXISTS {schema}.schema_migrations ("
            " version integer PRIMARY KEY, name text NOT NULL,"
            " applied_at timestamptz NOT NULL DEFAULT now())"
        )
        done = {
            r["version"]
            for r in await conn.fetch(f"SELECT version FROM {schema}.schema_migrations")
        }
        for path in files:
            version = int(path.name[:4])
            if version in done:
                continue
            await conn.execute(path.read_text())
            await conn.execute(
                f"INSERT INTO {schema}.schema_migrations (version, name) VALUES ($1, $2)",
                version,
                path.name,
            )
            applied_now.append(path.name)
    return applied_now
