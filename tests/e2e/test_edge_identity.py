"""People at the public edge: sessions in cookies, scoped keys, CSRF, revocation, throttled
sign-in, invitations and the audit log, against the whole platform.

The platform here listens on plain HTTP on loopback (development's explicit setting), so its
cookies are the development ones; ``test_browser_sessions.py`` runs the real ``__Host-`` and
``Secure`` rules in Chromium over HTTPS.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import aiohttp
import grpc
import pytest

from libs.launcher import Platform
from shotgraph.auth.v1 import auth_pb2, auth_pb2_grpc
from tests.e2e.conftest import problem

SESSION = "shotgraph_session"
CSRF = "shotgraph_csrf"


def create_user(platform: Platform, *, admin: bool = False) -> tuple[str, str]:
    """A new user with a password, made as the command line makes one; (name, password)."""
    name, password = f"user-{secrets.token_hex(5)}", secrets.token_urlsafe(16)
    with grpc.insecure_channel(f"127.0.0.1:{platform.services['auth'].grpc_port}") as channel:
        auth_pb2_grpc.AuthServiceStub(channel).CreateUser(
            auth_pb2.CreateUserRequest(user_name=name, password=password, is_admin=admin),
            timeout=30,
        )
    return name, password


@dataclass
class Browser:
    """A cookie-keeping client, as a browser on the studio's page would be."""

    http: aiohttp.ClientSession
    origin: str
    csrf: str = ""

    async def login(self, name: str, password: str) -> dict[str, Any]:
        response = await self.http.post(
            "/v1/auth/login", json={"user_name": name, "password": password}, headers=self.site
        )
        assert response.status == 200, await response.text()
        body: dict[str, Any] = await response.json()
        self.csrf = body["csrf_token"]
        return body

    @property
    def site(self) -> dict[str, str]:
        return {"Origin": self.origin, "Sec-Fetch-Site": "same-origin"}

    async def send(self, method: str, path: str, **kwargs: Any) -> aiohttp.ClientResponse:
        """A state-changing request as the studio's script sends it: same origin, with the
        CSRF token."""
        headers = {**self.site, "X-CSRF-Token": self.csrf, **kwargs.pop("headers", {})}
        return await self.http.request(method, path, headers=headers, **kwargs)


@pytest.fixture
async def browser(platform: Platform) -> AsyncIterator[Browser]:
    async with aiohttp.ClientSession(
        base_url=platform.gateway_url, cookie_jar=aiohttp.CookieJar(unsafe=True)
    ) as http:
        yield Browser(http, platform.gateway_url)


@pytest.fixture
async def other_browser(platform: Platform) -> AsyncIterator[Browser]:
    async with aiohttp.ClientSession(
        base_url=platform.gateway_url, cookie_jar=aiohttp.CookieJar(unsafe=True)
    ) as http:
        yield Browser(http, platform.gateway_url)


def cookie(browser: Browser, name: str) -> str:
    for morsel in browser.http.cookie_jar:
        if morsel.key == name:
            return morsel.value
    raise AssertionError(f"no {name} cookie")


async def test_signing_in_sets_a_session_cookie_and_each_login_is_a_new_session(
    platform: Platform, browser: Browser
) -> None:
    name, password = create_user(platform)
    response = await browser.http.post(
        "/v1/auth/login", json={"user_name": name, "password": password}, headers=browser.site
    )
    assert response.status == 200
    assert response.headers["Cache-Control"] == "no-store"
    set_cookie = response.cookies[SESSION]
    assert set_cookie["httponly"] and set_cookie["samesite"] == "Lax" and set_cookie["path"] == "/"
    first = (await response.json())["session"]["session_id"]
    assert SESSION not in await response.text(), "the token travels only in its cookie"

    second = (await browser.login(name, password))["session"]["session_id"]
    assert second != first
    listed = await (await browser.http.get("/v1/sessions")).json()
    current = [s for s in listed["sessions"] if s.get("current")]
    assert {s["session_id"] for s in listed["sessions"]} >= {first, second}
    assert [s["session_id"] for s in current] == [second]
    assert (await browser.http.get("/v1/canvases")).status == 200


