"""Login throttling: recent failures counted per account name and per client address in Redis.

Past a threshold of failures within the window, each attempt must wait a delay that doubles with
every further failure (from 1 s up to a cap) after the last one. The check comes before any
password is hashed, so a brute force costs its sender time, not the service CPU.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from redis.asyncio import Redis

from services.auth.sessions import redis_outage

__all__ = ["LoginThrottle", "ThrottlePolicy"]

_ACCOUNT = "auth:login-failures:account:"
_ADDRESS = "auth:login-failures:address:"


@dataclass(frozen=True)
class ThrottlePolicy:
    window_s: float = 900.0
    account_failures: int = 5
    address_failures: int = 50
    max_delay_s: float = 900.0

    def wait(self, failures: int, last: float, threshold: int, now: float) -> float:
        """Seconds still to wait after ``failures`` failures, the last at ``last``."""
        if failures < threshold:
            return 0.0
        delay = min(self.max_delay_s, 2.0 ** min(failures - threshold, 32))
        return max(0.0, last + delay - now)


class LoginThrottle:
    def __init__(self, redis: Redis, policy: ThrottlePolicy) -> None:
        self._redis = redis
        self._policy = policy

    async def retry_after(self, account: str, address: str) -> float:
        """0 when an attempt may go ahead, else how many seconds it must wait."""
        keys = [_ACCOUNT + account] + ([_ADDRESS + address] if address else [])
        with redis_outage("sign-in is"):
            async with self._redis.pipeline(transaction=False) as pipe:
                for key in keys:
                    pipe.hmget(key, ["count", "last"])
                found = await pipe.execute()
        now = time.time()
        thresholds = (self._policy.account_failures, self._policy.address_failures)
        waits = [
            self._policy.wait(int(count), float(last), threshold, now)
            for (count, last), threshold in zip(found, thresholds, strict=False)
            if count is not None and last is not None
        ]
        return max(waits, default=0.0)

    async def failed(self, account: str, address: str) -> None:
        keys = [_ACCOUNT + account] + ([_ADDRESS + address] if address else [])
        window_ms = int(self._policy.window_s * 1000)
        with redis_outage("sign-in is"):
            async with self._redis.pipeline(transaction=True) as pipe:
                for key in keys:
                    pipe.hincrby(key, "count", 1)
                    pipe.hset(key, "last", repr(time.time()))
                    pipe.pexpire(key, window_ms)
                await pipe.execute()

    async def succeeded(self, account: str) -> None:
        """A right password clears the account's failures (not the address's: one right
        password must not reopen a brute force from the same place on other accounts)."""
        with redis_outage("sign-in is"):
            await self._redis.delete(_ACCOUNT + account)
