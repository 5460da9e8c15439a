"""How many live connections does one fan-out replica hold, what does each cost, and how soon do
its viewers hear an event?

``python -m loadtests.bench_fanout [--connections 10000] [--step 2500] [--gateway-connections
2000] [--viewers 1000] [--rate 20] [--duration 10]`` starts the whole platform (every service
with ``--workers 2``), gives each of many users an API key and a canvas of their own, and holds
connections with several load-generator processes (``loadtests.live_load``: raw aiohttp
WebSockets and SSE streams, half and half, the WebSockets half MessagePack and half JSON; each
authenticated with its user's key and subscribed to a canvas it may read). It measures:

1. **connections held directly** by the fan-out replica (``python -m services.fanout --workers
   2``, its port, not the gateway's): opened in steps of ``--step`` up to ``--connections`` and
   ``--beyond`` steps past it while every step holds; after each step one event is published
   on every canvas topic in use and every connection must receive it. A step is held when every
   connection opened, none was dropped and every one received its event;
2. **through the gateway**: ``--gateway-connections`` the same way through its ``/v1/ws`` and
   ``/v1/events`` relays, to the same fan-out;
3. **memory per idle connection**: the fan-out workers' RSS (from ``/proc``) before the ramp and
   at its highest held step before the broadcast, divided by the connections, next to a bare
   aiohttp server (as many processes, sharing a port) holding the same connections: it answers
   the subscribe and nothing more;
4. **publish-to-delivery latency**: ``--viewers`` connections of users sharing one canvas, and
   ``--rate`` events a second on it for ``--duration`` seconds, each stamped with its publishing
   time; once with the 50 ms batching window and once without it (``SHOTGRAPH_FANOUT_WINDOW_MS=0``,
   fan-out restarted), with the frames and bytes received, and MessagePack's bytes against
   JSON's for the same events; beside them, a plain NATS subscriber's latency for the same
   events (the floor: the bus and this machine without fan-out).

Everything stays on 127.0.0.1 in a temporary folder and stops again, also on Ctrl-C. The whole
default run takes about three minutes (four on a busy machine); the connections, rates and
durations are bounded. ``loadtests/README.md`` says how to read the output.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import os
import platform as host
import signal
import socket
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import grpc
import msgspec
import nats
from aiohttp import web
from nats.aio.msg import Msg

from libs.bus import Envelope, encode
from libs.bus.events import CanvasNodes, NodeResult
from libs.bus.states import NodeState
from libs.bus.subjects import canvas_events_subject
from libs.launcher import Platform
from libs.live.protocol import JSON_PROTOCOL, PROTOCOLS
from libs.ports import free_port
from libs.ratelimit import generous_policies
from loadtests.common import cell, child, met, print_notes, print_result, ratio, stopped_at_exit
from loadtests.live_load import KINDS, Generators, Spec, kind_of, raise_fd_limit
from shotgraph.auth.v1 import auth_pb2, auth_pb2_grpc

HOST = "127.0.0.1"
PER_USER = 8  # connections per user: fan-out's default per-user cap, so none is raised
TARGET_CONNECTIONS = 10_000
TARGET_KB_PER_CONNECTION = 30.0
TARGET_P99_MS = 100.0
MAX_CONNECTIONS = 16_000  # under the 20,000 descriptors a fan-out worker or generator may hold
MAX_GATEWAY_CONNECTIONS = 8_000  # the gateway holds two sockets for each
OPEN_CONCURRENCY = 32  # connections being opened at once, per generator
OPEN_TIMEOUT_S = 60.0  # one connection, from connect to ``subscribed``
DELIVERY_TIMEOUT_S = 60.0
PUBLISH_CONCURRENCY = 64
PARTS = ("latency", "ramp", "gateway")  # in the order they run
_PAGE = os.sysconf("SC_PAGE_SIZE")
_TICKS = os.sysconf("SC_CLK_TCK")


# --- the users, their keys and canvases --------------------------------------------------------


@dataclass(frozen=True)
class Member:
    """A user of the benchmark: their key, and the canvas they own."""

    user_id: str
    key: str
    canvas_id: str


async def _enrol(auth_address: str, gateway_url: str, count: int) -> list[Member]:
    """``count`` users, each with an API key (through auth's gRPC API) and a canvas (through
    the gateway, as a program would make one)."""
    limit = asyncio.Semaphore(32)
    prefix = f"bench-fanout-{uuid.uuid4().hex[:6]}"
    async with grpc.aio.insecure_channel(auth_address) as channel:
        auth = auth_pb2_grpc.AuthServiceStub(channel)

        async def key(n: int) -> auth_pb2.CreateApiKeyResponse:
            async with limit:
                request = auth_pb2.CreateApiKeyRequest(user_name=f"{prefix}-{n}", key_name="dev")
                return await auth.CreateApiKey(request, timeout=30)

        keys = await asyncio.gather(*(key(n) for n in range(count)))

    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:

        async def canvas(created: auth_pb2.CreateApiKeyResponse) -> Member:
            async with (
                limit,
                session.post(
                    f"{gateway_url}/v1/canvases",
                    json={"name": "bench"},
                    headers={"Authorization": f"Bearer {created.key}"},
                ) as response,
            ):
                if response.status != 201:
                    raise RuntimeError(f"POST /v1/canvases answered {response.status}")
                body = await response.json()
            return Member(created.user_id, created.key, str(body["id"]))

        return list(await asyncio.gather(*(canvas(k) for k in keys)))


async def _share(gateway_url: str, owner: Member, readers: Sequence[Member]) -> None:
    """Share ``owner``'s canvas with ``readers`` to read."""
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
        for reader in readers:
            async with session.post(
                f"{gateway_url}/v1/canvases/{owner.canvas_id}/shares",
                json={"user_id": reader.user_id, "access": "read"},
                headers={"Authorization": f"Bearer {owner.key}"},
            ) as response:
                if response.status != 200:
                    raise RuntimeError(f"sharing a canvas answered {response.status}")


