"""The whole platform, started for real on free ports, with traces exported to the test."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest

from libs.launcher import Platform
from tests.e2e.otlp import OtlpReceiver


@pytest.fixture(scope="session")
def otlp() -> Iterator[OtlpReceiver]:
    receiver = OtlpReceiver()
    receiver.start()
    yield receiver
    receiver.stop()


def start_platform(root: Path, otlp: OtlpReceiver) -> Platform:
    platform = Platform(
        root=root,
        env={
            "OTEL_EXPORTER_OTLP_ENDPOINT": otlp.endpoint,
            "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
            # Export quickly so the test sees spans soon after the action.
            "OTEL_BSP_SCHEDULE_DELAY": "100",
            "SHOTGRAPH_LOG_LEVEL": "info",
        },
    )
    try:
        platform.start()
    except BaseException:
        platform.stop()
        raise
    return platform


@pytest.fixture(scope="session")
def platform(tmp_path_factory: pytest.TempPathFactory, otlp: OtlpReceiver) -> Iterator[Platform]:
    platform = start_platform(tmp_path_factory.mktemp("platform"), otlp)
    yield platform
    platform.stop()


@pytest.fixture(scope="session")
def api_key(platform: Platform) -> str:
    return platform.create_api_key("e2e-user")


def traceparent(trace_id: str) -> str:
    """A W3C traceparent as a browser's instrumentation would send for one user action."""
    return f"00-{trace_id}-{secrets.token_hex(8)}-01"
