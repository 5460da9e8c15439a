"""Passwords: the rules they must meet, and argon2id hashing off the event loop.

argon2-cffi releases the GIL while it hashes, so a small thread pool runs hashes in parallel on
the worker's cores while the event loop keeps serving. The pool's size bounds both the CPU and
the memory (one ``memory_cost`` per running hash) that logins can take.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError

from libs.config import cores_per_worker
from libs.errors import InvalidArgument
from services.auth.settings import AuthSettings

__all__ = ["MAX_PASSWORD", "MIN_PASSWORD", "Passwords", "check_new_password", "hasher_for"]

MIN_PASSWORD = 10
MAX_PASSWORD = 256  # bounds the work of hashing what anyone sends


def check_new_password(password: str, user_name: str) -> str:
    """A password a user may choose; InvalidArgument says which rule it breaks."""
    if len(password) < MIN_PASSWORD:
        raise InvalidArgument(f"password must be at least {MIN_PASSWORD} characters long")
    if len(password) > MAX_PASSWORD:
        raise InvalidArgument(f"password must be at most {MAX_PASSWORD} characters long")
    if password.casefold() == user_name.casefold():
        raise InvalidArgument("password must not be the user name")
    return password


def hasher_for(settings: AuthSettings) -> PasswordHasher:
    """An argon2id hasher with the configured cost."""
    return PasswordHasher(
        time_cost=settings.argon2_time_cost,
        memory_cost=settings.argon2_memory_kib,
        parallelism=settings.argon2_parallelism,
        type=Type.ID,
    )


class Passwords:
    """Hashes and verifies in a bounded thread pool, with ``hasher``'s parameters."""

    def __init__(self, hasher: PasswordHasher, threads: int = 0) -> None:
        self.hasher = hasher
        self._pool = ThreadPoolExecutor(
            max_workers=threads if threads > 0 else cores_per_worker(),
            thread_name_prefix="argon2",
        )
        self._dummy: str | None = None

    async def prepare(self) -> None:
        """Make the dummy hash now, so that the first unknown user's login costs no more than
        any other."""
        await self._dummy_hash()

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    async def hash(self, password: str) -> str:
        return await asyncio.get_running_loop().run_in_executor(
            self._pool, self.hasher.hash, password
        )

    async def verify(self, stored: str | None, password: str) -> bool:
        """Whether ``password`` matches ``stored``. With nothing stored (an unknown user, a user
        without a password) a dummy hash of the same cost is checked instead, so the answer
        takes the same work either way."""
        if stored is None:
            stored = await self._dummy_hash()
            password = "\x00" + password  # never equal to the dummy's secret
        return await asyncio.get_running_loop().run_in_executor(
            self._pool, self._verify, stored, password
        )

    def needs_rehash(self, stored: str) -> bool:
        """True when ``stored`` was made with other parameters than today's."""
        try:
            return self.hasher.check_needs_rehash(stored)
        except InvalidHashError:
            return True

    def _verify(self, stored: str, password: str) -> bool:
        try:
            return self.hasher.verify(stored, password)
        except (VerificationError, InvalidHashError):
            return False

    async def _dummy_hash(self) -> str:
        # Made once with the current parameters (``prepare``); two first callers may both
        # make one, which is harmless.
        if self._dummy is None:
            self._dummy = await self.hash("dummy password of no user")
        return self._dummy
