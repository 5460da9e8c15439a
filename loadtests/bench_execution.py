"""What does following batches through their events give a canvas, next to polling batch?

``python -m loadtests.bench_execution [--nodes 300] [--reads 200] [--group 10] [--settle-nodes 50]
[--runs 3] [--poll-ms 500] [--work-ms 50]`` starts NATS and
PostgreSQL (``libs.devstack``), the batch service in this process (``tests.in_process``: its
real servicer, store and events; the benchmark plays its workers) and the canvas service's
execution parts with its tracker following the batch events. One canvas of ``--nodes``
characters, each with a reference image, executes as one batch of as many thumbnail jobs. It
measures:

1. **a results read** (``node_results``, what ``GET /v1/canvases/{id}/results`` runs) while the
   batch runs: as it is now (the canvas's own records), against the baseline of the same read
   plus the walk over the batch's ``ListJobs`` pages (100 jobs each, inputs included) that every
   read and every Execute made before node states came from events;
2. **event to viewer**: jobs succeed ``--group`` at a time (batch applies the reports and sends
   its progress event at once); the time until a subscriber of the canvas's subject
   (``events.canvas.<id>``) has heard every one of those nodes succeed;
3. **Execute to settled**, on a canvas of ``--settle-nodes`` (50) characters, ``--runs`` times
   each way: from pressing Execute until every node is known settled, and the batch RPCs that
   took. The workers finish ``--group`` jobs every ``--work-ms``. Now: a subscriber of the
   canvas's subject hears the last node settle, and the RPCs are counted until the tracker has
   nothing left to check for the execution. Before: the canvas knew only what a read walked out
   of ``ListJobs``, so the viewer read every ``--poll-ms`` until the walk showed every job over.

Bounded: at most 2,000 nodes, 2,000 reads and 10 runs; a run takes about a minute at the
defaults.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import platform as host
import shutil
import statistics
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import nats
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError

from libs.bus import Envelope
from libs.bus.events import CanvasNodes
from libs.bus.states import JobState, NodeState, ReportedState
from libs.bus.subjects import canvas_events_subject, user_batch_events_subject
from libs.bus.work import JobReport
from libs.db import create_pool, migrate
from libs.devstack import DevStack
from libs.metrics import GRPC_REQUESTS
from loadtests.common import cell, print_notes, print_result, ratio
from loadtests.figures import p50_p99_ms
from services.canvas.app import MIGRATIONS
from services.canvas.execution import Executions
from services.canvas.graph import Graph
from services.canvas.kinds import DEFAULT_TYPES
from services.canvas.results import ResultStore
from services.canvas.store import CanvasStore
from services.canvas.tracking import ExecutionTracker, TrackingTimes
from services.canvas.validation import validate
from shotgraph.batch.v1 import batch_pb2
from tests.in_process import BatchService, serve_batch

THUMBNAIL = {"thumbnail": "1" * 64, "image": "1" * 64, "width": 512, "height": 384}
TIMEOUT_S = 60.0


def characters(count: int, run: int = 0) -> Graph:
    """``count`` characters, each with a reference image of its own: a thumbnail job each.
    Another ``run`` has other images, so nothing of it is made already."""
    nodes = [
        {
            "id": f"c{i}",
            "type": "character",
            "position": {"x": 0, "y": 0},
            "properties": {"name": f"Extra {i}", "reference_images": [f"{run:08x}{i:056x}"]},
        }
        for i in range(count)
    ]
    graph, problems = validate({"nodes": nodes, "edges": []}, DEFAULT_TYPES)
    assert graph is not None and not problems, problems
    return graph


async def timed(call: Callable[[], Awaitable[Any]], times: int) -> list[float]:
    seconds = []
    for _ in range(times):
        started = time.perf_counter()
        await call()
        seconds.append(time.perf_counter() - started)
    return seconds


async def list_every_job(batch: BatchService, owner_id: str, batch_id: str) -> list[JobState]:
    """The baseline's extra work per read: every page of the batch's jobs; their states."""
    token, states = "", []
    while True:
        page: batch_pb2.ListJobsResponse = await batch.client.call(
            batch.client.stub.ListJobs,
            batch_pb2.ListJobsRequest(
                owner_id=owner_id, batch_id=batch_id, page_size=100, page_token=token
            ),
        )
        states += [JobState(job.state) for job in page.jobs]
        token = page.next_page_token
        if not token:
            return states


def batch_rpcs() -> float:
    """gRPC calls the batch service (served in this process) has answered so far."""
    return sum(
        sample.value
        for metric in GRPC_REQUESTS.collect()
        for sample in metric.samples
        if sample.name.endswith("_total")
    )


async def play_workers(
    batch: BatchService, owner_id: str, batch_id: str, group: int, work_s: float
) -> None:
    """Finish every job of the batch, ``group`` of them every ``work_s``."""
    listing = await batch.store.jobs(owner_id, batch_id, 10_000)
    ids = [job.id for _, job in listing]
    for start in range(0, len(ids), group):
        await asyncio.sleep(work_s)  # the workers' work, not a wait for anything
        await batch.report(
            *(
                JobReport(
                    job_id=job_id,
                    batch_id=batch_id,
                    state=ReportedState.SUCCEEDED,
                    progress=100,
                    output=THUMBNAIL,
                )
                for job_id in ids[start : start + group]
            )
        )


async def consumer_exists(js: JetStreamContext, durable: str) -> None:
    """Wait until the tracker's consumer exists: from then on it hears every event."""
    deadline = time.perf_counter() + TIMEOUT_S
    while True:
        try:
            await js.consumer_info("EVENTS", durable)
            return
        except NotFoundError:
            assert time.perf_counter() < deadline, "the consumer never started"
            await asyncio.sleep(0.01)


