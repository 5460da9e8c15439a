"""Signing in and out, sign-up by invitation, passwords, sessions, API keys and the audit log:
the auth service's API as the browser and programs see it.

The session token travels only in its ``HttpOnly`` cookie, never in a body; what a response
shows once (a new key, an invitation, a CSRF token) is a ``secret_response``.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web
from google.protobuf.timestamp_pb2 import Timestamp

from libs.downstream import Downstream
from libs.errors import Forbidden, InvalidArgument
from libs.identity import SCOPES, Identities, Identity, identity_of
from libs.web import read_json
from services.gateway.auth import IDENTITY, PRESENTED
from services.gateway.csrf import CsrfGuard
from services.gateway.protojson import known_fields, message_json, query_int
from services.gateway.secret import secret_response
from shotgraph.auth.v1 import auth_pb2, auth_pb2_grpc

__all__ = ["Accounts", "CookiePolicy"]

_MAX_KEY_DAYS = 3650


class CookiePolicy:
    """The session and CSRF cookies: ``__Host-`` and ``Secure`` unless plain HTTP on loopback
    was allowed explicitly for development."""

    def __init__(self, *, session: str, csrf: str, dev_http: bool) -> None:
        self.session = session
        self.csrf = csrf
        self.dev_http = dev_http

    def set(self, response: web.StreamResponse, session: auth_pb2.Session, csrf: str) -> None:
        max_age = max(0, int(session.info.expires_at.ToSeconds() - datetime.now(UTC).timestamp()))
        response.set_cookie(
            self.session,
            session.token,
            path="/",
            max_age=max_age,
            secure=not self.dev_http,
            httponly=True,
            samesite="Lax",
        )
        self.set_csrf(response, csrf, max_age)

    def set_csrf(self, response: web.StreamResponse, csrf: str, max_age: int) -> None:
        # Readable by the page's script (it sends it back in a header); Strict: never sent
        # cross-site at all.
        response.set_cookie(
            self.csrf,
            csrf,
            path="/",
            max_age=max_age,
            secure=not self.dev_http,
            httponly=False,
            samesite="Strict",
        )

    def clear(self, response: web.StreamResponse) -> None:
        for name in (self.session, self.csrf):
            response.del_cookie(name, path="/", secure=not self.dev_http)


def _client(request: web.Request) -> auth_pb2.Client:
    return auth_pb2.Client(
        address=(request.remote or "")[:64],
        user_agent=request.headers.get("User-Agent", "")[:512],
    )


def _string(body: dict[str, Any], name: str, *, required: bool = True, limit: int = 256) -> str:
    value = body.get(name, "")
    if not isinstance(value, str) or (required and not value):
        raise InvalidArgument(f"'{name}' must be a non-empty string")
    if len(value) > limit:
        raise InvalidArgument(f"'{name}' is longer than {limit} characters")
    return value


def _identity_json(identity: Identity) -> dict[str, Any]:
    expires = identity.expires_at
    return {
        "user_id": identity.user_id,
        "user_name": identity.user_name,
        "credential_kind": identity.credential_kind,
        "credential_id": identity.credential_id,
        "scopes": sorted(identity.scopes),
        "plan": identity.plan,
        "expires_at": None
        if expires is None
        else datetime.fromtimestamp(expires, UTC).isoformat().replace("+00:00", "Z"),
    }


def _key_expiry(body: dict[str, Any]) -> Timestamp | None:
    """``expires_in_days`` (1..3650) or none: the key lives until revoked."""
    days = body.get("expires_in_days")
    if days is None:
        return None
    if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= _MAX_KEY_DAYS:
        raise InvalidArgument(f"'expires_in_days' must be a whole number from 1 to {_MAX_KEY_DAYS}")
    stamp = Timestamp()
    stamp.FromDatetime(datetime.now(UTC) + timedelta(days=days))
    return stamp


class Accounts:
    def __init__(
        self,
        auth: Downstream[auth_pb2_grpc.AuthServiceStub],
        identities: Identities,
        csrf: CsrfGuard,
        cookies: CookiePolicy,
    ) -> None:
        self._auth = auth
        self._identities = identities
        self._csrf = csrf
        self._cookies = cookies

    def add_routes(self, app: web.Application) -> None:
        add = app.router
        add.add_post("/v1/auth/login", self.login)
        add.add_post("/v1/auth/logout", self.logout)
        add.add_get("/v1/auth/session", self.session)
        add.add_post("/v1/auth/password", self.change_password)
        add.add_get("/v1/sessions", self.sessions)
        add.add_delete("/v1/sessions", self.sign_out_elsewhere)
        add.add_delete("/v1/sessions/{session_id}", self.end_session)
        add.add_get("/v1/keys", self.keys)
        add.add_post("/v1/keys", self.create_key)
        add.add_delete("/v1/keys/{key_id}", self.revoke_key)
        add.add_post("/v1/invites", self.invite)
        add.add_post("/v1/invites/accept", self.accept_invite)
        add.add_get("/v1/audit", self.audit)
        add.add_post("/v1/events/tokens", self.stream_token)

    def _require_https(self, request: web.Request) -> None:
        if not request.secure and not self._cookies.dev_http:
            raise Forbidden("sign in over HTTPS: the session cookie is never sent in the clear")

    def _signed_in(self, request: web.Request, session: auth_pb2.Session) -> web.Response:
        identity = identity_of(session.identity)
        csrf = self._csrf.issue(identity.credential_id)
        body = {
            "identity": _identity_json(identity),
            "session": message_json(session.info),
            "csrf_token": csrf,
        }
        response = secret_response(body, status=201 if request.path.endswith("accept") else 200)
        self._cookies.set(response, session, csrf)
        return response

    async def login(self, request: web.Request) -> web.Response:
        """``{"user_name", "password"}``: a new session in the cookie; one answer (401) for an
        unknown name and a wrong password; 429 while the name or the address is throttled."""
        self._require_https(request)
        body = await read_json(request)
        known_fields(body, {"user_name", "password"})
        call = auth_pb2.LoginRequest(
            user_name=_string(body, "user_name", limit=63),
            password=_string(body, "password"),
            client=_client(request),
        )
        return self._signed_in(request, await self._auth.call(self._auth.stub.Login, call))

    async def accept_invite(self, request: web.Request) -> web.Response:
        """``{"token", "user_name", "password"}``: the account is made and signed in."""
        self._require_https(request)
        body = await read_json(request)
        known_fields(body, {"token", "user_name", "password"})
        call = auth_pb2.AcceptInviteRequest(
            token=_string(body, "token"),
            user_name=_string(body, "user_name", limit=63),
            password=_string(body, "password"),
            client=_client(request),
        )
        return self._signed_in(request, await self._auth.call(self._auth.stub.AcceptInvite, call))

    async def logout(self, request: web.Request) -> web.Response:
        identity = request[IDENTITY]
        response = web.Response(status=204)
        if identity.credential_kind == "session":
            await self._auth.call(
                self._auth.stub.Logout,
                auth_pb2.LogoutRequest(
                    token=request.cookies.get(self._cookies.session, ""), client=_client(request)
                ),
            )
            self._identities.revoke(identity.credential_id)
        self._cookies.clear(response)
        return response

    async def session(self, request: web.Request) -> web.Response:
        """Who is signed in, and (for a session) its CSRF token, also set as its cookie."""
        identity = request[IDENTITY]
        body: dict[str, Any] = {"identity": _identity_json(identity)}
        if identity.credential_kind != "session":
            return secret_response(body)
        body["csrf_token"] = self._csrf.token_for(request, identity.credential_id)
        response = secret_response(body)
        expires = identity.expires_at or 0
        max_age = max(0, int(expires - datetime.now(UTC).timestamp()))
        self._cookies.set_csrf(response, body["csrf_token"], max_age)
        return response

    async def change_password(self, request: web.Request) -> web.Response:
        """``{"current_password", "new_password"}``; every other session ends."""
        identity = request[IDENTITY]
        if identity.credential_kind != "session":
            raise Forbidden("a password is changed from a signed-in session, not with a key")
        body = await read_json(request)
        known_fields(body, {"current_password", "new_password"})
        changed: auth_pb2.ChangePasswordResponse = await self._auth.call(
            self._auth.stub.ChangePassword,
            auth_pb2.ChangePasswordRequest(
                user_id=identity.user_id,
                current_password=_string(body, "current_password"),
                new_password=_string(body, "new_password"),
                session_id=identity.credential_id,
                client=_client(request),
            ),
        )
        return web.json_response({"sessions_revoked": changed.sessions_revoked})

    async def sessions(self, request: web.Request) -> web.Response:
        identity = request[IDENTITY]
        listed: auth_pb2.ListSessionsResponse = await self._auth.call(
            self._auth.stub.ListSessions,
            auth_pb2.ListSessionsRequest(
                user_id=identity.user_id,
                session_id=identity.credential_id if identity.credential_kind == "session" else "",
            ),
        )
        return web.json_response(message_json(listed))

    async def sign_out_elsewhere(self, request: web.Request) -> web.Response:
        """Every session but the one asking ("sign out everywhere else")."""
        identity = request[IDENTITY]
        current = identity.credential_id if identity.credential_kind == "session" else ""
        return await self._revoke_sessions(request, current, all_but=True)

    async def end_session(self, request: web.Request) -> web.Response:
        return await self._revoke_sessions(
            request, request.match_info["session_id"][:64], all_but=False
        )

    async def _revoke_sessions(
        self, request: web.Request, session_id: str, *, all_but: bool
    ) -> web.Response:
        identity = request[IDENTITY]
        revoked: auth_pb2.RevokeSessionsResponse = await self._auth.call(
            self._auth.stub.RevokeSessions,
            auth_pb2.RevokeSessionsRequest(
                user_id=identity.user_id,
                session_id=session_id,
                all_but=all_but,
                client=_client(request),
            ),
        )
        return web.json_response({"sessions_revoked": revoked.sessions_revoked})

    async def keys(self, request: web.Request) -> web.Response:
        listed = await self._auth.call(
            self._auth.stub.ListApiKeys,
            auth_pb2.ListApiKeysRequest(
                user_id=request[IDENTITY].user_id,
                page_size=query_int(request, "limit"),
                page_token=request.query.get("cursor", "")[:512],
            ),
        )
        return web.json_response(message_json(listed))

    async def create_key(self, request: web.Request) -> web.Response:
        """``{"name", "scopes"?, "expires_in_days"?}``: the key is in this answer and never
        again."""
        body = await read_json(request)
        known_fields(body, {"name", "scopes", "expires_in_days"})
        scopes = body.get("scopes", ["read", "write"])
        if (
            not isinstance(scopes, list)
            or not scopes
            or not all(isinstance(s, str) and s in SCOPES for s in scopes)
        ):
            raise InvalidArgument(f"'scopes' must be a non-empty list of {', '.join(SCOPES)}")
        call = auth_pb2.CreateApiKeyRequest(
            user_id=request[IDENTITY].user_id,
            key_name=_string(body, "name", limit=100),
            scopes=sorted(set(scopes)),
            client=_client(request),
        )
        expires = _key_expiry(body)
        if expires is not None:
            call.expires_at.CopyFrom(expires)
        created: auth_pb2.CreateApiKeyResponse = await self._auth.call(
            self._auth.stub.CreateApiKey, call
        )
        return secret_response({"key": created.key, **message_json(created.info)}, status=201)

    async def revoke_key(self, request: web.Request) -> web.Response:
        key_id = request.match_info["key_id"][:64]
        await self._auth.call(
            self._auth.stub.RevokeApiKey,
            auth_pb2.RevokeApiKeyRequest(
                user_id=request[IDENTITY].user_id, key_id=key_id, client=_client(request)
            ),
        )
        self._identities.revoke(key_id)  # this worker at once; the others on the event
        return web.Response(status=204)

    async def invite(self, request: web.Request) -> web.Response:
        """``{"email"?, "is_admin"?, "plan"?, "valid_for_s"?}`` (admins): the invitation's token
        is in this answer and never again."""
        body = await read_json(request)
        known_fields(body, {"email", "is_admin", "plan", "valid_for_s"})
        is_admin, valid_for = body.get("is_admin", False), body.get("valid_for_s", 0)
        if not isinstance(is_admin, bool):
            raise InvalidArgument("'is_admin' must be a boolean")
        if isinstance(valid_for, bool) or not isinstance(valid_for, int) or valid_for < 0:
            raise InvalidArgument("'valid_for_s' must be a non-negative whole number")
        created: auth_pb2.CreateInviteResponse = await self._auth.call(
            self._auth.stub.CreateInvite,
            auth_pb2.CreateInviteRequest(
                created_by=request[IDENTITY].user_id,
                email=_string(body, "email", required=False, limit=254),
                is_admin=is_admin,
                plan=_string(body, "plan", required=False, limit=32),
                valid_for_s=min(valid_for, 2**31 - 1),
                client=_client(request),
            ),
        )
        return secret_response(message_json(created), status=201)

    async def audit(self, request: web.Request) -> web.Response:
        """The caller's own entries; ``?all=true`` everyone's, for admins."""
        identity = request[IDENTITY]
        everyone = request.query.get("all", "") == "true"
        if everyone and "admin" not in identity.scopes:
            raise Forbidden("everyone's audit log needs the 'admin' scope")
        listed = await self._auth.call(
            self._auth.stub.ListAuditEvents,
            auth_pb2.ListAuditEventsRequest(
                user_id=identity.user_id,
                all_users=everyone,
                page_size=query_int(request, "limit"),
                page_token=request.query.get("cursor", "")[:512],
            ),
        )
        return web.json_response(message_json(listed))

    async def stream_token(self, request: web.Request) -> web.Response:
        """A token that opens live connections for a minute (``?token=`` on ``/v1/events``
        and ``/v1/ws``, where a browser cannot set a header); what it opens lives as long as
        the session or key that asked, and ends when that is revoked."""
        credential = request[PRESENTED]
        call = auth_pb2.CreateStreamTokenRequest(client=_client(request))
        if credential.kind == "session":
            call.session_token = credential.secret
        else:  # a stream token is no credential on this route: this is a key
            call.api_key = credential.secret
        created: auth_pb2.CreateStreamTokenResponse = await self._auth.call(
            self._auth.stub.CreateStreamToken, call
        )
        return secret_response({"token": created.token, "expires_at": created.expires_at.seconds})
