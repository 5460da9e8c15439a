"""What both endpoints share, and the steps every connection takes whatever its transport:
authenticated, admitted, watched for revocation and expiry, subscribed, resumed, closed."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, Protocol
from urllib.parse import urlsplit

from aiohttp import web
from nats.js import JetStreamContext

from libs.errors import Forbidden, ShotgraphError, Unauthenticated
from libs.identity import (
    DEV_SESSION_COOKIE,
    SESSION_COOKIE,
    Credential,
    Identity,
    presented_credential,
)
from libs.live.protocol import (
    MAX_TOPICS,
    CloseCode,
    ErrorMessage,
    Hello,
    Refused,
    Reset,
    Resumed,
    Subscribed,
    Unsubscribed,
    Viewer,
)
from libs.logs import get_logger
from libs.metrics import LIVE_REFUSALS
from services.fanout.connection import Connection
from services.fanout.feed import Feed
from services.fanout.hub import Hub
from services.fanout.replay import replay
from services.fanout.settings import FanoutSettings
from services.fanout.topics import Access, InvalidTopic, TopicKind, parse_topic
from services.fanout.wire import BadResume, Wire

__all__ = ["Credentials", "Live", "PresenceBoard"]

log = get_logger(__name__)

# Only the gateway reaches fan-out's port: it forwards a key or the session cookie, under
# whichever name its cookie policy uses.
COOKIES = (SESSION_COOKIE, DEV_SESSION_COOKIE)


class Credentials(Protocol):
    """Who presented a credential (``libs.identity.Identities``)."""

    async def resolve(self, credential: Credential) -> Identity: ...

    def on_revoked(self, identity: Identity, close: Callable[[], None]) -> Callable[[], None]: ...


class PresenceBoard(Protocol):
    """Who views which canvas, across processes (``services.fanout.presence.Presence``)."""

    async def join(self, canvas_id: str, viewer: Viewer, connection_id: str) -> None: ...

    async def leave(self, canvas_id: str, user_id: str, connection_id: str) -> None: ...

    def viewers(self, canvas_id: str) -> list[Viewer]: ...


@dataclass
class Live:
    """The process's hub and what the endpoints ask: the stream, credentials, access."""

    settings: FanoutSettings
    hub: Hub
    js: JetStreamContext
    identities: Credentials
    access: Access
    presence: PresenceBoard | None = None
    feed: Feed | None = None  # what feeds the hub (tests and logs look at it)

    # --- before a connection opens ------------------------------------------------------------

    async def authenticate(self, request: web.Request, *, upgrade: bool) -> Credential:
        """The credential the request presents; Unauthenticated without one, Forbidden for a
        cookie on a WebSocket upgrade from a foreign page (``upgrade``)."""
        credential = presented_credential(request, COOKIES, stream_token=True)
        if credential is None:
            raise Unauthenticated(
                "send an API key as 'Authorization: Bearer <key>', the session cookie, or a"
                " stream token as ?token="
            )
        if upgrade and credential.kind == "session" and not self._origin_allowed(request):
            LIVE_REFUSALS.labels("origin").inc()
            raise Forbidden("a WebSocket opened with the session cookie must come from the studio")
        return credential

    def _origin_allowed(self, request: web.Request) -> bool:
        """A browser names the page that opens a WebSocket; the cookie it sends is the user's
        whichever page that is (cross-site WebSocket hijacking). Same-origin is the origin the
        browser saw: the relaying gateway's (``X-Forwarded-Host``/``-Proto``), else ours."""
        origin = request.headers.get("Origin")
        if origin is None:
            return True  # not a browser: nothing to hijack
        parts = urlsplit(origin.strip().lower())
        seen = f"{parts.scheme}://{parts.netloc}"
        # The first of a list: the proxy nearest the browser wrote it.
        host = (request.headers.get("X-Forwarded-Host") or request.host).split(",")[0]
        scheme = (request.headers.get("X-Forwarded-Proto") or request.scheme).split(",")[0]
        own = f"{scheme.strip()}://{host.strip()}".lower()
        return seen == own or seen in self.settings.fanout_allowed_origins

    # --- while a connection lives -------------------------------------------------------------

    def attach(self, connection: Connection) -> None:
        """Open ``connection`` on the hub, held until ``hello`` is queued, and end it when its
        credential is revoked or expires."""
        hub = self.hub
        hub.open(connection)
        hub.hold(connection)
        identity = connection.identity
        connection.unwatch = self.identities.on_revoked(
            identity, lambda: hub.end(connection, CloseCode.UNAUTHENTICATED)
        )
        if identity.expires_at is not None:
            connection.expiry = asyncio.get_running_loop().call_later(
                max(0.0, identity.expires_at - time.time()),
                hub.end,
                connection,
                CloseCode.UNAUTHENTICATED,
            )

    async def detach(self, connection: Connection) -> None:
        """Forget ``connection``: its watchers, its presence, its place in the hub."""
        if connection.unwatch is not None:
            connection.unwatch()
        if connection.expiry is not None:
            connection.expiry.cancel()
        canvases = [key for key in connection.keys if key.startswith("canvas:")]
        self.hub.close(connection)
        # A draining process leaves its viewers' keys to expire: they reconnect elsewhere
        # before that, and the others see neither a leave nor a second join.
        if not self.hub.draining:
            for key in canvases:
                await self._leave(connection, key)

    def hello(self, connection: Connection) -> Hello:
        return Hello(
            connection_id=connection.id,
            user_id=connection.user_id,
            last_seq=self.hub.last_seq,
            window_ms=self.settings.fanout_window_ms,
            heartbeat_s=self.settings.fanout_heartbeat_s,
        )

    async def subscribe(self, connection: Connection, name: str) -> None:
        """Subscribe ``connection`` to the topic ``name`` if its user may read it, and tell it
        (``subscribed`` before the topic's first event, or ``refused``)."""
        if name in connection.topics:
            held = connection.topics[name]
            self.hub.send(
                connection, Subscribed(topic=name, presence=self._viewers(connection, held))
            )
            return
        if len(connection.topics) >= MAX_TOPICS:
            self._refuse(connection, name, "too_many_topics", f"at most {MAX_TOPICS} topics")
            return
        try:
            topic = parse_topic(name)
        except InvalidTopic as exc:
            self._refuse(connection, name[:200], "invalid", str(exc))
            return
        try:
            key = await self.access.key_of(connection.user_id, topic)
        except ShotgraphError as exc:
            log.warning("fanout.access_unknown", topic=name, error=str(exc))
            self._refuse(connection, name, "not_allowed", "access cannot be checked now")
            return
        if key is None:
            self._refuse(connection, name, "not_allowed", "no such topic for you")
            return
        if connection.ended is not None or connection not in self.hub.connections:
            return  # it went while access was asked
        self.hub.send(connection, Subscribed(topic=name, presence=self._viewers(connection, key)))
        self.hub.subscribe(connection, name, key)
        if topic.kind is TopicKind.CANVAS and self.presence is not None:
            await self._join(connection, topic.id)

    def _refuse(
        self,
        connection: Connection,
        name: str,
        reason: Literal["invalid", "not_allowed", "too_many_topics"],
        detail: str,
    ) -> None:
        self.hub.send(connection, Refused(topic=name, reason=reason, detail=detail))

    async def unsubscribe(
        self,
        connection: Connection,
        name: str,
        reason: Literal["requested", "access_lost"] = "requested",
    ) -> None:
        """Stop ``connection``'s topic ``name`` and tell it so."""
        key = connection.topics.get(name)
        self.hub.unsubscribe(connection, name)
        self.hub.send(connection, Unsubscribed(topic=name, reason=reason))
        if key is not None and key.startswith("canvas:") and key not in connection.keys:
            await self._leave(connection, key)

    async def resume(self, connection: Connection, after: int) -> None:
        """Replay what ``connection`` missed after ``after`` (its live events held), say how
        it went (``resumed``, ``reset``, or an ``error`` for a point the stream never had),
        then let the held live events follow."""
        try:
            outcome: Resumed | Reset | ErrorMessage = await replay(
                self.js, self.hub, connection, after
            )
        except BadResume as exc:
            outcome = ErrorMessage(code="bad_resume", detail=exc.detail)
            if connection.wire is Wire.SSE:
                # Checked before the stream opened (a 400), so the stream was made anew
                # since: the client's history is gone. SSE carries no error message.
                outcome = Reset(after=after, first_seq=exc.first_seq, last_seq=exc.last_seq)
        except BaseException:
            self.hub.release(connection)
            raise
        self.hub.send(connection, outcome)
        self.hub.release(connection)

    # --- presence -----------------------------------------------------------------------------

    def _viewers(self, connection: Connection, key: str) -> list[Viewer]:
        """Who views the canvas of ``key``, the connection's own user among them (the watch
        may not have seen their key yet), ordered as ``Presence.viewers`` orders them."""
        if self.presence is None or not key.startswith("canvas:"):
            return []
        viewers = self.presence.viewers(key.removeprefix("canvas:"))
        if all(v.user_id != connection.user_id for v in viewers):
            viewers.append(self._viewer(connection))
            viewers.sort(key=lambda viewer: (viewer.user_name.casefold(), viewer.user_id))
        return viewers

    @staticmethod
    def _viewer(connection: Connection) -> Viewer:
        return Viewer(user_id=connection.user_id, user_name=connection.identity.user_name)

    async def _join(self, connection: Connection, canvas_id: str) -> None:
        assert self.presence is not None
        try:
            await self.presence.join(canvas_id, self._viewer(connection), connection.id)
        except Exception as exc:  # presence is a nicety: its outage must not refuse the topic
            log.warning("fanout.presence_failed", canvas=canvas_id, error=repr(exc))

    async def _leave(self, connection: Connection, key: str) -> None:
        if self.presence is None:
            return
        with contextlib.suppress(Exception):
            await self.presence.leave(
                key.removeprefix("canvas:"), connection.user_id, connection.id
            )