def _specs(members: Sequence[Member], count: int, canvas_of: Member | None = None) -> list[Spec]:
    """``count`` connections, ``PER_USER`` of each member in turn, in the mix of ``kind_of``,
    each subscribed to its member's canvas (or to ``canvas_of``'s, shared with them)."""
    specs = []
    for n in range(count):
        member = members[n // PER_USER]
        canvas = (canvas_of or member).canvas_id
        specs.append(Spec(kind_of(n), member.key, f"canvas:{canvas}"))
    return specs


# --- events --------------------------------------------------------------------------------------


def _node_event(canvas_id: str, progress: int) -> bytes:
    """A node's progress on a canvas, as canvas publishes it during Execute; its envelope's
    ``time`` is now (what the viewers measure from)."""
    nodes = [NodeResult(node_id="shot-1", key="k" * 64, state=NodeState.RUNNING, progress=progress)]
    return encode(CanvasNodes(canvas_id=canvas_id, version=1, batch_id="", nodes=nodes))


async def _broadcast(nats_url: str, canvas_ids: Sequence[str]) -> tuple[int, int]:
    """One event on each canvas's subject; the first and last stream sequences they got."""
    nc = await nats.connect(nats_url, connect_timeout=5)
    try:
        js = nc.jetstream(timeout=10)
        limit = asyncio.Semaphore(PUBLISH_CONCURRENCY)

        async def one(canvas_id: str) -> int:
            async with limit:
                ack = await js.publish(canvas_events_subject(canvas_id), _node_event(canvas_id, 50))
                return int(ack.seq)

        seqs = await asyncio.gather(*(one(c) for c in canvas_ids))
    finally:
        await nc.close()
    return min(seqs), max(seqs)


async def _publish_at_rate(
    nats_url: str, canvas_id: str, rate: float, duration_s: float
) -> dict[str, Any]:
    """``rate`` events a second on one canvas for ``duration_s``, evenly spaced; each is stamped
    as it is published. The first and last sequences, how long publishing took, and the
    latencies of one plain NATS subscriber of the subject (the floor: the bus and this machine
    without fan-out)."""
    count = max(1, round(rate * duration_s))
    subject = canvas_events_subject(canvas_id)
    nc = await nats.connect(nats_url, connect_timeout=5)
    listener = await nats.connect(nats_url, connect_timeout=5)
    heard: list[float] = []
    all_heard = asyncio.Event()

    async def hear(msg: Msg) -> None:
        heard.append(time.time() - Envelope.decode(msg.data).time)
        if len(heard) == count:
            all_heard.set()

    seqs = []
    try:
        await listener.subscribe(subject, cb=hear)
        await listener.flush()
        js = nc.jetstream(timeout=10)
        loop = asyncio.get_running_loop()
        started, started_at = loop.time(), time.time()
        for n in range(count):
            # Pacing, not waiting for a condition: the n-th event leaves at its time.
            await asyncio.sleep(max(0.0, started + n / rate - loop.time()))
            seqs.append(int((await js.publish(subject, _node_event(canvas_id, n % 101))).seq))
        seconds = loop.time() - started
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(all_heard.wait(), DELIVERY_TIMEOUT_S)
    finally:
        await listener.close()
        await nc.close()
    return {
        "events": count,
        "first_seq": seqs[0],
        "last_seq": seqs[-1],
        "seconds": seconds,
        "started_at": started_at,
        "bus_latencies": heard,
    }


# --- processes and their memory ------------------------------------------------------------------


def _rss(pids: Sequence[int]) -> int:
    """Resident bytes of ``pids`` together (``/proc/<pid>/statm``)."""
    total = 0
    for pid in pids:
        with open(f"/proc/{pid}/statm") as statm:
            total += int(statm.read().split()[1]) * _PAGE
    return total


def _cpu_s(pids: Sequence[int]) -> float:
    """CPU seconds ``pids`` have used, user and system (``/proc/<pid>/stat``)."""
    total = 0
    for pid in pids:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rpartition(")")[2].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)
    return total / _TICKS


