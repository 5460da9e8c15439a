"""How fast do batches of jobs go through the platform, next to the bus they travel on?

``python -m loadtests.bench_batch [--jobs 10000] [--batch-size 1000] [--workers 1]
[--concurrency 64]`` starts the whole platform plus the test worker (``tests.e2e.worker``, which
serves ``test.noop``), and measures in one run:

1. **submit latency**: ``POST /v1/batches`` with 1,000 no-op jobs, from sending the request to
   the 202, one batch at a time (each waits for the previous one to finish), after a warm-up;
2. **end-to-end throughput**: ``--jobs`` no-op jobs in batches of ``--batch-size``, all submitted
   at once, from the first submit until every batch has succeeded;
3. **the ceiling**: the raw JetStream publish→ack→consume rate of as many small MessagePack
   envelopes on a temporary work-queue stream of the same NATS server, with the platform still
   running beside it.

A figure from a shared 2-core machine says little on its own; the ratio of the end-to-end rate
to the ceiling measured in the same run says how much of what the bus can carry the platform
turns into finished jobs.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import platform as host
import shutil
import signal
import statistics
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import asdict, dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import aiohttp
import nats
from nats.js.api import AckPolicy, ConsumerConfig, RetentionPolicy, StorageType, StreamConfig
from nats.js.errors import NotFoundError

from libs.bus import Envelope, encode
from libs.bus.work import JobMessage
from libs.launcher import Platform
from loadtests.common import (
    child,
    get_json,
    met,
    print_notes,
    print_result,
    ratio,
    spawn,
    stopped_at_exit,
    timestamp,
)
from services.batch.domain import MAX_JOBS

FUNCTION = "test.noop"
LATENCY_BATCH = 1_000  # jobs per submit-latency batch
LATENCY_WARMUP = 1  # submits not counted
LATENCY_RUNS = 5  # submits counted
LATENCY_TARGET_S = 1.0
BATCH_DEADLINE_S = 120.0  # for one submit-latency batch to finish
THROUGHPUT_DEADLINE_S = 300.0  # from the first submit until every batch is final
CEILING_DEADLINE_S = 120.0  # for every ceiling message to be published and consumed
POLL_S = 0.1  # between polls of one batch (GET /v1/batches/{id})
POLL_RATE = 20.0  # throughput run: GETs per second at most, whatever the number of batches
REQUEST_TIMEOUT_S = 60.0
TARGET_JOBS_PER_S = 1_000.0
TARGET_CEILING_SHARE = 0.30
MAX_TOTAL_JOBS = 100_000
MAX_BATCHES = 1_000
PUBLISH_CHUNK = 256  # ceiling: publishes awaited together
FETCH_BATCH = 256  # ceiling: messages per pull
FINAL_STATES = frozenset({"succeeded", "failed", "cancelled"})  # of a batch
FINAL_JOB_STATES = FINAL_STATES | {"skipped"}
STUCK_S = 10.0  # stop waiting for batches whose jobs have all been final this long


@dataclass
class SubmitLatency:
    """Submit latency of ``jobs``-job batches: the 202s of the counted runs only."""

    jobs: int
    runs: int
    seconds: list[float]
    p50_s: float | None
    max_s: float | None
    done_p50_s: float | None  # from the submit to the batch observed as succeeded
    submit_errors: dict[str, int]  # submits answered other than 202, by kind
    unsucceeded_batches: dict[str, int]  # as Throughput's


@dataclass
class Throughput:
    jobs: int
    batch_size: int
    batches: int
    submitted_batches: int
    succeeded_jobs: int
    submit_s: float  # until the last 202
    observed_s: float  # until polling ended: all batches seen final, deadline, or given up on
    server_s: float | None  # until the last job ended, by the server's clock (see _ended)
    seconds: float  # the measured time: server_s when known, else observed_s
    jobs_per_s: float
    polls: int  # GET /v1/batches/{id} requests made while waiting
    submit_errors: dict[str, int]
    # How the batches that did not succeed ended: a final state, "<state> with every job
    # final" (the batch never caught up with its jobs) or "unfinished".
    unsucceeded_batches: dict[str, int]


@dataclass
class Ceiling:
    messages: int
    published: int
    publish_errors: int
    consumed: int
    left_in_stream: int | None
    seconds: float
    msgs_per_s: float
    publish_s: float  # publishing alone, acks included


# --- the platform side: submitting batches and waiting for them ---------------------------------


@dataclass
class _Submitted:
    seconds: float
    batch_id: str | None
    error: str | None = None


def _batch_body(jobs: int) -> bytes:
    return json.dumps({"jobs": [{"function": FUNCTION, "input": {}}] * jobs}).encode()


async def _submit(session: aiohttp.ClientSession, gateway: str, body: bytes) -> _Submitted:
    began = time.perf_counter()
    try:
        async with session.post(f"{gateway}/v1/batches", data=body) as response:
            payload = await response.read()
            seconds = time.perf_counter() - began
            if response.status != 202:
                return _Submitted(seconds, None, f"HTTP {response.status}")
            return _Submitted(seconds, str(json.loads(payload)["id"]))
    except (aiohttp.ClientError, TimeoutError, ValueError, KeyError) as exc:
        return _Submitted(time.perf_counter() - began, None, type(exc).__name__)


async def _wait_final(
    session: aiohttp.ClientSession, gateway: str, batch_id: str, deadline: float
) -> dict[str, Any]:
    """Poll one batch until it is final, the deadline passes, or all its jobs have been final
    for ``STUCK_S`` without the batch becoming final too; its last view."""
    stuck_since = None
    while True:
        batch = await get_json(session, f"{gateway}/v1/batches/{batch_id}")
        now = time.perf_counter()
        if batch.get("state") in FINAL_STATES or now >= deadline:
            return batch
        if _jobs_final(batch):
            stuck_since = stuck_since or now
            if now - stuck_since >= STUCK_S:
                return batch
        await asyncio.sleep(POLL_S)


async def measure_submit_latency(session: aiohttp.ClientSession, gateway: str) -> SubmitLatency:
    body = _batch_body(LATENCY_BATCH)
    latencies: list[float] = []
    done: list[float] = []
    errors: Counter[str] = Counter()
    unsucceeded: Counter[str] = Counter()
    for run in range(LATENCY_WARMUP + LATENCY_RUNS):
        counted = run >= LATENCY_WARMUP
        began = time.perf_counter()
        submitted = await _submit(session, gateway, body)
        if submitted.batch_id is None:
            if counted:
                errors[str(submitted.error)] += 1
            continue
        batch = await _wait_final(
            session, gateway, submitted.batch_id, time.perf_counter() + BATCH_DEADLINE_S
        )
        if not counted:
            continue
        latencies.append(submitted.seconds)
        if batch.get("state") == "succeeded":
            done.append(time.perf_counter() - began)
        else:
            unsucceeded[_outcome(batch)] += 1
    return SubmitLatency(
        jobs=LATENCY_BATCH,
        runs=LATENCY_RUNS,
        seconds=[round(s, 4) for s in latencies],
        p50_s=round(statistics.median(latencies), 4) if latencies else None,
        max_s=round(max(latencies), 4) if latencies else None,
        done_p50_s=round(statistics.median(done), 3) if done else None,
        submit_errors=dict(errors),
        unsucceeded_batches=dict(unsucceeded),
    )


def _jobs_final(batch: dict[str, Any]) -> bool:
    """Every job of the batch has ended, whatever the batch's own state says."""
    counts, total = batch.get("counts") or {}, int(batch.get("total") or 0)
    return total > 0 and sum(int(counts.get(s, 0)) for s in FINAL_JOB_STATES) == total


