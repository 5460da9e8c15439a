"""Signing an image URL: the URL is a valid URI reference, so options outside the option
grammar's characters are refused rather than signed."""

from __future__ import annotations

import re

import pytest
from yarl import URL

from services.gateway.tests.conftest import UPLOADED, Auth, MakeGateway

DIGEST = UPLOADED


async def test_a_signed_url_holds_its_options_as_they_are(
    make_gateway: MakeGateway, auth: Auth, image_addr: str
) -> None:
    gateway = await make_gateway(image_addr=image_addr)
    response = await gateway.post(
        "/v1/images/urls",
        json={"blob": DIGEST, "options": "rs:fit:300:200/f:webp"},
        headers={"X-API-Key": auth.key},
    )
    assert response.status == 200
    url = (await response.json())["url"]
    assert re.search(f"/rs:fit:300:200/f:webp/exp:[0-9]+/{DIGEST}$", url), url
    assert URL(url).raw_path == url  # nothing in it needs percent-encoding


@pytest.mark.parametrize(
    "options", ["th:25\u00f6", "th:256 f:webp", "th:256?x=1", "th:256#f", "th:%32"]
)
async def test_options_outside_the_grammar_are_a_400(
    make_gateway: MakeGateway, auth: Auth, options: str
) -> None:
    gateway = await make_gateway()
    response = await gateway.post(
        "/v1/images/urls",
        json={"blob": DIGEST, "options": options},
        headers={"X-API-Key": auth.key},
    )
    assert response.status == 400
    assert "options" in (await response.json())["detail"]
