"""Start the whole platform on one machine: the backends, then all seven services.

``make run`` uses it through ``python -m services``; the end-to-end tests use it directly.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from libs.devstack import DevStack
from libs.ports import free_port

__all__ = ["SERVICES", "Platform", "ServiceProcess", "TlsFiles", "stop_process"]

SERVICES = ("auth", "canvas", "batch", "render", "image", "fanout", "gateway")
_READY_TIMEOUT_S = 90.0


@dataclass(frozen=True)
class TlsFiles:
    """A certificate chain and its private key (PEM) for a public port."""

    cert: Path
    key: Path


@dataclass
class ServiceProcess:
    name: str
    http_port: int
    grpc_port: int
    log_path: Path
    module: str = ""  # defaults to services.<name>
    env: Mapping[str, str] = field(default_factory=dict)  # beside the platform's own
    process: subprocess.Popen[bytes] | None = None
    admin_port: int = field(default_factory=free_port)
    tls: TlsFiles | None = None

    @property
    def url(self) -> str:
        """The public port: https when the service was given a certificate."""
        scheme = "https" if self.tls is not None else "http"
        return f"{scheme}://127.0.0.1:{self.http_port}"

    @property
    def admin_url(self) -> str:
        """Health, readiness and metrics (plain HTTP, never routed publicly)."""
        return f"http://127.0.0.1:{self.admin_port}"


@dataclass
class Platform:
    """The backends (the dev stack unless URLs are given) and one process group per service;
    with ``gateway_tls`` the gateway's public port speaks HTTPS."""

    root: Path
    workers: int = 1
    gateway_port: int = 0
    env: Mapping[str, str] = field(default_factory=dict)
    gateway_tls: TlsFiles | None = None
    stack: DevStack | None = None
    services: dict[str, ServiceProcess] = field(default_factory=dict)

    def start(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        (self.root / "logs").mkdir(exist_ok=True)
        backends = {k: v for k, v in os.environ.items() if k.startswith("SHOTGRAPH_")} | dict(
            self.env
        )
        if not all(backends.get(f"SHOTGRAPH_{n}_URL") for n in ("NATS", "DATABASE", "REDIS")):
            self.stack = DevStack.attach_or_start(self.root)
            backends |= self.stack.environment()
        for name in SERVICES:
            http_port = (
                self.gateway_port if name == "gateway" and self.gateway_port else free_port()
            )
            self.services[name] = ServiceProcess(
                name,
                http_port,
                free_port(),
                self.root / "logs" / f"{name}.log",
                tls=self.gateway_tls if name == "gateway" else None,
            )
        self._environment = {**os.environ, **backends, **self._addresses()}
        for name in SERVICES:
            self.start_service(name)
        self.wait_ready(SERVICES)

    def _addresses(self) -> dict[str, str]:
        grpc = {n: f"127.0.0.1:{s.grpc_port}" for n, s in self.services.items()}
        return {
            "SHOTGRAPH_AUTH_ADDR": grpc["auth"],
            "SHOTGRAPH_CANVAS_ADDR": grpc["canvas"],
            "SHOTGRAPH_BATCH_ADDR": grpc["batch"],
            "SHOTGRAPH_IMAGE_ADDR": grpc["image"],
            "SHOTGRAPH_RENDER_ADDR": grpc["render"],
            "SHOTGRAPH_FANOUT_URL": self.services["fanout"].url,
        }

    def add_process(
        self,
        name: str,
        module: str,
        env: Mapping[str, str] | None = None,
        tls: TlsFiles | None = None,
    ) -> ServiceProcess:
        """Start one more process group (a test or benchmark worker, another gateway) in the
        platform's env, with ``env`` on top and ``tls`` on its public port."""
        log_path = self.root / "logs" / f"{name}.log"
        self.services[name] = ServiceProcess(
            name, free_port(), free_port(), log_path, module=module, env=dict(env or {}), tls=tls
        )
        self.start_service(name)
        self.wait_ready([name])
        return self.services[name]

    def start_service(self, name: str) -> None:
        service = self.services[name]
        env = {
            **self._environment,
            "SHOTGRAPH_HTTP_HOST": "127.0.0.1",
            "SHOTGRAPH_HTTP_PORT": str(service.http_port),
            "SHOTGRAPH_ADMIN_PORT": str(service.admin_port),
            "SHOTGRAPH_GRPC_PORT": str(service.grpc_port),
            **service.env,
        }
        if service.tls is not None:
            env["SHOTGRAPH_TLS_CERT_FILE"] = str(service.tls.cert)
            env["SHOTGRAPH_TLS_KEY_FILE"] = str(service.tls.key)
        with open(service.log_path, "ab") as log:
            service.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    service.module or f"services.{name}",
                    "--workers",
                    str(self.workers),
                ],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def wait_ready(self, names: tuple[str, ...] | list[str]) -> None:
        deadline = time.monotonic() + _READY_TIMEOUT_S
        for name in names:
            service = self.services[name]
            while not _answers(f"{service.admin_url}/readyz"):
                assert service.process is not None
                if service.process.poll() is not None or time.monotonic() > deadline:
                    tail = service.log_path.read_text(errors="replace")[-3000:]
                    raise RuntimeError(f"{name} did not become ready; its log ends:\n{tail}")
                time.sleep(0.1)

    def stop_service(self, name: str) -> None:
        process = self.services[name].process
        if process is None or process.poll() is not None:
            return
        stop_process(process, timeout_s=30)

    def stop(self) -> None:
        for name in reversed(list(self.services)):
            self.stop_service(name)
        if self.stack is not None:
            self.stack.release()

    @property
    def gateway_url(self) -> str:
        return self.services["gateway"].url

    def create_api_key(self, user: str) -> str:
        """Issue a key through the auth service's gRPC API (blocking: callable from anywhere)."""
        import grpc

        from shotgraph.auth.v1 import auth_pb2, auth_pb2_grpc

        with grpc.insecure_channel(f"127.0.0.1:{self.services['auth'].grpc_port}") as channel:
            reply = auth_pb2_grpc.AuthServiceStub(channel).CreateApiKey(
                auth_pb2.CreateApiKeyRequest(user_name=user, key_name="dev"), timeout=10
            )
        return str(reply.key)


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def stop_process(process: subprocess.Popen[bytes], timeout_s: float) -> None:
    """SIGTERM, a grace period to drain, then SIGKILL for the process's whole group."""
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
