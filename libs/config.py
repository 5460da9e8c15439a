"""Typed settings read once from ``SHOTGRAPH_*`` environment variables, then frozen."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

__all__ = [
    "ConfigError",
    "Settings",
    "available_cores",
    "cores_per_worker",
    "default_workers",
]


class ConfigError(ValueError):
    """A setting is missing or malformed; the message names the variable."""


CGROUP_CPU_MAX = Path("/sys/fs/cgroup/cpu.max")


def available_cores(cpu_max: Path = CGROUP_CPU_MAX) -> int:
    """The cores this process may use: its CPU affinity, capped by a cgroup v2 CPU quota.

    In a container with a CPU limit the affinity still lists every core of the node, so the
    quota (``cpu.max``: "400000 100000" is four cores) is what bounds the real parallelism.
    """
    cores = len(os.sched_getaffinity(0))
    try:
        quota, period = cpu_max.read_text().split()[:2]
        if quota != "max":
            cores = min(cores, max(1, int(int(quota) / int(period))))
    except (OSError, ValueError):
        pass  # no cgroup v2 quota: the affinity it is
    return max(1, cores)


def cores_per_worker() -> int:
    """This worker process's share of the cores: the runner says how many siblings it has
    (``SHOTGRAPH_WORKER_COUNT``), so four workers on four cores take one each."""
    workers = int(os.environ.get("SHOTGRAPH_WORKER_COUNT", "1") or 1)
    return max(1, available_cores() // max(1, workers))


def default_workers() -> int:
    """The replica budget is four cores: one worker process per core, at most four."""
    return min(4, available_cores())


def _port(raw: str) -> int:
    port = int(raw)
    if not 0 <= port <= 65535:
        raise ValueError("must be between 0 and 65535")
    return port


def _positive_int(raw: str) -> int:
    value = int(raw)
    if value <= 0:
        raise ValueError("must be a positive integer")
    return value


def _positive_float(raw: str) -> float:
    value = float(raw)
    if value <= 0:
        raise ValueError("must be a positive number")
    return value


def _on_off(raw: str) -> bool:
    if raw.lower() not in ("on", "off"):
        raise ValueError("must be 'on' or 'off'")
    return raw.lower() == "on"


def _url(*schemes: str) -> Callable[[str], str]:
    def parse(raw: str) -> str:
        if not any(raw.startswith(f"{scheme}://") for scheme in schemes):
            raise ValueError(f"must start with one of {', '.join(s + '://' for s in schemes)}")
        return raw

    return parse


def _hex_keys(raw: str) -> str:
    for key in raw.split(","):
        try:
            size = len(bytes.fromhex(key.strip()))
        except ValueError:
            raise ValueError("must be comma-separated hex keys") from None
        if size < 32:
            raise ValueError("each key must be at least 32 bytes (64 hex digits)")
    return raw


def _address(raw: str) -> str:
    host, sep, port = raw.rpartition(":")
    if not sep or not host:
        raise ValueError("must be host:port")
    _port(port)
    return raw


@dataclass(frozen=True)
class Settings:
    """Everything a service reads from its environment. Empty URLs mean "use the dev stack"."""

    service: str
    http_host: str = "0.0.0.0"
    http_port: int = 8080
    grpc_port: int = 50051
    nats_url: str = ""
    database_url: str = ""
    redis_url: str = ""
    auth_addr: str = "127.0.0.1:50051"
    canvas_addr: str = "127.0.0.1:50052"
    batch_addr: str = "127.0.0.1:50053"
    image_addr: str = "127.0.0.1:50054"
    render_addr: str = "127.0.0.1:50055"
    fanout_url: str = "http://127.0.0.1:8086"
    max_body_bytes: int = 1 << 20
    max_upload_bytes: int = 50 << 20
    # What an image may be before a pixel is decoded (imgproxy's careful defaults).
    image_max_pixels: int = 50_000_000  # of one frame
    image_max_frames: int = 1  # frames processed unless the animation is asked for
    image_max_animation_frames: int = 100  # more than this declared: refused outright
    image_max_progressive_pixels: int = 20_000_000  # progressive JPEGs decode whole
    # HMAC keys for image URLs, hex, comma-separated; the first signs, all verify (rotation).
    image_url_keys: str = ""
    grpc_deadline_s: float = 5.0
    worker_concurrency: int = 4
    ack_wait_s: float = 0.0  # 0: each worker's own default
    max_deliver: int = 5
    shutdown_grace_s: float = 20.0
    log_level: str = "info"
    render_sandbox: bool = True
    # External generation services, "name=url,name=url" (ComfyUI-style queue APIs).
    generation_backends: str = ""
    dispatch_window: int = 2000
    devstack_dir: Path = Path(".devstack")

    @classmethod
    def from_env(cls, service: str, environ: Mapping[str, str] | None = None) -> Settings:
        """Read ``SHOTGRAPH_<FIELD>`` for every field; a bad value raises ConfigError naming it."""
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {"service": service}
        for field in fields(cls):
            if field.name == "service":
                continue
            name = f"SHOTGRAPH_{field.name.upper()}"
            raw = env.get(name)
            if raw is None or raw == "":
                continue
            try:
                values[field.name] = _PARSERS.get(field.name, str)(raw.strip())
            except ValueError as exc:
                raise ConfigError(f"Config '{name}' has an invalid value {raw!r}: {exc}.") from exc
        return cls(**values)

    @property
    def uses_devstack(self) -> bool:
        return not (self.nats_url and self.database_url and self.redis_url)


_PARSERS: dict[str, Callable[[str], Any]] = {
    "http_port": _port,
    "grpc_port": _port,
    "nats_url": _url("nats", "tls"),
    "database_url": _url("postgresql", "postgres"),
    "redis_url": _url("redis", "rediss", "unix"),
    "auth_addr": _address,
    "canvas_addr": _address,
    "batch_addr": _address,
    "image_addr": _address,
    "render_addr": _address,
    "fanout_url": _url("http", "https"),
    "max_body_bytes": _positive_int,
    "max_upload_bytes": _positive_int,
    "image_max_pixels": _positive_int,
    "image_max_frames": _positive_int,
    "image_max_animation_frames": _positive_int,
    "image_max_progressive_pixels": _positive_int,
    "image_url_keys": _hex_keys,
    "grpc_deadline_s": _positive_float,
    "worker_concurrency": _positive_int,
    "ack_wait_s": _positive_float,
    "max_deliver": _positive_int,
    "shutdown_grace_s": _positive_float,
    "devstack_dir": Path,
    "render_sandbox": _on_off,
    "dispatch_window": _positive_int,
}