def _workers_of(supervisor: int) -> list[int]:
    """The worker processes of a service's supervisor (``libs.runner``): its spawned children,
    less multiprocessing's resource tracker."""
    workers = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat") as stat:
                ppid = int(stat.read().rpartition(")")[2].split()[1])
            if ppid != supervisor:
                continue
            with open(f"/proc/{entry.name}/cmdline", "rb") as cmdline:
                if b"resource_tracker" in cmdline.read():
                    continue
        except (OSError, ValueError, IndexError):
            continue  # gone meanwhile
        workers.append(int(entry.name))
    return sorted(workers)


def _service_workers(system: Platform, name: str, expected: int) -> list[int]:
    process = system.services[name].process
    assert process is not None
    workers = _workers_of(process.pid)
    if len(workers) != expected:
        raise RuntimeError(f"{name} runs {len(workers)} workers, not {expected}")
    return workers


def _restart_fanout(system: Platform, env: dict[str, str]) -> None:
    """Stop fan-out and start it again on the same port with ``env`` on top of the platform's."""
    system.stop_service("fanout")
    system.services["fanout"].env = env
    system.start_service("fanout")
    system.wait_ready(["fanout"])


# --- the baseline: a bare aiohttp server holding connections -----------------------------------


def _serve_baseline(port: int) -> None:
    """WebSockets and event streams as bare aiohttp holds them: a subscribe is answered with
    ``subscribed`` (what the load generator waits for), then nothing happens. The same server
    settings as fan-out's (no compression, 20 s heartbeat, 4 KiB client frames); as many of
    these processes as fan-out has workers share the port."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    raise_fd_limit()

    async def ws(request: web.Request) -> web.WebSocketResponse:
        websocket = web.WebSocketResponse(
            protocols=PROTOCOLS, compress=False, heartbeat=20.0, max_msg_size=4096
        )
        await websocket.prepare(request)
        json = websocket.ws_protocol == JSON_PROTOCOL
        async for message in websocket:
            if message.type in (aiohttp.WSMsgType.TEXT, aiohttp.WSMsgType.BINARY):
                if json:
                    topic = msgspec.json.decode(message.data).get("topic", "")
                    reply = [{"type": "subscribed", "topic": topic}]
                    await websocket.send_str(msgspec.json.encode(reply).decode())
                else:
                    topic = msgspec.msgpack.decode(message.data).get("topic", "")
                    reply = [{"type": "subscribed", "topic": topic}]
                    await websocket.send_bytes(msgspec.msgpack.encode(reply))
        return websocket

    async def events(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(
            headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
        )
        await response.prepare(request)
        subscribed = {"type": "subscribed", "topic": request.query.get("topics", "")}
        await response.write(
            b"event: shotgraph.subscribed\ndata: " + msgspec.json.encode(subscribed) + b"\n\n"
        )
        await asyncio.Future()  # until the client goes (the handler is cancelled then)
        return response

    async def serve() -> None:
        app = web.Application()
        app.router.add_get("/v1/ws", ws)
        app.router.add_get("/v1/events", events)
        runner = web.AppRunner(app, access_log=None, handler_cancellation=True)
        await runner.setup()
        await web.TCPSite(runner, HOST, port, reuse_port=True).start()
        await asyncio.Event().wait()

    asyncio.run(serve())


# --- the measurements ----------------------------------------------------------------------------


@dataclass
class Held:
    """Connections opened at once, then one event on each of their canvases."""

    connections: int
    opened: int
    failures: dict[str, int]
    open_s: float
    delivered: int
    missing: int
    dropped: dict[str, int]
    deliver_s: float  # from the first publish until the last connection had its event
    rss_mb: float | None = None  # the server's, before the broadcast
    kb_per_connection: float | None = None

    @property
    def held(self) -> bool:
        return (
            self.opened == self.connections
            and self.delivered == self.connections
            and not self.missing
            and not self.dropped
        )


def _hold(
    generators: Generators,
    url: str,
    specs: Sequence[Spec],
    connections: int,
    nats_url: str,
    canvas_ids: Sequence[str],
    rss: tuple[Sequence[int], int] | None = None,
) -> Held:
    """Open ``specs`` (``connections`` is then open in all), then publish one event on each of
    ``canvas_ids`` and wait until every open connection has had its own. With ``rss`` (pids,
    bytes before any connection) the servers' memory is read before the broadcast."""
    opened = generators.open(url, specs, concurrency=OPEN_CONCURRENCY, timeout_s=OPEN_TIMEOUT_S)
    rss_mb = kb = None
    if rss is not None:
        pids, before = rss
        now = _rss(pids)
        rss_mb = now / 2**20
        kb = (now - before) / 1024 / connections
    started = time.perf_counter()
    first_seq, _ = asyncio.run(_broadcast(nats_url, canvas_ids))
    reached = generators.reach(first_seq, DELIVERY_TIMEOUT_S)
    return Held(
        connections=connections,
        opened=connections - len(specs) + opened["opened"],
        failures=opened["failures"],
        open_s=opened["seconds"],
        delivered=reached["received"],
        missing=reached["missing"],
        dropped=reached["dropped"],
        deliver_s=time.perf_counter() - started,
        rss_mb=rss_mb,
        kb_per_connection=kb,
    )