def _ended(batch: dict[str, Any]) -> float | None:
    """When the batch's last job ended, by the server's clock: its finished_at, or, for a batch
    not final although all its jobs are, its last update (which applied their last reports)."""
    if batch.get("state") in FINAL_STATES:
        return timestamp(batch, "finished_at")
    return timestamp(batch, "updated_at") if _jobs_final(batch) else None


def _outcome(batch: dict[str, Any]) -> str:
    state = batch.get("state")
    if state in FINAL_STATES:
        return str(state)
    if _jobs_final(batch):
        return f"{state} with every job final"
    return "unfinished"


async def measure_throughput(
    session: aiohttp.ClientSession, gateway: str, jobs: int, batch_size: int
) -> Throughput:
    """Submit every batch at once, then poll the unfinished ones, one GET at a time and at most
    ``POLL_RATE`` a second, so that polling stays a small load next to the work it watches.
    The end is the last batch's ``finished_at``, so seeing it late does not lengthen the time.

    Polling ends when every batch is final, at the deadline, or once the batches left have had
    all their jobs final for ``STUCK_S`` without becoming final themselves (they never will).
    """
    sizes = [batch_size] * (jobs // batch_size) + ([jobs % batch_size] if jobs % batch_size else [])
    bodies = [_batch_body(n) for n in sizes]
    started_wall, started = time.time(), time.perf_counter()
    submitted = await asyncio.gather(*(_submit(session, gateway, body) for body in bodies))
    submit_s = time.perf_counter() - started
    submit_errors = Counter(s.error for s in submitted if s.batch_id is None)
    accepted = [s.batch_id for s in submitted if s.batch_id is not None]
    pending = list(accepted)
    seen: dict[str, dict[str, Any]] = {}
    stuck_since: dict[str, float] = {}  # batches not final although all their jobs are
    deadline, last_final, polls = started + THROUGHPUT_DEADLINE_S, started, 0
    while pending and time.perf_counter() < deadline:
        round_began = time.perf_counter()
        for batch_id in list(pending):
            polls += 1
            batch = await get_json(session, f"{gateway}/v1/batches/{batch_id}")
            if batch:
                seen[batch_id] = batch
            if batch.get("state") in FINAL_STATES:
                pending.remove(batch_id)
                last_final = time.perf_counter()
            elif _jobs_final(batch):
                stuck_since.setdefault(batch_id, round_began)
        stuck = [b for b in pending if round_began - stuck_since.get(b, round_began) >= STUCK_S]
        if pending and len(stuck) == len(pending):
            break
        if pending:
            next_round = round_began + max(POLL_S, len(pending) / POLL_RATE)
            await asyncio.sleep(max(0.0, next_round - time.perf_counter()))
    observed_s = (time.perf_counter() if pending else last_final) - started

    ends = [_ended(seen.get(batch_id, {})) for batch_id in accepted]
    server_s = None
    if ends and all(end is not None for end in ends):
        server_s = max(end for end in ends if end is not None) - started_wall
        if not 0 < server_s <= observed_s + 1.0:  # another clock after all: do not trust it
            server_s = None
    seconds = server_s if server_s is not None else observed_s
    unsucceeded = Counter(
        _outcome(seen.get(batch_id, {}))
        for batch_id in accepted
        if seen.get(batch_id, {}).get("state") != "succeeded"
    )
    succeeded = sum(int((b.get("counts") or {}).get("succeeded", 0)) for b in seen.values())
    return Throughput(
        jobs=jobs,
        batch_size=batch_size,
        batches=len(sizes),
        submitted_batches=len(accepted),
        succeeded_jobs=succeeded,
        submit_s=round(submit_s, 3),
        observed_s=round(observed_s, 3),
        server_s=round(server_s, 3) if server_s is not None else None,
        seconds=round(seconds, 3),
        jobs_per_s=round(succeeded / max(seconds, 1e-9), 1),
        polls=polls,
        submit_errors={str(k): v for k, v in submit_errors.items()},
        unsucceeded_batches=dict(unsucceeded),
    )


async def measure_platform(
    gateway: str, key: str, jobs: int, batch_size: int
) -> tuple[SubmitLatency, Throughput]:
    timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_S)
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    connector = aiohttp.TCPConnector(limit=64)
    async with aiohttp.ClientSession(
        connector=connector, timeout=timeout, headers=headers
    ) as session:
        print(
            f"submit latency: {LATENCY_WARMUP} + {LATENCY_RUNS} batches of {LATENCY_BATCH:,}"
            " jobs, one at a time...",
            flush=True,
        )
        latency = await measure_submit_latency(session, gateway)
        print(f"throughput: {jobs:,} jobs in batches of {batch_size:,}...", flush=True)
        throughput = await measure_throughput(session, gateway, jobs, batch_size)
    return latency, throughput


