"""A model's customizer parameters, through the gateway, as the UI asks for them."""

from __future__ import annotations

import json
from pathlib import Path

import aiohttp
import pytest

pytestmark = pytest.mark.e2e

SET_PIECE = Path(__file__).parents[2] / "services/render/tests/models/set_piece.scad"


async def test_the_parameters_of_a_model_make_a_form(http: aiohttp.ClientSession) -> None:
    response = await http.post("/v1/render/parameters", json={"source": SET_PIECE.read_text()})
    assert response.status == 200, await response.text()
    parameters = {p["name"]: p for p in (await response.json())["parameters"]}
    assert parameters, "the set piece declares parameters"
    colours = [p for p in parameters.values() if p["type"] == "colour"]
    assert colours and all(p["default"].startswith("#") for p in colours)
    sliders = [p for p in parameters.values() if p["type"] == "number" and "maximum" in p]
    assert sliders and all(p["minimum"] <= p["default"] <= p["maximum"] for p in sliders)


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        ({"source": 'name = "never closed;'}, "unterminated string"),
        ({"source": "x" * (300 * 1024)}, "limit"),
        ({"source": 42}, "'source' must be a string"),
    ],
    ids=["unterminated-string", "too-large", "not-a-string"],
)
async def test_an_unreadable_source_is_a_400_problem(
    http: aiohttp.ClientSession, body: dict[str, object], detail: str
) -> None:
    response = await http.post("/v1/render/parameters", json=body)
    assert response.status == 400
    assert response.content_type == "application/problem+json"
    assert detail in json.loads(await response.text())["detail"]
