"""Numbered SQL migrations on a real PostgreSQL: in order, once, even with concurrent starters."""

from __future__ import annotations

import asyncio
from pathlib import Path

import asyncpg
import pytest

from libs.db import migrate


def _write(directory: Path, files: dict[str, str]) -> Path:
    directory.mkdir(exist_ok=True)
    for name, sql in files.items():
        (directory / name).write_text(sql)
    return directory


def _migrations(directory: Path, schema: str) -> Path:
    # Plain CREATE TABLE / INSERT: running any file twice would fail or duplicate a row.
    return _write(
        directory,
        {
            "0002_add_label.sql": f"ALTER TABLE {schema}.items ADD COLUMN label text NOT NULL"
            f" DEFAULT 'x';\nINSERT INTO {schema}.log (step) VALUES ('0002');",
            "0001_items.sql": f"CREATE TABLE {schema}.items (id int PRIMARY KEY);\n"
            f"CREATE TABLE {schema}.log (step text NOT NULL);\n"
            f"INSERT INTO {schema}.log (step) VALUES ('0001');",
            "0003_more.sql": f"CREATE TABLE {schema}.more (id int);\n"
            f"INSERT INTO {schema}.log (step) VALUES ('0003');",
        },
    )


async def _applied(pool: asyncpg.Pool, schema: str) -> list[tuple[int, str]]:
    rows = await pool.fetch(f"SELECT version, name FROM {schema}.schema_migrations ORDER BY 1")
    return [(r["version"], r["name"]) for r in rows]


async def test_applies_files_in_order_once(
    pg_pool: asyncpg.Pool, pg_schema: str, tmp_path: Path
) -> None:
    directory = _migrations(tmp_path / "migrations", pg_schema)

    first = await migrate(pg_pool, pg_schema, directory)
    second = await migrate(pg_pool, pg_schema, directory)

    assert first == ["0001_items.sql", "0002_add_label.sql", "0003_more.sql"]
    assert second == []
    steps = await pg_pool.fetch(f"SELECT step FROM {pg_schema}.log")
    assert [r["step"] for r in steps] == ["0001", "0002", "0003"]
    assert await _applied(pg_pool, pg_schema) == [
        (1, "0001_items.sql"),
        (2, "0002_add_label.sql"),
        (3, "0003_more.sql"),
    ]


async def test_later_files_are_applied_on_a_later_call(
    pg_pool: asyncpg.Pool, pg_schema: str, tmp_path: Path
) -> None:
    directory = _write(tmp_path / "m", {"0001_a.sql": f"CREATE TABLE {pg_schema}.a (id int);"})
    assert await migrate(pg_pool, pg_schema, directory) == ["0001_a.sql"]

    _write(directory, {"0002_b.sql": f"CREATE TABLE {pg_schema}.b (id int);"})
    assert await migrate(pg_pool, pg_schema, directory) == ["0002_b.sql"]


async def test_concurrent_starters_apply_each_file_exactly_once(
    pg_pool: asyncpg.Pool, pg_schema: str, tmp_path: Path
) -> None:
    directory = _migrations(tmp_path / "migrations", pg_schema)

    results = await asyncio.gather(*(migrate(pg_pool, pg_schema, directory) for _ in range(5)))

    applied_by = [r for r in results if r]
    assert applied_by == [["0001_items.sql", "0002_add_label.sql", "0003_more.sql"]]
    assert len(await _applied(pg_pool, pg_schema)) == 3
    assert await pg_pool.fetchval(f"SELECT count(*) FROM {pg_schema}.log") == 3


async def test_files_not_named_like_migrations_are_ignored(
    pg_pool: asyncpg.Pool, pg_schema: str, tmp_path: Path
) -> None:
    broken = "THIS IS NOT SQL;"
    directory = _write(
        tmp_path / "m",
        {
            "0001_ok.sql": f"CREATE TABLE {pg_schema}.ok (id int);",
            "README.md": broken,
            "0002_Upper.sql": broken,
            "2_short.sql": broken,
            "0003-dash.sql": broken,
            "0004_draft.sql.bak": broken,
            "00005_wide.sql": broken,
        },
    )
    assert await migrate(pg_pool, pg_schema, directory) == ["0001_ok.sql"]
    assert await _applied(pg_pool, pg_schema) == [(1, "0001_ok.sql")]


async def test_a_failing_file_rolls_back_the_whole_run(
    pg_pool: asyncpg.Pool, pg_schema: str, tmp_path: Path
) -> None:
    directory = _write(
        tmp_path / "m",
        {
            "0001_ok.sql": f"CREATE TABLE {pg_schema}.ok (id int);",
            "0002_bad.sql": "SELECT * FROM table_that_does_not_exist;",
        },
    )
    with pytest.raises(asyncpg.UndefinedTableError):
        await migrate(pg_pool, pg_schema, directory)
    exists = "SELECT count(*) FROM information_schema.schemata WHERE schema_name = $1"
    assert await pg_pool.fetchval(exists, pg_schema) == 0


@pytest.mark.parametrize(
    "schema", ["", "Canvas", "canvas1", "canvas; DROP TABLE x", "public.canvas", "can vas"]
)
async def test_unsafe_schema_name_is_rejected(
    pg_pool: asyncpg.Pool, tmp_path: Path, schema: str
) -> None:
    with pytest.raises(ValueError, match="unsafe schema name"):
        await migrate(pg_pool, schema, tmp_path)
