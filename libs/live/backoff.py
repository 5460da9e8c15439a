"""How long a live client waits before it connects again.

Exponential backoff with full jitter: the wait is uniform below a ceiling that grows with each
failed attempt, up to a cap. Thousands of clients cut at the same moment (a replica died, a
network blinked) then come back spread over that ceiling instead of all at once.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

__all__ = ["Backoff"]

# Past this many doublings every ceiling is the cap; bounding the exponent keeps the float finite.
_MAX_EXPONENT = 64


@dataclass(frozen=True)
class Backoff:
    """Waits between attempts to connect: ``initial_s`` growing by ``multiplier``, capped at
    ``max_s``; a connection that stayed up ``healthy_s`` starts the growth over."""

    initial_s: float = 0.1
    max_s: float = 10.0
    multiplier: float = 2.0
    healthy_s: float = 5.0

    def __post_init__(self) -> None:
        if not 0 < self.initial_s <= self.max_s:
            raise ValueError(f"backoff needs 0 < initial_s <= max_s, not {self}")
        if self.multiplier < 1 or self.healthy_s < 0:
            raise ValueError(f"backoff needs multiplier >= 1 and healthy_s >= 0, not {self}")

    def ceiling(self, attempt: int) -> float:
        """The longest wait before retry number ``attempt`` (0 for the first)."""
        exponent = min(max(attempt, 0), _MAX_EXPONENT)
        return min(self.max_s, self.initial_s * self.multiplier**exponent)

    def delay(self, attempt: int, rng: random.Random) -> float:
        """The wait before retry number ``attempt``: anywhere from nothing to its ceiling."""
        return rng.uniform(0.0, self.ceiling(attempt))

    @staticmethod
    def spread(after_s: float, rng: random.Random) -> float:
        """A wait a server asked for (``Retry-After``), spread over half as much again so
        the clients it refused together do not return together; never sooner than asked."""
        return after_s * rng.uniform(1.0, 1.5)
