"""The AuthService gRPC API: people, their sessions and API keys, and the audit log."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import grpc
from nats.aio.client import Client
from redis.asyncio import Redis

from libs.errors import (
    Forbidden,
    InvalidArgument,
    NotFound,
    TooManyRequests,
    Unauthenticated,
    Unavailable,
)
from libs.pagination import paginate
from libs.rpc import timestamp
from services.auth.audit import Action, AuditLog, AuditRecord, ClientInfo
from services.auth.keys import (
    check_key_name,
    check_scopes,
    check_user_name,
    hash_key,
    key_prefix,
    looks_like_key,
    looks_like_token,
    new_key,
    new_token,
    token_hash,
    user_scopes,
)
from services.auth.passwords import MAX_PASSWORD, Passwords, check_new_password, hasher_for
from services.auth.sessions import SessionRecord, Sessions
from services.auth.settings import AuthSettings
from services.auth.store import AuthStore, KeyOwner, KeyRecord, UserRecord
from services.auth.stream_tokens import StreamTokenRecord, StreamTokens, looks_like_stream_token
from services.auth.throttle import LoginThrottle, ThrottlePolicy
from shotgraph.auth.v1 import auth_pb2, auth_pb2_grpc

__all__ = ["AuthServicer"]

WRONG_LOGIN = "user name or password is wrong"
NO_SUCH_USER = "no user with that name or email"
MAX_NAMES_ASKED = 500  # GetUserNames: every share of a canvas at once
MAX_NAME = 254  # a login name or an email, as given
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
MAX_ADDRESS = 64
MAX_USER_AGENT = 512
MAX_ID = 64
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_PLAN = re.compile(r"[a-z0-9][a-z0-9_-]{0,31}")


def _client(message: auth_pb2.Client) -> ClientInfo:
    if len(message.address) > MAX_ADDRESS:
        raise InvalidArgument(f"client address is longer than {MAX_ADDRESS} characters")
    return ClientInfo(message.address, message.user_agent[:MAX_USER_AGENT])


def _email(raw: str) -> str:
    if not raw:
        return ""
    if len(raw) > MAX_NAME or not _EMAIL.fullmatch(raw):
        raise InvalidArgument(f"email must look like name@example.org, at most {MAX_NAME} long")
    return raw.lower()


def _plan(raw: str) -> str:
    if not raw:
        return "standard"
    if not _PLAN.fullmatch(raw):
        raise InvalidArgument("plan must be 1-32 lowercase letters, digits, '_' or '-'")
    return raw


def _id(raw: str, what: str) -> str:
    if not raw or len(raw) > MAX_ID:
        raise InvalidArgument(f"{what} must be given, at most {MAX_ID} characters")
    return raw


def _epoch(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def _user(record: UserRecord) -> auth_pb2.User:
    return auth_pb2.User(
        user_id=record.id,
        user_name=record.name,
        email=record.email,
        is_admin=record.is_admin,
        plan=record.plan,
        created_at=timestamp(record.created_at),
    )


def _key(record: KeyRecord) -> auth_pb2.ApiKey:
    message = auth_pb2.ApiKey(
        key_id=record.id,
        name=record.name,
        prefix=record.prefix,
        scopes=record.scopes,
        created_at=timestamp(record.created_at),
    )
    for name in ("last_used_at", "expires_at", "revoked_at"):
        moment: datetime | None = getattr(record, name)
        if moment is not None:
            getattr(message, name).CopyFrom(timestamp(moment))
    return message


def _session_info(record: SessionRecord, current: str = "") -> auth_pb2.SessionInfo:
    return auth_pb2.SessionInfo(
        session_id=record.id,
        created_at=timestamp(_epoch(record.created)),
        last_seen_at=timestamp(_epoch(record.last_seen)),
        idle_expires_at=timestamp(_epoch(record.idle_expires)),
        expires_at=timestamp(_epoch(record.expires)),
        client=auth_pb2.Client(address=record.client.address, user_agent=record.client.user_agent),
        current=bool(current) and record.id == current,
    )


def _session_identity(record: SessionRecord) -> auth_pb2.Identity:
    return auth_pb2.Identity(
        user_id=record.user_id,
        user_name=record.user_name,
        credential_kind="session",
        credential_id=record.id,
        scopes=sorted(user_scopes(record.is_admin)),
        plan=record.plan,
        expires_at=timestamp(_epoch(record.idle_expires)),
    )


def _key_identity(owner: KeyOwner) -> auth_pb2.Identity:
    identity = auth_pb2.Identity(
        user_id=owner.user_id,
        user_name=owner.user_name,
        credential_kind="key",
        credential_id=owner.key_id,
        # A key never does more than its user may today (an admin who is one no more).
        scopes=[s for s in owner.scopes if s in user_scopes(owner.is_admin)],
        plan=owner.plan,
    )
    if owner.expires_at is not None:
        identity.expires_at.CopyFrom(timestamp(owner.expires_at))
    return identity


def _audit_event(record: AuditRecord) -> auth_pb2.AuditEvent:
    return auth_pb2.AuditEvent(
        event_id=record.id,
        at=timestamp(record.created_at),
        action=record.action,
        user_id=record.user_id,
        user_name=record.user_name,
        client=auth_pb2.Client(address=record.client.address, user_agent=record.client.user_agent),
        subject_id=record.subject_id,
    )


def _credential_name(record: StreamTokenRecord) -> str:
    return "session" if record.credential_kind == "session" else "API key"


class AuthServicer(auth_pb2_grpc.AuthServiceServicer):
    """Keys live in Postgres and keep working without Redis; sessions and login throttling live
    in Redis (``redis``), and without it their RPCs answer UNAVAILABLE. Revocations are
    announced on ``nats`` when given."""

    def __init__(
        self,
        store: AuthStore,
        *,
        settings: AuthSettings | None = None,
        redis: Redis | None = None,
        nats: Client | None = None,
        passwords: Passwords | None = None,
    ) -> None:
        from services.auth.revocations import Revocations

        self._settings = settings = settings or AuthSettings()
        self.store = self._store = store
        self._audit = AuditLog(store.pool)
        self._passwords = passwords or Passwords(hasher_for(settings), settings.password_threads)
        self._revocations = Revocations(nats)
        self._sessions: Sessions | None = None
        self._throttle: LoginThrottle | None = None
        self._stream_tokens: StreamTokens | None = None
        if redis is not None:
            self._stream_tokens = StreamTokens(redis, valid_s=settings.stream_token_valid_s)
            self._sessions = Sessions(
                redis,
                idle_s=settings.session_idle_s,
                absolute_s=settings.session_absolute_s,
                touch_s=settings.session_touch_s,
            )
            self._throttle = LoginThrottle(
                redis,
                ThrottlePolicy(
                    window_s=settings.login_window_s,
                    account_failures=settings.login_account_failures,
                    address_failures=settings.login_address_failures,
                    max_delay_s=settings.login_max_delay_s,
                ),
            )

    @property
    def sessions(self) -> Sessions:
        if self._sessions is None:
            raise Unavailable("sessions are unavailable: no session store (Redis) is configured")
        return self._sessions

    @property
    def throttle(self) -> LoginThrottle:
        if self._throttle is None:
            raise Unavailable("sign-in is unavailable: no session store (Redis) is configured")
        return self._throttle

    @property
    def stream_tokens(self) -> StreamTokens:
        if self._stream_tokens is None:
            raise Unavailable(
                "stream tokens are unavailable: no session store (Redis) is configured"
            )
        return self._stream_tokens

    # --- API keys ------------------------------------------------------------------------

    async def CreateApiKey(
        self, request: auth_pb2.CreateApiKeyRequest, context: grpc.aio.ServicerContext
    ) -> auth_pb2.CreateApiKeyResponse:
        return await self.create_api_key(request)

    async def create_api_key(
        self, request: auth_pb2.CreateApiKeyRequest
    ) -> auth_pb2.CreateApiKeyResponse:
        """CreateApiKey, also for the command line."""
        key_name = check_key_name(request.key_name or "default")
        client = _client(request.client)
        expires_at = None
        if request.HasField("expires_at"):
            expires_at = request.expires_at.ToDatetime(tzinfo=UTC)
            if expires_at <= datetime.now(UTC):
                raise InvalidArgument("expires_at is in the past")
        key = new_key()
        if request.user_id:
            user = await self._store.user_by_id(_id(request.user_id, "user id"))
            if user is None:
                raise NotFound("no user has that id")
            scopes = check_scopes(request.scopes, is_admin=user.is_admin)
            owner = await self._store.create_key_for(
                user,
                key_name,
                hash_key(key),
                prefix=key_prefix(key),
                scopes=scopes,
                expires_at=expires_at,
            )
        else:
            user_name = check_user_name(request.user_name)
            existing = await self._store.user_by_name(user_name)
            scopes = check_scopes(request.scopes, is_admin=bool(existing and existing.is_admin))
            owner = await self._store.create_key(
                user_name,
                key_name,
                hash_key(key),
                prefix=key_prefix(key),
                scopes=scopes,
                expires_at=expires_at,
            )
        await self._audit.record(
            "key.created",
            client,
            user_id=owner.user_id,
            user_name=owner.user_name,
            subject_id=owner.key_id,
        )
        return auth_pb2.CreateApiKeyResponse(
            user_id=owner.user_id,
            key_id=owner.key_id,
            key=key,
            info=_key(await self._store.key(owner.key_id)),
        )

    async def VerifyApiKey(
        self, request: auth_pb2.VerifyApiKeyRequest, context: grpc.aio.ServicerContext
    ) -> auth_pb2.VerifyApiKeyResponse:
        if not looks_like_key(request.key):
            raise Unauthenticated("API key is malformed")
        owner = await self._store.find_key(
            hash_key(request.key), touch_after_s=self._settings.key_touch_s
        )
        if owner is None:
            raise Unauthenticated("API key is unknown, revoked or expired")
        return auth_pb2.VerifyApiKeyResponse(
            user_id=owner.user_id,
            key_id=owner.key_id,
            user_name=owner.user_name,
            identity=_key_identity(owner),
        )

    async def ListApiKeys(
        self, request: auth_pb2.ListApiKeysRequest, context: grpc.aio.ServicerContext
    ) -> auth_pb2.ListApiKeysResponse:
        user_id = _id(request.user_id, "user id")
        keys, token = await paginate(
            lambda limit, after: self._store.list_keys(user_id, limit, after),
            request.page_size,
            request.page_token,
        )
        return auth_pb2.ListApiKeysResponse(keys=[_key(k) for k in keys], next_page_token=token)

    async def RevokeApiKey(
        self, request: auth_pb2.RevokeApiKeyRequest, context: grpc.aio.ServicerContext
    ) -> auth_pb2.RevokeApiKeyResponse:
        user_id = _id(request.user_id, "user id")
        key_id = _id(request.key_id, "key id")
        client = _client(request.client)
        if await self._store.revoke_key(user_id, key_id):
            await self._revocations.announce(user_id, "key", [key_id])
            await self._audit.record("key.revoked", client, user_id=user_id, subject_id=key_id)
        return auth_pb2.RevokeApiKeyResponse()

    # --- people ----------------------------------------------------------------------------

    async def CreateUser(
        self, request: auth_pb2.CreateUserRequest, context: grpc.aio.ServicerContext
    ) -> auth_pb2.CreateUserResponse:
        return await self.create_user(request)

    async def create_user(self, request: auth_pb2.CreateUserRequest) -> auth_pb2.CreateUserResponse:
        """CreateUser, also for the command line."""
        name = check_user_name(request.user_name)
        password = check_new_password(request.password, name)
        email, plan = _email(request.email), _plan(request.plan)
        user = await self._store.create_user(
            name, await self._passwords.hash(password), email=email,
            is_admin=request.is_admin, plan=plan,
        )  # fmt: skip
        await self._audit.record("user.created", ClientInfo(), user_id=user.id, user_name=name)
        return auth_pb2.CreateUserResponse(user=_user(user))

    async def FindUser(
        self, request: auth_pb2.FindUserRequest, context: grpc.aio.ServicerContext
    ) -> auth_pb2.UserName:
        wanted = request.name_or_email.strip()
        if not wanted or len(wanted) > MAX_NAME:
            raise InvalidArgument(f"a user name or an email is 1-{MAX_NAME} characters")
        if _CONTROL.search(wanted):
            raise InvalidArgument("a user name or an email has no control characters")
        user = await self._store.user_by_name_or_email(wanted)
        if user is None:
            raise NotFound(NO_SUCH_USER)
        return auth_pb2.UserName(user_id=user.id, user_name=user.name)

    async def GetUserNames(
        self, request: auth_pb2.GetUserNamesRequest, context: grpc.aio.ServicerContext
    ) -> auth_pb2.GetUserNamesResponse:
        if len(request.user_ids) > MAX_NAMES_ASKED:
            raise InvalidArgument(f"at most {MAX_NAMES_ASKED} user ids at once")
        names = await self._store.user_names(request.user_ids)
        return auth_pb2.GetUserNamesResponse(
            users=[auth_pb2.UserName(user_id=i, user_name=n) for i, n in names.items()]
        )

    async def CreateInvite(
        self, request: auth_pb2.CreateInviteRequest, context: grpc.aio.ServicerContext
    ) -> auth_pb2.CreateInviteResponse:
        return await self.create_invite(request)

    async def create_invite(
        self, request: auth_pb2.CreateInviteRequest
    ) -> auth_pb2.CreateInviteResponse:
        """CreateInvite, also for the command line."""
        created_by = _id(request.created_by, "created_by")
        client = _client(request.client)
        valid_for_s = float(request.valid_for_s) or self._settings.invite_valid_s
        if not 0 < valid_for_s <= self._settings.invite_max_valid_s:
            raise InvalidArgument(
                f"valid_for_s must be between 1 and {int(self._settings.invite_max_valid_s)}"
            )
        token = new_token()
        invite = await self._store.create_invite(
            created_by,
            hash_key(token),
            email=_email(request.email),
            is_admin=request.is_admin,
            plan=_plan(request.plan),
            valid_for_s=valid_for_s,
        )
        await self._audit.record("invite.created", client, user_id=created_by, subject_id=invite.id)
        return auth_pb2.CreateInviteResponse(
            invite_id=invite.id, token=token, expires_at=timestamp(invite.expires_at)
        )

    async def AcceptInvite(
        self, request: auth_pb2.AcceptInviteRequest, context: grpc.aio.ServicerContext
    ) -> auth_pb2.Session:
        client = _client(request.client)
        name = check_user_name(request.user_name)
        password = check_new_password(request.password, name)
        token_hash = hash_key(request.token)
        if not looks_like_token(request.token) or not await self._store.invite_is_open(token_hash):
            raise Forbidden("the invitation is unknown, used or expired")
        sessions = self.sessions  # before the invitation is spent
        # Still atomic: an invitation spent meanwhile is refused here.
        accepted = await self._store.accept_invite(
            token_hash, name, await self._passwords.hash(password)
        )
        user = accepted.user
        await self._audit.record(
            "invite.accepted", client, user_id=user.id, user_name=name,
            subject_id=accepted.invite_id,
        )  # fmt: skip
        await self._audit.record("user.created", client, user_id=user.id, user_name=name)
        return await self._sign_in(sessions, user, client)

    # --- sessions ------------------------------------------------------------------------

    async def Login(
        self, request: auth_pb2.LoginRequest, context: grpc.aio.ServicerContext
    ) -> auth_pb2.Session:
        client = _client(request.client)
        name = request.user_name
        if len(name) > MAX_NAME:
            raise InvalidArgument(f"user name is longer than {MAX_NAME} characters")
        if _CONTROL.search(name):  # no name has one, and Postgres text cannot hold a NUL
            raise InvalidArgument("user name must not contain control characters")
        if len(request.password) > MAX_PASSWORD:
            raise InvalidArgument(f"password is longer than {MAX_PASSWORD} characters")
        sessions, throttle = self.sessions, self.throttle
        wait = await throttle.retry_after(name, client.address)
        if wait > 0:
            await self._audit.record("login.throttled", client, user_name=name)
            raise TooManyRequests("too many failed sign-ins; try again later", retry_after=wait)
        # An unknown name, a user without a password and a wrong password take the same path:
        # one argon2 verification, one failure counted, one answer.
        user = await self._store.user_by_name(name)
        stored = user.password_hash if user is not None else None
        right = await self._passwords.verify(stored, request.password)
        if not right or user is None or stored is None:
            await throttle.failed(name, client.address)
            await self._audit.record(
                "login.failed", client, user_id=user.id if user else "", user_name=name
            )
            raise Unauthenticated(WRONG_LOGIN)
        await throttle.succeeded(name)
        if self._passwords.needs_rehash(stored):
            rehashed = await self._passwords.hash(request.password)
            await self._store.set_password(user.id, rehashed, changed=False)
        return await self._sign_in(sessions, user, client)

    async def _sign_in(
        self, sessions: Sessions, user: UserRecord, client: ClientInfo
    ) -> auth_pb2.Session:
        token, record = await sessions.create(
            user.id, user.name, is_admin=user.is_admin, plan=user.plan, client=client
        )
        await self._audit.record(
            "login.succeeded", client, user_id=user.id, user_name=user.name, subject_id=record.id
        )
        return auth_pb2.Session(
            token=token, identity=_session_identity(record), info=_session_info(record)
        )

    async def Logout(
        self, request: auth_pb2.LogoutRequest, context: grpc.aio.ServicerContext
    ) -> auth_pb2.LogoutResponse:
        client = _client(request.client)
        if not looks_like_token(request.token):
            return auth_pb2.LogoutResponse()  # no session has such a token
        record = await self.sessions.end(request.token)
        if record is not None:
            await self._revocations.announce(record.user_id, "session", [record.id])
            await self._audit.record(
                "logout", client, user_id=record.user_id, user_name=record.user_name,
                subject_id=record.id,
            )  # fmt: skip
        return auth_pb2.LogoutResponse()

    async def VerifySession(
        self, request: auth_pb2.VerifySessionRequest, context: grpc.aio.ServicerContext
    ) -> auth_pb2.Identity:
        if not looks_like_token(request.token):
            raise Unauthenticated("session token is malformed")
        record = await self.sessions.verify(request.token)
        if record is None:
            raise Unauthenticated("session is unknown, ended or expired")
        return _session_identity(record)

    async def ChangePassword(
        self, request: auth_pb2.ChangePasswordRequest, context: grpc.aio.ServicerContext
    ) -> auth_pb2.ChangePasswordResponse:
        user_id = _id(request.user_id, "user id")
        session_id = _id(request.session_id, "session id")
        client = _client(request.client)
        if len(request.current_password) > MAX_PASSWORD:
            raise InvalidArgument(f"password is longer than {MAX_PASSWORD} characters")
        sessions, throttle = self.sessions, self.throttle
        user = await self._store.user_by_id(user_id)
        if user is None:
            raise NotFound("no user has that id")
        new_password = check_new_password(request.new_password, user.name)
        wait = await throttle.retry_after(user.name, client.address)
        if wait > 0:
            await self._audit.record(
                "login.throttled", client, user_id=user.id, user_name=user.name
            )
            raise TooManyRequests("too many failed attempts; try again later", retry_after=wait)
        stored = user.password_hash
        if not await self._passwords.verify(stored, request.current_password) or stored is None:
            await throttle.failed(user.name, client.address)
            await self._audit.record("login.failed", client, user_id=user.id, user_name=user.name)
            raise Unauthenticated("the current password is wrong")
        await throttle.succeeded(user.name)
        await self._store.set_password(user.id, await self._passwords.hash(new_password))
        revoked = await sessions.revoke_all_but(user.id, session_id)
        await self._revocations.announce(user.id, "session", revoked)
        await self._audit.record(
            "password.changed", client, user_id=user.id, user_name=user.name,
            subject_id=session_id,
        )  # fmt: skip
        await self._record_revoked(user.id, revoked, client)
        return auth_pb2.ChangePasswordResponse(sessions_revoked=len(revoked))

    async def ListSessions(
        self, request: auth_pb2.ListSessionsRequest, context: grpc.aio.ServicerContext
    ) -> auth_pb2.ListSessionsResponse:
        user_id = _id(request.user_id, "user id")
        records = await self.sessions.of_user(user_id)
        return auth_pb2.ListSessionsResponse(
            sessions=[_session_info(r, request.session_id) for r in records]
        )

    async def RevokeSessions(
        self, request: auth_pb2.RevokeSessionsRequest, context: grpc.aio.ServicerContext
    ) -> auth_pb2.RevokeSessionsResponse:
        user_id = _id(request.user_id, "user id")
        # A caller with a key has no session of its own to keep: "all but none" is every one.
        keeping_none = request.all_but and not request.session_id
        session_id = "" if keeping_none else _id(request.session_id, "session id")
        client = _client(request.client)
        if request.all_but:
            revoked = await self.sessions.revoke_all_but(user_id, session_id)
        else:
            revoked = await self.sessions.revoke(user_id, [session_id])
            if not revoked:
                raise NotFound("the user has no such session")
        await self._revocations.announce(user_id, "session", revoked)
        await self._record_revoked(user_id, revoked, client)
        return auth_pb2.RevokeSessionsResponse(sessions_revoked=len(revoked))

    async def _record_revoked(self, user_id: str, revoked: list[str], client: ClientInfo) -> None:
        action: Action = "session.revoked"
        for session_id in revoked:
            await self._audit.record(action, client, user_id=user_id, subject_id=session_id)

    # --- stream tokens ----------------------------------------------------------------------

    async def CreateStreamToken(
        self, request: auth_pb2.CreateStreamTokenRequest, context: grpc.aio.ServicerContext
    ) -> auth_pb2.CreateStreamTokenResponse:
        client = _client(request.client)
        tokens = self.stream_tokens
        which = request.WhichOneof("credential")
        if which == "session_token":
            if not looks_like_token(request.session_token):
                raise Unauthenticated("session token is malformed")
            record = StreamTokenRecord("session", token_hash(request.session_token))
        elif which == "api_key":
            if not looks_like_key(request.api_key):
                raise Unauthenticated("API key is malformed")
            record = StreamTokenRecord("key", token_hash(request.api_key))
        else:
            raise InvalidArgument("give the session token or the API key that asks")
        identity = await self._identity_of(record)
        if identity is None:
            raise Unauthenticated(f"{_credential_name(record)} is unknown, revoked or expired")
        token, expires_at = await tokens.create(record)
        await self._audit.record(
            "stream_token.created", client, user_id=identity.user_id,
            user_name=identity.user_name, subject_id=identity.credential_id,
        )  # fmt: skip
        return auth_pb2.CreateStreamTokenResponse(
            token=token, expires_at=timestamp(_epoch(expires_at)), identity=identity
        )

    async def VerifyStreamToken(
        self, request: auth_pb2.VerifyStreamTokenRequest, context: grpc.aio.ServicerContext
    ) -> auth_pb2.Identity:
        if not looks_like_stream_token(request.token):
            raise Unauthenticated("stream token is malformed")
        record = await self.stream_tokens.find(request.token)
        if record is None:
            raise Unauthenticated("stream token is unknown or expired; ask for a new one")
        identity = await self._identity_of(record)
        if identity is None:
            raise Unauthenticated(
                f"the {_credential_name(record)} this stream token stands for was revoked or"
                " has expired"
            )
        return identity

    async def _identity_of(self, record: StreamTokenRecord) -> auth_pb2.Identity | None:
        """The identity of the credential a stream token stands for, if it is still live."""
        if record.credential_kind == "session":
            session = await self.sessions.live(record.credential_hash)
            return _session_identity(session) if session is not None else None
        owner = await self._store.find_key(
            bytes.fromhex(record.credential_hash), touch_after_s=self._settings.key_touch_s
        )
        return _key_identity(owner) if owner is not None else None

    # --- audit log -------------------------------------------------------------------------

    async def ListAuditEvents(
        self, request: auth_pb2.ListAuditEventsRequest, context: grpc.aio.ServicerContext
    ) -> auth_pb2.ListAuditEventsResponse:
        user_id: str | None = None
        if not request.all_users:
            user = await self._store.user_by_id(_id(request.user_id, "user id"))
            if user is None:
                raise NotFound("no user has that id")
            user_id = user.id
        events, token = await paginate(
            lambda limit, after: self._audit.list_events(user_id, limit, after),
            request.page_size,
            request.page_token,
        )
        return auth_pb2.ListAuditEventsResponse(
            events=[_audit_event(e) for e in events], next_page_token=token
        )