@dataclass
class Latency:
    """One canvas's viewers hearing a stream of events."""

    window_ms: int
    events: int
    viewers: int
    deliveries: int
    expected: int
    publish_s: float
    p50_ms: float | None
    p99_ms: float | None
    max_ms: float | None
    bus_p50_ms: float | None  # one plain NATS subscriber of the same events: the floor
    bus_p99_ms: float | None
    frames_per_s: float
    bytes_per_s: float
    frames: dict[str, int]
    bytes: dict[str, int]
    connections: dict[str, int]
    dropped: dict[str, int]
    worst_ms_by_second: list[int]  # the oldest delivery read in each second of the run
    fanout_cpu: float  # CPU seconds a second while the events went out: cores kept busy
    generators_cpu: float

    def bytes_per_viewer(self, kind: str) -> float | None:
        viewers = self.connections.get(kind, 0)
        return self.bytes.get(kind, 0) / viewers if viewers else None


def _percentile_ms(ordered: Sequence[float], q: float) -> float | None:
    """The ``q`` quantile (nearest rank) of ``ordered`` seconds, in milliseconds."""
    if not ordered:
        return None
    return round(ordered[min(len(ordered) - 1, math.ceil(q * len(ordered)) - 1)] * 1000, 2)


def _latency(
    generators: Generators,
    fanout: tuple[str, Sequence[int]],
    specs: Sequence[Spec],
    nats_url: str,
    canvas_id: str,
    rate: float,
    duration_s: float,
    window_ms: int,
) -> Latency:
    """``specs`` (viewers of ``canvas_id``) opened on the fan-out at ``fanout`` (its URL and
    worker pids), then ``rate`` events a second on the canvas for ``duration_s``."""
    fanout_url, fanout_pids = fanout
    opened = generators.open(
        fanout_url, specs, concurrency=OPEN_CONCURRENCY, timeout_s=OPEN_TIMEOUT_S
    )
    if opened["opened"] != len(specs):
        raise RuntimeError(f"only {opened['opened']} of {len(specs)} viewers opened: {opened}")
    # A first event reached by everyone: what opening sent (hello, subscribed, presence) is
    # over before the counts start.
    fence, _ = asyncio.run(_broadcast(nats_url, [canvas_id]))
    generators.reach(fence, DELIVERY_TIMEOUT_S)
    generators.reset()
    cpu_before = _cpu_s(fanout_pids), _cpu_s(generators.pids)
    published = asyncio.run(_publish_at_rate(nats_url, canvas_id, rate, duration_s))
    reached = generators.reach(published["last_seq"], DELIVERY_TIMEOUT_S)
    cpu = _cpu_s(fanout_pids) - cpu_before[0], _cpu_s(generators.pids) - cpu_before[1]
    tally = generators.tally()
    generators.close()
    worst_by_second: dict[int, float] = {}
    for age, arrival in zip(tally["latencies"], tally["arrivals"], strict=True):
        second = int(arrival - published["started_at"])
        worst_by_second[second] = max(age, worst_by_second.get(second, 0.0))
    latencies = sorted(tally["latencies"])
    bus = sorted(published["bus_latencies"])
    seconds = published["seconds"] or 1e-9
    return Latency(
        window_ms=window_ms,
        events=published["events"],
        viewers=len(specs),
        deliveries=len(latencies),
        expected=published["events"] * len(specs),
        publish_s=round(seconds, 3),
        p50_ms=_percentile_ms(latencies, 0.50),
        p99_ms=_percentile_ms(latencies, 0.99),
        max_ms=_percentile_ms(latencies, 1.0),
        bus_p50_ms=_percentile_ms(bus, 0.50),
        bus_p99_ms=_percentile_ms(bus, 0.99),
        frames_per_s=round(sum(tally["frames"].values()) / seconds, 1),
        bytes_per_s=round(sum(tally["bytes"].values()) / seconds, 1),
        frames=tally["frames"],
        bytes=tally["bytes"],
        connections=tally["connections"],
        dropped=reached["dropped"],
        worst_ms_by_second=[round(worst_by_second[n] * 1000) for n in sorted(worst_by_second)],
        fanout_cpu=round(cpu[0] / seconds, 3),
        generators_cpu=round(cpu[1] / seconds, 3),
    )


