"""Opaque keyset cursors for "newest first" lists: (created_at, id) of the last row served."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import Protocol, TypeVar

from libs.errors import InvalidArgument

__all__ = [
    "MAX_PAGE_SIZE",
    "Cursor",
    "decode_cursor",
    "encode_cursor",
    "page_size",
    "paginate",
    "paginate_numbered",
]

MAX_PAGE_SIZE = 100
DEFAULT_PAGE_SIZE = 20

Cursor = tuple[datetime, str]


def page_size(requested: int) -> int:
    if requested < 0 or requested > MAX_PAGE_SIZE:
        raise InvalidArgument(f"page size must be between 1 and {MAX_PAGE_SIZE}")
    return requested or DEFAULT_PAGE_SIZE


def encode_cursor(created_at: datetime, row_id: str) -> str:
    raw = json.dumps([created_at.isoformat(), row_id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(token: str) -> Cursor | None:
    if not token:
        return None
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        created_at, row_id = json.loads(raw)
        if not isinstance(created_at, str) or not isinstance(row_id, str):
            raise TypeError("cursor fields are not strings")
        return datetime.fromisoformat(created_at), str(uuid.UUID(row_id))
    except (ValueError, TypeError) as exc:
        raise InvalidArgument("page token is not one this API issued") from exc


class _Newest(Protocol):
    @property
    def created_at(self) -> datetime: ...
    @property
    def id(self) -> str: ...


Row = TypeVar("Row", bound=_Newest)


class _Numbered(Protocol):
    @property
    def number(self) -> int: ...


NumberedRow = TypeVar("NumberedRow", bound=_Numbered)


async def paginate(
    fetch: Callable[[int, Cursor | None], Awaitable[Sequence[Row]]],
    requested_size: int,
    page_token: str,
) -> tuple[list[Row], str]:
    """One "newest first" page and the token of the next (empty on the last page).

    ``fetch(limit, after)`` is asked for one row more than the page holds: whether it comes
    back tells if there is a next page, without counting.
    """
    limit = page_size(requested_size)
    rows = list(await fetch(limit + 1, decode_cursor(page_token)))
    page = rows[:limit]
    token = encode_cursor(page[-1].created_at, page[-1].id) if len(rows) > limit else ""
    return page, token


async def paginate_numbered(
    fetch: Callable[[int, int | None], Awaitable[Sequence[NumberedRow]]],
    requested_size: int,
    page_token: str,
) -> tuple[list[NumberedRow], str]:
    """``paginate`` for rows numbered in a sequence (versions), highest first: the cursor is
    the number of the last row served."""
    limit = page_size(requested_size)
    after = None
    if page_token:
        try:
            after = int(base64.urlsafe_b64decode(page_token + "=" * (-len(page_token) % 4)))
        except ValueError as exc:
            raise InvalidArgument("page token is not one this API issued") from exc
    rows = list(await fetch(limit + 1, after))
    page = rows[:limit]
    more = len(rows) > limit
    token = base64.urlsafe_b64encode(str(page[-1].number).encode()).decode().rstrip("=")
    return page, token if more else ""
