"""Signed transformation URLs, as imgproxy signs them: HMAC-SHA256 over the path.

Without a signature anyone could ask for the same image in a million sizes and fill the cache
(and the CPU) with variants; with one, only URLs the platform issued are processed. The
signature is the URL-safe base64 of HMAC-SHA256(key, path), without padding, and the path is
everything after it in the URL, e.g. ``/rs:fill:300:200/f:webp/<blob>``.

Keys rotate: sign with the first key of a list, accept a signature made with any of them, and
drop the old key once the URLs it signed are out of use.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Sequence

__all__ = ["sign", "verify"]


def sign(key: bytes | Sequence[bytes], path: str) -> str:
    """The signature of ``path``, with ``key`` or the first of a list of keys."""
    return _signature(_keys(key)[0], path)


def verify(key: bytes | Sequence[bytes], signature: str, path: str) -> bool:
    """Whether ``signature`` signs ``path`` under ``key`` or any of a list of keys.

    Only the exact form ``sign`` gives is accepted: no padding, no other alphabet, nothing
    truncated; anything else (not base64, not ASCII) is simply not a valid signature.
    """
    keys = _keys(key)
    if not signature.isascii():  # compare_digest refuses non-ASCII strings with a TypeError
        return False
    given = signature.encode("ascii")
    # compare_digest takes as long wherever the first difference is: no byte-by-byte guessing.
    return any(hmac.compare_digest(_signature(k, path).encode("ascii"), given) for k in keys)


def _signature(key: bytes, path: str) -> str:
    digest = hmac.new(key, path.encode("utf-8"), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def _keys(key: bytes | Sequence[bytes]) -> Sequence[bytes]:
    """The keys, all checked: an empty key would make every signature public knowledge."""
    keys = [key] if isinstance(key, bytes) else list(key)
    if not keys:
        raise ValueError("no signing key given")
    for k in keys:
        if not isinstance(k, bytes):
            raise TypeError(f"a signing key must be bytes, not {type(k).__name__}")
        if not k:
            raise ValueError("a signing key is empty")
    return keys