# --- the report -----------------------------------------------------------------------------------


def _failures(row: Held) -> str:
    kinds = {**{f"open: {k}": v for k, v in row.failures.items()}, **row.dropped}
    return ", ".join(f"{k} x{v}" for k, v in kinds.items())


def _print_held(title: str, rows: Sequence[Held]) -> None:
    print(f"\n{title}")
    header = (
        "connections",
        "opened",
        "open s",
        "delivered",
        "missing",
        "dropped",
        "deliver s",
        "RSS MB",
        "KB/conn",
        "held",
    )
    print("".join(f"{h:>12}" for h in header))
    for row in rows:
        cells = (
            f"{row.connections:,}",
            f"{row.opened:,}",
            cell(row.open_s, ".1f"),
            f"{row.delivered:,}",
            f"{row.missing:,}",
            f"{sum(row.dropped.values()):,}",
            cell(row.deliver_s, ".2f"),
            cell(row.rss_mb, ",.1f"),
            cell(row.kb_per_connection, ".1f"),
            "yes" if row.held else "no",
        )
        print("".join(f"{c:>12}" for c in cells))
        if row.failures or row.dropped:
            print(f"{'':>12}failures: {_failures(row)}")


def _print_latency(runs: Sequence[Latency], rate: float, duration_s: float) -> None:
    first = runs[0]
    print(
        f"\n4. publish to delivery: one canvas, {first.viewers:,} viewers, {rate:g} events/s for"
        f" {duration_s:g} s ({first.events} events)"
    )
    print(
        f"{'window':<8}{'deliveries':>18}{'p50 ms':>10}{'p99 ms':>10}{'max ms':>10}"
        f"{'NATS p50':>10}{'NATS p99':>10}"
    )
    for run in runs:
        print(
            f"{f'{run.window_ms} ms':<8}{f'{run.deliveries:,}/{run.expected:,}':>18}"
            f"{cell(run.p50_ms):>10}{cell(run.p99_ms):>10}{cell(run.max_ms):>10}"
            f"{cell(run.bus_p50_ms):>10}{cell(run.bus_p99_ms):>10}"
        )
        if run.dropped:
            print(f"        dropped: {run.dropped}")
    print("worst delivery in each second of the run, ms:")
    for run in runs:
        print(f"{f'{run.window_ms} ms':<8}" + " ".join(f"{ms:,}" for ms in run.worst_ms_by_second))
    print(f"{'window':<8}{'frames/s':>12}{'bytes/s':>14}{'fan-out CPU':>14}{'generators CPU':>16}")
    for run in runs:
        print(
            f"{f'{run.window_ms} ms':<8}{cell(run.frames_per_s, ',.0f'):>12}"
            f"{cell(run.bytes_per_s, ',.0f'):>14}{cell(run.fanout_cpu):>14}"
            f"{cell(run.generators_cpu):>16}"
        )
    print("bytes per viewer for the same events:")
    for run in runs:
        per = {kind: run.bytes_per_viewer(kind) for kind in KINDS}
        frames = {
            kind: run.frames.get(kind, 0) / run.connections[kind]
            for kind in KINDS
            if run.connections.get(kind)
        }
        print(
            f"  {run.window_ms} ms window: "
            + ", ".join(f"{k} {cell(v, ',.0f')} B" for k, v in per.items())
            + f"; MessagePack / JSON = {cell(ratio(per['msgpack'], per['json']))}"
            + "; frames per viewer: "
            + ", ".join(f"{k} {v:,.0f}" for k, v in frames.items())
        )