# --- the ceiling: bare JetStream on the same server, a publisher and a consumer process ---------


def _job_envelope() -> bytes:
    """About the size of a dispatched job message."""
    job = JobMessage(
        job_id=str(uuid.uuid4()),
        batch_id=str(uuid.uuid4()),
        owner_id="bench",
        function=FUNCTION,
        input={},
        dispatch=1,
    )
    return encode(job)


def _publish(out: Connection, url: str, subject: str, count: int) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent stops us, also on Ctrl-C
    out.send(asyncio.run(_publish_all(url, subject, count)))
    out.close()


async def _publish_all(url: str, subject: str, count: int) -> dict[str, Any]:
    """Publish ``count`` envelopes, ``PUBLISH_CHUNK`` at a time, each awaiting its ack."""
    nc = await nats.connect(url, name="bench-ceiling-publisher", allow_reconnect=False)
    try:
        js = nc.jetstream()
        failed = 0
        first = time.monotonic()
        for start in range(0, count, PUBLISH_CHUNK):
            chunk = min(PUBLISH_CHUNK, count - start)
            acks = await asyncio.gather(
                *(js.publish(subject, _job_envelope()) for _ in range(chunk)),
                return_exceptions=True,
            )
            failed += sum(isinstance(ack, BaseException) for ack in acks)
        return {"first": first, "last": time.monotonic(), "failed": failed}
    finally:
        await nc.close()


