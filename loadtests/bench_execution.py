"""What does following batches through their events give a canvas, next to polling batch?

``python -m loadtests.bench_execution [--nodes 300] [--reads 200] [--group 10]`` starts NATS and
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
   (``events.canvas.<id>``) has heard every one of those nodes succeed.

Bounded: at most 2,000 nodes and 2,000 reads; a run takes well under a minute at the defaults.
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
from pathlib import Path
from typing import Any

import nats
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError

from libs.bus import Envelope
from libs.bus.events import CanvasNodes
from libs.bus.states import NodeState, ReportedState
from libs.bus.subjects import canvas_events_subject, user_events_subject
from libs.bus.work import JobReport
from libs.db import create_pool, migrate
from libs.devstack import DevStack
from loadtests.common import print_notes, print_result, ratio
from loadtests.figures import p50_p99_ms
from services.canvas.app import MIGRATIONS
from services.canvas.execution import Executions
from services.canvas.graph import Graph
from services.canvas.kinds import DEFAULT_TYPES
from services.canvas.results import ResultStore
from services.canvas.store import CanvasStore
from services.canvas.tracking import ExecutionTracker
from services.canvas.validation import validate
from shotgraph.batch.v1 import batch_pb2
from tests.in_process import BatchService, serve_batch

THUMBNAIL = {"thumbnail": "1" * 64, "image": "1" * 64, "width": 512, "height": 384}
TIMEOUT_S = 60.0


def characters(count: int) -> Graph:
    """``count`` characters, each with a reference image of its own: a thumbnail job each."""
    nodes = [
        {
            "id": f"c{i}",
            "type": "character",
            "position": {"x": 0, "y": 0},
            "properties": {"name": f"Extra {i}", "reference_images": [f"{i:064x}"]},
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


async def list_every_job(batch: BatchService, owner_id: str, batch_id: str) -> int:
    """The baseline's extra work per read: every page of the batch's jobs."""
    token, listed = "", 0
    while True:
        page: batch_pb2.ListJobsResponse = await batch.client.call(
            batch.client.stub.ListJobs,
            batch_pb2.ListJobsRequest(
                owner_id=owner_id, batch_id=batch_id, page_size=100, page_token=token
            ),
        )
        listed += len(page.jobs)
        token = page.next_page_token
        if not token:
            return listed


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


async def run(args: argparse.Namespace, stack: DevStack) -> dict[str, Any]:
    pool = await create_pool(stack.database_url)
    nc = await nats.connect(stack.nats_url)
    js = nc.jetstream(timeout=10)
    stopping = asyncio.Event()
    try:
        async with serve_batch(pool, js) as batch:
            await migrate(pool, "canvas", MIGRATIONS)
            results, canvases = ResultStore(pool), CanvasStore(pool)
            tracker = ExecutionTracker(results, canvases, batch.client, js, DEFAULT_TYPES)
            user = f"bench-{uuid.uuid4().hex[:8]}"
            consumer = tracker.consumer(
                durable=f"bench-{uuid.uuid4().hex}", filter_subject=user_events_subject(user)
            )
            following = asyncio.create_task(consumer.run(js, stopping))
            canvas = await canvases.create(user, "bench")
            graph = characters(args.nodes)
            runs = Executions(results, batch.client, js)
            heard: dict[str, float] = {}

            async def on_nodes(msg: Msg) -> None:
                event = Envelope.decode(msg.data).open(CanvasNodes)
                for node in event.nodes:
                    if node.state is NodeState.SUCCEEDED:
                        heard.setdefault(node.node_id, time.perf_counter())

            await nc.subscribe(canvas_events_subject(canvas.id), cb=on_nodes)
            await consumer_exists(js, consumer.durable)
            execution = await runs.execute(canvas.id, 1, user, graph)
            listed = await list_every_job(batch, user, execution.batch_id)
            assert listed == args.nodes, listed
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
            stopping.set()
            await following
    finally:
        stopping.set()
        await nc.close()
        await pool.close()
    now_p50, now_p99 = p50_p99_ms(now)
    before_p50, before_p99 = p50_p99_ms(before)
    event_p50, event_p99 = p50_p99_ms(latencies)
    return {
        "nodes": args.nodes,
        "reads": args.reads,
        "group": args.group,
        "read_now_ms": {"p50": now_p50, "p99": now_p99, "mean": statistics.fmean(now) * 1e3},
        "read_before_ms": {
            "p50": before_p50,
            "p99": before_p99,
            "mean": statistics.fmean(before) * 1e3,
        },
        "read_ratio_p50": ratio(before_p50, now_p50),
        "event_to_viewer_ms": {"p50": event_p50, "p99": event_p99, "groups": len(latencies)},
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m loadtests.bench_execution", description=__doc__
    )
    parser.add_argument("--nodes", type=int, default=300)
    parser.add_argument("--reads", type=int, default=200)
    parser.add_argument("--group", type=int, default=10)
    args = parser.parse_args()
    if not (1 <= args.nodes <= 2000 and 1 <= args.reads <= 2000 and 1 <= args.group <= 100):
        parser.error("--nodes and --reads go from 1 to 2000, --group from 1 to 100")
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
        print(f"  {label:<32}{row['p50']:>10.2f}{row['p99']:>10.2f}{row['mean']:>10.2f}")
    print(f"  ratio before/now at p50: {result['read_ratio_p50']}")
    print(
        f"event to viewer ({event['groups']} groups of {args.group} jobs):"
        f" p50 {event['p50']:.2f} ms, p99 {event['p99']:.2f} ms"
    )
    print_notes(
        [
            "The event-to-viewer time runs from the moment the reports are handed to batch to"
            " the canvas.nodes event naming every node of the group: batch applying them, its"
            " progress event, the canvas tracker's consumer, its Postgres transaction and"
            " the announcement on the canvas's subject.",
            "The baseline read is the read of before the tracker: every results read and every"
            " Execute walked the batch's jobs page by page, inputs included.",
        ]
    )
    print_result(result)


if __name__ == "__main__":
    main()
