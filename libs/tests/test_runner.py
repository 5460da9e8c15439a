"""``libs.runner.main`` with two worker processes, driven from outside like an operator would.

The service under test is ``libs.tests.sample_service``; it talks to no backend, but gets the
dev stack's URLs so the runner does not start a stack of its own.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import ssl
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import pytest
import trustme
from grpc_health.v1 import health_pb2, health_pb2_grpc
from prometheus_client.parser import text_string_to_metric_families

from libs.devstack import DevStack
from libs.ports import free_port

REPO = Path(__file__).resolve().parents[2]
WORKERS = 2
GRACE_S = 5.0
START_TIMEOUT_S = 30.0


@dataclass
class Service:
    process: subprocess.Popen[bytes]
    http_port: int
    admin_port: int
    grpc_port: int
    log: Path
    tls: ssl.SSLContext | None = None  # a client's, trusting the public port's certificate

    def get(self, path: str, *, admin: bool = False) -> tuple[int, bytes]:
        """One request on a connection of its own, so the kernel picks a worker each time;
        ``admin`` sends it to the admin port."""
        connection: http.client.HTTPConnection
        if admin:
            connection = http.client.HTTPConnection("127.0.0.1", self.admin_port, timeout=10)
        elif self.tls is not None:
            connection = http.client.HTTPSConnection(
                "localhost", self.http_port, timeout=10, context=self.tls
            )
        else:
            connection = http.client.HTTPConnection("127.0.0.1", self.http_port, timeout=10)
        try:
            connection.request("GET", path)
            response = connection.getresponse()
            return response.status, response.read()
        finally:
            connection.close()

    def events(self, name: str) -> list[dict[str, Any]]:
        """The workers' JSON log lines (they share the parent's stdout) for one event."""
        records = []
        for line in self.log.read_text(errors="replace").splitlines():
            try:
                records.append(json.loads(line))
            except ValueError:  # not JSON, or a line still being written
                continue
        return [r for r in records if isinstance(r, dict) and r.get("event") == name]

    def wait_until_serving(self) -> None:
        """Until /healthz answers and every worker has logged that it started."""
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            try:
                healthy = self.get("/healthz", admin=True)[0] == 200
            except OSError:
                healthy = False
            if healthy and len({e["pid"] for e in self.events("service.started")}) == WORKERS:
                return
            if self.process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"service did not start; its log:\n{self.log.read_text()[-3000:]}")
            time.sleep(0.05)


@pytest.fixture(scope="module")
def start_service(
    devstack: DevStack, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Callable[..., Service]]:
    """Starts ``python -c 'libs.runner.main(...)'`` processes; kills what is left at the end.
    ``start(https=True)`` gives the public port a certificate from a test CA."""
    started: list[Service] = []

    def start(*, https: bool = False) -> Service:
        http_port, admin_port, grpc_port = free_port(), free_port(), free_port()
        folder = tmp_path_factory.mktemp("runner")
        log = folder / "service.log"
        env = {
            **{k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"},
            **devstack.environment(),
            "SHOTGRAPH_HTTP_HOST": "127.0.0.1",
            "SHOTGRAPH_HTTP_PORT": str(http_port),
            "SHOTGRAPH_ADMIN_PORT": str(admin_port),
            "SHOTGRAPH_GRPC_PORT": str(grpc_port),
            "SHOTGRAPH_SHUTDOWN_GRACE_S": str(GRACE_S),
        }
        client_tls = None
        if https:
            authority = trustme.CA()
            issued = authority.issue_cert("localhost", "127.0.0.1")
            issued.cert_chain_pems[0].write_to_path(folder / "cert.pem")
            for pem in issued.cert_chain_pems[1:]:
                pem.write_to_path(folder / "cert.pem", append=True)
            issued.private_key_pem.write_to_path(folder / "key.pem")
            env["SHOTGRAPH_TLS_CERT_FILE"] = str(folder / "cert.pem")
            env["SHOTGRAPH_TLS_KEY_FILE"] = str(folder / "key.pem")
            client_tls = ssl.create_default_context()
            authority.configure_trust(client_tls)
        code = (
            "from libs.runner import main; "
            "from libs.tests.sample_service import SampleSettings; "
            f"main(SampleSettings, 'libs.tests.sample_service:build', ['--workers', '{WORKERS}'])"
        )
        with open(log, "wb") as out:
            process = subprocess.Popen(
                [sys.executable, "-c", code],
                cwd=REPO,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        service = Service(process, http_port, admin_port, grpc_port, log, client_tls)
        started.append(service)
        service.wait_until_serving()
        return service

    yield start
    for service in started:
        if service.process.poll() is None:
            os.killpg(service.process.pid, signal.SIGKILL)
        service.process.wait()


@pytest.fixture(scope="module")
def service(start_service: Callable[..., Service]) -> Service:
    return start_service()


def _pids(service: Service, limit: int) -> tuple[set[int], int]:
    """GET /pid on fresh connections until both workers answered; (pids seen, requests made)."""
    pids: set[int] = set()
    for sent in range(1, limit + 1):
        status, body = service.get("/pid")
        assert status == 200
        pids.add(json.loads(body)["pid"])
        if len(pids) == WORKERS:
            return pids, sent
    return pids, limit


def _requests_total(service: Service, route: str) -> float:
    status, body = service.get("/metrics", admin=True)
    assert status == 200
    return sum(
        sample.value
        for family in text_string_to_metric_families(body.decode())
        for sample in family.samples
        if sample.name == "shotgraph_http_requests_total"
        and sample.labels.get("route") == route
        and sample.labels.get("service") == "sample"
    )


def test_fresh_connections_reach_both_workers(service: Service) -> None:
    pids, _ = _pids(service, limit=200)
    started = {e["pid"] for e in service.events("service.started")}
    assert len(pids) == WORKERS
    assert pids == started
    assert service.process.pid not in pids


@pytest.mark.parametrize("path", ["/healthz", "/readyz", "/metrics"])
def test_operations_answer_on_the_admin_port_only(service: Service, path: str) -> None:
    """On fresh connections, so that every worker is asked on both ports."""
    for _ in range(8):
        status, body = service.get(path)
        assert status == 404
        assert json.loads(body)["status"] == 404
        assert service.get(path, admin=True)[0] == 200


def test_the_public_port_speaks_https_with_a_certificate(
    start_service: Callable[..., Service],
) -> None:
    service = start_service(https=True)
    pids, _ = _pids(service, limit=200)
    assert len(pids) == WORKERS
    with pytest.raises(ssl.SSLError):  # a client that does not trust the CA is refused
        http.client.HTTPSConnection(
            "localhost", service.http_port, timeout=10, context=ssl.create_default_context()
        ).request("GET", "/pid")
    status, _ = service.get("/healthz", admin=True)  # the admin port stays plain HTTP
    assert status == 200


def test_grpc_health_check_is_serving(service: Service) -> None:
    with grpc.insecure_channel(f"127.0.0.1:{service.grpc_port}") as channel:
        reply = health_pb2_grpc.HealthStub(channel).Check(
            health_pb2.HealthCheckRequest(service=""), timeout=10
        )
    assert reply.status == health_pb2.HealthCheckResponse.SERVING


def test_metrics_add_up_across_workers(service: Service) -> None:
    before = _requests_total(service, "/pid")
    pids: set[int] = set()
    sent = 0
    while len(pids) < WORKERS or sent < 20:
        assert sent < 200, "every request reached the same worker"
        more, count = _pids(service, limit=1)
        pids |= more
        sent += count
    # Any worker may answer a scrape; each must report what both of them served.
    for _ in range(10):
        assert _requests_total(service, "/pid") - before == sent


def test_sigterm_lets_the_request_in_flight_finish(
    start_service: Callable[..., Service],
) -> None:
    service = start_service()
    connection = http.client.HTTPConnection("127.0.0.1", service.http_port, timeout=10)
    try:
        connection.request("GET", "/slow")
        response = connection.getresponse()
        assert response.status == 200
        assert response.readline() == b"started\n"  # the handler is now in flight

        service.process.send_signal(signal.SIGTERM)
        sent_at = time.monotonic()

        assert response.read() == b"done\n"
    finally:
        connection.close()
    assert service.process.wait(timeout=GRACE_S) == 0
    assert time.monotonic() - sent_at < GRACE_S
    assert sorted(e["worker"] for e in service.events("service.stopped")) == list(range(WORKERS))


def test_a_settings_field_without_a_parser_stops_the_service() -> None:
    """Refused by the supervising process itself, before any worker starts."""
    code = (
        "from libs.runner import main; "
        "from libs.tests.sample_service import UnparsedSettings; "
        "main(UnparsedSettings, 'libs.tests.sample_service:build', ['--workers', '1'])"
    )
    environ = {
        **{k: v for k, v in os.environ.items() if not k.startswith("SHOTGRAPH_")},
        # Never contacted; given so that no dev stack is started for a service that won't run.
        "SHOTGRAPH_NATS_URL": "nats://127.0.0.1:1",
        "SHOTGRAPH_DATABASE_URL": "postgresql://u@127.0.0.1:1/db",
        "SHOTGRAPH_REDIS_URL": "redis://127.0.0.1:1/0",
    }
    started = subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO,
        env=environ,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert started.returncode == 1
    assert started.stderr.strip() == (
        "sample: Settings field 'UnparsedSettings.colour' (SHOTGRAPH_COLOUR) has no parser:"
        " declare it with setting(parse=...)."
    )
    assert started.stdout == ""  # no worker logged a start