def _consume(
    out: Connection, url: str, stream: str, durable: str, count: int, deadline_s: float
) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    out.send(asyncio.run(_consume_all(out, url, stream, durable, count, deadline_s)))
    out.close()


async def _consume_all(
    out: Connection, url: str, stream: str, durable: str, count: int, deadline_s: float
) -> dict[str, Any]:
    """Fetch ``FETCH_BATCH`` at a time, decode and ack each, until ``count`` or the deadline."""
    nc = await nats.connect(url, name="bench-ceiling-consumer", allow_reconnect=False)
    try:
        subscription = await nc.jetstream().pull_subscribe_bind(durable, stream)
        out.send({"ready": True})
        received, stop_at = 0, time.monotonic() + deadline_s
        while received < count and time.monotonic() < stop_at:
            try:
                messages = await subscription.fetch(FETCH_BATCH, timeout=1.0)
            except TimeoutError:  # nats-py raises its own subclass, or under load the builtin
                continue
            for msg in messages:
                Envelope.decode(msg.data)  # what a worker does first
                await msg.ack()
            received += len(messages)
        await nc.flush()  # the last ack has reached the server
        return {"last": time.monotonic(), "received": received}
    finally:
        await nc.close()


async def _create_stream(url: str, stream: str, subject: str, durable: str) -> None:
    nc = await nats.connect(url, name="bench-ceiling", allow_reconnect=False)
    try:
        js = nc.jetstream()
        await js.add_stream(
            StreamConfig(
                name=stream,
                subjects=[subject],
                retention=RetentionPolicy.WORK_QUEUE,  # like WORK: acked messages are removed
                storage=StorageType.FILE,
                max_msg_size=1 << 20,
            )
        )
        await js.add_consumer(
            stream,
            ConsumerConfig(
                durable_name=durable,
                ack_policy=AckPolicy.EXPLICIT,
                ack_wait=30.0,
                max_ack_pending=FETCH_BATCH * 4,
            ),
        )
    finally:
        await nc.close()


async def _delete_stream(url: str, stream: str) -> int | None:
    """Delete the temporary stream; how many messages were still in it (None if unknown)."""
    nc = await nats.connect(url, name="bench-ceiling", allow_reconnect=False)
    try:
        js = nc.jetstream()
        left: int | None = None
        with contextlib.suppress(Exception):
            for _ in range(20):  # acks are applied asynchronously: give them a moment
                left = (await js.stream_info(stream)).state.messages
                if not left:
                    break
                await asyncio.sleep(0.1)
        with contextlib.suppress(NotFoundError):
            await js.delete_stream(stream)
        return left
    finally:
        await nc.close()


def _receive(receiver: Connection, timeout: float, what: str) -> dict[str, Any]:
    if not receiver.poll(timeout):
        raise TimeoutError(f"the ceiling's {what} did not report within {timeout:g} s")
    try:
        message: dict[str, Any] = receiver.recv()
    except EOFError:
        raise RuntimeError(f"the ceiling's {what} died") from None
    return message