async def nothing_to_check(pool: asyncpg.Pool, batch_id: str) -> None:
    """Wait until the execution is settled and no reconciliation of it is due: every RPC the
    tracker makes for it has been made."""
    deadline = time.perf_counter() + TIMEOUT_S
    while True:
        row = await pool.fetchrow(
            "SELECT settled, due_at FROM canvas.executions WHERE batch_id = $1",
            uuid.UUID(batch_id),
        )
        if row is not None and row["settled"] and row["due_at"] is None:
            return
        assert time.perf_counter() < deadline, f"execution {batch_id} never settled"
        await asyncio.sleep(0.01)


@dataclass
class Bench:
    """What every measurement uses: the services, the canvas's parts, and a user the tracker
    follows."""

    pool: asyncpg.Pool
    nc: NatsClient
    batch: BatchService
    canvases: CanvasStore
    runs: Executions
    user: str


async def reads_and_events(bench: Bench, args: argparse.Namespace) -> dict[str, Any]:
    batch, runs, user = bench.batch, bench.runs, bench.user
    canvas = await bench.canvases.create(user, "bench")
    graph = characters(args.nodes)
    heard: dict[str, float] = {}

    async def on_nodes(msg: Msg) -> None:
        event = Envelope.decode(msg.data).open(CanvasNodes)
        for node in event.nodes:
            if node.state is NodeState.SUCCEEDED:
                heard.setdefault(node.node_id, time.perf_counter())

    subscription = await bench.nc.subscribe(canvas_events_subject(canvas.id), cb=on_nodes)
    execution = await runs.execute(canvas.id, 1, user, graph)
    listed = await list_every_job(batch, user, execution.batch_id)
    assert len(listed) == args.nodes, listed
    await batch.hand_out()

    async def read_now() -> None:
        await runs.node_results(canvas.id, 1, graph, complete=True)

    async def read_before() -> None:
        await list_every_job(batch, user, execution.batch_id)
        await runs.node_results(canvas.id, 1, graph, complete=True)

    await timed(read_now, 10)  # warm-up
    now = await timed(read_now, args.reads)
    before = await timed(read_before, args.reads)

    listing = await batch.store.jobs(user, execution.batch_id, args.nodes + 1)
    by_key = {job.key: job for _, job in listing}
    latencies: list[float] = []
    keys = [f"c{i}/thumbnail/0" for i in range(args.nodes)]
    for start in range(0, args.nodes, args.group):
        group = keys[start : start + args.group]
        reports = [
            JobReport(
                job_id=by_key[key].id,
                batch_id=execution.batch_id,
                state=ReportedState.SUCCEEDED,
                progress=100,
                output=THUMBNAIL,
            )
            for key in group
        ]
        sent = time.perf_counter()
        await batch.report(*reports)
        nodes = [key.split("/")[0] for key in group]
        deadline = sent + TIMEOUT_S
        while not all(node in heard for node in nodes):
            assert time.perf_counter() < deadline, "viewers never heard"
            await asyncio.sleep(0.001)
        latencies.append(max(heard[node] for node in nodes) - sent)
    final = await runs.node_results(canvas.id, 1, graph, complete=True)
    assert all(n.state == NodeState.SUCCEEDED for n in final.nodes)
    await nothing_to_check(bench.pool, execution.batch_id)
    await subscription.unsubscribe()
    now_p50, now_p99 = p50_p99_ms(now)
    before_p50, before_p99 = p50_p99_ms(before)
    event_p50, event_p99 = p50_p99_ms(latencies)
    return {
        "read_now_ms": {"p50": now_p50, "p99": now_p99, "mean": statistics.fmean(now) * 1e3},
        "read_before_ms": {
            "p50": before_p50,
            "p99": before_p99,
            "mean": statistics.fmean(before) * 1e3,
        },
        "read_ratio_p50": ratio(before_p50, now_p50),
        "event_to_viewer_ms": {"p50": event_p50, "p99": event_p99, "groups": len(latencies)},
    }


