"""Settings come from SHOTGRAPH_* variables, typed, with errors that name the variable."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from libs.config import ConfigError, Settings, available_cores

BACKENDS = {
    "SHOTGRAPH_NATS_URL": "nats://127.0.0.1:4222",
    "SHOTGRAPH_DATABASE_URL": "postgresql://u@127.0.0.1/db",
    "SHOTGRAPH_REDIS_URL": "redis://127.0.0.1:6379/0",
}


def test_typed_values_are_parsed() -> None:
    settings = Settings.from_env(
        "canvas",
        {
            "SHOTGRAPH_HTTP_PORT": "9001",
            "SHOTGRAPH_GRPC_PORT": " 9002 ",
            "SHOTGRAPH_AUTH_ADDR": "auth.internal:50051",
            "SHOTGRAPH_MAX_BODY_BYTES": "2048",
            "SHOTGRAPH_GRPC_DEADLINE_S": "0.5",
            "SHOTGRAPH_DEVSTACK_DIR": "/tmp/stack",
            "SHOTGRAPH_LOG_LEVEL": "debug",
            **BACKENDS,
        },
    )
    assert settings.service == "canvas"
    assert settings.http_port == 9001
    assert settings.grpc_port == 9002
    assert settings.auth_addr == "auth.internal:50051"
    assert settings.max_body_bytes == 2048
    assert settings.grpc_deadline_s == 0.5
    assert settings.devstack_dir == Path("/tmp/stack")
    assert settings.log_level == "debug"
    assert settings.nats_url == "nats://127.0.0.1:4222"


@pytest.mark.parametrize(
    ("name", "raw"),
    [
        ("SHOTGRAPH_HTTP_PORT", "http"),
        ("SHOTGRAPH_HTTP_PORT", "70000"),
        ("SHOTGRAPH_GRPC_PORT", "-1"),
        ("SHOTGRAPH_NATS_URL", "127.0.0.1:4222"),
        ("SHOTGRAPH_DATABASE_URL", "mysql://db"),
        ("SHOTGRAPH_REDIS_URL", "http://127.0.0.1:6379"),
        ("SHOTGRAPH_FANOUT_URL", "ftp://fanout"),
        ("SHOTGRAPH_AUTH_ADDR", "no-port"),
        ("SHOTGRAPH_CANVAS_ADDR", ":50052"),
        ("SHOTGRAPH_BATCH_ADDR", "batch:99999"),
        ("SHOTGRAPH_MAX_BODY_BYTES", "0"),
        ("SHOTGRAPH_WORKER_CONCURRENCY", "-3"),
        ("SHOTGRAPH_GRPC_DEADLINE_S", "0"),
        ("SHOTGRAPH_SHUTDOWN_GRACE_S", "-1.5"),
        ("SHOTGRAPH_SHUTDOWN_GRACE_S", "soon"),
    ],
)
def test_bad_value_raises_config_error_naming_the_variable(name: str, raw: str) -> None:
    with pytest.raises(ConfigError, match=name) as caught:
        Settings.from_env("canvas", {name: raw})
    assert repr(raw) in str(caught.value)


def test_empty_values_fall_back_to_defaults() -> None:
    empty = {"SHOTGRAPH_HTTP_PORT": "", "SHOTGRAPH_NATS_URL": "", "SHOTGRAPH_MAX_BODY_BYTES": ""}
    assert Settings.from_env("canvas", empty) == Settings(service="canvas")


def test_unrelated_variables_are_ignored() -> None:
    environ = {"HTTP_PORT": "nope", "SHOTGRAPH_UNKNOWN": "x", "SHOTGRAPH_SERVICE": "other"}
    assert Settings.from_env("canvas", environ) == Settings(service="canvas")


def test_uses_devstack_unless_every_backend_url_is_given() -> None:
    assert Settings.from_env("canvas", {}).uses_devstack
    assert not Settings.from_env("canvas", BACKENDS).uses_devstack
    for missing in BACKENDS:
        partial = {k: v for k, v in BACKENDS.items() if k != missing}
        assert Settings.from_env("canvas", partial).uses_devstack, missing


@pytest.mark.parametrize(
    ("cpu_max", "cap"),
    [("400000 100000\n", 4), ("150000 100000\n", 1), ("50000 100000\n", 1), ("max 100000\n", None)],
)
def test_a_cgroup_cpu_quota_caps_the_cores(tmp_path: Path, cpu_max: str, cap: int | None) -> None:
    affinity = len(os.sched_getaffinity(0))
    (tmp_path / "cpu.max").write_text(cpu_max)
    expected = affinity if cap is None else min(affinity, cap)
    assert available_cores(tmp_path / "cpu.max") == expected


def test_without_a_cgroup_quota_the_affinity_counts(tmp_path: Path) -> None:
    assert available_cores(tmp_path / "missing") == len(os.sched_getaffinity(0))


@pytest.mark.parametrize(
    ("raw", "ok"),
    [
        ("ab" * 32, True),
        ("ab" * 32 + "," + "cd" * 40, True),
        ("ab" * 16, False),  # 16 bytes: too short to be a secret
        ("xyz", False),
        ("ab" * 32 + ",", False),
    ],
)
def test_image_url_keys_are_long_hex_keys(raw: str, ok: bool) -> None:
    env = {**BACKENDS, "SHOTGRAPH_IMAGE_URL_KEYS": raw}
    if ok:
        assert Settings.from_env("gateway", env).image_url_keys == raw
    else:
        with pytest.raises(ConfigError, match="SHOTGRAPH_IMAGE_URL_KEYS"):
            Settings.from_env("gateway", env)