def measure_ceiling(url: str, count: int) -> Ceiling:
    """First publish to last ack, with the publisher and the consumer in processes of their own
    (like the dispatcher and a worker), so neither waits for the other's event loop."""
    token = uuid.uuid4().hex[:12]
    stream, subject, durable = f"BENCH_{token}", f"bench.{token}.job", "bench-ceiling"
    asyncio.run(_create_stream(url, stream, subject, durable))
    left: int | None = None
    try:
        consumer_rx, consumer_tx = spawn.Pipe(duplex=False)
        publisher_rx, publisher_tx = spawn.Pipe(duplex=False)
        consumer_args = (consumer_tx, url, stream, durable, count, CEILING_DEADLINE_S)
        with child(_consume, consumer_args):
            consumer_tx.close()  # so that a crashed child shows up as EOF, not a hang
            _receive(consumer_rx, 30.0, "consumer")  # subscribed: start publishing
            with child(_publish, (publisher_tx, url, subject, count)):
                publisher_tx.close()
                published = _receive(publisher_rx, CEILING_DEADLINE_S + 30, "publisher")
            consumed = _receive(consumer_rx, CEILING_DEADLINE_S + 30, "consumer")
    finally:
        left = asyncio.run(_delete_stream(url, stream))
    seconds = max(consumed["last"] - published["first"], 1e-9)
    return Ceiling(
        messages=count,
        published=count - published["failed"],
        publish_errors=published["failed"],
        consumed=consumed["received"],
        left_in_stream=left,
        seconds=round(seconds, 3),
        msgs_per_s=round(consumed["received"] / seconds, 1),
        publish_s=round(published["last"] - published["first"], 3),
    )


# --- the report ----------------------------------------------------------------------------------


@dataclass
class Verdict:
    submit_target_s: float = LATENCY_TARGET_S
    submit_p50_met: bool = False
    submit_max_met: bool = False
    end_to_end_target_jobs_per_s: float | None = None
    end_to_end_met: bool = False
    reasons: list[str] = field(default_factory=list)


def judge(latency: SubmitLatency, throughput: Throughput, ceiling: Ceiling) -> Verdict:
    verdict = Verdict()
    verdict.submit_p50_met = latency.p50_s is not None and latency.p50_s < LATENCY_TARGET_S
    verdict.submit_max_met = latency.max_s is not None and latency.max_s < LATENCY_TARGET_S
    if latency.submit_errors:
        verdict.submit_p50_met = verdict.submit_max_met = False
        verdict.reasons.append("submits in the submit-latency runs failed")
    if latency.unsucceeded_batches:
        verdict.reasons.append("batches of the submit-latency runs did not succeed")
    if ceiling.consumed < ceiling.messages or ceiling.publish_errors:
        verdict.reasons.append("the ceiling run lost messages: no valid ceiling")
    else:
        target = min(TARGET_JOBS_PER_S, TARGET_CEILING_SHARE * ceiling.msgs_per_s)
        verdict.end_to_end_target_jobs_per_s = round(target, 1)
        verdict.end_to_end_met = throughput.jobs_per_s >= target
    if throughput.submit_errors or throughput.unsucceeded_batches:
        verdict.end_to_end_met = False
        verdict.reasons.append("the throughput run had errors")
    return verdict


def _seconds(value: float | None) -> str:
    return "n/a" if value is None else f"{value:,.3f} s"


def _rate(value: float | None) -> str:
    return "n/a" if value is None else f"{value:,.1f}"


