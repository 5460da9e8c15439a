"""The one OpenSCAD source-size limit, counted in the bytes OpenSCAD reads."""

from __future__ import annotations

import pytest

from libs.setpieces import MAX_SOURCE_BYTES, source_bytes, source_too_large


def test_the_limit_is_256_kib() -> None:
    assert MAX_SOURCE_BYTES == 262_144


@pytest.mark.parametrize("character", ["x", "é", "€", "🎬"], ids=["1", "2", "3", "4-bytes"])
def test_a_source_of_exactly_the_limit_fits_and_one_byte_more_does_not(character: str) -> None:
    width = len(character.encode())
    at_limit = character * (MAX_SOURCE_BYTES // width) + "x" * (MAX_SOURCE_BYTES % width)

    assert source_bytes(at_limit) == MAX_SOURCE_BYTES and source_too_large(at_limit) is None
    assert source_too_large(at_limit + "x") == (
        "OpenSCAD source is 262145 bytes of UTF-8; the limit is 262144 bytes (256 KiB)"
    )


def test_characters_under_the_limit_can_be_bytes_over_it() -> None:
    source = "é" * (MAX_SOURCE_BYTES // 2 + 1)

    assert len(source) < MAX_SOURCE_BYTES
    assert "the limit is 262144 bytes" in (source_too_large(source) or "")


def test_a_lone_surrogate_is_counted_not_an_error() -> None:
    assert source_bytes("cube(1); // \ud800") == len("cube(1); // ") + 3
