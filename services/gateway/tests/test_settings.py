"""The gateway's settings: the keys that sign image URLs and CSRF tokens are required, hex, and
long enough to be secrets; the addresses of the services behind it are host:port; plain HTTP
for browsers only on loopback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from libs.config import ConfigError
from services.gateway.settings import GatewaySettings

REPO = Path(__file__).resolve().parents[3]
KEY = "ab" * 32
CSRF = {"SHOTGRAPH_CSRF_KEYS": "cd" * 32}
# Never contacted: start-up is refused before any connection is made.
BACKENDS = {
    "SHOTGRAPH_NATS_URL": "nats://127.0.0.1:1",
    "SHOTGRAPH_DATABASE_URL": "postgresql://u@127.0.0.1:1/db",
    "SHOTGRAPH_REDIS_URL": "redis://127.0.0.1:1/0",
}


@pytest.mark.parametrize(
    ("raw", "keys"),
    [
        (KEY, [KEY]),
        (f"{KEY}, {'cd' * 40}", [KEY, "cd" * 40]),
    ],
)
def test_image_url_keys_are_read_as_key_bytes(raw: str, keys: list[str]) -> None:
    settings = GatewaySettings.from_env({"SHOTGRAPH_IMAGE_URL_KEYS": raw, **CSRF})
    assert settings.image_url_keys == tuple(bytes.fromhex(key) for key in keys)


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("ab" * 16, "each key must be at least 32 bytes (64 hex digits)"),  # guessable
        ("xyz", "must be comma-separated hex keys"),
        (KEY + ",", "each key must be at least 32 bytes (64 hex digits)"),  # an empty key
    ],
)
def test_bad_image_url_keys_name_the_variable(raw: str, reason: str) -> None:
    with pytest.raises(ConfigError) as caught:
        GatewaySettings.from_env({"SHOTGRAPH_IMAGE_URL_KEYS": raw, **CSRF})
    assert str(caught.value) == (
        f"Config 'SHOTGRAPH_IMAGE_URL_KEYS' has an invalid value {raw!r}: {reason}."
    )


def test_image_url_keys_must_be_set() -> None:
    with pytest.raises(ConfigError) as caught:
        GatewaySettings.from_env({**BACKENDS, **CSRF})
    assert str(caught.value) == "Config 'SHOTGRAPH_IMAGE_URL_KEYS' is missing, and has no default."


def test_csrf_keys_must_be_set() -> None:
    with pytest.raises(ConfigError) as caught:
        GatewaySettings.from_env({**BACKENDS, "SHOTGRAPH_IMAGE_URL_KEYS": KEY})
    assert str(caught.value) == "Config 'SHOTGRAPH_CSRF_KEYS' is missing, and has no default."


@pytest.mark.parametrize("host", ["127.0.0.1", "::1", "localhost"])
def test_plain_http_for_browsers_is_allowed_on_loopback(host: str) -> None:
    settings = GatewaySettings.from_env(
        {
            "SHOTGRAPH_IMAGE_URL_KEYS": KEY,
            **CSRF,
            "SHOTGRAPH_DEV_INSECURE_HTTP": "on",
            "SHOTGRAPH_HTTP_HOST": host,
        }
    )
    assert settings.dev_insecure_http


@pytest.mark.parametrize("host", ["0.0.0.0", "10.0.0.5", "gateway.example"])
def test_plain_http_for_browsers_is_refused_off_loopback(host: str) -> None:
    with pytest.raises(ConfigError, match="SHOTGRAPH_DEV_INSECURE_HTTP' is on, but"):
        GatewaySettings.from_env(
            {
                "SHOTGRAPH_IMAGE_URL_KEYS": KEY,
                **CSRF,
                "SHOTGRAPH_DEV_INSECURE_HTTP": "on",
                "SHOTGRAPH_HTTP_HOST": host,
            }
        )


@pytest.mark.parametrize(
    ("name", "raw"),
    [
        ("SHOTGRAPH_AUTH_ADDR", "auth"),
        ("SHOTGRAPH_CANVAS_ADDR", ":50052"),
        ("SHOTGRAPH_BATCH_ADDR", "batch:99999"),
        ("SHOTGRAPH_IMAGE_ADDR", "image:port"),
        ("SHOTGRAPH_RENDER_ADDR", "render:-1"),
        ("SHOTGRAPH_FANOUT_URL", "ftp://fanout"),
        ("SHOTGRAPH_MAX_UPLOAD_BYTES", "0"),
    ],
)
def test_a_bad_address_or_limit_names_its_variable(name: str, raw: str) -> None:
    with pytest.raises(ConfigError, match=f"Config '{name}' has an invalid value '{raw}'"):
        GatewaySettings.from_env({"SHOTGRAPH_IMAGE_URL_KEYS": KEY, **CSRF, name: raw})


def test_the_gateway_refuses_to_start_without_image_url_keys() -> None:
    environ = {
        **{k: v for k, v in os.environ.items() if not k.startswith("SHOTGRAPH_")},
        **BACKENDS,
        **CSRF,
    }
    started = subprocess.run(
        [sys.executable, "-m", "services.gateway", "--workers", "1"],
        cwd=REPO,
        env=environ,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert started.returncode == 1
    assert started.stderr.strip() == (
        "gateway: Config 'SHOTGRAPH_IMAGE_URL_KEYS' is missing, and has no default."
    )