async def settle_now(bench: Bench, graph: Graph, args: argparse.Namespace) -> tuple[float, float]:
    """Execute, then the seconds until a viewer of the canvas heard every node succeed, and
    the batch RPCs of the whole execution."""
    canvas = await bench.canvases.create(bench.user, "settle now")
    settled: set[str] = set()
    everything = asyncio.Event()

    async def on_nodes(msg: Msg) -> None:
        event = Envelope.decode(msg.data).open(CanvasNodes)
        settled.update(node.node_id for node in event.nodes if node.state is NodeState.SUCCEEDED)
        if len(settled) == len(graph.nodes):
            everything.set()

    subscription = await bench.nc.subscribe(canvas_events_subject(canvas.id), cb=on_nodes)
    rpcs = batch_rpcs()
    started = time.perf_counter()
    execution = await bench.runs.execute(canvas.id, 1, bench.user, graph)
    working = asyncio.create_task(
        play_workers(bench.batch, bench.user, execution.batch_id, args.group, args.work_ms / 1e3)
    )
    await asyncio.wait_for(everything.wait(), TIMEOUT_S)
    seconds = time.perf_counter() - started
    await working
    await nothing_to_check(bench.pool, execution.batch_id)
    await subscription.unsubscribe()
    return seconds, batch_rpcs() - rpcs


async def settle_before(
    bench: Bench, graph: Graph, args: argparse.Namespace
) -> tuple[float, float]:
    """The same as before node states came from events: the canvas learnt of its jobs only by
    walking ``ListJobs`` in a read, so a viewer read every ``--poll-ms`` until all were over."""
    user = f"polling-{uuid.uuid4().hex[:8]}"  # a user the tracker does not follow
    canvas = await bench.canvases.create(user, "settle before")
    rpcs = batch_rpcs()
    started = time.perf_counter()
    execution = await bench.runs.execute(canvas.id, 1, user, graph)
    working = asyncio.create_task(
        play_workers(bench.batch, user, execution.batch_id, args.group, args.work_ms / 1e3)
    )
    deadline = started + TIMEOUT_S
    while True:
        states = await list_every_job(bench.batch, user, execution.batch_id)
        if all(state is JobState.SUCCEEDED for state in states):
            break
        assert time.perf_counter() < deadline, "the batch never finished"
        await asyncio.sleep(args.poll_ms / 1e3)  # the viewer's polling interval
    seconds = time.perf_counter() - started
    await working
    return seconds, batch_rpcs() - rpcs


async def settling(bench: Bench, args: argparse.Namespace) -> dict[str, Any]:
    figures: dict[str, list[tuple[float, float]]] = {"now": [], "before": []}
    for run in range(args.runs):  # alternating, so both see the same machine
        before = characters(args.settle_nodes, run=2 * run + 1)
        figures["before"].append(await settle_before(bench, before, args))
        now = characters(args.settle_nodes, run=2 * run + 2)
        figures["now"].append(await settle_now(bench, now, args))
    medians: dict[str, Any] = {
        way: {
            "seconds": [round(seconds, 4) for seconds, _ in runs],
            "rpcs": [int(rpcs) for _, rpcs in runs],
            "median_ms": statistics.median(seconds for seconds, _ in runs) * 1e3,
            "median_rpcs": statistics.median(rpcs for _, rpcs in runs),
        }
        for way, runs in figures.items()
    }
    medians["ratio_ms"] = ratio(medians["before"]["median_ms"], medians["now"]["median_ms"])
    return medians


