"""How much does the gateway cost? Its throughput and latency next to a bare aiohttp server.

``python -m loadtests.bench_gateway [--connections 64] [--duration 10] [--workers N]`` starts the
whole platform and a hello-world aiohttp server, drives each in turn with the same load
generator, and prints both plus their ratio. The gateway's rate limiter runs in full with
policies too generous to refuse anything; ``--limiter-off-too`` also measures a second gateway
on the same platform with the limiter switched off and prints the limiter's added latency.
A single absolute figure says little about a shared laptop or CI box; the ratio to a baseline
measured under the same conditions does.

The generator runs in its own process so it does not share an event loop or the GIL with what it
measures. It still shares the machine's cores with the servers, which is why the ratio, not the
absolute figures, is the result to compare between runs.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform as host
import signal
import tempfile
import time
import urllib.error
import urllib.request
from array import array
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import asdict
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from libs.launcher import Platform
from libs.ports import free_port
from libs.ratelimit import generous_policies
from loadtests.bench_compression import production
from loadtests.common import (
    cell,
    child,
    drive_connections,
    print_result,
    ratio,
    spawn,
    stopped_at_exit,
)
from loadtests.figures import LoadFigures, load_figures

WARMUP_S = 2.0
MAX_DURATION_S = 60.0
MAX_CONNECTIONS = 1024
MAX_REQUESTS = 1_000_000  # per target, warm-up included: bounds run time and memory
MAX_CANVASES = 20_000
REQUEST_TIMEOUT_S = 10.0
HOST = "127.0.0.1"


# --- the baseline: the least an aiohttp server on this machine can do per request ---------------


def _serve_baseline(port: int) -> None:
    """Plain aiohttp on asyncio's default loop with no access log, like one gateway worker, so
    that the difference is what the gateway does per request; as many of these processes as
    the gateway has workers share the port (``SO_REUSEPORT``), as the gateway's do."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent stops us, also on Ctrl-C

    async def hello(_: web.Request) -> web.Response:
        return web.Response(text="Hello, world")

    async def serve() -> None:
        app = web.Application()
        app.router.add_get("/", hello)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, HOST, port, reuse_port=True).start()
        await asyncio.Event().wait()

    asyncio.run(serve())


# --- the load generator, run in a process of its own --------------------------------------------


Requests = list[tuple[str, dict[str, str]]]  # url and headers, taken in turn


def _generate(
    out: Connection,
    target: str,
    requests: Requests,
    connections: int,
    duration: float,
) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    measurement = asyncio.run(_drive(target, requests, connections, duration))
    out.send(asdict(measurement))  # a dict: the class pickles as __mp_main__'s here
    out.close()


async def _drive(target: str, requests: Requests, connections: int, duration: float) -> LoadFigures:
    """``connections`` loops, each with one keep-alive connection, sending back-to-back; each
    request is the next of ``requests`` in turn (one canvas after another, of each owner).

    Only requests started after the warm-up count; the clock stops when the last of them is
    answered, so every counted request lies within the measured time.
    """
    latencies = array("d")
    errors: Counter[str] = Counter()
    sent = 0
    start = time.perf_counter()
    measure_from, stop_at = start + WARMUP_S, start + WARMUP_S + duration

    async def loop(session: aiohttp.ClientSession) -> None:
        nonlocal sent
        while (began := time.perf_counter()) < stop_at and sent < MAX_REQUESTS:
            url, headers = requests[sent % len(requests)]
            sent += 1
            try:
                async with session.get(url, headers=headers) as response:
                    await response.read()
                    outcome = "ok" if response.status == 200 else f"HTTP {response.status}"
            except (aiohttp.ClientError, TimeoutError) as exc:
                outcome = type(exc).__name__
            if began >= measure_from:
                if outcome == "ok":
                    latencies.append(time.perf_counter() - began)
                else:
                    errors[outcome] += 1

    await drive_connections(loop, connections, REQUEST_TIMEOUT_S)
    return load_figures(target, latencies, errors, measure_from)


def measure(target: str, requests: Requests, connections: int, duration: float) -> LoadFigures:
    receiver, sender = spawn.Pipe(duplex=False)
    args = (sender, target, requests, connections, duration)
    with child(_generate, args) as generator:
        sender.close()  # so that a crashed generator shows up as EOF, not a hang
        if not receiver.poll(WARMUP_S + duration + REQUEST_TIMEOUT_S + 30):
            raise TimeoutError(f"the load generator did not report on {target}")
        try:
            fields: dict[str, Any] = receiver.recv()
        except EOFError:
            raise RuntimeError(f"the load generator died (exit {generator.exitcode})") from None
    return LoadFigures(**fields)


# --- plumbing ------------------------------------------------------------------------------------


