"""Cross-site request forgery: a cookie-authenticated request that changes state must come from
this site and carry a token only this site's pages can read.

Two checks, as OWASP recommends: the browser's own word on where the request comes from
(``Sec-Fetch-Site``, else ``Origin``), and a signed double-submit token — the ``X-CSRF-Token``
header must equal the ``__Host-`` CSRF cookie, and the token must be an HMAC of a random value
bound to the session, so a token planted by a sibling subdomain or from another session fails.
API-key requests are exempt: a cross-site page cannot set their header.
"""

from __future__ import annotations

import base64
import hmac
import secrets
from collections.abc import Iterable
from hashlib import sha256
from urllib.parse import urlsplit

from aiohttp import hdrs, web

from libs.errors import Forbidden

__all__ = ["CSRF_COOKIE", "CSRF_HEADER", "DEV_CSRF_COOKIE", "CsrfGuard"]

CSRF_COOKIE = "__Host-shotgraph_csrf"
DEV_CSRF_COOKIE = "shotgraph_csrf"
CSRF_HEADER = "X-CSRF-Token"
_MAX_TOKEN = 128


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


class CsrfGuard:
    """Issues and checks tokens signed with the first of ``keys`` (all verify: rotation)."""

    def __init__(
        self, keys: tuple[bytes, ...], *, trusted_origins: Iterable[str], cookie: str
    ) -> None:
        self._keys = keys
        self._trusted = frozenset(origin.rstrip("/") for origin in trusted_origins)
        self.cookie = cookie

    def issue(self, session_id: str) -> str:
        nonce = _b64(secrets.token_bytes(18))
        return f"{nonce}.{self._sign(self._keys[0], session_id, nonce)}"

    def token_for(self, request: web.Request, session_id: str) -> str:
        """The session's token for a page that asks: the one the browser's cookie already
        holds when it is this session's and signed with the current key, else a new one.
        Every tab of a browser shares the cookie, so one tab asking must not invalidate the
        token another tab holds."""
        kept = request.cookies.get(self.cookie, "")
        if kept and len(kept) <= _MAX_TOKEN and self._signed(kept, session_id, self._keys[:1]):
            return kept
        return self.issue(session_id)

    def _signed(self, token: str, session_id: str, keys: tuple[bytes, ...]) -> bool:
        """Whether ``token`` is ``session_id``'s, signed with one of ``keys``."""
        nonce, _, signature = token.partition(".")
        return any(
            hmac.compare_digest(signature.encode(), self._sign(key, session_id, nonce).encode())
            for key in keys
        )

    def _sign(self, key: bytes, session_id: str, nonce: str) -> str:
        return _b64(hmac.digest(key, f"{session_id}!{nonce}".encode(), sha256))

    def check_origin(self, request: web.Request) -> None:
        """403 unless the browser says the request comes from this site (or a trusted origin).
        A client that sends neither header (not a browser) passes this check."""
        site = request.headers.get("Sec-Fetch-Site")
        origin = request.headers.get("Origin")
        if origin is not None and origin != "null":
            if not self._trusted_origin(request, origin):
                raise Forbidden(f"requests from {origin[:100]} may not change anything here")
        elif origin == "null":
            raise Forbidden("requests from an opaque origin may not change anything here")
        trusted_sibling = site == "same-site" and origin in self._trusted
        if site is not None and site not in ("same-origin", "none") and not trusted_sibling:
            raise Forbidden("a cross-site request may not change anything here")

    def check_upgrade_origin(self, request: web.Request) -> None:
        """403 unless a cookie-authenticated WebSocket upgrade names this site or a trusted
        origin as its ``Origin``. A browser sends the cookie with an upgrade from any page, and
        no CORS rule stands between that page and the socket (cross-site WebSocket hijacking);
        a browser always sends ``Origin`` on an upgrade, so one without it is refused too."""
        origin = request.headers.get(hdrs.ORIGIN)
        if origin is None or origin == "null" or not self._trusted_origin(request, origin):
            shown = "no origin" if origin is None else origin[:100]
            raise Forbidden(
                f"a WebSocket signed in by the session cookie may not be opened from {shown};"
                " open it from this site, or with a stream token or an API key"
            )

    def _trusted_origin(self, request: web.Request, origin: str) -> bool:
        if origin in self._trusted:
            return True
        # The Host header names this site in any browser request: the page's origin must too.
        return urlsplit(origin).netloc.lower() == request.host.lower()

    def check(self, request: web.Request, session_id: str) -> None:
        """The whole check for a cookie-authenticated request that changes state."""
        self.check_origin(request)
        sent = request.headers.get(CSRF_HEADER, "")
        kept = request.cookies.get(self.cookie, "")
        if not sent or len(sent) > _MAX_TOKEN:
            raise Forbidden(
                f"send the CSRF token (GET /v1/auth/session) in the {CSRF_HEADER} header"
            )
        if not hmac.compare_digest(sent.encode(), kept.encode()):
            raise Forbidden(f"the {CSRF_HEADER} header does not match the CSRF cookie")
        if not self._signed(sent, session_id, self._keys):
            raise Forbidden("the CSRF token is not this session's; fetch a new one")