@pytest.mark.parametrize("kind", ["forged", "signed-out"])
async def test_a_forged_or_ended_session_cookie_is_refused(
    platform: Platform, browser: Browser, kind: str
) -> None:
    if kind == "forged":
        browser.http.cookie_jar.update_cookies({SESSION: secrets.token_urlsafe(32)})
    else:
        await browser.login(*create_user(platform))
        token = cookie(browser, SESSION)
        assert (await browser.send("POST", "/v1/auth/logout")).status == 204
        browser.http.cookie_jar.update_cookies({SESSION: token})
    await problem(await browser.http.get("/v1/canvases"), 401)


async def test_one_user_cannot_end_another_users_session_or_read_their_canvas(
    platform: Platform, browser: Browser, other_browser: Browser
) -> None:
    await browser.login(*create_user(platform))
    theirs = (await other_browser.login(*create_user(platform)))["session"]["session_id"]
    canvas = await (
        await other_browser.send("POST", "/v1/canvases", json={"name": "private"})
    ).json()
    await problem(await browser.send("DELETE", f"/v1/sessions/{theirs}"), 404)
    await problem(await browser.http.get(f"/v1/canvases/{canvas['id']}"), 404)
    assert (await other_browser.http.get("/v1/canvases")).status == 200


@pytest.mark.parametrize(
    "headers",
    [
        {},  # no token
        {"X-CSRF-Token": "made.up"},
        {"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"},
    ],
    ids=["no-token", "wrong-token", "cross-site"],
)
async def test_a_cookie_request_that_changes_state_needs_csrf(
    platform: Platform, browser: Browser, headers: dict[str, str]
) -> None:
    await browser.login(*create_user(platform))
    if headers.get("Origin"):  # a good token, from another site
        headers = {**headers, "X-CSRF-Token": browser.csrf}
    response = await browser.http.post("/v1/canvases", json={"name": "c"}, headers=headers)
    await problem(response, 403)
    assert (await browser.send("POST", "/v1/canvases", json={"name": "c"})).status == 201


async def test_a_key_needs_the_routes_scope_and_skips_csrf(
    platform: Platform, browser: Browser
) -> None:
    await browser.login(*create_user(platform))
    created = await browser.send(
        "POST",
        "/v1/keys",
        json={"name": "reader", "scopes": ["read"]},
        headers={"Accept-Encoding": "gzip, br"},
    )
    assert created.status == 201 and created.headers["Cache-Control"] == "no-store"
    assert "Content-Encoding" not in created.headers, "a secret is never compressed (BREACH)"
    key = (await created.json())["key"]
    async with aiohttp.ClientSession(
        base_url=platform.gateway_url, headers={"Authorization": f"Bearer {key}"}
    ) as program:
        assert (await program.get("/v1/canvases")).status == 200
        body = await problem(await program.post("/v1/canvases", json={"name": "c"}), 403)
        assert "'write' scope" in body["detail"]
        await problem(await program.post("/v1/invites", json={}), 403)
        await problem(await program.post("/v1/keys", json={"name": "more"}), 403)


async def test_keys_are_listed_without_the_key_and_a_revoked_one_stops_at_once(
    platform: Platform, browser: Browser
) -> None:
    await browser.login(*create_user(platform))
    created = await (await browser.send("POST", "/v1/keys", json={"name": "ci"})).json()
    async with aiohttp.ClientSession(
        base_url=platform.gateway_url, headers={"Authorization": f"Bearer {created['key']}"}
    ) as program:
        assert (await program.get("/v1/canvases")).status == 200  # now cached by the gateway
        listed = await (await browser.http.get("/v1/keys")).json()
        [entry] = [k for k in listed["keys"] if k["key_id"] == created["key_id"]]
        assert created["key"] not in str(listed)
        assert entry["prefix"] and created["key"].startswith(entry["prefix"])
        assert entry["scopes"] == ["read", "write"] and entry["name"] == "ci"

        assert (await browser.send("DELETE", f"/v1/keys/{created['key_id']}")).status == 204
        await problem(await program.get("/v1/canvases"), 401)


async def test_a_revoked_keys_open_event_stream_is_closed(
    platform: Platform, browser: Browser
) -> None:
    await browser.login(*create_user(platform))
    created = await (await browser.send("POST", "/v1/keys", json={"name": "stream"})).json()
    async with aiohttp.ClientSession(
        base_url=platform.gateway_url, headers={"Authorization": f"Bearer {created['key']}"}
    ) as program:
        stream = await program.get("/v1/events")
        assert stream.status == 200
        assert (await browser.send("DELETE", f"/v1/keys/{created['key_id']}")).status == 204
        # The stream ends (EOF) within a few seconds of the revocation.
        async with asyncio.timeout(5):
            async for _ in stream.content.iter_any():
                pass
        await problem(await program.get("/v1/events"), 401)