def _report(settings: dict[str, Any], results: Results) -> None:
    print("\nsettings: " + ", ".join(f"{k}={v}" for k, v in settings.items()))
    result: dict[str, Any] = {"settings": settings}
    top = None
    if results.ramp:
        top = _report_ramp(settings, results.ramp)
        result["ramp"] = [asdict(r) | {"held": r.held} for r in results.ramp]
        result["highest_held"] = top.connections if top is not None else 0
    if results.gateway is not None:
        _print_held(
            "2. through the gateway (its relays, to the same fan-out; RSS is the gateway's)",
            [results.gateway],
        )
        result["gateway"] = asdict(results.gateway) | {"held": results.gateway.held}
    if results.ramp:
        result["memory"] = _report_memory(top, results.baseline)
    if results.latencies:
        result |= _report_latency(settings, results.latencies)
    print_notes(
        [
            "Everything shares this machine's CPUs: the load generators, the fan-out workers,"
            " the six other services, NATS, Postgres and Redis. Compare ratios and the held"
            " step between runs, and keep the machine otherwise idle (see load_1m).",
            f"Each user holds at most {PER_USER} connections (fan-out's default per-user cap,"
            " not raised) on a canvas of their own; the latency viewers are users sharing one"
            " canvas. Every connection is authenticated with its user's API key, subscribed"
            " (fan-out asks canvas whether its user may read the topic) and in the presence"
            " bucket.",
            "KB/conn is (RSS now - RSS before the first connection) / connections, summed over"
            " the server's processes, read after opening and before the broadcast. The bare"
            " aiohttp server holds the same mix of WebSockets and event streams and answers"
            " only the subscribe: the difference is what fan-out keeps per connection.",
            "Latency is from the event's publishing time (its envelope's time, stamped as it"
            " is published) to the generator reading the frame that holds it, for every"
            " delivery; a delivery waits for its batching window. Frames count WebSocket frames"
            " and event-stream reads; bytes are payloads (no WebSocket or chunk headers). CPU"
            " is the seconds used per second of events: cores kept busy; the generators'"
            " share is the measuring's own cost, on the same cores.",
        ]
    )
    print_result(result)


def _report_ramp(settings: dict[str, Any], ramp: Sequence[Held]) -> Held | None:
    """Section 1; the highest step held (the ramp stops at the first that is not)."""
    top = None
    for row in ramp:
        if row.held:
            top = row
    highest = top.connections if top is not None else 0
    _print_held(
        f"1. connections one fan-out replica holds ({settings['workers']} workers, direct;"
        " half SSE, a quarter WebSocket MessagePack, a quarter JSON)",
        ramp,
    )
    print(
        f"highest step fully held: {highest:,}"
        f" (target {TARGET_CONNECTIONS:,}: {met(highest >= TARGET_CONNECTIONS)})"
    )
    return top


def _report_memory(top: Held | None, baseline: Held | None) -> dict[str, Any]:
    """Section 3: the highest step held against bare aiohttp holding as many."""
    fanout_kb = top.kb_per_connection if top is not None else None
    base_kb = baseline.kb_per_connection if baseline is not None else None
    print(f"\n3. memory per idle connection, at {top.connections if top else 0:,} connections")
    if top is not None and baseline is not None:
        print(f"{'server':<28}{'RSS MB':>12}{'KB/conn':>12}{'opened':>12}")
        for name, row in (("fan-out", top), ("bare aiohttp", baseline)):
            print(
                f"{name:<28}{cell(row.rss_mb, ',.1f'):>12}"
                f"{cell(row.kb_per_connection, '.1f'):>12}{row.opened:>12,}"
            )
        print(
            f"fan-out = {cell(ratio(fanout_kb, base_kb))}x bare aiohttp per connection; target"
            f" <= {TARGET_KB_PER_CONNECTION:g} KB:"
            f" {met(fanout_kb is not None and fanout_kb <= TARGET_KB_PER_CONNECTION)}"
        )
    else:
        print("no step held: nothing to compare")
    return {
        "connections": top.connections if top is not None else 0,
        "fanout_kb": fanout_kb,
        "baseline_kb": base_kb,
        "ratio": ratio(fanout_kb, base_kb),
        "baseline": asdict(baseline) if baseline is not None else None,
    }


def _report_latency(settings: dict[str, Any], latencies: Sequence[Latency]) -> dict[str, Any]:
    _print_latency(latencies, settings["rate"], settings["duration_s"])
    window = next((r for r in latencies if r.window_ms), None)
    none = next((r for r in latencies if not r.window_ms), None)
    ratios: dict[str, float | None] = {}
    if window is not None and none is not None:
        ratios = {
            "frames": ratio(window.frames_per_s, none.frames_per_s),
            "bytes": ratio(window.bytes_per_s, none.bytes_per_s),
            "p99": ratio(window.p99_ms, none.p99_ms),
            "fanout_cpu": ratio(window.fanout_cpu, none.fanout_cpu),
        }
        print(
            f"with the window / without: frames {cell(ratios['frames'])}x,"
            f" bytes {cell(ratios['bytes'])}x, p99 {cell(ratios['p99'])}x,"
            f" fan-out CPU {cell(ratios['fanout_cpu'])}x"
        )
    if window is not None:  # the target is the platform's setting: the window on
        p99 = window.p99_ms
        ok = window.deliveries == window.expected and p99 is not None and p99 < TARGET_P99_MS
        print(
            f"p99 target < {TARGET_P99_MS:g} ms with the {window.window_ms} ms window included:"
            f" {met(ok)}"
        )
    return {"latency": [asdict(r) for r in latencies], "window_ratio": ratios}


