"""The function runner on the real stack: graphs, retries, cancellation, priority, and nothing
lost when workers or the batch service die mid-batch.

A platform of its own (it kills processes), with a test worker serving ``test.*`` functions,
three deliveries per job, a 2 s ack wait (so a dead worker's job comes back quickly) and a
small dispatch window (so priority is visible with a handful of jobs).
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import aiohttp
import pytest

from libs.launcher import Platform
from tests.e2e.conftest import running_platform
from tests.e2e.otlp import OtlpReceiver

pytestmark = pytest.mark.e2e

MAX_DELIVER = 3
FINAL = {"succeeded", "failed", "cancelled"}


@pytest.fixture(scope="module")
def runner(otlp: OtlpReceiver) -> Iterator[Platform]:
    env = {
        "SHOTGRAPH_MAX_DELIVER": str(MAX_DELIVER),
        "SHOTGRAPH_ACK_WAIT_S": "2",
        "SHOTGRAPH_DISPATCH_WINDOW": "4",
        "SHOTGRAPH_WORKER_CONCURRENCY": "2",
    }
    with running_platform(otlp, env) as platform:
        platform.add_process("testworker", "tests.e2e.worker")
        yield platform


@pytest.fixture
async def http(
    runner: Platform, request: pytest.FixtureRequest
) -> AsyncIterator[aiohttp.ClientSession]:
    # A user per test: listings and events of one test never see another's batches.
    user = re.sub(r"[^a-z0-9]+", "-", request.node.name.lower())[:60].strip("-")
    key = runner.create_api_key(user)
    async with aiohttp.ClientSession(
        base_url=runner.gateway_url,
        headers={"Authorization": f"Bearer {key}"},
        timeout=aiohttp.ClientTimeout(total=30),
    ) as session:
        yield session


async def submit(
    http: aiohttp.ClientSession, jobs: list[dict[str, Any]], **extra: Any
) -> dict[str, Any]:
    response = await http.post("/v1/batches", json={"jobs": jobs, **extra})
    assert response.status == 202, await response.text()
    return dict(await response.json())


async def batch_state(http: aiohttp.ClientSession, batch_id: str) -> dict[str, Any]:
    response = await http.get(f"/v1/batches/{batch_id}")
    assert response.status == 200, await response.text()
    return dict(await response.json())


async def wait_until(
    http: aiohttp.ClientSession, batch_id: str, done: Any = None, timeout_s: float = 60
) -> dict[str, Any]:
    """Poll the batch until ``done(batch)`` (default: a final state) or fail at the deadline.

    A 503 (a service restarting) is polled through, as a client honouring Retry-After would.
    """
    done = done or (lambda b: b["state"] in FINAL)
    deadline = time.monotonic() + timeout_s
    batch: dict[str, Any] = {}
    while time.monotonic() < deadline:
        response = await http.get(f"/v1/batches/{batch_id}")
        if response.status != 503:
            assert response.status == 200, await response.text()
            batch = dict(await response.json())
            if done(batch):
                return batch
        await asyncio.sleep(0.1)
    raise AssertionError(f"batch never got there: {batch}")


async def jobs_of(http: aiohttp.ClientSession, batch_id: str) -> dict[str, dict[str, Any]]:
    page = await (await http.get(f"/v1/batches/{batch_id}/jobs?limit=100")).json()
    return {job["key"]: job for job in page["jobs"]}


def sleep_job(seconds: float, key: str = "", **extra: Any) -> dict[str, Any]:
    return {"function": "test.sleep", "input": {"seconds": seconds}, "key": key, **extra}


async def test_dependencies_get_outputs_and_a_failure_skips_everything_downstream(
    http: aiohttp.ClientSession,
) -> None:
    batch = await submit(
        http,
        [
            {"key": "a", "function": "test.echo", "input": {"x": 1}},
            {"key": "b", "function": "test.echo", "input": {}, "depends_on": ["a"]},
            {"key": "c", "function": "test.fail"},
            {"key": "d", "function": "test.echo", "depends_on": ["c"]},
            {"key": "e", "function": "test.echo", "depends_on": ["d", "a"]},
        ],
    )
    done = await wait_until(http, batch["id"])
    assert done["state"] == "failed"
    jobs = await jobs_of(http, batch["id"])
    assert {k: j["state"] for k, j in jobs.items()} == {
        "a": "succeeded",
        "b": "succeeded",
        "c": "failed",
        "d": "skipped",
        "e": "skipped",
    }
    assert jobs["b"]["output"]["echo"]["dependencies"]["a"] == {"echo": {"x": 1}}
    assert "did not succeed" in jobs["e"]["error"]


async def test_an_always_failing_job_gets_exactly_max_deliver_attempts(
    http: aiohttp.ClientSession,
) -> None:
    batch = await submit(http, [{"function": "test.fail", "key": "doomed"}])
    assert (await wait_until(http, batch["id"]))["state"] == "failed"
    job_id = (await jobs_of(http, batch["id"]))["doomed"]["id"]
    job = await (await http.get(f"/v1/jobs/{job_id}")).json()
    assert job["state"] == "failed" and job["attempts"] == MAX_DELIVER
    assert [h["error"] for h in job["history"]] == [
        f"RuntimeError: failure on attempt {n}" for n in range(1, MAX_DELIVER + 1)
    ]
    # Retrying the batch runs the job again; the history keeps every attempt of both runs.
    retried = await http.post(f"/v1/batches/{batch['id']}/retry")
    assert retried.status == 200
    await wait_until(
        http,
        batch["id"],
        lambda b: (
            b["state"] == "failed" and b["counts"].get("failed") == 1 and b.get("finished_at")
        ),
    )
    job = await (await http.get(f"/v1/jobs/{job_id}")).json()
    assert len(job["history"]) == 2 * MAX_DELIVER


async def test_a_job_whose_worker_always_dies_becomes_a_dead_letter(
    http: aiohttp.ClientSession,
) -> None:
    batch = await submit(http, [{"function": "test.crash", "key": "cursed"}])
    done = await wait_until(http, batch["id"], timeout_s=90)
    assert done["state"] == "failed"
    job_id = (await jobs_of(http, batch["id"]))["cursed"]["id"]
    job = await (await http.get(f"/v1/jobs/{job_id}")).json()
    assert job["state"] == "failed"
    assert f"no result after {MAX_DELIVER} deliveries" in job["error"]
    assert [h["error"] for h in job["history"]] == [job["error"]]


async def test_a_duplicate_submit_is_one_batch(http: aiohttp.ClientSession) -> None:
    jobs = [{"function": "test.noop"}]
    first = await http.post("/v1/batches", json={"jobs": jobs}, headers={"Idempotency-Key": "k-1"})
    again = await http.post("/v1/batches", json={"jobs": jobs}, headers={"Idempotency-Key": "k-1"})
    assert (first.status, again.status) == (202, 200)
    assert (await first.json())["id"] == (await again.json())["id"]
    listed = await (await http.get("/v1/batches")).json()
    assert [b["id"] for b in listed["batches"]] == [(await first.json())["id"]]


@pytest.mark.parametrize(
    ("jobs", "detail"),
    [
        ([{"function": "test.nothing"}], "unknown function"),
        ([{"function": "no such * name"}], "unknown function"),
        (
            [
                {"key": "a", "function": "test.noop", "depends_on": ["b"]},
                {"key": "b", "function": "test.noop", "depends_on": ["a"]},
            ],
            "cycle",
        ),
        ([{"function": "test.noop", "depends_on": ["ghost"]}], "no job of this batch"),
        ([{"function": "test.noop"}] * 10_001, "10000"),
        ([{"function": "test.sleep", "input": {"seconds": "forever"}}], "does not fit test.sleep"),
        ([{"function": "render.scad", "input": {}}], "'source' is a required property"),
    ],
    ids=[
        "unknown-function",
        "not-a-function-name",
        "cycle",
        "dangling",
        "oversized",
        "schema",
        "missing-field",
    ],
)
async def test_a_bad_batch_is_a_clear_400_and_creates_nothing(
    http: aiohttp.ClientSession, jobs: list[dict[str, Any]], detail: str
) -> None:
    response = await http.post("/v1/batches", json={"jobs": jobs})
    assert response.status == 400
    assert response.content_type == "application/problem+json"
    assert detail in json.loads(await response.text())["detail"]
    assert (await (await http.get("/v1/batches")).json())["batches"] == []


async def test_cancel_stops_queued_jobs_at_once_and_running_ones_between_steps(
    http: aiohttp.ClientSession,
) -> None:
    batch = await submit(http, [sleep_job(5, key=str(i)) for i in range(10)])
    await wait_until(http, batch["id"], lambda b: b["counts"].get("running", 0) >= 1)
    queues = await (await http.get("/v1/queues")).json()
    sleeping = [q for q in queues["functions"] if q["function"] == "test.sleep"]
    assert sleeping and sleeping[0]["running"] >= 1
    assert any(w["function"] == "test.sleep" for w in queues["workers"])

    cancelled = await (await http.post(f"/v1/batches/{batch['id']}/cancel")).json()
    assert cancelled["counts"]["cancelled"] >= 10 - 2 * 2  # all but those already running
    started = time.monotonic()
    done = await wait_until(http, batch["id"], timeout_s=20)
    assert done["state"] == "cancelled"
    assert done["counts"] == {"cancelled": 10}
    assert time.monotonic() - started < 5, "running jobs should stop before finishing their sleep"


async def test_an_urgent_batch_overtakes_a_bulk_one(http: aiohttp.ClientSession) -> None:
    bulk = await submit(http, [sleep_job(0.5, key=str(i)) for i in range(16)])
    await wait_until(http, bulk["id"], lambda b: b["counts"].get("running", 0) >= 1)
    urgent = await submit(http, [sleep_job(0.1)], priority="urgent")
    await wait_until(http, urgent["id"])
    behind = await batch_state(http, bulk["id"])
    assert behind["state"] == "running"
    assert behind["counts"].get("succeeded", 0) < 16
    assert (await wait_until(http, bulk["id"]))["state"] == "succeeded"


async def test_a_worker_killed_mid_job_is_redelivered_and_completes_once(
    runner: Platform, http: aiohttp.ClientSession
) -> None:
    batch = await submit(http, [sleep_job(3, key="long")])
    await wait_until(http, batch["id"], lambda b: b["counts"].get("running") == 1)
    worker = runner.services["testworker"].process
    assert worker is not None
    os.killpg(worker.pid, signal.SIGKILL)
    worker.wait()
    runner.start_service("testworker")
    runner.wait_ready(["testworker"])
    done = await wait_until(http, batch["id"], timeout_s=60)
    assert done["state"] == "succeeded"
    job = (await jobs_of(http, batch["id"]))["long"]
    assert job["output"] == {"slept": 3.0, "attempt": 2}  # the redelivery, written once
    history = (await (await http.get(f"/v1/jobs/{job['id']}")).json())["history"]
    assert history == []  # a lost worker is not a failed attempt of the job


async def test_the_batch_service_killed_mid_batch_resumes_and_completes(
    runner: Platform, http: aiohttp.ClientSession
) -> None:
    batch = await submit(http, [sleep_job(0.2, key=str(i)) for i in range(30)])
    await wait_until(http, batch["id"], lambda b: b["counts"].get("succeeded", 0) >= 3)
    service = runner.services["batch"].process
    assert service is not None
    os.killpg(service.pid, signal.SIGKILL)
    service.wait()
    runner.start_service("batch")
    runner.wait_ready(["batch"])
    done = await wait_until(http, batch["id"], timeout_s=90)
    assert done["counts"] == {"succeeded": 30}
    assert done["state"] == "succeeded"


async def test_progress_events_are_coalesced(http: aiohttp.ClientSession) -> None:
    async with http.get("/v1/events", timeout=aiohttp.ClientTimeout(total=120)) as stream:
        batch = await submit(http, [{"function": "test.noop"} for _ in range(300)])
        progress: list[dict[str, Any]] = []
        async for raw in stream.content:
            line = raw.decode()
            if not line.startswith("data:"):
                continue
            message = json.loads(line.removeprefix("data:"))
            if message["type"] != "event":  # hello and the stream's other messages
                continue
            event = message["event"]
            if event.get("batch_id") != batch["id"]:
                continue
            if event["type"] == "batch.progress":
                progress.append(event)
            if event["type"] == "batch.completed":
                assert event["counts"] == {"succeeded": 300}
                break
    # 300 jobs report twice each (running, succeeded): 600 changes, far fewer events.
    assert 0 < len(progress) < 60
    assert all(len(e["jobs"]) <= 100 for e in progress)
