"""``python -m services.<name> --workers N``: N processes sharing the service's ports.

Workers bind HTTP (public, HTTPS when a certificate is set), admin HTTP (health, readiness,
metrics) and gRPC with SO_REUSEPORT so the kernel spreads connections across cores. The
parent supervises: it restarts a worker that dies, and on SIGTERM/SIGINT forwards the signal,
waits for the workers to drain, and exits. Metrics stay whole through a shared multiprocess dir.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import importlib
import multiprocessing
import os
import shutil
import signal
import ssl
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from multiprocessing.process import BaseProcess
from typing import Any, TypeVar

from aiohttp import web

from libs.config import ConfigError, Settings, default_workers
from libs.ports import free_port

__all__ = ["Background", "ServiceParts", "main", "public_ssl_context"]

Background = Callable[[asyncio.Event], Coroutine[Any, Any, None]]


@dataclass
class ServiceParts:
    """What a service's ``build`` hands the runner: its HTTP app, gRPC servicers, loops."""

    app: web.Application
    registrars: Sequence[Callable[..., None]] = ()
    background: Sequence[Background] = field(default_factory=list)


S = TypeVar("S", bound=Settings)
Build = Callable[[S, AsyncExitStack], Awaitable[ServiceParts]]


def main(
    settings_class: type[Settings], build_target: str, argv: Sequence[str] | None = None
) -> None:
    """Parse ``--workers``, prepare ports and the dev stack, then supervise the workers.

    ``settings_class`` is the service's own settings (``services/<name>/settings.py``), which
    names the service; every worker reads it and hands it to its ``Build``. ``build_target``
    is ``"module:function"`` naming that ``Build``: only workers import it, so this supervising
    process stays free of the service's heavy imports.
    """
    service = settings_class.service
    parser = argparse.ArgumentParser(prog=f"python -m services.{service}")
    parser.add_argument("--workers", type=int, default=default_workers(), help="worker processes")
    args = parser.parse_args(argv)
    if args.workers < 1:
        parser.error("--workers must be at least 1")
    try:
        # What every service reads decides the dev stack and the ports; the service's own fields
        # are read once the stack's variables are in place (the gateway needs its URL keys).
        base = Settings.from_env()
    except ConfigError as exc:
        sys.exit(f"{service}: {exc}")

    with contextlib.ExitStack() as cleanup:
        if base.uses_devstack:
            from libs.devstack import DevStack

            stack = DevStack.attach_or_start(base.devstack_dir)
            cleanup.callback(stack.release)
            os.environ.update(stack.environment())
        try:
            # Refused here, a bad setting stops the replica once, not each worker in a loop.
            settings_class.from_env()
        except ConfigError as exc:
            sys.exit(f"{service}: {exc}")
        for name, port in (
            ("HTTP_PORT", base.http_port),
            ("ADMIN_PORT", base.admin_port),
            ("GRPC_PORT", base.grpc_port),
        ):
            if port == 0:  # all workers must share one concrete port
                os.environ[f"SHOTGRAPH_{name}"] = str(free_port())
        metrics_dir = tempfile.mkdtemp(prefix=f"shotgraph-{service}-metrics-")
        cleanup.callback(shutil.rmtree, metrics_dir, ignore_errors=True)
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
        # Each worker's share of the replica's cores follows from how many siblings it has.
        os.environ["SHOTGRAPH_WORKER_COUNT"] = str(args.workers)
        sys.exit(_supervise(settings_class, build_target, args.workers, base.shutdown_grace_s))


