"""Fan-out's settings: the defaults the protocol documents, and bad values refused by name."""

from __future__ import annotations

import dataclasses

import pytest

from libs.config import ConfigError, variable
from services.fanout.settings import FanoutSettings
from services.live_contract import SETTINGS


def test_the_defaults_are_the_documented_limits() -> None:
    settings = FanoutSettings.from_env({})
    values = {variable(f.name): getattr(settings, f.name) for f in dataclasses.fields(settings)}

    assert {name: values[name] for name in SETTINGS} == {
        name: default for name, (default, _) in SETTINGS.items()
    }


def test_allowed_origins_are_read_as_origins() -> None:
    settings = FanoutSettings.from_env(
        {"SHOTGRAPH_FANOUT_ALLOWED_ORIGINS": "https://Studio.Example.com, http://localhost:5173"}
    )

    assert settings.fanout_allowed_origins == (
        "https://studio.example.com",
        "http://localhost:5173",
    )


def test_no_window_is_allowed() -> None:
    assert FanoutSettings.from_env({"SHOTGRAPH_FANOUT_WINDOW_MS": "0"}).fanout_window_ms == 0


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("SHOTGRAPH_FANOUT_ALLOWED_ORIGINS", "studio.example.com"),
        ("SHOTGRAPH_FANOUT_ALLOWED_ORIGINS", "https://studio.example.com/app"),
        ("SHOTGRAPH_FANOUT_WINDOW_MS", "-1"),
        ("SHOTGRAPH_FANOUT_QUEUE_BYTES", "0"),
        ("SHOTGRAPH_FANOUT_MAX_CONNECTIONS_PER_USER", "many"),
        ("SHOTGRAPH_CANVAS_ADDR", "canvas"),
    ],
)
def test_a_bad_value_is_refused_by_name(name: str, value: str) -> None:
    with pytest.raises(ConfigError, match=name):
        FanoutSettings.from_env({name: value})
