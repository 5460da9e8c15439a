"""Who is calling: a session cookie (browsers), an API key (programs) or, for a live connection,
a stream token, verified by the auth service, remembered for a few seconds in process (a stream
token not at all), and forgotten at once when auth announces a revocation on
``auth.revoked.<user_id>``.

The cache is a plain dict, not a cache framework: it is on every request's path, and a lookup
must cost a dict lookup. Failures are remembered briefly too, so a flood of one bad key costs
auth one call per ``failure_ttl_s``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Literal

from aiohttp import web
from nats.aio.client import Client
from nats.aio.msg import Msg

from libs.bus import Envelope
from libs.bus.connection import when_reconnected
from libs.bus.events import CredentialRevoked
from libs.bus.subjects import ALL_REVOCATIONS
from libs.downstream import Downstream
from libs.errors import MalformedMessage, ShotgraphError, Unauthenticated
from libs.logs import get_logger
from shotgraph.auth.v1 import auth_pb2, auth_pb2_grpc

__all__ = [
    "DEV_SESSION_COOKIE",
    "SCOPES",
    "SESSION_COOKIE",
    "STREAM_TOKEN_QUERY",
    "Credential",
    "Identities",
    "Identity",
    "Scope",
    "identity_of",
    "listen_for_revocations",
    "presented_credential",
]

log = get_logger(__name__)

Scope = Literal["read", "write", "admin"]
SCOPES: tuple[Scope, ...] = ("read", "write", "admin")
CredentialKind = Literal["session", "key"]
# A stream token (``POST /v1/events/tokens``) opens one live connection; it resolves to the
# identity of the session or key that asked for it, so revoking that closes the connection.
PresentedKind = Literal["session", "key", "stream"]
# Where a live connection may carry a stream token: EventSource and WebSocket cannot set headers.
STREAM_TOKEN_QUERY = "token"

# ``__Host-``: the browser keeps it only from a secure origin, for this host alone, path /.
SESSION_COOKIE = "__Host-shotgraph_session"
# Plain HTTP on loopback, for development only (a setting says so explicitly).
DEV_SESSION_COOKIE = "shotgraph_session"

_MAX_SECRET_LENGTH = 256
_MAX_ENTRIES = 50_000


@dataclass(frozen=True)
class Identity:
    """Who presented a credential, which one, and what it allows."""

    user_id: str
    user_name: str
    credential_kind: CredentialKind = "key"
    credential_id: str = ""  # the session's or key's id, never the secret itself
    scopes: frozenset[str] = frozenset({"read", "write"})
    plan: str = "standard"  # the rate-limit plan (``libs/ratelimit.py``)
    expires_at: float | None = None  # epoch seconds; None: a key without expiry

    @property
    def key_id(self) -> str:
        return self.credential_id if self.credential_kind == "key" else ""


@dataclass(frozen=True)
class Credential:
    """What a request presents: a session token from a cookie, an API key from a header, or a
    stream token from a live connection's URL."""

    kind: PresentedKind
    secret: str


