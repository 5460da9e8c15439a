"""Start the auth service, or act on its store from the command line::

python -m services.auth create-user --name NAME [--email E] [--admin]   # password on stdin
python -m services.auth create-invite --by ADMIN_NAME [--email E] [--admin]
python -m services.auth create-key --user NAME [--name LABEL] [--scopes read,write]
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import os
import sys
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from typing import TYPE_CHECKING

from libs.errors import NotFound, ShotgraphError
from libs.runner import main
from services.auth.settings import AuthSettings
from shotgraph.auth.v1 import auth_pb2

if TYPE_CHECKING:
    from services.auth.handlers import AuthServicer

Command = Callable[["AuthServicer"], Awaitable[str]]


async def _on_store(command: Command, settings: AuthSettings) -> str:
    """``command`` on the servicer itself (same checks, same audit log), Postgres only."""
    from libs.backends import open_database
    from services.auth.app import MIGRATIONS
    from services.auth.handlers import AuthServicer
    from services.auth.passwords import Passwords, hasher_for
    from services.auth.store import AuthStore

    async with AsyncExitStack() as stack:
        pool, _ = await open_database(settings, stack, "auth", MIGRATIONS)
        passwords = Passwords(hasher_for(settings), threads=1)
        stack.callback(passwords.close)
        return await command(AuthServicer(AuthStore(pool), settings=settings, passwords=passwords))


def _run(command: Command) -> None:
    """Run ``command`` on the store (the dev stack's when no URLs are set) and print its answer."""
    settings = AuthSettings.from_env()
    stack = None
    if settings.uses_devstack:
        from libs.devstack import DevStack

        stack = DevStack.attach_or_start(settings.devstack_dir)
        os.environ.update(stack.environment())
        settings = AuthSettings.from_env()
    try:
        print(asyncio.run(_on_store(command, settings)))
    except ShotgraphError as exc:
        sys.exit(f"error: {exc.detail}")
    finally:
        if stack is not None:
            stack.release()


def _read_password() -> str:
    """One line from stdin when it is not a terminal (scripts), else asked twice."""
    if not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass("password: ")
    if getpass.getpass("again: ") != first:
        sys.exit("error: the passwords differ")
    return first


def _create_user(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m services.auth create-user")
    parser.add_argument("--name", required=True, help="the user name")
    parser.add_argument("--email", default="")
    parser.add_argument("--admin", action="store_true", help="may invite and hold admin keys")
    args = parser.parse_args(argv)
    password = _read_password()

    async def create(servicer: AuthServicer) -> str:
        request = auth_pb2.CreateUserRequest(
            user_name=args.name, password=password, email=args.email, is_admin=args.admin
        )
        return (await servicer.create_user(request)).user.user_id

    _run(create)


def _create_invite(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m services.auth create-invite")
    parser.add_argument("--by", required=True, help="the name of the admin who invites")
    parser.add_argument("--email", default="")
    parser.add_argument("--admin", action="store_true", help="the invited user is an admin")
    args = parser.parse_args(argv)

    async def create(servicer: AuthServicer) -> str:
        admin = await servicer.store.user_by_name(args.by)
        if admin is None:
            raise NotFound(f"no user is named {args.by!r}")
        request = auth_pb2.CreateInviteRequest(
            created_by=admin.id, email=args.email, is_admin=args.admin
        )
        return (await servicer.create_invite(request)).token

    _run(create)


def _create_key(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m services.auth create-key")
    parser.add_argument("--user", required=True, help="user name; created on first use")
    parser.add_argument("--name", default="cli", help="a label for the key")
    parser.add_argument("--scopes", default="read,write", help="comma-separated: read,write,admin")
    args = parser.parse_args(argv)

    async def create(servicer: AuthServicer) -> str:
        scopes = [s.strip() for s in args.scopes.split(",") if s.strip()]
        request = auth_pb2.CreateApiKeyRequest(
            user_name=args.user, key_name=args.name, scopes=scopes
        )
        return (await servicer.create_api_key(request)).key

    _run(create)


_COMMANDS = {
    "create-user": _create_user,
    "create-invite": _create_invite,
    "create-key": _create_key,
}

if __name__ == "__main__":
    if sys.argv[1:2] and sys.argv[1] in _COMMANDS:
        _COMMANDS[sys.argv[1]](sys.argv[2:])
    else:
        main(AuthSettings, "services.auth.app:build")
