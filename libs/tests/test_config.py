"""Settings come from SHOTGRAPH_* variables, typed, with errors that name the variable."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import pytest

from libs.config import (
    LOCAL_ADDRESSES,
    ConfigError,
    RpcClientSettings,
    Settings,
    WorkerSettings,
    address,
    available_cores,
    on_off,
    setting,
    url,
)

BACKENDS = {
    "SHOTGRAPH_NATS_URL": "nats://127.0.0.1:4222",
    "SHOTGRAPH_DATABASE_URL": "postgresql://u@127.0.0.1/db",
    "SHOTGRAPH_REDIS_URL": "redis://127.0.0.1:6379/0",
}


class CallerSettings(WorkerSettings, RpcClientSettings):
    """A service of these tests: a worker that calls auth, with a field for each shared parser."""

    service = "caller"

    auth_addr: str = setting(default=LOCAL_ADDRESSES["auth"], parse=address)
    fanout_url: str = setting(default="http://127.0.0.1:8086", parse=url("http", "https"))
    sandbox: bool = setting(default=True, parse=on_off)


class UnparsedSettings(Settings):
    """Declares a field the way the old Settings did, with no parser beside it."""

    service = "unparsed"

    colour: str = "red"


class KeyedSettings(Settings):
    """Declares a field without a default: a service that cannot start unless it is set."""

    service = "keyed"

    secret: str = setting(parse=str)


def test_typed_values_are_parsed() -> None:
    settings = CallerSettings.from_env(
        {
            "SHOTGRAPH_HTTP_PORT": "9001",
            "SHOTGRAPH_GRPC_PORT": " 9002 ",
            "SHOTGRAPH_AUTH_ADDR": "auth.internal:50051",
            "SHOTGRAPH_MAX_BODY_BYTES": "2048",
            "SHOTGRAPH_GRPC_DEADLINE_S": "0.5",
            "SHOTGRAPH_ACK_WAIT_S": "12.5",
            "SHOTGRAPH_MAX_DELIVER": "3",
            "SHOTGRAPH_SANDBOX": "OFF",
            "SHOTGRAPH_DEVSTACK_DIR": "/tmp/stack",
            "SHOTGRAPH_LOG_LEVEL": "debug",
            **BACKENDS,
        },
    )
    assert settings.service == "caller"
    assert settings.http_port == 9001
    assert settings.grpc_port == 9002
    assert settings.auth_addr == "auth.internal:50051"
    assert settings.max_body_bytes == 2048
    assert settings.grpc_deadline_s == 0.5
    assert settings.ack_wait_s == 12.5
    assert settings.max_deliver == 3
    assert settings.sandbox is False
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
        ("SHOTGRAPH_AUTH_ADDR", ":50052"),
        ("SHOTGRAPH_AUTH_ADDR", "auth:99999"),
        ("SHOTGRAPH_MAX_BODY_BYTES", "0"),
        ("SHOTGRAPH_MAX_DELIVER", "-3"),
        ("SHOTGRAPH_ACK_WAIT_S", "0"),
        ("SHOTGRAPH_GRPC_DEADLINE_S", "0"),
        ("SHOTGRAPH_SHUTDOWN_GRACE_S", "-1.5"),
        ("SHOTGRAPH_SHUTDOWN_GRACE_S", "soon"),
        ("SHOTGRAPH_SANDBOX", "maybe"),
        ("SHOTGRAPH_ADMIN_PORT", "65536"),
        ("SHOTGRAPH_TLS_CERT_FILE", "/no/such/cert.pem"),
    ],
)
def test_bad_value_raises_config_error_naming_the_variable(name: str, raw: str) -> None:
    with pytest.raises(ConfigError, match=name) as caught:
        CallerSettings.from_env({name: raw})
    assert str(caught.value).startswith(f"Config '{name}' has an invalid value {raw!r}: ")


def test_empty_values_fall_back_to_defaults() -> None:
    empty = {"SHOTGRAPH_HTTP_PORT": "", "SHOTGRAPH_NATS_URL": "", "SHOTGRAPH_AUTH_ADDR": ""}
    assert CallerSettings.from_env(empty) == CallerSettings()


def test_unrelated_variables_are_ignored() -> None:
    environ = {"HTTP_PORT": "nope", "SHOTGRAPH_UNKNOWN": "x", "SHOTGRAPH_SERVICE": "other"}
    settings = CallerSettings.from_env(environ)
    assert settings == CallerSettings()
    assert settings.service == "caller"


def test_a_class_reads_only_its_own_fields() -> None:
    """The runner reads the shared base before the dev stack; a service's own fields wait."""
    environ = {"SHOTGRAPH_AUTH_ADDR": "no-port", "SHOTGRAPH_HTTP_PORT": "9001"}
    assert Settings.from_env(environ).http_port == 9001
    with pytest.raises(ConfigError, match="SHOTGRAPH_AUTH_ADDR"):
        CallerSettings.from_env(environ)


def test_the_admin_port_has_a_fixed_default() -> None:
    assert Settings().admin_port == 9090
    assert Settings.from_env({"SHOTGRAPH_ADMIN_PORT": "0"}).admin_port == 0


@pytest.mark.parametrize("given", ["SHOTGRAPH_TLS_CERT_FILE", "SHOTGRAPH_TLS_KEY_FILE"])
def test_a_tls_certificate_and_key_go_together(tmp_path: Path, given: str) -> None:
    pem = tmp_path / "file.pem"
    pem.write_text("-----BEGIN nothing-----")
    with pytest.raises(ConfigError, match="set both for HTTPS, or neither"):
        Settings.from_env({given: str(pem)})
    both = Settings.from_env(
        {"SHOTGRAPH_TLS_CERT_FILE": str(pem), "SHOTGRAPH_TLS_KEY_FILE": str(pem)}
    )
    assert both.tls_cert_file == both.tls_key_file == pem


def test_settings_are_frozen() -> None:
    settings = CallerSettings.from_env({})
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.http_port = 1  # type: ignore[misc]


def test_uses_devstack_unless_every_backend_url_is_given() -> None:
    assert Settings.from_env({}).uses_devstack
    assert not Settings.from_env(BACKENDS).uses_devstack
    for missing in BACKENDS:
        partial = {k: v for k, v in BACKENDS.items() if k != missing}
        assert Settings.from_env(partial).uses_devstack, missing


@pytest.mark.parametrize("environ", [{}, {"SHOTGRAPH_COLOUR": "blue"}], ids=["unset", "set"])
def test_a_field_without_a_parser_is_refused_naming_it(environ: dict[str, str]) -> None:
    with pytest.raises(ConfigError) as caught:
        UnparsedSettings.from_env({**BACKENDS, **environ})
    assert str(caught.value) == (
        "Settings field 'UnparsedSettings.colour' (SHOTGRAPH_COLOUR) has no parser:"
        " declare it with setting(parse=...)."
    )


@pytest.mark.parametrize("raw", [None, ""], ids=["unset", "empty"])
def test_a_field_without_a_default_must_be_set(raw: str | None) -> None:
    environ = {} if raw is None else {"SHOTGRAPH_SECRET": raw}
    with pytest.raises(ConfigError) as caught:
        KeyedSettings.from_env(environ)
    assert str(caught.value) == "Config 'SHOTGRAPH_SECRET' is missing, and has no default."
    assert KeyedSettings.from_env({"SHOTGRAPH_SECRET": "s3"}).secret == "s3"


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