def _get(url: str, headers: dict[str, str]) -> int:
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return exc.code
    except OSError:
        return 0


def _wait_until_ok(url: str, headers: dict[str, str], timeout: float = 15.0) -> None:
    """Fail before measuring rather than benchmark a stream of errors."""
    deadline = time.monotonic() + timeout
    while (status := _get(url, headers)) != 200:
        if time.monotonic() > deadline:
            raise RuntimeError(f"GET {url} answers {status or 'nothing'}, not 200")
        time.sleep(0.1)


def _canvases(system: Platform, owners: int, canvases: int, *, productions: bool) -> Requests:
    """``canvases`` canvases, dealt round-robin to ``owners`` new users: each read's url and its
    owner's key, interleaved so that consecutive reads are of different owners. With
    ``productions`` each canvas holds a production's graph of 50 nodes (17 KiB of JSON, so its
    answer is compressed), else it is empty."""
    keys = [system.create_api_key(f"bench-owner-{n}") for n in range(owners)]
    reads: Requests = []
    for n in range(canvases):
        key = keys[n % owners]
        canvas_id = _create_canvas(system.gateway_url, key)
        if productions:
            _save_production(system.gateway_url, key, canvas_id)
        reads.append(
            (f"{system.gateway_url}/v1/canvases/{canvas_id}", {"Authorization": f"Bearer {key}"})
        )
    return reads


def _prime(reads: Requests) -> float:
    """Read every canvas once, eight at a time, before the clock starts: the measurement is of
    the steady state, where the gateway holds each canvas it answered. Returns the seconds the
    cold pass took (each read a trip to the canvas service), which is reported beside it."""
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(pool.map(lambda read: _get(*read), reads))
    if any(status != 200 for status in statuses):
        raise RuntimeError(f"priming answered {sorted(set(statuses))}, not only 200")
    return time.perf_counter() - started


