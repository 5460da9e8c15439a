"""Rate limits and concurrency caps: GCRA shared in Redis, with one round trip per request.

A request is checked against several limits at once (its address, its user, its key, the
route's own budget) and several concurrency caps (previews in flight, event streams, urgent
batches). One Lua script decides all of them atomically and all-or-nothing: it admits only if
every limit admits, then charges each its cost and takes each lease. Time comes from Redis
(``TIME``), so replicas whose clocks disagree still share one schedule.

GCRA (the generic cell rate algorithm) keeps one number per limit, the theoretical arrival time
(TAT). A limit of ``limit`` requests per ``window_s`` has the emission interval
``T = window_s / limit``; a request of cost ``n`` is admitted when ``max(TAT, now) + n*T - now
<= burst*T``. With 100/min and a burst of 100 (T = 0.6 s), 100 requests at once are admitted and
the 101st is refused; by ``t`` seconds later exactly ``100 + floor(t / 0.6)`` have been admitted.

When Redis cannot be reached the same algorithm runs in each process's memory, each process
taking its share of every limit (the limit divided by the replica's worker count), and Redis
is tried again every few seconds. Limits are then per process, never off.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal, NamedTuple

from redis.asyncio import Redis
from redis.exceptions import RedisError

from libs.logs import get_logger
from libs.metrics import RATELIMIT_DECISIONS, RATELIMIT_DEGRADED

__all__ = [
    "DEFAULT_POLICIES",
    "Check",
    "Decision",
    "Lease",
    "Limiter",
    "Plan",
    "Policies",
    "ProcessLimiter",
    "Rate",
    "RedisLimiter",
    "generous_policies",
    "load_policies",
]

log = get_logger(__name__)

_US = 1_000_000
Store = Literal["redis", "process"]


# --- policies: what the limits are, per plan ----------------------------------------------------


@dataclass(frozen=True)
class Rate:
    """``limit`` requests per ``window_s`` seconds, of which ``burst`` may come at once."""

    limit: int
    window_s: float
    burst: int

    def __post_init__(self) -> None:
        if self.limit <= 0 or self.window_s <= 0 or self.burst <= 0:
            raise ValueError("a rate needs a positive limit, window_s and burst")

    @property
    def interval_us(self) -> int:
        """The emission interval in whole microseconds: integers keep Lua and Python exact."""
        return max(1, round(self.window_s * _US / self.limit))

    def share(self, parts: int) -> Rate:
        """One process's part of this rate when ``parts`` processes enforce it alone."""
        return Rate(self.limit, self.window_s * parts, max(1, self.burst // parts))


@dataclass(frozen=True)
class Plan:
    """The limits of an authenticated caller on one plan."""

    user: Rate
    key: Rate
    routes: Mapping[str, Rate]  # a budget per expensive route: previews, renders, uploads, ...
    concurrency: Mapping[str, int]  # at most this many at once: previews, event_streams, ...


@dataclass(frozen=True)
class Policies:
    """Every limit the gateway applies; ``address`` applies to every request, signed in or not."""

    address: Rate
    plans: Mapping[str, Plan]
    default_plan: str = "standard"
    lease_ttl_s: Mapping[str, float] = field(default_factory=dict)  # per concurrency kind

    def plan(self, name: str | None) -> Plan:
        """The plan by its name; an unknown or absent one gets the default plan."""
        return self.plans.get(name or "", self.plans[self.default_plan])


_DEFAULTS: dict[str, Any] = {
    "address": {"limit": 100, "window_s": 60, "burst": 100},
    "default_plan": "standard",
    "lease_ttl_s": {"previews": 120, "event_streams": 60, "urgent_batches": 600},
    "plans": {
        "standard": {
            "user": {"limit": 600, "window_s": 60, "burst": 120},
            "key": {"limit": 600, "window_s": 60, "burst": 120},
            "routes": {
                "previews": {"limit": 60, "window_s": 60, "burst": 10},
                "renders": {"limit": 30, "window_s": 60, "burst": 10},
                "uploads": {"limit": 60, "window_s": 60, "burst": 20},
                "url_signing": {"limit": 300, "window_s": 60, "burst": 100},
                "jobs": {"limit": 1000, "window_s": 60, "burst": 500},
            },
            "concurrency": {"previews": 4, "event_streams": 5, "urgent_batches": 2},
        },
        "pro": {
            "user": {"limit": 3000, "window_s": 60, "burst": 600},
            "key": {"limit": 3000, "window_s": 60, "burst": 600},
            "routes": {
                "previews": {"limit": 300, "window_s": 60, "burst": 50},
                "renders": {"limit": 150, "window_s": 60, "burst": 50},
                "uploads": {"limit": 300, "window_s": 60, "burst": 100},
                "url_signing": {"limit": 1500, "window_s": 60, "burst": 500},
                "jobs": {"limit": 10000, "window_s": 60, "burst": 5000},
            },
            "concurrency": {"previews": 16, "event_streams": 20, "urgent_batches": 10},
        },
    },
}


def _merged(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for name, value in override.items():
        old = out.get(name)
        both = isinstance(old, Mapping) and isinstance(value, Mapping)
        out[name] = _merged(old, value) if both else value  # type: ignore[arg-type]
    return out


def _rate(raw: Any, where: str) -> Rate:
    if not isinstance(raw, Mapping):
        raise ValueError(f"{where} must be an object with limit, window_s and burst")
    try:
        limit = int(raw["limit"])
        return Rate(limit, float(raw["window_s"]), int(raw.get("burst", limit)))
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"{where}: {exc}") from None


def _policies(raw: Mapping[str, Any]) -> Policies:
    plans = {}
    for name, plan in raw["plans"].items():
        routes = {r: _rate(v, f"plans.{name}.routes.{r}") for r, v in plan["routes"].items()}
        plans[name] = Plan(
            user=_rate(plan["user"], f"plans.{name}.user"),
            key=_rate(plan["key"], f"plans.{name}.key"),
            routes=routes,
            concurrency={kind: int(cap) for kind, cap in plan["concurrency"].items()},
        )
    default_plan = str(raw["default_plan"])
    if default_plan not in plans:
        raise ValueError(f"default_plan {default_plan!r} is not one of the plans")
    ttl = {kind: float(seconds) for kind, seconds in raw["lease_ttl_s"].items()}
    return Policies(_rate(raw["address"], "address"), plans, default_plan, ttl)


DEFAULT_POLICIES = _policies(_DEFAULTS)


def load_policies(raw: str) -> Policies:
    """Policies from inline JSON (text starting with ``{``) or the path of a JSON file. What it
    names replaces the defaults member by member; what it leaves out keeps its default."""
    try:
        text = raw if raw.lstrip().startswith("{") else Path(raw).read_text()
    except OSError as exc:
        raise ValueError(f"cannot read {raw}: {exc.strerror}") from None
    try:
        override = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"not JSON: {exc.msg}") from None
    if not isinstance(override, Mapping):
        raise ValueError("must be a JSON object")
    try:
        return _policies(_merged(_DEFAULTS, override))
    except (KeyError, AttributeError, TypeError) as exc:
        raise ValueError(f"malformed policies: {exc!r}") from None


def generous_policies(per_minute: int = 10_000_000) -> str:
    """``SHOTGRAPH_RATE_LIMITS`` for test and benchmark harnesses: every limit so high that
    loopback traffic measures the code, not the limiter (which still runs in full)."""
    rate = {"limit": per_minute, "window_s": 60, "burst": per_minute}
    plans = {
        name: {
            "user": rate,
            "key": rate,
            "routes": dict.fromkeys(plan["routes"], rate),
            "concurrency": dict.fromkeys(plan["concurrency"], per_minute),
        }
        for name, plan in _DEFAULTS["plans"].items()
    }
    return json.dumps({"address": rate, "plans": plans})


# --- what one request asks for, and the answer ---------------------------------------------------


@dataclass(frozen=True)
class Check:
    """One rate limit on one subject: ``name`` is the policy ("address", "user", "route.jobs")."""

    name: str
    subject: str
    rate: Rate
    cost: int = 1

    @property
    def key(self) -> str:
        return f"rl:{self.name}:{self.subject}"


@dataclass(frozen=True)
class Lease:
    """A place among at most ``cap`` of ``kind`` at once for ``subject``, held ``ttl_s`` at most
    (so a process that dies frees it) unless renewed."""

    kind: str
    subject: str
    cap: int
    ttl_s: float
    id: str = field(default_factory=lambda: uuid.uuid4().hex)

    @property
    def key(self) -> str:
        return f"rl:lease:{self.kind}:{self.subject}"

    @property
    def name(self) -> str:
        return f"concurrency.{self.kind}"


@dataclass(frozen=True)
class Decision:
    """The answer for the tightest limit: the refusing one with the longest wait, or else the
    admitting one with the fewest requests left."""

    allowed: bool
    limit: str  # its name ("address", "concurrency.previews", ...); "" when nothing was checked
    remaining: int
    reset_s: float  # until the limit is back to its full burst
    retry_after_s: float  # 0 when allowed
    store: Store = "redis"
    peeked: str | None = None  # the value at the request's ``peek`` key; None: not read


class Request(NamedTuple):
    """What one request is checked on: its limits and the places it takes; and a key whose
    value it needs read in the same round trip (a stamp to check a cached answer against)."""

    checks: Sequence[Check]
    leases: Sequence[Lease]
    peek: str | None = None


_NOTHING = Decision(True, "", 0, 0.0, 0.0)
_LEASE_RETRY_US = _US  # a full cap says nothing of when a place frees; leases are short


# --- the algorithm, once in Lua and once in Python ----------------------------------------------

# One call decides a batch of requests, each on its own as if alone, in arrival order.
# KEYS: per decision, each check's TAT key, then each lease's sorted set, then the key it peeks
# at if any.
# ARGV: now in microseconds ("" reads Redis TIME), the number of decisions, then per decision
# its number of checks, of leases and of peeks (0 or 1), per check interval_us, burst, cost,
# and per lease cap, ttl_us, lease id.
# Returns, per decision, {allowed, 1-based index of the tightest, remaining, reset_us, retry_us,
# the peeked value or ""}.
_SCRIPT = """
local now
if ARGV[1] == '' then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000000 + tonumber(t[2])
else
  now = tonumber(ARGV[1])
end

local function decide(k, a, n, m)
  local refused, retry, refused_reset = 0, -1, 0
  local tight, tight_remaining, tight_reset = 0, 0, 0
  local tats = {}
  for i = 1, n do
    local c = a + (i - 1) * 3
    local interval, burst, cost = tonumber(ARGV[c]), tonumber(ARGV[c + 1]), tonumber(ARGV[c + 2])
    local tat = tonumber(redis.call('GET', KEYS[k + i])) or now
    if tat < now then tat = now end
    local new_tat = tat + cost * interval
    local allow_at = new_tat - burst * interval
    if now < allow_at then
      if allow_at - now > retry then
        refused, retry, refused_reset = i, allow_at - now, tat - now
      end
    else
      tats[i] = new_tat
      local remaining = math.floor((now - allow_at) / interval)
      if tight == 0 or remaining < tight_remaining then
        tight, tight_remaining, tight_reset = i, remaining, new_tat - now
      end
    end
  end
  local b = a + n * 3
  for j = 1, m do
    local key, cap = KEYS[k + n + j], tonumber(ARGV[b + (j - 1) * 3])
    redis.call('ZREMRANGEBYSCORE', key, '-inf', now)
    local held = redis.call('ZCARD', key)
    if held >= cap then
      if 1000000 > retry then refused, retry, refused_reset = n + j, 1000000, 0 end
    else
      local remaining = cap - held - 1
      if tight == 0 or remaining < tight_remaining then
        tight, tight_remaining, tight_reset = n + j, remaining, 0
      end
    end
  end
  if refused > 0 then return {0, refused, 0, refused_reset, retry} end
  for i = 1, n do
    local ttl_ms = math.ceil((tats[i] - now) / 1000)
    redis.call('SET', KEYS[k + i], string.format('%d', tats[i]), 'PX', ttl_ms)
  end
  for j = 1, m do
    local ttl_us = tonumber(ARGV[b + (j - 1) * 3 + 1])
    local score = string.format('%d', now + ttl_us)
    redis.call('ZADD', KEYS[k + n + j], score, ARGV[b + (j - 1) * 3 + 2])
    redis.call('PEXPIRE', KEYS[k + n + j], math.ceil(ttl_us / 1000))
  end
  return {1, tight, tight_remaining, tight_reset, 0}
end

local replies, k, a = {}, 0, 3
for _ = 1, tonumber(ARGV[2]) do
  local n, m, p = tonumber(ARGV[a]), tonumber(ARGV[a + 1]), tonumber(ARGV[a + 2])
  for _, value in ipairs(decide(k, a + 3, n, m)) do replies[#replies + 1] = value end
  local peeked = ''
  if p == 1 then peeked = redis.call('GET', KEYS[k + n + m + 1]) or '' end
  replies[#replies + 1] = peeked
  k, a = k + n + m + p, a + 3 + 3 * (n + m)
end
return replies
"""

# Renew a lease still held: only if it is there (XX), so a released one is not brought back.
_RENEW = """
local t = redis.call('TIME')
local ttl_us = tonumber(ARGV[1])
local expiry = tonumber(t[1]) * 1000000 + tonumber(t[2]) + ttl_us
redis.call('ZADD', KEYS[1], 'XX', string.format('%d', expiry), ARGV[2])
redis.call('PEXPIRE', KEYS[1], math.ceil(ttl_us / 1000))
"""


def _names(checks: Sequence[Check], leases: Sequence[Lease]) -> list[str]:
    return [c.name for c in checks] + [lease.name for lease in leases]


def _decision(names: list[str], reply: Sequence[int], store: Store) -> Decision:
    allowed, index, remaining, reset_us, retry_us = (int(v) for v in reply)
    return Decision(
        allowed=bool(allowed),
        limit=names[index - 1] if index else "",
        remaining=max(0, remaining),
        reset_s=reset_us / _US,
        retry_after_s=retry_us / _US,
        store=store,
    )


class RedisLimiter:
    """The shared limiter: one EVALSHA per decision. ``namespace`` prefixes its keys."""

    def __init__(self, redis: Redis, namespace: str = "") -> None:
        self._redis = redis
        self._namespace = namespace
        self._script = redis.register_script(_SCRIPT)
        self._renew = redis.register_script(_RENEW)

    async def acquire(
        self,
        checks: Sequence[Check],
        leases: Sequence[Lease] = (),
        *,
        now_us: int | None = None,  # a fixed clock, for replaying a sequence; None: Redis TIME
    ) -> Decision:
        if not checks and not leases:
            return _NOTHING
        [decision] = await self.acquire_many([Request(checks, leases)], now_us=now_us)
        return decision

    async def acquire_many(
        self, requests: Sequence[Request], *, now_us: int | None = None
    ) -> list[Decision]:
        """Each request decided on its own, in order, all in one script call."""
        args: list[str | int] = ["" if now_us is None else now_us, len(requests)]
        keys: list[str] = []
        for checks, leases, peek in requests:
            args += [len(checks), len(leases), 0 if peek is None else 1]
            for check in checks:
                args += [check.rate.interval_us, check.rate.burst, check.cost]
            for lease in leases:
                args += [lease.cap, round(lease.ttl_s * _US), lease.id]
            keys += [self._namespace + c.key for c in checks]
            keys += [self._namespace + lease.key for lease in leases]
            if peek is not None:
                keys.append(peek)  # a name shared with its writer: not in this namespace
        reply = await self._script(keys=keys, args=args)
        decisions = []
        for i, (checks, leases, peek) in enumerate(requests):
            decision = _decision(_names(checks, leases), reply[6 * i : 6 * i + 5], "redis")
            if peek is not None:
                peeked = reply[6 * i + 5]
                text = peeked.decode() if isinstance(peeked, bytes) else ""
                decision = replace(decision, peeked=text or None)
            decisions.append(decision)
        return decisions

    async def release(self, leases: Sequence[Lease]) -> None:
        async with self._redis.pipeline(transaction=False) as pipe:
            for lease in leases:
                pipe.zrem(self._namespace + lease.key, lease.id)
            await pipe.execute()

    async def renew(self, lease: Lease) -> None:
        await self._renew(
            keys=[self._namespace + lease.key], args=[round(lease.ttl_s * _US), lease.id]
        )


class ProcessLimiter:
    """The same algorithm in this process's memory, with each limit divided among ``parts``
    processes: what a worker enforces alone while Redis is away."""

    _SWEEP_EVERY_US = 10 * _US

    def __init__(self, parts: int = 1, clock: Callable[[], float] = time.monotonic) -> None:
        self._parts = max(1, parts)
        self._clock = clock
        self._tats: dict[str, int] = {}
        self._leases: dict[str, dict[str, int]] = {}
        self._swept_at = 0

    def _now_us(self) -> int:
        return int(self._clock() * _US)

    def acquire(
        self, checks: Sequence[Check], leases: Sequence[Lease] = (), *, now_us: int | None = None
    ) -> Decision:
        if not checks and not leases:
            return replace(_NOTHING, store="process")
        now = self._now_us() if now_us is None else now_us
        self._sweep(now)
        refused, retry, refused_reset = 0, -1, 0
        tight, tight_remaining, tight_reset = 0, 0, 0
        tats: list[int] = []
        for i, check in enumerate(checks, 1):
            rate = check.rate.share(self._parts) if self._parts > 1 else check.rate
            interval = rate.interval_us
            tat = max(self._tats.get(check.key, now), now)
            new_tat = tat + check.cost * interval
            allow_at = new_tat - rate.burst * interval
            tats.append(new_tat)
            if now < allow_at:
                if allow_at - now > retry:
                    refused, retry, refused_reset = i, allow_at - now, tat - now
            else:
                remaining = (now - allow_at) // interval
                if tight == 0 or remaining < tight_remaining:
                    tight, tight_remaining, tight_reset = i, remaining, new_tat - now
        for j, lease in enumerate(leases, len(checks) + 1):
            held = self._leases.setdefault(lease.key, {})
            for lease_id in [k for k, expiry in held.items() if expiry <= now]:
                del held[lease_id]
            cap = max(1, lease.cap // self._parts)
            if len(held) >= cap:
                if retry < _LEASE_RETRY_US:
                    refused, retry, refused_reset = j, _LEASE_RETRY_US, 0
            elif tight == 0 or cap - len(held) - 1 < tight_remaining:
                tight, tight_remaining, tight_reset = j, cap - len(held) - 1, 0
        names = _names(checks, leases)
        if refused:
            return _decision(names, (0, refused, 0, refused_reset, retry), "process")
        for check, new_tat in zip(checks, tats, strict=True):
            self._tats[check.key] = new_tat
        for lease in leases:
            self._leases[lease.key][lease.id] = now + round(lease.ttl_s * _US)
        return _decision(names, (1, tight, tight_remaining, tight_reset, 0), "process")

    def release(self, leases: Sequence[Lease]) -> None:
        for lease in leases:
            self._leases.get(lease.key, {}).pop(lease.id, None)

    def renew(self, lease: Lease) -> None:
        held = self._leases.get(lease.key, {})
        if lease.id in held:
            held[lease.id] = self._now_us() + round(lease.ttl_s * _US)

    def _sweep(self, now: int) -> None:
        """Forget limits that are back to full and sets of leases all expired: idle callers
        cost no memory here either."""
        if now - self._swept_at < self._SWEEP_EVERY_US:
            return
        self._swept_at = now
        self._tats = {key: tat for key, tat in self._tats.items() if tat > now}
        self._leases = {
            key: live
            for key, held in self._leases.items()
            if (live := {i: e for i, e in held.items() if e > now})
        }


class Limiter:
    """The gateway's limiter: shared in Redis, per process while Redis is unreachable.

    Decisions are committed in groups: while one script call is on its way, the requests that
    arrive wait for the next, which carries all of them. Each is still decided on its own and
    costs at most one round trip, but a busy worker pays the client's per-call work (most of a
    decision's cost, far more than the script's) once per group instead of once per request.
    An idle worker's request goes out at once, alone.

    After a failure Redis is tried again at most every ``retry_every_s``; a call to Redis never
    waits longer than ``timeout_s``, whatever the client's own retries.
    """

    MAX_GROUP = 256  # decisions in one script call

    def __init__(
        self,
        redis: Redis,
        *,
        workers: int = 1,
        namespace: str = "",
        retry_every_s: float = 3.0,
        timeout_s: float = 0.5,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.shared = RedisLimiter(redis, namespace)
        self.local = ProcessLimiter(workers, clock)
        self._retry_every_s = retry_every_s
        self._timeout_s = timeout_s
        self._clock = clock
        self._retry_at: float | None = None  # None: Redis is in use
        self._background: set[asyncio.Task[None]] = set()
        self._waiting: list[tuple[Request, asyncio.Future[Decision]]] = []
        self._committing = False
        RATELIMIT_DEGRADED.set(0)

    @property
    def degraded(self) -> bool:
        return self._retry_at is not None

    def readiness_note(self) -> str:
        """For ``/readyz``: empty while limits are shared."""
        return "Redis unreachable: rate limits are enforced per process" if self.degraded else ""

    async def acquire(
        self, checks: Sequence[Check], leases: Sequence[Lease] = (), peek: str | None = None
    ) -> Decision:
        """The decision on ``checks`` and ``leases``; with ``peek``, the value at that key read
        in the same round trip (None when it is not there, or Redis is not in use)."""
        decision = await self._acquire(Request(checks, leases, peek))
        if decision.limit:
            outcome = "admitted" if decision.allowed else "refused"
            RATELIMIT_DECISIONS.labels(decision.limit, outcome, decision.store).inc()
        return decision

    async def _acquire(self, request: Request) -> Decision:
        if not self._shared_now():
            return self.local.acquire(request.checks, request.leases)
        decided = asyncio.get_running_loop().create_future()
        self._waiting.append((request, decided))
        if not self._committing:
            self._committing = True
            task = asyncio.create_task(self._commit())
            self._background.add(task)
            task.add_done_callback(self._background.discard)
        return await decided

    def _shared_now(self) -> bool:
        return self._retry_at is None or self._clock() >= self._retry_at

    async def _commit(self) -> None:
        """Decide every waiting request, a group per script call, until none waits."""
        try:
            while self._waiting:
                group = self._waiting[: self.MAX_GROUP]
                del self._waiting[: self.MAX_GROUP]
                requests = [request for request, _ in group]
                decisions = await self._decide(requests)
                for (_, decided), decision in zip(group, decisions, strict=True):
                    if not decided.done():  # its request may have gone meanwhile
                        decided.set_result(decision)
        except BaseException as exc:  # a bug, or cancellation at shutdown: nobody waits forever
            for _, decided in self._waiting:
                if not decided.done():
                    decided.set_exception(exc)
            self._waiting.clear()
            raise
        finally:
            self._committing = False

    async def _decide(self, requests: list[Request]) -> list[Decision]:
        if self._shared_now():
            try:
                async with asyncio.timeout(self._timeout_s):
                    decisions = await self.shared.acquire_many(requests)
            except (RedisError, OSError, TimeoutError) as exc:
                self._degrade(exc)
            else:
                self._recover()
                return decisions
        return [self.local.acquire(checks, leases) for checks, leases, _ in requests]

    def _degrade(self, exc: BaseException) -> None:
        if self._retry_at is None:
            log.warning("ratelimit.degraded", error=repr(exc))
            RATELIMIT_DEGRADED.set(1)
        self._retry_at = self._clock() + self._retry_every_s

    def _recover(self) -> None:
        if self._retry_at is not None:
            log.info("ratelimit.shared_again")
            RATELIMIT_DEGRADED.set(0)
            self._retry_at = None

    def release(self, decision: Decision, leases: Sequence[Lease]) -> None:
        """Give the leases back without waiting: a lost release only holds a place until its
        lease expires."""
        if not leases:
            return
        if decision.store == "process":
            self.local.release(leases)
            return
        self._spawn(self.shared.release(leases))

    async def renew(self, decision: Decision, lease: Lease) -> None:
        if decision.store == "process":
            self.local.renew(lease)
            return
        try:
            async with asyncio.timeout(self._timeout_s):
                await self.shared.renew(lease)
        except (RedisError, OSError, TimeoutError) as exc:
            log.info("ratelimit.renew_failed", kind=lease.kind, error=repr(exc))

    def _spawn(self, work: Any) -> None:
        async def quietly() -> None:
            try:
                async with asyncio.timeout(self._timeout_s):
                    await work
            except (RedisError, OSError, TimeoutError) as exc:
                log.info("ratelimit.release_failed", error=repr(exc))

        task = asyncio.create_task(quietly())
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def close(self) -> None:
        """Let the releases already under way finish."""
        if self._background:
            await asyncio.gather(*self._background, return_exceptions=True)