async def test_a_password_change_signs_out_every_other_session(
    platform: Platform, browser: Browser, other_browser: Browser
) -> None:
    name, password = create_user(platform)
    await browser.login(name, password)
    await other_browser.login(name, password)
    new_password = secrets.token_urlsafe(16)
    response = await browser.send(
        "POST",
        "/v1/auth/password",
        json={"current_password": password, "new_password": new_password},
    )
    assert response.status == 200 and (await response.json())["sessions_revoked"] >= 1
    assert (await browser.http.get("/v1/canvases")).status == 200
    await problem(await other_browser.http.get("/v1/canvases"), 401)
    await problem(
        await other_browser.http.post(
            "/v1/auth/login", json={"user_name": name, "password": password}
        ),
        401,
    )


async def test_sign_out_everywhere_else(
    platform: Platform, browser: Browser, other_browser: Browser
) -> None:
    name, password = create_user(platform)
    await browser.login(name, password)
    await other_browser.login(name, password)
    response = await browser.send("DELETE", "/v1/sessions")
    assert (await response.json())["sessions_revoked"] >= 1
    await problem(await other_browser.http.get("/v1/canvases"), 401)
    assert (await browser.http.get("/v1/canvases")).status == 200


async def test_an_unknown_user_and_a_wrong_password_get_one_answer_until_throttled(
    platform: Platform, browser: Browser
) -> None:
    name, _ = create_user(platform)
    answers = []
    for user in (name, f"nobody-{secrets.token_hex(4)}"):
        response = await browser.http.post(
            "/v1/auth/login", json={"user_name": user, "password": "wrong password"}
        )
        body = await problem(response, 401)
        answers.append((body["title"], body["detail"]))
    assert answers[0] == answers[1]

    statuses = []
    for _ in range(12):
        response = await browser.http.post(
            "/v1/auth/login", json={"user_name": name, "password": "still wrong"}
        )
        statuses.append(response.status)
        if response.status == 429:
            assert int(response.headers["Retry-After"]) >= 1
            await problem(response, 429)
            break
    assert statuses[-1] == 429, f"a brute force is throttled: {statuses}"


async def test_an_invitation_signs_a_new_person_up_once(
    platform: Platform, browser: Browser, other_browser: Browser
) -> None:
    await browser.login(*create_user(platform, admin=True))
    invite = await browser.send("POST", "/v1/invites", json={"email": "new@studio.example"})
    assert invite.status == 201 and invite.headers["Cache-Control"] == "no-store"
    token = (await invite.json())["token"]
    name, password = f"invited-{secrets.token_hex(4)}", secrets.token_urlsafe(16)
    accepted = await other_browser.http.post(
        "/v1/invites/accept",
        json={"token": token, "user_name": name, "password": password},
        headers=other_browser.site,
    )
    assert accepted.status == 201, await accepted.text()
    assert (await accepted.json())["identity"]["user_name"] == name
    assert (await other_browser.http.get("/v1/canvases")).status == 200
    again = await other_browser.http.post(
        "/v1/invites/accept",
        json={"token": token, "user_name": name + "-2", "password": password},
    )
    assert "unknown, used or expired" in (await problem(again, 403))["detail"]


async def test_a_person_without_admin_cannot_invite(platform: Platform, browser: Browser) -> None:
    await browser.login(*create_user(platform))
    await problem(await browser.send("POST", "/v1/invites", json={}), 403)


async def test_the_audit_log_records_who_when_and_from_where(
    platform: Platform, browser: Browser
) -> None:
    name, password = create_user(platform)
    await browser.http.post("/v1/auth/login", json={"user_name": name, "password": "nope"})
    await browser.login(name, password)
    await browser.send("POST", "/v1/keys", json={"name": "audited"})
    events = (await (await browser.http.get("/v1/audit")).json())["events"]
    actions = [e["action"] for e in events]
    assert {"login.failed", "login.succeeded", "key.created"} <= set(actions)
    for event in events:
        if event["action"] != "user.created":  # made from the command line, from nowhere
            assert event["at"] and event["client"]["address"] == "127.0.0.1", event
            assert event["client"]["user_agent"].startswith("Python"), event
    await problem(await browser.http.get("/v1/audit?all=true"), 403)