def _supervise(
    settings_class: type[Settings], build_target: str, workers: int, grace_s: float
) -> int:
    service = settings_class.service
    context = multiprocessing.get_context("spawn")
    stopping = False

    def request_stop(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)

    def spawn(index: int) -> BaseProcess:
        process = context.Process(
            target=_worker_main,
            args=(settings_class, build_target, index),
            name=f"{service}-{index}",
        )
        process.start()
        return process

    processes = [spawn(i) for i in range(workers)]
    restarts = 0
    while not stopping:
        time.sleep(0.2)
        for index, process in enumerate(processes):
            if not process.is_alive() and not stopping:
                from prometheus_client import multiprocess

                multiprocess.mark_process_dead(process.pid)
                restarts += 1
                if restarts > 10 * workers:
                    print(f"{service}: workers keep dying; giving up", file=sys.stderr)
                    stopping = True
                    break
                processes[index] = spawn(index)
    for process in processes:
        if process.is_alive() and process.pid is not None:
            os.kill(process.pid, signal.SIGTERM)
    deadline = time.monotonic() + grace_s + 5
    for process in processes:
        process.join(max(0.0, deadline - time.monotonic()))
        if process.is_alive():
            process.kill()
            process.join()
    return 1 if restarts > 10 * workers else 0


def public_ssl_context(settings: Settings) -> ssl.SSLContext | None:
    """The public port's TLS (1.2 and later) when a certificate and key are set, else None."""
    if settings.tls_cert_file is None or settings.tls_key_file is None:
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(settings.tls_cert_file, settings.tls_key_file)
    return context


def _worker_main(settings_class: type[Settings], build_target: str, index: int) -> None:
    from libs.logs import configure_logging
    from libs.tracing import configure_tracing, shutdown_tracing

    settings = settings_class.from_env()
    configure_logging(settings.service, settings.log_level)
    configure_tracing(settings.service)
    module_name, _, function = build_target.partition(":")
    build: Build[Settings] = getattr(importlib.import_module(module_name), function)
    try:
        asyncio.run(_serve(settings, build, index))
    finally:
        shutdown_tracing()


async def _serve(settings: Settings, build: Build[Settings], index: int) -> None:
    from libs.logs import get_logger
    from libs.rpc import create_server
    from libs.web import ADMIN_APP

    log = get_logger("runner")
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stopping.set)

    async with AsyncExitStack() as stack:
        parts = await build(settings, stack)
        # What start-up made (modules, protobuf descriptors, the app) lives as long as the
        # worker: out of the collector's sight, a full collection no longer walks it all, and
        # requests stop paying for those pauses in their tail latency.
        gc.collect()
        gc.freeze()
        # handler_cancellation: a browser that leaves ends its SSE relay and stream at once.
        runner = web.AppRunner(
            parts.app,
            access_log=None,
            shutdown_timeout=settings.shutdown_grace_s,
            handler_cancellation=True,
        )
        await runner.setup()
        site = web.TCPSite(
            runner,
            settings.http_host,
            settings.http_port,
            reuse_port=True,
            ssl_context=public_ssl_context(settings),
        )
        await site.start()
        # Every service answers the standard gRPC health check, even one without an API of its own.
        grpc_server, health = await create_server(
            settings.service, settings.grpc_port, parts.registrars
        )
        tasks = [asyncio.create_task(loop_fn(stopping)) for loop_fn in parts.background]
        # Last, so a worker that answers its probes has every port bound.
        admin = web.AppRunner(parts.app[ADMIN_APP], access_log=None, shutdown_timeout=1.0)
        await admin.setup()
        await web.TCPSite(admin, settings.http_host, settings.admin_port, reuse_port=True).start()
        log.info(
            "service.started",
            worker=index,
            pid=os.getpid(),
            http_port=settings.http_port,
            admin_port=settings.admin_port,
            grpc_port=settings.grpc_port,
        )
        stop_wait = asyncio.create_task(stopping.wait())
        done, _ = await asyncio.wait([stop_wait, *tasks], return_when=asyncio.FIRST_COMPLETED)
        for task in done - {stop_wait}:
            log.error("service.background_stopped", error=repr(task.exception()))
        stopping.set()

        # Drain: report not-serving, finish in-flight calls and messages, then close.
        log.info("service.draining", worker=index)
        await health.enter_graceful_shutdown()
        await admin.cleanup()  # not ready any more: probes stop answering, as gRPC health does
        await grpc_server.stop(settings.shutdown_grace_s)
        await runner.cleanup()
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=settings.shutdown_grace_s)
            for task in pending:
                task.cancel()
        log.info("service.stopped", worker=index)
