"""``/v1/canvases/{canvas_id}/shares``: whom a canvas is shared with, by user name or email.

The canvas service knows users by id alone; the auth service turns a name or an email a person
typed into the one user it names (``FindUser``: an exact match, letter case aside, never a
listing or a prefix search, so the studio cannot be used to learn which users exist), and ids
back into names (``GetUserNames``, one call for a whole listing). A lookup is an ordinary
write as far as rate limits go: it draws on the caller's per-user and per-key limits like any
other change.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

from aiohttp import web

from libs.downstream import Downstream
from libs.errors import InvalidArgument
from libs.web import read_json
from services.gateway.canvases import canvas_of, user_of
from services.gateway.protojson import known_fields, message_response, revalidated_response
from shotgraph.auth.v1 import auth_pb2, auth_pb2_grpc
from shotgraph.canvas.v1 import canvas_pb2, canvas_pb2_grpc

__all__ = ["ACCESS", "CanvasShares"]

# What a share grants; "none" takes it back.
ACCESS: Final = ("read", "write", "none")
MAX_USER_CHARS: Final = 254  # a name or an email, as auth takes it


class CanvasShares:
    def __init__(
        self,
        canvas: Downstream[canvas_pb2_grpc.CanvasServiceStub],
        auth: Downstream[auth_pb2_grpc.AuthServiceStub],
    ) -> None:
        self._canvas = canvas
        self._auth = auth

    def add_routes(self, app: web.Application) -> None:
        app.router.add_post("/v1/canvases/{canvas_id}/shares", self.share)
        app.router.add_get("/v1/canvases/{canvas_id}/shares", self.list)

    async def share(self, request: web.Request) -> web.Response:
        """``{"user": name or email, "access"}`` (or ``"user_id"`` for the user): the share,
        with the user's id and name."""
        body = await read_json(request)
        known_fields(body, {"user", "user_id", "access"})
        access = body.get("access")
        if access not in ACCESS:
            raise InvalidArgument(f"'access' must be one of {', '.join(ACCESS)}")
        named, user_id = body.get("user"), body.get("user_id")
        if (named is None) == (user_id is None):
            raise InvalidArgument("give one of 'user' (a user name or an email) and 'user_id'")
        user_name: str | None = None
        if named is not None:
            if not isinstance(named, str) or not 0 < len(named) <= MAX_USER_CHARS:
                raise InvalidArgument(
                    f"'user' must be a user name or an email of 1-{MAX_USER_CHARS} characters"
                )
            found: auth_pb2.UserName = await self._auth.call(
                self._auth.stub.FindUser, auth_pb2.FindUserRequest(name_or_email=named)
            )
            user_id, user_name = found.user_id, found.user_name
        elif not isinstance(user_id, str):
            raise InvalidArgument("'user_id' must be a string")
        call = canvas_pb2.ShareCanvasRequest(
            owner_id=user_of(request), canvas_id=canvas_of(request), user_id=user_id, access=access
        )
        share: canvas_pb2.Share = await self._canvas.call(self._canvas.stub.ShareCanvas, call)
        if user_name is None:
            user_name = (await self._names([share.user_id])).get(share.user_id, "")
        share.user_name = user_name
        return message_response(share)

    async def list(self, request: web.Request) -> web.Response:
        """``{"shares": [{user_id, user_name, access}]}``, for the canvas's owner."""
        call = canvas_pb2.ListSharesRequest(user_id=user_of(request), canvas_id=canvas_of(request))
        listed: canvas_pb2.ListSharesResponse = await self._canvas.call(
            self._canvas.stub.ListShares, call
        )
        names = await self._names(share.user_id for share in listed.shares)
        for share in listed.shares:
            share.user_name = names.get(share.user_id, "")  # empty: an id no user has
        return revalidated_response(request, listed)

    async def _names(self, user_ids: Iterable[str]) -> dict[str, str]:
        """The users' names by id, in one call."""
        wanted = sorted(set(user_ids))
        if not wanted:
            return {}
        reply: auth_pb2.GetUserNamesResponse = await self._auth.call(
            self._auth.stub.GetUserNames, auth_pb2.GetUserNamesRequest(user_ids=wanted)
        )
        return {user.user_id: user.user_name for user in reply.users}
