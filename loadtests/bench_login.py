"""What does a password cost? argon2id per core, and Login for an unknown user vs a wrong password.

``python -m loadtests.bench_login [--verifications 20] [--logins 40]`` starts the dev stack's
Postgres and Redis in a temporary folder and measures, with the default hashing parameters
(``AuthSettings``):

1. **argon2id cost**: hashes and verifications one after another in one thread: milliseconds
   each (wall), the CPU time of a verification (libargon2 runs its lanes in threads of its
   own, so a verification uses more than one core for part of its time), and from that the
   verifications per second one core can do;
2. **Login latency** against the real servicer over gRPC: a name nobody has and a wrong password
   for a real user, interleaved, p50 and p99 of each and their ratio. The two must cost the same
   (one verification each), so the ratio should be ~1.0; a ratio far from it would let a caller
   tell which names exist. Throttling is set out of reach so every attempt reaches the hash.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import tempfile
import time
import uuid
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import grpc
from redis.asyncio import Redis

from libs.db import create_pool, migrate
from libs.devstack import DevStack
from libs.ports import free_port
from libs.rpc import create_server
from loadtests.common import cell, print_result, ratio
from loadtests.figures import p50_p99_ms
from services.auth.app import MIGRATIONS
from services.auth.handlers import AuthServicer
from services.auth.passwords import Passwords, hasher_for
from services.auth.settings import AuthSettings
from services.auth.store import AuthStore
from shotgraph.auth.v1 import auth_pb2, auth_pb2_grpc

PASSWORD = "the real password"
MAX_ROUNDS = 1_000


def argon2_cost(settings: AuthSettings, rounds: int) -> dict[str, Any]:
    hasher = hasher_for(settings)
    started = time.perf_counter()
    stored = [hasher.hash(PASSWORD) for _ in range(rounds)]
    hash_s = (time.perf_counter() - started) / rounds
    started, cpu_started = time.perf_counter(), time.process_time()
    for one in stored:
        hasher.verify(one, PASSWORD)
    verify_s = (time.perf_counter() - started) / rounds
    verify_cpu_s = (time.process_time() - cpu_started) / rounds
    return {
        "parameters": f"t={settings.argon2_time_cost} m={settings.argon2_memory_kib} KiB"
        f" p={settings.argon2_parallelism}",
        "hash_ms": round(hash_s * 1000, 2),
        "verify_ms": round(verify_s * 1000, 2),
        "verify_cpu_ms": round(verify_cpu_s * 1000, 2),
        "verifications_per_s_per_core": round(1 / verify_cpu_s, 1),
    }


async def login_latency(devstack: DevStack, settings: AuthSettings, rounds: int) -> dict[str, Any]:
    async with AsyncExitStack() as stack:
        pool = await create_pool(devstack.database_url)
        stack.push_async_callback(pool.close)
        await migrate(pool, "auth", MIGRATIONS)
        redis = Redis.from_url(devstack.redis_url)
        stack.push_async_callback(redis.aclose)
        passwords = Passwords(hasher_for(settings), threads=1)
        stack.callback(passwords.close)
        await passwords.prepare()
        servicer = AuthServicer(
            AuthStore(pool), settings=settings, redis=redis, passwords=passwords
        )
        port = free_port()
        server, _ = await create_server(
            "auth", port, [lambda s: auth_pb2_grpc.add_AuthServiceServicer_to_server(servicer, s)]
        )
        stack.push_async_callback(server.stop, None)
        channel = grpc.aio.insecure_channel(f"127.0.0.1:{port}")
        stack.push_async_callback(channel.close)
        stub = auth_pb2_grpc.AuthServiceStub(channel)
        name = f"bench-{uuid.uuid4().hex[:12]}"
        await stub.CreateUser(auth_pb2.CreateUserRequest(user_name=name, password=PASSWORD))

        async def attempt(user_name: str) -> float:
            started = time.perf_counter()
            try:
                await stub.Login(auth_pb2.LoginRequest(user_name=user_name, password="wrong one!"))
            except grpc.aio.AioRpcError as exc:
                assert exc.code() == grpc.StatusCode.UNAUTHENTICATED, exc
            return time.perf_counter() - started

        unknown: list[float] = []
        wrong: list[float] = []
        await attempt(name)  # warm-up: connections, prepared statements
        for _ in range(rounds):
            unknown.append(await attempt(f"nobody-{uuid.uuid4().hex[:12]}"))
            wrong.append(await attempt(name))
        unknown_p50, unknown_p99 = p50_p99_ms(unknown)
        wrong_p50, wrong_p99 = p50_p99_ms(wrong)
        return {
            "unknown_user_p50_ms": unknown_p50,
            "unknown_user_p99_ms": unknown_p99,
            "wrong_password_p50_ms": wrong_p50,
            "wrong_password_p99_ms": wrong_p99,
            "p50_ratio": ratio(unknown_p50, wrong_p50),
            "p99_ratio": ratio(unknown_p99, wrong_p99),
        }


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m loadtests.bench_login")
    parser.add_argument("--verifications", type=int, default=20)
    parser.add_argument("--logins", type=int, default=40, help="of each kind")
    args = parser.parse_args()
    settings = AuthSettings(login_account_failures=1_000_000, login_address_failures=1_000_000)
    cost = argon2_cost(settings, max(1, min(args.verifications, MAX_ROUNDS)))
    print(f"argon2id ({cost['parameters']}), one thread:")
    print(f"  hash    {cell(cost['hash_ms'])} ms")
    print(f"  verify  {cell(cost['verify_ms'])} ms ({cell(cost['verify_cpu_ms'])} ms of CPU)")
    print(f"  {cell(cost['verifications_per_s_per_core'], ',.1f')} verifications/s per core")

    root = Path(tempfile.mkdtemp(prefix="bench-login-"))
    devstack = DevStack.attach_or_start(root)
    try:
        logins = asyncio.run(
            login_latency(devstack, settings, max(2, min(args.logins, MAX_ROUNDS)))
        )
    finally:
        devstack.release()
        shutil.rmtree(root, ignore_errors=True)
    print("\nLogin RPC, wrong credentials    p50 ms    p99 ms")
    print(
        f"  unknown user               {cell(logins['unknown_user_p50_ms']):>9}"
        f" {cell(logins['unknown_user_p99_ms']):>9}"
    )
    print(
        f"  wrong password             {cell(logins['wrong_password_p50_ms']):>9}"
        f" {cell(logins['wrong_password_p99_ms']):>9}"
    )
    print(
        f"  ratio unknown / wrong      {cell(logins['p50_ratio'], '.3f'):>9}"
        f" {cell(logins['p99_ratio'], '.3f'):>9}   (should be ~1.0)"
    )
    print_result({"argon2": cost, "login": logins})


if __name__ == "__main__":
    main()
