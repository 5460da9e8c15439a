"""How does the canvas API hold up under a production team's mix, and does its read cache hold?

``python -m loadtests.locust_canvas [--users 200] [--spawn-rate 20] [--duration 60] [--workers 1]``
starts the whole platform, creates the team's API keys, uploads a reference image (made with
libvips) and runs ``loadtests/locustfile.py`` headless against the gateway for the duration, in a
Locust process of its own. It then prints requests per second overall and, per endpoint,
requests, failures, req/s and p50/p95/p99; the errors; the 409s and merges; and the canvas read
cache's hit rate over the run, from the canvas service's ``shotgraph_canvas_cache_reads_total``
scraped before and after, against the target of 90 % (the system it replaces: 80 %).

Locust runs as a subprocess rather than in this process because importing it monkey-patches the
standard library with gevent; the platform's launcher and the scrapes here stay plain Python.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform as host
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Any, Final

import pyvips
import redis
from prometheus_client.parser import text_string_to_metric_families

from libs.launcher import Platform, stop_process
from loadtests.common import cell, met, print_notes, print_result, ratio, stopped_at_exit

HERE: Final = Path(__file__).resolve().parent
LOCUSTFILE: Final = HERE / "locustfile.py"
HIT_RATE_TARGET: Final = 0.90
REPLACED_HIT_RATE: Final = 0.80  # the system this replaces
MAX_USERS, MAX_DURATION_S, MAX_TEAM, MAX_WORKERS = 1000, 90, 200, 8
STOP_TIMEOUT_S: Final = 10  # users finish the task they are in (an Execute polls for 2 s)
# Reads of the canvas that go through the cache: every call that checks access (readable()).
CACHED_READERS: Final = frozenset(
    {
        "GetCanvas",
        "ShareCanvas",
        "SaveCanvas",
        "RestoreVersion",
        "ListVersions",
        "GetVersion",
        "DiffVersions",
        "ExecuteCanvas",
        "GetNodeResults",
    }
)

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


@dataclass
class Endpoint:
    """One row of Locust's statistics: an endpoint template and method, or "all"."""

    name: str
    requests: int
    failures: int
    rps: float
    p50_ms: int | None
    p95_ms: int | None
    p99_ms: int | None


@dataclass
class LocustRun:
    endpoints: list[Endpoint]
    total: Endpoint
    failures: dict[str, int]  # "METHOD name: error" -> occurrences
    exceptions: dict[str, int]  # errors in the scenario's own code
    tally: dict[str, int]  # the scenario's counts: conflicts, merges, executes...
    exit_code: int
    cpu_s: float  # the Locust process's CPU time: the load generator's share of the cores
    cpu_warnings: int  # Locust's own "CPU usage above 90%" warnings


@dataclass
class CacheReads:
    hits: int
    misses: int
    by_method: dict[str, int]  # gRPC calls of the canvas service that read through the cache
    created: int  # canvases created (each one cached as it is created)
    redis_expired: int  # keys Redis expired during the run (all namespaces)
    cached_at_end: int  # canvas entries in Redis when the run ended

    @property
    def reads(self) -> int:
        return self.hits + self.misses

    @property
    def hit_rate(self) -> float | None:
        return self.hits / self.reads if self.reads else None


# --- setting up the team --------------------------------------------------------------------


def reference_image() -> bytes:
    """A small portrait-shaped PNG, made here so the repository holds no binary file."""
    base = pyvips.Image.black(300, 400, bands=3).linear(1, [180, 60, 40])
    shade = pyvips.Image.xyz(300, 400)[1].linear(0.2, 0)  # a vertical gradient
    return bytes(
        (base + shade.bandjoin([shade, shade]))
        .cast("uchar")
        .copy(interpretation="srgb")
        .pngsave_buffer()
    )


