"""Tests for signed transformation URLs (`libs.urlsigning`: the gateway checks, the image
service's URLs are signed)."""

from __future__ import annotations

import base64
from collections.abc import Callable

import pytest

from libs.urlsigning import sign, verify

KEY = b"a key of the platform's"
OLD_KEY = b"the key before it"
PATH = "/rs:fill:300:200/f:webp/3f786850e387550fdab836ed7e6dc881de23001b"


def test_signature_is_unpadded_urlsafe_base64_of_hmac_sha256() -> None:
    # Known HMAC-SHA256 value (key "key"), computed independently of this code.
    expected = "f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8"
    signature = sign(b"key", "The quick brown fox jumps over the lazy dog")

    assert base64.urlsafe_b64decode(signature + "=").hex() == expected
    assert len(signature) == 43
    assert "=" not in signature and "+" not in signature and "/" not in signature


def test_signed_path_verifies() -> None:
    assert verify(KEY, sign(KEY, PATH), PATH)


def test_signature_is_deterministic_and_depends_on_key_and_path() -> None:
    assert sign(KEY, PATH) == sign(KEY, PATH)
    assert sign(KEY, PATH) != sign(OLD_KEY, PATH)
    assert sign(KEY, PATH) != sign(KEY, PATH + "x")


@pytest.mark.parametrize(
    "path",
    [
        PATH.replace("300", "3000"),  # a bigger variant of a signed URL
        PATH.replace("webp", "avif"),
        PATH + "/",
        PATH[1:],
        PATH.upper(),
    ],
    ids=["size", "format", "trailing-slash", "leading-slash", "case"],
)
def test_tampered_path_is_refused(path: str) -> None:
    assert not verify(KEY, sign(KEY, PATH), path)


def test_wrong_key_is_refused() -> None:
    assert not verify(KEY, sign(OLD_KEY, PATH), PATH)
    assert not verify(OLD_KEY, sign(KEY, PATH), PATH)


@pytest.mark.parametrize(
    "mangle",
    [
        lambda s: s[:-1],  # truncated by one character
        lambda s: s[:16],  # truncated to a short prefix
        lambda s: "",
        lambda s: s + "=",  # padded: only the form sign() gives is accepted
        lambda s: s + "A",
        lambda s: s.swapcase(),
        lambda s: s.replace("-", "+").replace("_", "/") + "+/",  # standard alphabet
        lambda s: "!!!" + s[3:],  # not base64
        lambda s: "é" + s[1:],  # not ASCII
        lambda s: "\udcff" + s[1:],  # lone surrogate, as a lenient URL decoder may leave
        lambda s: base64.urlsafe_b64encode(b"\0" * 32).decode().rstrip("="),
    ],
    ids=[
        "minus-one",
        "prefix",
        "empty",
        "padded",
        "extra",
        "swapcase",
        "std-alphabet",
        "not-base64",
        "non-ascii",
        "surrogate",
        "zeros",
    ],
)
def test_bad_signature_is_refused_without_raising(mangle: Callable[[str], str]) -> None:
    assert not verify(KEY, mangle(sign(KEY, PATH)), PATH)


def test_key_rotation_signs_with_first_and_accepts_any() -> None:
    keys = [KEY, OLD_KEY]

    assert sign(keys, PATH) == sign(KEY, PATH)
    assert verify(keys, sign(OLD_KEY, PATH), PATH)  # URLs issued before the rotation
    assert verify(keys, sign(KEY, PATH), PATH)
    assert not verify([KEY], sign(OLD_KEY, PATH), PATH)  # once the old key is dropped
    assert not verify(keys, sign(b"someone else's", PATH), PATH)


@pytest.mark.parametrize(
    "key", [b"", [], [KEY, b""], (b"",)], ids=["bytes", "list", "one", "tuple"]
)
def test_empty_keys_are_refused(key: bytes | list[bytes]) -> None:
    with pytest.raises(ValueError):
        sign(key, PATH)
    with pytest.raises(ValueError):
        verify(key, "anything", PATH)


@pytest.mark.parametrize("key", ["a text key", [KEY, "a text key"]], ids=["str", "str-in-list"])
def test_keys_must_be_bytes(key: object) -> None:
    with pytest.raises(TypeError):
        sign(key, PATH)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        verify(key, "anything", PATH)  # type: ignore[arg-type]


def test_non_ascii_paths_are_signed_as_utf8() -> None:
    path = "/th:100/caf\u00e9"
    assert verify(KEY, sign(KEY, path), path)
    assert not verify(KEY, sign(KEY, path), "/th:100/cafe\u0301")  # another normal form