# --- the run --------------------------------------------------------------------------------------


@contextmanager
def _baseline_server(workers: int) -> Iterator[tuple[str, list[int]]]:
    port = free_port()
    with ExitStack() as stack:
        processes = [stack.enter_context(child(_serve_baseline, (port,))) for _ in range(workers)]
        url = f"http://{HOST}:{port}"
        deadline = time.monotonic() + 15
        while not _listening(port):
            if time.monotonic() > deadline:
                raise RuntimeError("the baseline server did not start")
            time.sleep(0.05)
        yield url, [p.pid for p in processes]


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex((HOST, port)) == 0


def _steps(args: argparse.Namespace) -> list[int]:
    steps = [*range(args.step, args.connections, args.step), args.connections]
    top = args.connections
    for _ in range(args.beyond):
        top += args.step
        if top > MAX_CONNECTIONS:
            break
        steps.append(top)
    return steps


@dataclass
class Results:
    """What the parts measured (a part not run leaves its field empty)."""

    ramp: list[Held] = field(default_factory=list)
    baseline: Held | None = None
    gateway: Held | None = None
    latencies: list[Latency] = field(default_factory=list)


def run(args: argparse.Namespace, system: Platform) -> Results:
    steps = _steps(args)
    needed = {"ramp": steps[-1], "gateway": args.gateway_connections, "latency": args.viewers}
    users = math.ceil(max(needed[part] for part in args.parts) / PER_USER)
    nats_url = (system.stack.environment() if system.stack else os.environ)["SHOTGRAPH_NATS_URL"]
    auth_address = f"{HOST}:{system.services['auth'].grpc_port}"
    print(f"creating {users:,} users with a key and a canvas each...", flush=True)
    members = asyncio.run(_enrol(auth_address, system.gateway_url, users))
    specs = _specs(members, len(members) * PER_USER)
    results = Results()
    with Generators(args.generators) as generators:
        if "latency" in args.parts:
            results.latencies = _latency_part(args, system, generators, members, nats_url)
        if "ramp" in args.parts:
            _restart_fanout(system, {})  # fresh, for its memory before the first connection
            results.ramp = _ramp_part(args, system, generators, members, specs, nats_url)
            highest = max((r.connections for r in results.ramp if r.held), default=0)
            if highest:
                results.baseline = _baseline_part(args, generators, specs[:highest])
        if "gateway" in args.parts:
            print(f"gateway: {args.gateway_connections:,} connections through it...", flush=True)
            pids = _service_workers(system, "gateway", args.workers)
            results.gateway = _hold(
                generators,
                system.gateway_url,
                specs[: args.gateway_connections],
                args.gateway_connections,
                nats_url,
                [m.canvas_id for m in members[: math.ceil(args.gateway_connections / PER_USER)]],
                (pids, _rss(pids)),
            )
            generators.close()
    return results


def _latency_part(
    args: argparse.Namespace,
    system: Platform,
    generators: Generators,
    members: Sequence[Member],
    nats_url: str,
) -> list[Latency]:
    """The viewers' latency with the window and without it, each on a fan-out started anew."""
    viewers = members[: math.ceil(args.viewers / PER_USER)]
    asyncio.run(_share(system.gateway_url, viewers[0], viewers[1:]))
    specs = _specs(viewers, args.viewers, canvas_of=viewers[0])
    runs = []
    for window_ms in (50, 0):
        _restart_fanout(system, {"SHOTGRAPH_FANOUT_WINDOW_MS": str(window_ms)})
        print(
            f"latency: {args.viewers:,} viewers of one canvas, {args.rate:g} events/s for"
            f" {args.duration:g} s, window {window_ms} ms...",
            flush=True,
        )
        fanout = system.services["fanout"].url, _service_workers(system, "fanout", args.workers)
        runs.append(
            _latency(
                generators,
                fanout,
                specs,
                nats_url,
                viewers[0].canvas_id,
                args.rate,
                args.duration,
                window_ms,
            )
        )
    return runs


