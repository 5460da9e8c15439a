"""What the benchmarks share: child processes, polling JSON, ratios, and stopping cleanly."""

from __future__ import annotations

import asyncio
import contextlib
import json
import multiprocessing
import signal
import sys
import textwrap
from collections.abc import Awaitable, Callable, Iterator
from datetime import datetime
from typing import Any

import aiohttp

from libs.launcher import Platform

__all__ = [
    "cell",
    "child",
    "drive_connections",
    "get_json",
    "met",
    "print_notes",
    "print_result",
    "ratio",
    "spawn",
    "stopped_at_exit",
    "timestamp",
]

spawn = multiprocessing.get_context("spawn")


@contextlib.contextmanager
def child(target: Callable[..., None], args: tuple[Any, ...]) -> Iterator[Any]:
    """A spawned process that is always gone when the block ends, however it ends."""
    process = spawn.Process(target=target, args=args, daemon=True)
    process.start()
    try:
        yield process
    finally:
        process.terminate()
        process.join(5)
        if process.is_alive():
            process.kill()
            process.join()


@contextlib.contextmanager
def stopped_at_exit(system: Platform) -> Iterator[None]:
    """Run the block, then stop the platform: also on Ctrl-C, which exits 130."""
    try:
        yield
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        raise SystemExit(130) from None
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not skip cleanup
        print("stopping the platform...", file=sys.stderr, flush=True)
        system.stop()


async def get_json(session: aiohttp.ClientSession, url: str) -> dict[str, Any]:
    """The JSON object at url; {} when that fails (the caller polls again later)."""
    try:
        async with session.get(url) as response:
            if response.status != 200:
                return {}
            body = await response.json()
            return body if isinstance(body, dict) else {}
    except (aiohttp.ClientError, TimeoutError, ValueError):
        return {}


def timestamp(document: dict[str, Any], name: str) -> float | None:
    """An RFC 3339 time field of an API document as a Unix time; None if absent or malformed."""
    raw = document.get(name)
    if not isinstance(raw, str):
        return None
    with contextlib.suppress(ValueError):
        return datetime.fromisoformat(raw.replace("Z", "+00:00")).timestamp()
    return None


def ratio(a: float | None, b: float | None) -> float | None:
    return round(a / b, 3) if a is not None and b else None


def cell(value: float | None, spec: str = ",.2f") -> str:
    return "n/a" if value is None else format(value, spec)


def met(ok: bool) -> str:
    return "met" if ok else "not met"


def print_notes(notes: list[str], width: int = 96) -> None:
    print("\nnotes:")
    for note in notes:
        print(textwrap.fill(note, width, initial_indent="- ", subsequent_indent="  "))
    print()


def print_result(result: dict[str, Any]) -> None:
    """The figures as one JSON line, for scripts that compare runs."""
    print("RESULT " + json.dumps(result, separators=(",", ":"), ensure_ascii=False), flush=True)


async def drive_connections(
    loop: Callable[[aiohttp.ClientSession], Awaitable[None]], connections: int, timeout_s: float
) -> None:
    """Run ``loop`` once per connection, all at once, over one keep-alive session."""
    connector = aiohttp.TCPConnector(limit=connections)
    timeout = aiohttp.ClientTimeout(total=timeout_s)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        await asyncio.gather(*(loop(session) for _ in range(connections)))