def _save_production(gateway: str, key: str, canvas_id: str) -> None:
    request = urllib.request.Request(
        f"{gateway}/v1/canvases/{canvas_id}/versions",
        data=json.dumps({"base_version": 1, "graph": production(1)}).encode(),
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        response.read()


def _create_canvas(gateway: str, key: str) -> str:
    request = urllib.request.Request(
        f"{gateway}/v1/canvases",
        data=json.dumps({"name": "bench"}).encode(),
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return str(json.load(response)["id"])


def report(settings: dict[str, Any], gateway: LoadFigures, baseline: LoadFigures) -> None:
    ratios = {
        "rps": ratio(gateway.rps, baseline.rps),
        "p50": ratio(gateway.p50_ms, baseline.p50_ms),
        "p99": ratio(gateway.p99_ms, baseline.p99_ms),
    }
    print("\nsettings: " + ", ".join(f"{k}={v}" for k, v in settings.items()))
    header = ("target", "requests", "errors", "req/s", "p50 ms", "p99 ms")
    rows = [header] + [
        (
            m.target,
            f"{m.requests:,}",
            f"{m.errors:,}",
            cell(m.rps),
            cell(m.p50_ms),
            cell(m.p99_ms),
        )
        for m in (gateway, baseline)
    ]
    print()
    for row in rows:
        print(f"{row[0]:<10}" + "".join(f"{cell:>12}" for cell in row[1:]))
    for m in (gateway, baseline):
        if m.error_kinds:
            print(f"{m.target} errors: {m.error_kinds}")
    print(
        f"\ngateway throughput = {cell(ratios['rps'])}x baseline\n"
        f"gateway p50 latency = {cell(ratios['p50'])}x baseline\n"
        f"gateway p99 latency = {cell(ratios['p99'])}x baseline\n"
        "\nnotes:\n"
        "- the load generator runs in its own process but shares this machine's CPUs with the\n"
        "  servers (and, for the gateway, with the services and backends behind it), so absolute\n"
        "  figures are pessimistic; the ratio is still meaningful because both targets were\n"
        "  measured under the same conditions, one after the other. Other work on the machine\n"
        "  (see load_1m) skews it, and the gateway more: it needs more processes.\n"
        "- req/s and latencies count 200 responses only; any other outcome is an error.\n"
        f"- a gateway request reads one of {settings['canvases']:,} canvases of"
        f" {settings['owners']} owners in turn, with the\n"
        "  owner's API key; each was read once before the clock started (the cold pass took\n"
        f"  {settings['cold_pass_s']} s), so this is the steady state; every part of the edge\n"
        "  is on (limits, headers, compression); the\n"
        f"  baseline is {settings['workers']} aiohttp process(es) on the same event loop"
        " implementation answering a constant.\n"
    )
    result = {
        "settings": settings,
        "gateway": asdict(gateway),
        "baseline": asdict(baseline),
        "ratio": ratios,
    }
    print_result(result)


def report_limiter(on: LoadFigures, off: LoadFigures) -> None:
    """p50 and p99 of the same gateway with the limiter on and off, side by side."""
    print("\nthe limiter's cost (same platform, same load, one gateway each):")
    print(f"{'limiter':<10}{'req/s':>12}{'p50 ms':>12}{'p99 ms':>12}")
    for name, m in (("on", on), ("off", off)):
        print(f"{name:<10}{cell(m.rps):>12}{cell(m.p50_ms):>12}{cell(m.p99_ms):>12}")
    p50 = None if on.p50_ms is None or off.p50_ms is None else on.p50_ms - off.p50_ms
    p99 = None if on.p99_ms is None or off.p99_ms is None else on.p99_ms - off.p99_ms
    print(f"added latency: p50 {cell(p50, '+.3f')} ms, p99 {cell(p99, '+.3f')} ms")
    print_result({"limiter_on": asdict(on), "limiter_off": asdict(off)})


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m loadtests.bench_gateway")
    parser.add_argument("--connections", type=int, default=64, help="concurrent connections")
    parser.add_argument("--duration", type=float, default=10.0, help="measured seconds/target")
    parser.add_argument("--workers", type=int, default=1, help="processes per service")
    parser.add_argument("--owners", type=int, default=8, help="users whose canvases are read")
    parser.add_argument("--canvases", type=int, default=1000, help="canvases read, in all")
    parser.add_argument(
        "--productions",
        action="store_true",
        help="give every canvas a production's 50-node graph (compressed answers)",
    )
    parser.add_argument(
        "--limiter-off-too",
        action="store_true",
        help="also measure a gateway with the rate limiter off, and compare",
    )
    args = parser.parse_args()
    if not 1 <= args.connections <= MAX_CONNECTIONS:
        parser.error(f"--connections must be between 1 and {MAX_CONNECTIONS}")
    if not 0 < args.duration <= MAX_DURATION_S:
        parser.error(f"--duration must be more than 0 and at most {MAX_DURATION_S:g}")
    if args.workers < 1:
        parser.error("--workers must be at least 1")
    if not 1 <= args.owners <= args.canvases <= MAX_CANVASES:
        parser.error(f"need 1 <= --owners <= --canvases <= {MAX_CANVASES}")
    settings = {
        "connections": args.connections,
        "duration_s": args.duration,
        "warmup_s": WARMUP_S,
        "workers": args.workers,
        "owners": args.owners,
        "canvases": args.canvases,
        "productions": args.productions,
        "cpus": os.cpu_count(),
        "usable_cpus": len(os.sched_getaffinity(0)),
        "python": host.python_version(),
        "aiohttp": aiohttp.__version__,
    }

    with tempfile.TemporaryDirectory(prefix="shotgraph-bench-") as root:
        system = Platform(
            root=Path(root) / "platform",
            workers=args.workers,
            env={"SHOTGRAPH_RATE_LIMITS": generous_policies()},
        )
        baseline_port = free_port()
        baseline_url = f"http://{HOST}:{baseline_port}/"
        with stopped_at_exit(system):
            print(f"starting the platform ({args.workers} worker(s) per service)...", flush=True)
            system.start()
            print(f"creating {args.canvases:,} canvases of {args.owners} owners...", flush=True)
            reads = _canvases(system, args.owners, args.canvases, productions=args.productions)
            _wait_until_ok(*reads[0])
            settings["cold_pass_s"] = round(_prime(reads), 2)
            settings["load_1m"] = round(os.getloadavg()[0], 2)  # other work on the machine
            with ExitStack() as baselines:
                for _ in range(args.workers):
                    baselines.enter_context(child(_serve_baseline, (baseline_port,)))
                _wait_until_ok(baseline_url, {})
                print(f"measuring {system.gateway_url}/v1/canvases/{{id}} ...", flush=True)
                gateway = measure("gateway", reads, args.connections, args.duration)
                print(f"measuring {baseline_url} ...", flush=True)
                baseline = measure(
                    "baseline", [(baseline_url, {})], args.connections, args.duration
                )
            unlimited = None
            if args.limiter_off_too:
                off = system.add_process(
                    "gateway-unlimited", "services.gateway", {"SHOTGRAPH_RATE_LIMITING": "off"}
                )
                off_reads = [
                    (url.replace(system.gateway_url, off.url, 1), headers) for url, headers in reads
                ]
                _wait_until_ok(*off_reads[0])
                _prime(off_reads)
                print(f"measuring {off.url} (limiter off) ...", flush=True)
                unlimited = measure("no-limit", off_reads, args.connections, args.duration)
            report(settings, gateway, baseline)
            if unlimited is not None:
                report_limiter(gateway, unlimited)


if __name__ == "__main__":
    main()
