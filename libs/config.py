"""Typed settings read once from ``SHOTGRAPH_*`` environment variables, then frozen.

Each service declares its own class on ``Settings`` (in ``services/<name>/settings.py``) with
only the fields it reads. Every field names its parser beside it, ``setting(default=...,
parse=...)``; a field declared without one is refused when the class is read, so no value ever
reaches a service unparsed.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import MISSING, Field, dataclass, field, fields
from pathlib import Path
from typing import Any, ClassVar, Final, Self, TypeVar, dataclass_transform, overload

__all__ = [
    "LOCAL_ADDRESSES",
    "MAX_UPLOAD_BYTES",
    "ConfigError",
    "RpcClientSettings",
    "Settings",
    "WorkerSettings",
    "address",
    "available_cores",
    "cores_per_worker",
    "default_workers",
    "file_path",
    "on_off",
    "port",
    "positive_float",
    "positive_int",
    "setting",
    "url",
    "variable",
]

T = TypeVar("T")


class ConfigError(ValueError):
    """A setting is missing or malformed, or declared without a parser; the message names it."""


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


# --- parsers: each takes the stripped text and raises ValueError saying what it must be -------


def port(raw: str) -> int:
    """A TCP port, 0 (any free one) to 65535."""
    value = int(raw)
    if not 0 <= value <= 65535:
        raise ValueError("must be between 0 and 65535")
    return value


def positive_int(raw: str) -> int:
    """A count or size above zero."""
    value = int(raw)
    if value <= 0:
        raise ValueError("must be a positive integer")
    return value


def positive_float(raw: str) -> float:
    """A duration or ratio above zero."""
    value = float(raw)
    if value <= 0:
        raise ValueError("must be a positive number")
    return value


def on_off(raw: str) -> bool:
    """A switch spelled ``on`` or ``off``, in any case."""
    if raw.lower() not in ("on", "off"):
        raise ValueError("must be 'on' or 'off'")
    return raw.lower() == "on"


def url(*schemes: str) -> Callable[[str], str]:
    """A parser of URLs that start with one of ``schemes``."""

    def parse(raw: str) -> str:
        if not any(raw.startswith(f"{scheme}://") for scheme in schemes):
            raise ValueError(f"must start with one of {', '.join(s + '://' for s in schemes)}")
        return raw

    return parse


def file_path(raw: str) -> Path:
    """A file that exists and can be read now, not at the first request."""
    path = Path(raw)
    if not path.is_file() or not os.access(path, os.R_OK):
        raise ValueError("must name a readable file")
    return path


def address(raw: str) -> str:
    """A gRPC ``host:port``."""
    host, sep, number = raw.rpartition(":")
    if not sep or not host:
        raise ValueError("must be host:port")
    port(number)
    return raw


# --- declaring and reading settings ------------------------------------------------------------

_PARSE: Final = "shotgraph.parse"  # where a field keeps its parser, in its metadata

# Defaults of fields that several services declare. Each service's gRPC address on a development
# machine; the launcher and the manifests set the real ones.
LOCAL_ADDRESSES: Final = {
    "auth": "127.0.0.1:50051",
    "canvas": "127.0.0.1:50052",
    "batch": "127.0.0.1:50053",
    "image": "127.0.0.1:50054",
    "render": "127.0.0.1:50055",
}
MAX_UPLOAD_BYTES: Final = 50 << 20


@overload
def setting(*, default: T, parse: Callable[[str], T]) -> T: ...
@overload
def setting(*, parse: Callable[[str], T]) -> T: ...
def setting(*, default: Any = MISSING, parse: Callable[[str], Any]) -> Any:
    """A settings field read from ``SHOTGRAPH_<NAME>`` by ``parse``; without a default, required."""
    return field(default=default, metadata={_PARSE: parse})


def variable(name: str) -> str:
    """The environment variable of the field ``name``."""
    return f"SHOTGRAPH_{name.upper()}"


def _parsers(cls: type[Settings]) -> list[tuple[Field[Any], Callable[[str], Any]]]:
    """Every field of ``cls`` with its parser; a field declared without one is refused."""
    for spec in fields(cls):
        if _PARSE not in spec.metadata:
            raise ConfigError(
                f"Settings field '{cls.__name__}.{spec.name}' ({variable(spec.name)}) has no"
                " parser: declare it with setting(parse=...)."
            )
    return [(spec, spec.metadata[_PARSE]) for spec in fields(cls)]


@dataclass_transform(kw_only_default=True, frozen_default=True, field_specifiers=(setting,))
class _Declared:
    """Makes each subclass a frozen, keyword-only dataclass: no class can forget the decorator
    and leave its fields unread."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        dataclass(frozen=True, kw_only=True)(cls)


class Settings(_Declared):
    """What every service reads. Empty backend URLs mean "use the dev stack"."""

    service: ClassVar[str]  # each service's class names it; logs, metrics and errors use it

    http_host: str = setting(default="0.0.0.0", parse=str)
    http_port: int = setting(default=8080, parse=port)
    # /healthz, /readyz and /metrics: a port of their own that the public edge never routes.
    admin_port: int = setting(default=9090, parse=port)
    # Both or neither: the public port then speaks HTTPS only (the admin port stays plain).
    tls_cert_file: Path | None = setting(default=None, parse=file_path)
    tls_key_file: Path | None = setting(default=None, parse=file_path)
    grpc_port: int = setting(default=50051, parse=port)
    nats_url: str = setting(default="", parse=url("nats", "tls"))
    database_url: str = setting(default="", parse=url("postgresql", "postgres"))
    redis_url: str = setting(default="", parse=url("redis", "rediss", "unix"))
    max_body_bytes: int = setting(default=1 << 20, parse=positive_int)
    shutdown_grace_s: float = setting(default=20.0, parse=positive_float)
    log_level: str = setting(default="info", parse=str)
    devstack_dir: Path = setting(default=Path(".devstack"), parse=Path)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Self:
        """Read ``SHOTGRAPH_<FIELD>`` for every field; a bad value raises ConfigError naming it."""
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for spec, parse in _parsers(cls):
            name = variable(spec.name)
            raw = env.get(name)
            if raw is None or raw == "":
                if spec.default is MISSING:
                    raise ConfigError(f"Config '{name}' is missing, and has no default.")
                continue
            try:
                values[spec.name] = parse(raw.strip())
            except ValueError as exc:
                raise ConfigError(f"Config '{name}' has an invalid value {raw!r}: {exc}.") from exc
        return cls(**values)

    def __post_init__(self) -> None:
        if (self.tls_cert_file is None) != (self.tls_key_file is None):
            raise ConfigError(
                f"Config '{variable('tls_cert_file')}' and '{variable('tls_key_file')}' go"
                " together: set both for HTTPS, or neither."
            )

    @property
    def uses_devstack(self) -> bool:
        return not (self.nats_url and self.database_url and self.redis_url)


class RpcClientSettings(Settings):
    """What a service that calls others over gRPC reads, beside their addresses."""

    grpc_deadline_s: float = setting(default=5.0, parse=positive_float)


class WorkerSettings(Settings):
    """What a service taking jobs from JetStream work subjects reads."""

    ack_wait_s: float = setting(default=0.0, parse=positive_float)  # 0: each worker's own
    max_deliver: int = setting(default=5, parse=positive_int)