def report(
    settings: dict[str, Any],
    latency: SubmitLatency,
    throughput: Throughput,
    ceiling: Ceiling,
    restarts: dict[str, int],
) -> None:
    verdict = judge(latency, throughput, ceiling)
    of_ceiling = ratio(throughput.jobs_per_s, ceiling.msgs_per_s)
    e2e_target = verdict.end_to_end_target_jobs_per_s
    n = f"{LATENCY_BATCH:,}"
    rows = [
        ("measure", "figure", "target", "check"),
        (f"submit latency p50, {n} jobs", _seconds(latency.p50_s), "< 1 s",
         met(verdict.submit_p50_met)),
        (f"submit latency max, {n} jobs", _seconds(latency.max_s), "< 1 s",
         met(verdict.submit_max_met)),
        (f"{n}-job batch submit→done, p50", _seconds(latency.done_p50_s), "", ""),
        ("end-to-end throughput", f"{_rate(throughput.jobs_per_s)} jobs/s",
         f">= {_rate(e2e_target)} jobs/s*", met(verdict.end_to_end_met)),
        ("raw JetStream publish→ack→consume", f"{_rate(ceiling.msgs_per_s)} msgs/s", "", ""),
        ("end-to-end / ceiling", "n/a" if of_ceiling is None else f"{of_ceiling:.3f}", "", ""),
    ]  # fmt: skip
    print("\nsettings: " + ", ".join(f"{k}={v}" for k, v in settings.items()))
    print()
    for row in rows:
        print(f"{row[0]:<35}{row[1]:>18}{row[2]:>22}  {row[3]}".rstrip())
    print(
        f"* min({TARGET_JOBS_PER_S:,.0f} jobs/s, {TARGET_CEILING_SHARE:.0%} of the ceiling)\n"
        f"\nsubmit latency: {n} jobs per batch, {latency.runs} runs after {LATENCY_WARMUP}"
        f" warm-up, seconds {latency.seconds}\n"
        f"end-to-end: {throughput.succeeded_jobs:,} of {throughput.jobs:,} jobs succeeded in"
        f" {throughput.batches:,} batches of {throughput.batch_size:,}, in"
        f" {throughput.seconds:,.3f} s (all submitted in {throughput.submit_s:,.3f} s;"
        f" polling ended after {throughput.observed_s:,.3f} s, {throughput.polls:,} GETs)\n"
        f"ceiling: {ceiling.consumed:,} of {ceiling.messages:,} messages consumed in"
        f" {ceiling.seconds:,.3f} s (publishing alone took {ceiling.publish_s:,.3f} s;"
        f" {ceiling.left_in_stream} left in the stream)"
    )
    if e2e_target is None:
        print("\nend-to-end target = min(1000 jobs/s, 30% of ceiling) → unknown (no ceiling)")
    else:
        print(
            f"\nend-to-end target = min(1000 jobs/s, 30% of ceiling ="
            f" {TARGET_CEILING_SHARE * ceiling.msgs_per_s:,.1f} jobs/s) = {e2e_target:,.1f}"
            f" jobs/s → {met(verdict.end_to_end_met)}"
            f" ({throughput.jobs_per_s:,.1f} jobs/s)"
        )
    errors = {
        "submit-latency submits": latency.submit_errors,
        "submit-latency batches not succeeded": latency.unsucceeded_batches,
        "throughput submits": throughput.submit_errors,
        "throughput batches not succeeded": throughput.unsucceeded_batches,
        "ceiling publishes failed": ceiling.publish_errors,
        "ceiling messages not consumed": ceiling.messages - ceiling.consumed,
    }
    errors = {k: v for k, v in errors.items() if v}
    print("errors: " + ("; ".join(f"{k}: {v}" for k, v in errors.items()) or "none"))
    for reason in verdict.reasons:
        print(f"  ({reason})")
    if restarts:
        print(
            "warning: service worker processes restarted during the run (a crash: see the"
            f" services' logs, --keep-logs): {restarts}"
        )
    notes = [
        f"{settings['usable_cpus']} usable cores are shared by everything: the load (this"
        " script; for the ceiling, its publisher and consumer processes), the seven services and"
        f" the test worker ({settings['workers']} process(es) each) and NATS/Postgres/Redis."
        " Absolute figures are pessimistic and move with other work on the machine (see"
        " load_1m); the ratio to the ceiling, measured in the same run on the same NATS server,"
        " is what to compare between runs.",
        "a job costs far more than a ceiling message: the job message, two worker reports"
        " ('running', 'succeeded') each published with an ack and consumed by batch, a KV read"
        " (the cancellation check), and in Postgres the insert at submit, the dispatch claim and"
        " a grouped update per group of reports. A ceiling message is one publish and one"
        " consume, so a path bound by the bus alone would reach about 1/3 of the ceiling.",
        "end-to-end time runs from the first submit to the last batch's finished_at (server"
        " clock, same machine), or to when polling saw every batch final if that is unknown."
        f" Polling is one GET at a time, at most {POLL_RATE:g} a second.",
        f"the ceiling publishes from one process ({PUBLISH_CHUNK} publishes awaiting their acks"
        f" at a time) and consumes from another (fetch {FETCH_BATCH}, decode, ack each), on a"
        " file-backed work-queue stream like WORK, deleted afterwards.",
    ]
    print_notes(notes, 92)
    result = {
        "settings": settings,
        "submit_latency": asdict(latency),
        "throughput": asdict(throughput),
        "ceiling": asdict(ceiling),
        "ratio": of_ceiling,
        "targets": asdict(verdict),
        "worker_restarts": restarts,
    }
    print_result(result)


