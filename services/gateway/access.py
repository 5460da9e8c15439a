"""What each route needs from its caller: nothing, a scope (``read``, ``write``, ``admin``),
or a signed-in person.

Every ``/v1`` route has an answer here: reading is ``read``, changing is ``write``, unless
``_EXCEPTIONS`` names the route. ``tests/contract`` checks that each exception names a route
that exists.
"""

from __future__ import annotations

import enum
from typing import Final

from aiohttp import hdrs

__all__ = ["EXCEPTIONS", "SAFE_METHODS", "STREAM_TOKEN_ROUTES", "Access", "access_of"]

SAFE_METHODS: Final = frozenset({hdrs.METH_GET, hdrs.METH_HEAD, hdrs.METH_OPTIONS})


class Access(enum.Enum):
    PUBLIC = "public"  # no credential: signing in and up, the API's description
    READ = "read"
    WRITE = "write"
    ADMIN = "admin"
    # Managing one's own credentials: a session, or a key with the admin scope. A leaked
    # read/write key cannot mint more keys or end its owner's sessions.
    ACCOUNT = "account"


EXCEPTIONS: Final[dict[tuple[str, str], Access]] = {
    ("POST", "/v1/auth/login"): Access.PUBLIC,
    ("POST", "/v1/invites/accept"): Access.PUBLIC,
    ("GET", "/v1/openapi.json"): Access.PUBLIC,
    ("POST", "/v1/auth/logout"): Access.ACCOUNT,
    ("POST", "/v1/auth/password"): Access.ACCOUNT,
    ("GET", "/v1/sessions"): Access.ACCOUNT,
    ("DELETE", "/v1/sessions"): Access.ACCOUNT,
    ("DELETE", "/v1/sessions/{session_id}"): Access.ACCOUNT,
    ("GET", "/v1/keys"): Access.ACCOUNT,
    ("POST", "/v1/keys"): Access.ACCOUNT,
    ("DELETE", "/v1/keys/{key_id}"): Access.ACCOUNT,
    ("GET", "/v1/audit"): Access.ACCOUNT,
    ("POST", "/v1/invites"): Access.ADMIN,
    # Reading is enough to send a batch: each request inside is checked for its own scope.
    ("POST", "/v1/$batch"): Access.READ,
    # A stream token only opens live connections, which read: reading is enough to ask for one
    # (a session still needs its CSRF token: the method changes state).
    ("POST", "/v1/events/tokens"): Access.READ,
}

# The live connections, which a browser opens without setting a header (``EventSource``,
# ``WebSocket``): the only routes where a stream token (``?token=``) is a credential. Both read.
STREAM_TOKEN_ROUTES: Final = frozenset({("GET", "/v1/events"), ("GET", "/v1/ws")})


def access_of(method: str, route: str) -> Access:
    """What ``method`` on the route ``route`` (its canonical path) needs."""
    exception = EXCEPTIONS.get((method, route))
    if exception is not None:
        return exception
    return Access.READ if method in SAFE_METHODS else Access.WRITE
