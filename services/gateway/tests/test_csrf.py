"""CSRF: where a cookie request comes from, and the signed double-submit token."""

from __future__ import annotations

import pytest
from aiohttp import web
from aiohttp.test_utils import make_mocked_request

from libs.errors import Forbidden
from services.gateway.csrf import CSRF_HEADER, CsrfGuard

KEY, OLD_KEY = b"k" * 32, b"o" * 32
COOKIE = "__Host-shotgraph_csrf"


def guard(*keys: bytes, trusted: tuple[str, ...] = ()) -> CsrfGuard:
    return CsrfGuard(keys or (KEY,), trusted_origins=trusted, cookie=COOKIE)


def post(
    headers: dict[str, str], token: str | None = None, cookie: str | None = None
) -> web.Request:
    sent = {"Host": "studio.example", **headers}
    if token is not None:
        sent[CSRF_HEADER] = token
    if cookie is not None:
        sent["Cookie"] = f"{COOKIE}={cookie}"
    return make_mocked_request("POST", "/v1/canvases", headers=sent)


SAME_SITE = {"Origin": "https://studio.example", "Sec-Fetch-Site": "same-origin"}


def test_a_token_of_this_session_from_this_site_passes() -> None:
    token = guard().issue("session-1")
    guard().check(post(SAME_SITE, token, token), "session-1")


def test_a_token_signed_with_an_older_key_still_passes_while_it_is_listed() -> None:
    token = guard(OLD_KEY).issue("session-1")
    guard(KEY, OLD_KEY).check(post(SAME_SITE, token, token), "session-1")
    with pytest.raises(Forbidden, match="not this session's"):
        guard(KEY).check(post(SAME_SITE, token, token), "session-1")


@pytest.mark.parametrize(
    ("sent", "kept", "reason"),
    [
        (None, "T", "send the CSRF token"),
        ("T", None, "does not match the CSRF cookie"),
        ("T", "other", "does not match the CSRF cookie"),
        ("x" * 200, "x" * 200, "send the CSRF token"),
    ],
)
def test_a_missing_or_mismatched_token_is_refused(
    sent: str | None, kept: str | None, reason: str
) -> None:
    token = guard().issue("session-1")
    request = post(
        SAME_SITE,
        None if sent is None else sent.replace("T", token),
        None if kept is None else kept.replace("T", token),
    )
    with pytest.raises(Forbidden, match=reason):
        guard().check(request, "session-1")


def test_another_sessions_token_is_refused_even_when_cookie_and_header_agree() -> None:
    """A token planted in the cookie (by a sibling subdomain, say) is of another session."""
    planted = guard().issue("attackers-session")
    with pytest.raises(Forbidden, match="not this session's"):
        guard().check(post(SAME_SITE, planted, planted), "session-1")


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "https://evil.example"},
        {"Origin": "https://studio.example.evil.example"},
        {"Origin": "null"},
        {"Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "same-site"},
        {"Origin": "https://studio.example", "Sec-Fetch-Site": "cross-site"},
    ],
)
def test_a_cross_site_request_is_refused_with_a_good_token(headers: dict[str, str]) -> None:
    token = guard().issue("session-1")
    with pytest.raises(Forbidden):
        guard().check(post(headers, token, token), "session-1")


def test_a_trusted_origin_may_send_same_site_requests() -> None:
    token = guard().issue("session-1")
    trusted = guard(trusted=("https://admin.studio.example",))
    headers = {"Origin": "https://admin.studio.example", "Sec-Fetch-Site": "same-site"}
    trusted.check(post(headers, token, token), "session-1")


def test_tokens_are_fresh_each_time() -> None:
    assert guard().issue("session-1") != guard().issue("session-1")


def upgrade(origin: str | None) -> web.Request:
    headers = {"Host": "studio.example", "Upgrade": "websocket", "Connection": "Upgrade"}
    if origin is not None:
        headers["Origin"] = origin
    return make_mocked_request("GET", "/v1/ws", headers=headers)


@pytest.mark.parametrize(
    "origin", ["https://studio.example", "http://studio.example", "https://admin.studio.example"]
)
def test_a_cookie_websocket_from_this_site_or_a_trusted_origin_opens(origin: str) -> None:
    guard(trusted=("https://admin.studio.example",)).check_upgrade_origin(upgrade(origin))


@pytest.mark.parametrize(
    "origin",
    [
        None,  # every browser sends one on an upgrade
        "null",
        "https://evil.example",
        "https://studio.example.evil.example",
        "https://evil.example/studio.example",
        "https://sibling.studio.example",  # same site, but not listed
    ],
)
def test_a_cookie_websocket_from_anywhere_else_is_refused(origin: str | None) -> None:
    with pytest.raises(Forbidden, match="may not be opened from"):
        guard(trusted=("https://admin.studio.example",)).check_upgrade_origin(upgrade(origin))


def session_page(cookie: str | None) -> web.Request:
    headers = {"Host": "studio.example"}
    if cookie is not None:
        headers["Cookie"] = f"{COOKIE}={cookie}"
    return make_mocked_request("GET", "/v1/auth/session", headers=headers)


def test_a_tab_asking_for_the_token_gets_the_one_the_browser_holds() -> None:
    """Tabs share the cookie: a second tab's GET /v1/auth/session must not invalidate the
    token the first tab sends."""
    held = guard().issue("session-1")
    assert guard().token_for(session_page(held), "session-1") == held
    guard().check(post(SAME_SITE, held, held), "session-1")


@pytest.mark.parametrize(
    "kept",
    [
        None,
        "garbage",
        "nonce.",
        guard().issue("session-2"),  # another session's
        guard(OLD_KEY).issue("session-1"),  # this session's, by a key being retired
    ],
)
def test_a_token_not_this_sessions_by_the_current_key_is_replaced(kept: str | None) -> None:
    token = guard(KEY, OLD_KEY).token_for(session_page(kept), "session-1")
    assert token != kept
    guard().check(post(SAME_SITE, token, token), "session-1")