# --- running it ----------------------------------------------------------------------------------


def _restarts(system: Platform) -> dict[str, int]:
    """Worker processes started beyond the first ones, per service: each is a crash and restart
    during the run, which the figures then include."""
    restarts = {}
    for name, service in system.services.items():
        with contextlib.suppress(OSError):
            log = service.log_path.read_text(errors="replace")
            started = log.count('"event": "service.started"')
            if started > system.workers:
                restarts[name] = started - system.workers
    return restarts


def _nats_url(system: Platform) -> str:
    if system.stack is not None:
        return system.stack.nats_url
    return os.environ["SHOTGRAPH_NATS_URL"]  # Platform used the backends the environment names


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m loadtests.bench_batch")
    parser.add_argument("--jobs", type=int, default=10_000, help="jobs in the throughput run")
    parser.add_argument("--batch-size", type=int, default=1_000, help="jobs per batch")
    parser.add_argument("--workers", type=int, default=1, help="processes per service")
    parser.add_argument(
        "--concurrency", type=int, default=64, help="jobs at once per test-worker process"
    )
    parser.add_argument(
        "--dispatch-window", type=int, help="jobs per function on their subject (service default)"
    )
    parser.add_argument("--keep-logs", type=Path, help="copy the platform's logs to this folder")
    args = parser.parse_args()
    if not 1 <= args.jobs <= MAX_TOTAL_JOBS:
        parser.error(f"--jobs must be between 1 and {MAX_TOTAL_JOBS:,}")
    if not 1 <= args.batch_size <= MAX_JOBS:
        parser.error(f"--batch-size must be between 1 and {MAX_JOBS:,}")
    if math.ceil(args.jobs / args.batch_size) > MAX_BATCHES:
        parser.error(f"--jobs / --batch-size makes more than {MAX_BATCHES:,} batches")
    if not 1 <= args.workers <= 8:
        parser.error("--workers must be between 1 and 8")
    if not 1 <= args.concurrency <= 1024:
        parser.error("--concurrency must be between 1 and 1024")
    if args.dispatch_window is not None and args.dispatch_window < 1:
        parser.error("--dispatch-window must be at least 1")

    env = {"SHOTGRAPH_WORKER_CONCURRENCY": str(args.concurrency)}
    if args.dispatch_window is not None:
        env["SHOTGRAPH_DISPATCH_WINDOW"] = str(args.dispatch_window)
    settings: dict[str, Any] = {
        "jobs": args.jobs,
        "batch_size": args.batch_size,
        "workers": args.workers,
        "concurrency": args.concurrency,
        "dispatch_window": args.dispatch_window or "default",
        "cpus": os.cpu_count(),
        "usable_cpus": len(os.sched_getaffinity(0)),
        "python": host.python_version(),
    }

    with tempfile.TemporaryDirectory(prefix="shotgraph-bench-") as root:
        system = Platform(root=Path(root) / "platform", workers=args.workers, env=env)
        try:
            with stopped_at_exit(system):
                print(
                    f"starting the platform ({args.workers} worker(s) per service)...", flush=True
                )
                system.start()
                system.add_process("testworker", "tests.e2e.worker")
                key = system.create_api_key("bench")
                settings["load_1m"] = round(os.getloadavg()[0], 2)  # other work on the machine
                latency, throughput = asyncio.run(
                    measure_platform(system.gateway_url, key, args.jobs, args.batch_size)
                )
                print(f"ceiling: {args.jobs:,} messages through bare JetStream...", flush=True)
                ceiling = measure_ceiling(_nats_url(system), args.jobs)
                report(settings, latency, throughput, ceiling, _restarts(system))
        finally:
            if args.keep_logs is not None:
                with contextlib.suppress(OSError):
                    shutil.copytree(system.root / "logs", args.keep_logs, dirs_exist_ok=True)


if __name__ == "__main__":
    main()