def upload(gateway: str, key: str, data: bytes) -> str:
    """``POST /v1/blobs``; the blob's sha256."""
    request = urllib.request.Request(
        f"{gateway}/v1/blobs?filename=ada.png",
        data=data,
        headers={"Authorization": f"Bearer {key}", "Content-Type": "image/png"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return str(json.load(response)["sha256"])


# --- the canvas service's counters ----------------------------------------------------------


def scrape(url: str) -> Samples:
    """Every sample of a Prometheus endpoint, by name and labels."""
    with urllib.request.urlopen(url, timeout=10) as response:
        text = response.read().decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def total(samples: Samples, name: str, **labels: str) -> float:
    return sum(
        value
        for (sample, sample_labels), value in samples.items()
        if sample == name and set(labels.items()) <= set(sample_labels)
    )


def grpc_calls(samples: Samples, service: str) -> Counter[str]:
    """gRPC calls served by ``service``, by method name (every status code)."""
    calls: Counter[str] = Counter()
    for (name, labels), value in samples.items():
        fields = dict(labels)
        if name == "shotgraph_grpc_requests_total" and fields.get("service") == service:
            calls[fields.get("method", "").rsplit("/", 1)[-1]] += int(value)
    return calls


def redis_url(system: Platform) -> str:
    if system.stack is not None:
        return system.stack.redis_url
    return os.environ["SHOTGRAPH_REDIS_URL"]  # Platform used the backends the environment names


def redis_expired(url: str) -> int:
    with redis.Redis.from_url(url) as client:
        return int(client.info("stats")["expired_keys"])


def canvas_entries(url: str) -> int:
    """Canvas entries in Redis (the cache's namespace is "canvas")."""
    with redis.Redis.from_url(url) as client:
        return sum(1 for _ in client.scan_iter(match="canvas*", count=1000))


def cache_reads(before: Samples, after: Samples, expired: int, cached: int) -> CacheReads:
    name = "shotgraph_canvas_cache_reads_total"
    calls = grpc_calls(after, "canvas")
    calls.subtract(grpc_calls(before, "canvas"))
    return CacheReads(
        hits=int(total(after, name, result="hit") - total(before, name, result="hit")),
        misses=int(total(after, name, result="miss") - total(before, name, result="miss")),
        by_method={m: n for m, n in calls.most_common() if m in CACHED_READERS and n},
        created=calls["CreateCanvas"],
        redis_expired=expired,
        cached_at_end=cached,
    )


# --- Locust ---------------------------------------------------------------------------------


@contextlib.contextmanager
def locust_process(command: list[str], env: dict[str, str], log: Path) -> Iterator[Any]:
    """The Locust process, in a session of its own (Ctrl-C reaches us, and we stop it)."""
    with open(log, "wb") as out:
        process = subprocess.Popen(
            command, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        yield process
    finally:
        stop_process(process, timeout_s=15)


def run_locust(
    gateway: str, keys: list[str], reference: str, args: argparse.Namespace, folder: Path
) -> LocustRun:
    summary_path, log = folder / "summary.json", folder / "locust.log"
    command = [
        *(sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--headless", "--only-summary"),
        *("--users", str(args.users), "--spawn-rate", str(args.spawn_rate)),
        *("--run-time", f"{args.duration}s", "--stop-timeout", str(STOP_TIMEOUT_S)),
        *("--host", gateway, "--loglevel", "INFO"),
    ]
    env = {
        **os.environ,
        "SHOTGRAPH_API_KEYS": ",".join(keys),
        "SHOTGRAPH_REFERENCE_IMAGE": reference,
        "SHOTGRAPH_LOCUST_SUMMARY": str(summary_path),
    }
    env.pop("SHOTGRAPH_API_KEY", None)
    deadline_s = args.duration + STOP_TIMEOUT_S + 60  # with start-up and shutting down
    cpu_before = _children_cpu_s()
    with locust_process(command, env, log) as process:
        try:
            exit_code = process.wait(timeout=deadline_s)
        except subprocess.TimeoutExpired:
            raise RuntimeError(f"Locust did not finish within {deadline_s} s") from None
    cpu_s = _children_cpu_s() - cpu_before
    output = log.read_text(errors="replace")
    if not summary_path.exists():
        tail = output[-3000:]
        raise RuntimeError(f"Locust exited {exit_code} without a summary; its log ends:\n{tail}")
    summary = json.loads(summary_path.read_text())
    return LocustRun(
        endpoints=sorted((Endpoint(**e) for e in summary["endpoints"]), key=_by_path),
        total=Endpoint(**summary["total"]),
        failures={f"{f['endpoint']}: {f['error']}": f["count"] for f in summary["failures"]},
        exceptions={e["message"]: e["count"] for e in summary["exceptions"]},
        tally=summary["tally"],
        exit_code=exit_code,
        cpu_s=round(cpu_s, 1),
        cpu_warnings=output.count("CPU usage above"),
    )


def _by_path(endpoint: Endpoint) -> tuple[str, str]:
    method, path = endpoint.name.split(" ", 1)
    return path, method


def _children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)  # processes waited for: Locust's
    return usage.ru_utime + usage.ru_stime


# --- the report -----------------------------------------------------------------------------


def report(settings: dict[str, Any], run: LocustRun, cache: CacheReads) -> None:
    tally = Counter(run.tally)
    errors = run.total.failures + sum(run.exceptions.values())
    rate = cache.hit_rate
    target_met = rate is not None and rate >= HIT_RATE_TARGET

    print("\nsettings: " + ", ".join(f"{k}={v}" for k, v in settings.items()))
    width = max(len(e.name) for e in [*run.endpoints, run.total]) + 2
    header = ("endpoint", "requests", "failures", "req/s", "p50 ms", "p95 ms", "p99 ms")
    print(f"\n{header[0]:<{width}}" + "".join(f"{h:>10}" for h in header[1:]))
    for e in [*run.endpoints, run.total]:
        if e is run.total:
            print("-" * (width + 60))
        figures = (f"{e.requests:,}", f"{e.failures:,}", cell(e.rps))
        latencies = (cell(ms, ",d") for ms in (e.p50_ms, e.p95_ms, e.p99_ms))
        print(f"{e.name:<{width}}" + "".join(f"{f:>10}" for f in (*figures, *latencies)))

    print(f"\nrequests/s overall: {cell(run.total.rps)}")
    print(f"errors: {errors:,}" + ("" if errors else " (none)"))
    for failure, count in sorted(run.failures.items(), key=lambda f: -f[1]):
        print(f"  {count:>6,}  {failure}")
    for message, count in run.exceptions.items():
        print(f"  {count:>6,}  exception in the scenario: {message}")
    conflicts = tally["autosave_conflicts"] + tally["save_conflicts"]
    merged = tally["autosave_merges_saved"] + tally["save_merges_saved"]
    raced = tally["autosave_merges_raced"] + tally["save_merges_raced"]
    failed = tally["autosave_merges_failed"] + tally["save_merges_failed"]
    print(
        f"409 on saves (expected, not failures): {conflicts:,} (autosave"
        f" {tally['autosave_conflicts']:,}, named {tally['save_conflicts']:,}); merges after 409:"
        f" {merged:,} saved, {raced:,} raced again, {failed:,} could not re-read"
    )
    print(
        f"revalidations answered 304: {tally['revalidated_304']:,}; autosaves unchanged:"
        f" {tally['autosaves_unchanged']:,}; shares: {tally['shared_write']:,} write,"
        f" {tally['shared_read']:,} read"
    )
    print(
        f"executes: {tally['executes']:,} ({tally['executes_all_cached']:,} all cached,"
        f" {tally['executes_submitted']:,} submitting a batch); nodes cached"
        f" {tally['execute_nodes_cached']:,}, queued {tally['execute_nodes_queued']:,}"
    )
    print(
        f"\ncanvas read cache: {cache.hits:,} hits of {cache.reads:,} reads ="
        f" {cell(None if rate is None else rate * 100, '.1f')} %"
        f" (target >= {HIT_RATE_TARGET:.0%}; the system it replaces: {REPLACED_HIT_RATE:.0%})"
        f" -> {met(target_met)}"
    )
    print(
        f"  misses {cache.misses:,}; canvases created {cache.created:,} (each cached as it is"
        f" made); Redis keys expired during the run {cache.redis_expired:,};"
        f" canvas entries in Redis at the end {cache.cached_at_end:,}"
    )
    calls = ", ".join(f"{m} {n:,}" for m, n in cache.by_method.items())
    print(f"  canvas-service calls that read through the cache: {calls or 'none'}")

    notes = [
        f"Everything shares {settings['usable_cpus']} cores: Locust (this run took"
        f" {run.cpu_s} s of CPU), the gateway, the six services behind it"
        f" ({settings['workers']} process(es) each), their workers and NATS/Postgres/Redis. The"
        " latencies are the API's under this load on this machine, not its capacity.",
        "Percentiles are Locust's: response times are kept in whole milliseconds below 100 ms"
        " and rounded to 2 significant digits above. req/s is each endpoint's requests over the"
        " whole run, ramp-up included; the cache counters cover the same span.",
        "A failure is any status the scenario did not expect; 409 on a raced save and 304 on"
        " a revalidation are expected. A run with errors is not a valid measurement.",
    ]
    if run.cpu_warnings:
        notes.append(
            f"Locust warned {run.cpu_warnings} time(s) that its CPU use was above 90 %: the"
            " generator was short of CPU, so latencies include its own queueing."
        )
    print_notes(notes)
    print_result(
        {
            "settings": settings,
            "rps": run.total.rps,
            "total": asdict(run.total),
            "endpoints": [asdict(e) for e in run.endpoints],
            "errors": errors,
            "failures": run.failures,
            "exceptions": run.exceptions,
            "tally": dict(sorted(tally.items())),
            "cache": asdict(cache) | {"hit_rate": ratio(cache.hits, cache.reads)},
            "targets": {"cache_hit_rate": {"target": HIT_RATE_TARGET, "met": target_met}},
            "locust": {"exit_code": run.exit_code, "cpu_s": run.cpu_s},
        }
    )


# --- main -----------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m loadtests.locust_canvas")
    parser.add_argument("--users", type=int, default=200, help="simulated users (sessions)")
    parser.add_argument("--spawn-rate", type=float, default=20.0, help="users started a second")
    parser.add_argument("--duration", type=int, default=60, help="seconds of load, ramp included")
    parser.add_argument("--workers", type=int, default=1, help="processes per service")
    parser.add_argument("--team", type=int, default=20, help="team members (API keys)")
    parser.add_argument("--keep-logs", type=Path, help="copy the platform's and Locust's logs here")
    args = parser.parse_args()
    if not 1 <= args.users <= MAX_USERS:
        parser.error(f"--users must be between 1 and {MAX_USERS}")
    if not 0 < args.spawn_rate <= args.users:
        parser.error("--spawn-rate must be more than 0 and at most --users")
    if not 1 <= args.duration <= MAX_DURATION_S:
        parser.error(f"--duration must be between 1 and {MAX_DURATION_S}")
    if not 1 <= args.workers <= MAX_WORKERS:
        parser.error(f"--workers must be between 1 and {MAX_WORKERS}")
    if not 1 <= args.team <= MAX_TEAM:
        parser.error(f"--team must be between 1 and {MAX_TEAM}")
    settings: dict[str, Any] = {
        "users": args.users,
        "spawn_rate": args.spawn_rate,
        "duration_s": args.duration,
        "team": args.team,
        "workers": args.workers,
        "cpus": os.cpu_count(),
        "usable_cpus": len(os.sched_getaffinity(0)),
        "python": host.python_version(),
        "locust": version("locust"),
    }

    with tempfile.TemporaryDirectory(prefix="shotgraph-locust-") as root:
        folder = Path(root)
        system = Platform(root=folder / "platform", workers=args.workers)
        try:
            with stopped_at_exit(system):
                print(f"starting the platform ({args.workers} worker(s) per service)...")
                system.start()
                keys = [system.create_api_key(f"member-{n:03d}") for n in range(args.team)]
                # Every member uploads it: a graph may name only blobs its author may read.
                image = reference_image()
                (reference,) = {upload(system.gateway_url, key, image) for key in keys}
                metrics, cache_url = (
                    f"{system.services['canvas'].admin_url}/metrics",
                    redis_url(system),
                )
                before, expired = scrape(metrics), redis_expired(cache_url)
                settings["load_1m"] = round(os.getloadavg()[0], 2)  # other work on the machine
                print(
                    f"Locust: {args.users} users ({args.team} team members), {args.spawn_rate:g}"
                    f" a second, for {args.duration} s against {system.gateway_url}...",
                    flush=True,
                )
                started = time.monotonic()
                run = run_locust(system.gateway_url, keys, reference, args, folder)
                settings["run_s"] = round(time.monotonic() - started, 1)
                cache = cache_reads(
                    before,
                    scrape(metrics),
                    redis_expired(cache_url) - expired,
                    canvas_entries(cache_url),
                )
                report(settings, run, cache)
        finally:
            if args.keep_logs is not None:
                with contextlib.suppress(OSError):
                    shutil.copytree(system.root / "logs", args.keep_logs, dirs_exist_ok=True)
                    shutil.copy(folder / "locust.log", args.keep_logs)


if __name__ == "__main__":
    main()