def presented_credential(
    request: web.Request, cookie_names: Iterable[str], *, stream_token: bool = False
) -> Credential | None:
    """The API key (``Authorization: Bearer`` or ``X-API-Key``), else (for a live connection,
    ``stream_token``) a stream token in the query, else the session cookie; None when there is
    none. A key wins over a cookie: a request that carries one was made by a program, which a
    cross-site page cannot forge (it cannot set the header)."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    key = token.strip() if scheme.lower() == "bearer" else request.headers.get("X-API-Key", "")
    if key:
        return Credential("key", _bounded(key, "API key"))
    token = request.query.get(STREAM_TOKEN_QUERY, "") if stream_token else ""
    if token:
        return Credential("stream", _bounded(token, "stream token"))
    for name in cookie_names:
        session = request.cookies.get(name, "")
        if session:
            return Credential("session", _bounded(session, "session cookie"))
    return None


def _bounded(secret: str, what: str) -> str:
    if len(secret) > _MAX_SECRET_LENGTH:
        raise Unauthenticated(f"{what} is malformed")
    return secret


def identity_of(reply: auth_pb2.Identity) -> Identity:
    return Identity(
        user_id=reply.user_id,
        user_name=reply.user_name,
        credential_kind="session" if reply.credential_kind == "session" else "key",
        credential_id=reply.credential_id,
        scopes=frozenset(reply.scopes),
        plan=reply.plan or "standard",
        expires_at=reply.expires_at.ToSeconds() if reply.HasField("expires_at") else None,
    )


@dataclass(frozen=True)
class _Entry:
    identity: Identity | None
    failure: ShotgraphError | None
    until: float  # monotonic


class Identities:
    """Credentials verified by auth, each remembered for ``ttl_s`` (failures for
    ``failure_ttl_s``), and dropped at once by ``revoke``, which also ends what was opened with
    the credential (``on_revoked``: an open event stream)."""

    def __init__(
        self,
        auth: Downstream[auth_pb2_grpc.AuthServiceStub],
        *,
        ttl_s: float = 10.0,
        failure_ttl_s: float = 2.0,
    ) -> None:
        self._auth = auth
        self._ttl_s = ttl_s
        self._failure_ttl_s = failure_ttl_s
        self._entries: dict[Credential, _Entry] = {}
        self._by_id: dict[str, set[Credential]] = {}
        self._watchers: dict[str, set[Callable[[], None]]] = {}
        self._revocations = 0  # how many revocations (and clears) this cache has seen

    async def resolve(self, credential: Credential) -> Identity:
        """The credential's identity; Unauthenticated when it is unknown, revoked or expired."""
        entry = self._entries.get(credential)
        now = time.monotonic()
        if entry is None or entry.until <= now:
            entry = await self._verify(credential)
        if entry.failure is not None:
            raise entry.failure
        assert entry.identity is not None
        expires_at = entry.identity.expires_at
        if expires_at is not None and expires_at <= time.time():
            self._forget(credential)
            raise Unauthenticated(f"the {_name(credential)} has expired")
        return entry.identity

    async def _verify(self, credential: Credential) -> _Entry:
        revocations = self._revocations
        try:
            identity = await self._ask_auth(credential)
        except Unauthenticated as exc:
            entry = _Entry(None, exc, time.monotonic() + self._failure_ttl_s)
        else:
            # A stream token's minute is auth's to keep: it is asked about at every use, so a
            # cached answer never opens a connection after the token has expired. An answer
            # that was on its way while a revocation arrived may predate it: used once, not kept.
            keep = credential.kind != "stream" and revocations == self._revocations
            entry = _Entry(identity, None, time.monotonic() + (self._ttl_s if keep else 0.0))
        # The entry this replaces goes first, with its index: two requests verifying one new
        # credential at once must leave the second one's entry indexed for revoke().
        self._forget(credential)
        if entry.identity is not None:
            self._by_id.setdefault(entry.identity.credential_id, set()).add(credential)
        if len(self._entries) >= _MAX_ENTRIES:  # oldest first: dicts keep insertion order
            self._forget(next(iter(self._entries)))
        self._entries[credential] = entry
        return entry

    async def _ask_auth(self, credential: Credential) -> Identity:
        if credential.kind == "stream":
            # The identity of the session or key that asked for the token: its revocation
            # (``on_revoked`` keys on its id) ends what the token opened.
            stream: auth_pb2.Identity = await self._auth.call(
                self._auth.stub.VerifyStreamToken,
                auth_pb2.VerifyStreamTokenRequest(token=credential.secret),
            )
            return identity_of(stream)
        if credential.kind == "key":
            key: auth_pb2.VerifyApiKeyResponse = await self._auth.call(
                self._auth.stub.VerifyApiKey, auth_pb2.VerifyApiKeyRequest(key=credential.secret)
            )
            if key.HasField("identity"):
                return identity_of(key.identity)
            # An auth service of the release before scopes: its keys read and write.
            return Identity(user_id=key.user_id, user_name=key.user_name, credential_id=key.key_id)
        session: auth_pb2.Identity = await self._auth.call(
            self._auth.stub.VerifySession, auth_pb2.VerifySessionRequest(token=credential.secret)
        )
        return identity_of(session)

    def _forget(self, credential: Credential) -> None:
        entry = self._entries.pop(credential, None)
        if entry is not None and entry.identity is not None:
            held = self._by_id.get(entry.identity.credential_id)
            if held is not None:
                held.discard(credential)
                if not held:
                    del self._by_id[entry.identity.credential_id]

    def revoke(self, credential_id: str) -> None:
        """Forget the credential with this id and end everything opened with it."""
        self._revocations += 1
        for credential in list(self._by_id.get(credential_id, ())):
            self._forget(credential)
        for close in list(self._watchers.pop(credential_id, ())):
            close()

    def clear(self) -> None:
        """Forget every credential (after a gap in the revocation feed); watchers stay."""
        self._revocations += 1
        self._entries.clear()
        self._by_id.clear()

    def on_revoked(self, identity: Identity, close: Callable[[], None]) -> Callable[[], None]:
        """Call ``close`` when ``identity``'s credential is revoked; returns the undo."""
        watchers = self._watchers.setdefault(identity.credential_id, set())
        watchers.add(close)

        def forget() -> None:
            watchers.discard(close)
            if not watchers and self._watchers.get(identity.credential_id) is watchers:
                del self._watchers[identity.credential_id]

        return forget


def _name(credential: Credential) -> str:
    return {"session": "session", "key": "API key", "stream": "stream token"}[credential.kind]


async def listen_for_revocations(nc: Client, identities: Identities) -> None:
    """Every revocation auth announces drops the credential from ``identities`` at once.

    Core NATS keeps nothing for a subscriber that was away: after a reconnect the whole cache
    goes, so nothing revoked meanwhile outlives the gap.
    """

    async def revoked(msg: Msg) -> None:
        try:
            event = Envelope.decode(msg.data).open(CredentialRevoked)
        except (MalformedMessage, ShotgraphError) as exc:
            log.error("nats.malformed", subject=msg.subject, error=str(exc))
            return
        identities.revoke(event.credential_id)

    async def reconnected() -> None:
        identities.clear()

    await nc.subscribe(ALL_REVOCATIONS, cb=revoked)
    when_reconnected(nc, reconnected)
