"""Start the auth service, or issue a key: ``python -m services.auth create-key --user NAME``."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from contextlib import AsyncExitStack

from libs.runner import main
from services.auth.settings import AuthSettings


async def _create_key(user: str, key_name: str) -> str:
    from libs.backends import open_database
    from services.auth.app import MIGRATIONS
    from services.auth.keys import check_user_name, hash_key, new_key
    from services.auth.store import AuthStore

    settings = AuthSettings.from_env()
    async with AsyncExitStack() as stack:
        pool, _ = await open_database(settings, stack, "auth", MIGRATIONS)
        key = new_key()
        await AuthStore(pool).create_key(check_user_name(user), key_name, hash_key(key))
        return key


def _create_key_command(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m services.auth create-key")
    parser.add_argument("--user", required=True, help="user name; created on first use")
    parser.add_argument("--name", default="cli", help="a label for the key")
    args = parser.parse_args(argv)
    settings = AuthSettings.from_env()
    if not settings.uses_devstack:
        print(asyncio.run(_create_key(args.user, args.name)))
        return
    from libs.devstack import DevStack

    stack = DevStack.attach_or_start(settings.devstack_dir)
    os.environ.update(stack.environment())
    try:
        print(asyncio.run(_create_key(args.user, args.name)))
    finally:
        stack.release()


if __name__ == "__main__":
    if sys.argv[1:2] == ["create-key"]:
        _create_key_command(sys.argv[2:])
    else:
        main(AuthSettings, "services.auth.app:build")
