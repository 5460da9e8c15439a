"""The render service's settings: the sandbox switch and where batch listens."""

from __future__ import annotations

import pytest

from libs.config import ConfigError
from services.render.settings import RenderSettings


def test_the_sandbox_is_on_unless_switched_off() -> None:
    assert RenderSettings.from_env({}).render_sandbox is True
    assert RenderSettings.from_env({"SHOTGRAPH_RENDER_SANDBOX": "off"}).render_sandbox is False
    assert RenderSettings.from_env({"SHOTGRAPH_RENDER_SANDBOX": "On"}).render_sandbox is True


@pytest.mark.parametrize(
    ("name", "raw"),
    [
        ("SHOTGRAPH_RENDER_SANDBOX", "no"),
        ("SHOTGRAPH_BATCH_ADDR", "batch"),
        ("SHOTGRAPH_MAX_DELIVER", "0"),
        ("SHOTGRAPH_ACK_WAIT_S", "-5"),
    ],
)
def test_a_bad_value_names_its_variable(name: str, raw: str) -> None:
    with pytest.raises(ConfigError, match=f"Config '{name}' has an invalid value '{raw}'"):
        RenderSettings.from_env({name: raw})


def test_batch_address_is_read() -> None:
    assert RenderSettings.from_env({"SHOTGRAPH_BATCH_ADDR": "batch:50051"}).batch_addr == (
        "batch:50051"
    )
