"""Retry with backoff (tenacity) and circuit breakers (purgatory) around calls to dependencies."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

from purgatory import AsyncCircuitBreakerFactory
from purgatory.domain.model import OpenedState
from tenacity import (
    AsyncRetrying,
    retry_if_exception_type,
    stop_after_delay,
    wait_exponential_jitter,
)

from libs.errors import Unavailable
from libs.logs import get_logger
from libs.rpc import is_outage

__all__ = ["Breakers", "retry_until_ready"]

T = TypeVar("T")
log = get_logger(__name__)


async def retry_until_ready(
    what: str, attempt: Callable[[], Awaitable[T]], *, within_s: float = 30.0
) -> T:
    """Keep trying a start-up connection: replicas and their dependencies start in any order."""
    async for attempting in AsyncRetrying(
        wait=wait_exponential_jitter(multiplier=0.1, max=2.0),
        stop=stop_after_delay(within_s),
        retry=retry_if_exception_type(OSError) | retry_if_exception_type(ConnectionError),
        reraise=True,
        before_sleep=lambda state: log.info(
            "startup.retry", what=what, attempt=state.attempt_number
        ),
    ):
        with attempting:
            return await attempt()
    raise AssertionError("unreachable")  # AsyncRetrying either returns or re-raises


class Breakers:
    """One breaker per downstream: after ``threshold`` outages in a row, fail fast for ``ttl_s``."""

    def __init__(self, *, threshold: int = 5, ttl_s: float = 5.0) -> None:
        self._ttl_s = ttl_s
        self._factory = AsyncCircuitBreakerFactory(
            default_threshold=threshold,
            default_ttl=ttl_s,
            # Answers such as NOT_FOUND are not outages and must not open the circuit.
            exclude=[(Exception, lambda exc: not is_outage(exc))],
        )

    async def call(self, downstream: str, call: Callable[[], Awaitable[T]]) -> T:
        """Call ``downstream`` through its breaker; while it is open, Unavailable at once.

        What ``call`` raises passes through unchanged (``libs.downstream`` maps gRPC errors).
        """
        breaker = await self._factory.get_breaker(downstream)
        try:
            async with breaker:
                return await call()
        except OpenedState as exc:
            error = Unavailable(f"{downstream} is unavailable; retry shortly")
            error.retry_after = max(1, round(self._ttl_s))
            raise error from exc
