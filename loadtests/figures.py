"""The figures of one load run: requests, errors, rate and latency percentiles.

Standard library only: benchmarks whose spawned children import them must not pull in aiohttp.
"""

from __future__ import annotations

import statistics
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["LoadFigures", "load_figures", "p50_p99_ms"]


@dataclass
class LoadFigures:
    """One target's figures under load. Rates and latencies count 200 responses only, so
    that fast failures cannot flatter them; every other outcome is an error, tallied by kind."""

    target: str
    requests: int
    errors: int
    error_kinds: dict[str, int]
    seconds: float
    rps: float
    p50_ms: float | None
    p99_ms: float | None


def load_figures(
    target: str, latencies: Sequence[float], errors: Counter[str], measure_from: float
) -> LoadFigures:
    """The figures of a run measured from ``measure_from`` until now (the last answer)."""
    seconds = max(time.perf_counter() - measure_from, 1e-9)
    p50_ms, p99_ms = p50_p99_ms(latencies)
    return LoadFigures(
        target=target,
        requests=len(latencies) + errors.total(),
        errors=errors.total(),
        error_kinds=dict(errors),
        seconds=round(seconds, 3),
        rps=round(len(latencies) / seconds, 1),
        p50_ms=p50_ms,
        p99_ms=p99_ms,
    )


def p50_p99_ms(latencies: Sequence[float]) -> tuple[float | None, float | None]:
    """The median and 99th percentile of latencies in seconds, as milliseconds."""
    if len(latencies) < 2:
        return None, None
    cuts = statistics.quantiles(latencies, n=100, method="inclusive")
    return round(cuts[49] * 1000, 2), round(cuts[98] * 1000, 2)