async def run(args: argparse.Namespace, stack: DevStack) -> dict[str, Any]:
    pool = await create_pool(stack.database_url)
    nc = await nats.connect(stack.nats_url)
    js = nc.jetstream(timeout=10)
    stopping = asyncio.Event()
    try:
        async with serve_batch(pool, js) as batch:
            await migrate(pool, "canvas", MIGRATIONS)
            results, canvases = ResultStore(pool), CanvasStore(pool)
            # The baseline's executions are never followed: a quiet sweep would reconcile them
            # in the middle of the measured ones.
            times = TrackingTimes(quiet_s=3600)
            tracker = ExecutionTracker(results, canvases, batch.client, js, DEFAULT_TYPES, times)
            user = f"bench-{uuid.uuid4().hex[:8]}"
            consumer = tracker.consumer(
                durable=f"bench-{uuid.uuid4().hex}", filter_subject=user_batch_events_subject(user)
            )
            following = asyncio.gather(consumer.run(js, stopping), tracker.run(stopping))
            await consumer_exists(js, consumer.durable)
            bench = Bench(pool, nc, batch, canvases, Executions(results, batch.client, js), user)
            result = {"nodes": args.nodes, "reads": args.reads, "group": args.group}
            result |= await reads_and_events(bench, args)
            result["settle"] = {
                "nodes": args.settle_nodes,
                "runs": args.runs,
                "poll_ms": args.poll_ms,
                "work_ms": args.work_ms,
            } | await settling(bench, args)
            stopping.set()
            await following
    finally:
        stopping.set()
        await nc.close()
        await pool.close()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m loadtests.bench_execution", description=__doc__
    )
    parser.add_argument("--nodes", type=int, default=300)
    parser.add_argument("--reads", type=int, default=200)
    parser.add_argument("--group", type=int, default=10)
    parser.add_argument("--settle-nodes", type=int, default=50)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--poll-ms", type=int, default=500)
    parser.add_argument("--work-ms", type=int, default=50)
    args = parser.parse_args()
    if not (1 <= args.nodes <= 2000 and 1 <= args.reads <= 2000 and 1 <= args.group <= 100):
        parser.error("--nodes and --reads go from 1 to 2000, --group from 1 to 100")
    if not (1 <= args.settle_nodes <= 2000 and 1 <= args.runs <= 10):
        parser.error("--settle-nodes goes from 1 to 2000, --runs from 1 to 10")
    if not (1 <= args.poll_ms <= 10_000 and 0 <= args.work_ms <= 10_000):
        parser.error("--poll-ms goes from 1 to 10000, --work-ms from 0 to 10000")
    root = Path(tempfile.mkdtemp(prefix="shotgraph-bench-execution-"))
    stack = DevStack.attach_or_start(root)
    try:
        result = asyncio.run(run(args, stack))
    finally:
        stack.release()
        with contextlib.suppress(OSError):
            shutil.rmtree(root, ignore_errors=True)
    now, before = result["read_now_ms"], result["read_before_ms"]
    event = result["event_to_viewer_ms"]
    print(f"\nexecution of {args.nodes} nodes ({args.nodes} jobs), {host.node()}")
    print(f"{'results read':<34}{'p50 ms':>10}{'p99 ms':>10}{'mean ms':>10}")
    for label, row in (("now (own records)", now), ("before (+ the ListJobs walk)", before)):
        print(f"  {label:<32}{cell(row['p50']):>10}{cell(row['p99']):>10}{cell(row['mean']):>10}")
    print(f"  ratio before/now at p50: {result['read_ratio_p50']}")
    print(
        f"event to viewer ({event['groups']} groups of {args.group} jobs):"
        f" p50 {cell(event['p50'])} ms, p99 {cell(event['p99'])} ms"
    )
    settle = result["settle"]
    print(
        f"\nExecute to every node settled, {args.settle_nodes} nodes, median of {args.runs} runs"
        f" (workers finish {args.group} jobs every {args.work_ms} ms)"
    )
    print(f"{'':<34}{'median ms':>10}{'batch RPCs':>12}   runs (s)")
    for label, way in (("now (events)", "now"), (f"before (poll {args.poll_ms} ms)", "before")):
        row = settle[way]
        print(
            f"  {label:<32}{row['median_ms']:>10.1f}{row['median_rpcs']:>12.0f}   {row['seconds']}"
        )
    print(f"  ratio before/now of the medians: {settle['ratio_ms']}")
    print_notes(
        [
            "The event-to-viewer time runs from the moment the reports are handed to batch to"
            " the canvas.nodes event naming every node of the group: batch applying them, its"
            " progress event, the canvas tracker's consumer, its Postgres transaction and"
            " the announcement on the canvas's subject.",
            "The baseline read is the read of before the tracker: every results read and every"
            " Execute walked the batch's jobs page by page, inputs included.",
            "Execute to settled: the workers' own time is in both; before adds the wait for the"
            " next poll (half a poll interval on average) and an RPC per poll, now adds the"
            " events' way to the viewer. The RPCs now are SubmitBatch and any reconciliation"
            " the tracker chose to make, counted until it has nothing left to check.",
        ]
    )
    print_result(result)


if __name__ == "__main__":
    main()