def _ramp_part(
    args: argparse.Namespace,
    system: Platform,
    generators: Generators,
    members: Sequence[Member],
    specs: Sequence[Spec],
    nats_url: str,
) -> list[Held]:
    """Steps of connections held by fan-out, until the last step or the first not held."""
    pids = _service_workers(system, "fanout", args.workers)
    before = _rss(pids)
    ramp: list[Held] = []
    opened = 0
    for step in _steps(args):
        print(f"ramp: {step:,} connections to fan-out directly...", flush=True)
        canvases = [m.canvas_id for m in members[: math.ceil(step / PER_USER)]]
        url = system.services["fanout"].url
        row = _hold(generators, url, specs[opened:step], step, nats_url, canvases, (pids, before))
        opened = step
        ramp.append(row)
        if not row.held:
            break
    generators.close()
    return ramp


def _baseline_part(args: argparse.Namespace, generators: Generators, specs: Sequence[Spec]) -> Held:
    """The same connections held by a bare aiohttp server: its memory per connection."""
    print(f"baseline: {len(specs):,} connections to bare aiohttp...", flush=True)
    with _baseline_server(args.workers) as (url, pids):
        before = _rss(pids)
        opened = generators.open(url, specs, concurrency=OPEN_CONCURRENCY, timeout_s=OPEN_TIMEOUT_S)
        now = _rss(pids)
        generators.close()
    return Held(
        connections=len(specs),
        opened=opened["opened"],
        failures=opened["failures"],
        open_s=opened["seconds"],
        delivered=0,
        missing=0,
        dropped={},
        deliver_s=0.0,
        rss_mb=now / 2**20,
        kb_per_connection=(now - before) / 1024 / len(specs),
    )


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m loadtests.bench_fanout", description=__doc__)
    parser.add_argument("--connections", type=int, default=TARGET_CONNECTIONS)
    parser.add_argument("--step", type=int, default=2_500)
    parser.add_argument("--beyond", type=int, default=1, help="steps past --connections")
    parser.add_argument("--gateway-connections", type=int, default=2_000)
    parser.add_argument("--viewers", type=int, default=1_000)
    parser.add_argument("--rate", type=float, default=20.0, help="events a second")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds of events")
    parser.add_argument("--workers", type=int, default=2, help="processes per service")
    parser.add_argument("--generators", type=int, default=4, help="load-generator processes")
    parser.add_argument(
        "--parts",
        type=lambda raw: set(raw.split(",")),
        default=set(PARTS),
        help=f"which measurements, comma separated: {','.join(PARTS)} (ramp includes memory)",
    )
    args = parser.parse_args()
    if not args.parts or not args.parts <= set(PARTS):
        parser.error(f"--parts names some of {', '.join(PARTS)}")
    if not 1 <= args.step <= args.connections <= MAX_CONNECTIONS:
        parser.error(f"need 1 <= --step <= --connections <= {MAX_CONNECTIONS:,}")
    if not 0 <= args.beyond <= 4:
        parser.error("--beyond goes from 0 to 4")
    if not 1 <= args.gateway_connections <= MAX_GATEWAY_CONNECTIONS:
        parser.error(f"--gateway-connections goes from 1 to {MAX_GATEWAY_CONNECTIONS:,}")
    if not 1 <= args.viewers <= 5_000:
        parser.error("--viewers goes from 1 to 5,000")
    if not (0 < args.rate <= 200 and 0 < args.duration <= 60):
        parser.error("--rate goes up to 200 events/s, --duration up to 60 s")
    if not (1 <= args.workers <= 8 and 1 <= args.generators <= 16):
        parser.error("--workers goes from 1 to 8, --generators from 1 to 16")
    settings = {
        "connections": args.connections,
        "step": args.step,
        "beyond": args.beyond,
        "gateway_connections": args.gateway_connections,
        "viewers": args.viewers,
        "rate": args.rate,
        "duration_s": args.duration,
        "workers": args.workers,
        "generators": args.generators,
        "parts": ",".join(p for p in PARTS if p in args.parts),
        "per_user": PER_USER,
        "cpus": os.cpu_count(),
        "usable_cpus": len(os.sched_getaffinity(0)),
        "python": host.python_version(),
        "aiohttp": aiohttp.__version__,
    }
    # Each connection is a descriptor in the fan-out worker (and the gateway) that holds it:
    # the services inherit this process's limit.
    raise_fd_limit()
    with tempfile.TemporaryDirectory(prefix="shotgraph-bench-fanout-") as root:
        system = Platform(
            root=Path(root) / "platform",
            workers=args.workers,
            env={"SHOTGRAPH_RATE_LIMITS": generous_policies()},
        )
        with stopped_at_exit(system):
            print(f"starting the platform ({args.workers} worker(s) per service)...", flush=True)
            system.start()
            results = run(args, system)
            settings["load_1m"] = round(os.getloadavg()[0], 2)
            _report(settings, results)


if __name__ == "__main__":
    main()
