"""Opaque keyset cursors and page-size bounds."""

from __future__ import annotations

import base64
import json
import uuid
from datetime import UTC, datetime

import pytest

from libs.errors import InvalidArgument
from libs.pagination import MAX_PAGE_SIZE, decode_cursor, encode_cursor, page_size


def test_cursor_round_trip() -> None:
    created_at = datetime(2024, 5, 17, 12, 30, 45, 123456, tzinfo=UTC)
    row_id = str(uuid.uuid4())
    token = encode_cursor(created_at, row_id)
    assert "=" not in token
    assert decode_cursor(token) == (created_at, row_id)


def test_empty_token_means_first_page() -> None:
    assert decode_cursor("") is None


def _token(value: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


def _tampered() -> str:
    token = encode_cursor(datetime(2024, 1, 1, tzinfo=UTC), str(uuid.uuid4()))
    raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    return base64.urlsafe_b64encode(raw.replace(b"2024", b"20x4")).decode()


@pytest.mark.parametrize(
    ("label", "token"),
    [
        ("not base64", "!!!not-a-token!!!"),
        ("base64 of garbage bytes", base64.urlsafe_b64encode(b"\xff\xfe\x00").decode()),
        ("base64 of non-JSON text", base64.urlsafe_b64encode(b"hello").decode()),
        ("tampered date", _tampered()),
        ("JSON number", _token(42)),
        ("JSON list of three", _token(["2024-01-01T00:00:00+00:00", str(uuid.uuid4()), 1])),
        ("bad id", _token(["2024-01-01T00:00:00+00:00", "not-a-uuid"])),
        ("bad date", _token(["yesterday", str(uuid.uuid4())])),
        ("date as number", _token([20240101, str(uuid.uuid4())])),
        ("JSON map", _token({"a": 1, "b": 2})),
    ],
)
def test_foreign_token_is_invalid_argument(label: str, token: str) -> None:
    with pytest.raises(InvalidArgument, match="page token"):
        decode_cursor(token)


def test_token_with_a_numeric_id_is_invalid_argument() -> None:
    with pytest.raises(InvalidArgument):
        decode_cursor(_token(["2024-01-01T00:00:00+00:00", 123]))


@pytest.mark.parametrize(("requested", "expected"), [(0, 20), (1, 1), (37, 37), (100, 100)])
def test_page_size_within_bounds(requested: int, expected: int) -> None:
    assert page_size(requested) == expected


@pytest.mark.parametrize("requested", [-1, MAX_PAGE_SIZE + 1, 10_000])
def test_page_size_out_of_bounds_is_invalid_argument(requested: int) -> None:
    with pytest.raises(InvalidArgument, match="page size"):
        page_size(requested)
