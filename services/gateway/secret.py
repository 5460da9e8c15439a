"""Responses that carry a secret (a new API key, an invitation, a CSRF token).

They are never stored by any cache and never compressed: compressing a secret beside text an
attacker can influence (a reflected name) leaks it byte by byte through the response's size
(BREACH). Whatever compresses the gateway's responses skips every response marked ``SECRET``.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

__all__ = ["SECRET", "secret_response"]

SECRET = web.ResponseKey("secret", bool)


def secret_response(body: dict[str, Any], *, status: int = 200) -> web.Response:
    response = web.json_response(body, status=status, headers={"Cache-Control": "no-store"})
    response[SECRET] = True
    return response
