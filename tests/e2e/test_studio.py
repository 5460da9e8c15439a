"""The studio as a person meets it: Chromium opens the gateway's HTTPS origin, where the built
studio runs under the edge's Content-Security-Policy, and is used through its pages only (the
API with a key sets up what a flow starts from). Every test fails if a page reported a CSP
violation (the ``studio`` fixture); a control test shows the recorder hears one.
"""

# The fixtures are imported from browser.py by name, which is how pytest finds them; a test's
# parameter of the same name is that fixture, not a redefinition.
# ruff: noqa: F811

from __future__ import annotations

from urllib.parse import quote

import aiohttp
from playwright.async_api import Browser, expect

from libs.identity import DEV_SESSION_COOKIE
from libs.launcher import Platform, ServiceProcess
from services.gateway.headers import CONTENT_SECURITY_POLICY
from tests.e2e.browser import (  # noqa: F401
    IN_MODULE_LOOP,
    NEEDS_CHROMIUM,
    SESSION_COOKIE,
    UI_TIMEOUT_MS,
    StudioApi,
    StudioPage,
    certificate,
    chromium,
    create_studio_user,
    https_gateway,
    open_studio_page,
    origin,
    studio,
    studio_dist,
)

pytestmark = [NEEDS_CHROMIUM, IN_MODULE_LOOP]


async def test_the_studio_loads_over_https_under_the_content_security_policy(
    studio: StudioPage,
) -> None:
    response = await studio.page.goto(f"{studio.origin}/")
    assert response is not None and response.status == 200
    assert response.headers["content-type"].startswith("text/html")
    policy = response.headers["content-security-policy"]
    assert policy == CONTENT_SECURITY_POLICY
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
    # The app's script ran and drew into the page, so "no violation" covers its code.
    await expect(studio.page.locator("#root > *").first).to_be_visible(timeout=UI_TIMEOUT_MS)


async def test_a_visitor_who_is_not_signed_in_gets_the_sign_in_form(studio: StudioPage) -> None:
    await studio.goto("/")
    await expect(studio.page.get_by_label("User name")).to_be_visible(timeout=UI_TIMEOUT_MS)
    await expect(studio.page.get_by_label("Password")).to_be_visible()
    await expect(studio.page.get_by_role("button", name="Sign in")).to_be_enabled()
    await expect(studio.page.get_by_role("button", name="Sign out")).to_have_count(0)


async def test_signing_in_shows_the_users_canvases(platform: Platform, studio: StudioPage) -> None:
    user = create_studio_user(platform)
    other = create_studio_user(platform)
    async with StudioApi.open(platform.gateway_url, user.api_key) as api:
        mine = await api.create_canvas("Lighthouse, opening shot")
    async with StudioApi.open(platform.gateway_url, other.api_key) as api:
        theirs = await api.create_canvas("Someone else's storyboard")

    await studio.goto("/")
    await studio.sign_in(user.name, user.password)
    page = studio.page
    await expect(page.get_by_role("heading", name="Canvases")).to_be_visible()
    await expect(page.get_by_text(mine["name"], exact=True)).to_be_visible()
    await expect(page.get_by_text(user.name, exact=True)).to_be_visible()
    await expect(page.get_by_text(theirs["name"], exact=True)).to_have_count(0)
    # The session outlives the page: a reload comes back signed in.
    await page.reload()
    await expect(page.get_by_text(mine["name"], exact=True)).to_be_visible(timeout=UI_TIMEOUT_MS)


async def session_status(platform: Platform, token: str) -> int:
    """How the platform's other gateway (plain HTTP, with an identity cache of its own that
    has never seen ``token``) answers a request carrying it as the session cookie: auth's
    word, 200 while the session lives, else 401."""
    async with (
        aiohttp.ClientSession() as http,
        http.get(
            f"{platform.gateway_url}/v1/auth/session",
            headers={"Cookie": f"{DEV_SESSION_COOKIE}={token}"},
        ) as answer,
    ):
        return answer.status


async def another_session(platform: Platform, name: str, password: str) -> str:
    """The token of a new session of the user's, signed in on the other gateway."""
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            f"{platform.gateway_url}/v1/auth/login",
            json={"user_name": name, "password": password},
            headers={"Origin": platform.gateway_url},
        ) as answer,
    ):
        assert answer.status == 200, await answer.text()
        return answer.cookies[DEV_SESSION_COOKIE].value


async def test_signing_out_ends_the_session(platform: Platform, studio: StudioPage) -> None:
    user = create_studio_user(platform)
    await studio.goto("/")
    await studio.sign_in(user.name, user.password)
    page = studio.page
    (session,) = [c for c in await studio.context.cookies() if c["name"] == SESSION_COOKIE]

    await page.get_by_role("button", name="Sign out").click()
    await expect(page.get_by_label("User name")).to_be_visible(timeout=UI_TIMEOUT_MS)
    assert studio.path == "/signin"
    assert SESSION_COOKIE not in {c["name"] for c in await studio.context.cookies()}
    # Ended at auth, not only forgotten by the browser; the control, a session of the same
    # user that was not signed out, is answered.
    assert await session_status(platform, session["value"]) == 401
    other = await another_session(platform, user.name, user.password)
    assert await session_status(platform, other) == 200
    await page.reload()
    await expect(page.get_by_label("User name")).to_be_visible(timeout=UI_TIMEOUT_MS)
    await expect(page.get_by_role("button", name="Sign out")).to_have_count(0)


async def test_a_deep_link_opened_signed_out_comes_back_after_signing_in(
    platform: Platform, studio: StudioPage
) -> None:
    user = create_studio_user(platform)
    graph = {
        "nodes": [
            {
                "id": "ada",
                "type": "character",
                "position": {"x": 0, "y": 0},
                "properties": {"name": "Ada"},
            }
        ],
        "edges": [],
    }
    async with StudioApi.open(platform.gateway_url, user.api_key) as api:
        canvas = await api.canvas_with_graph("Deep link", graph)
    deep_link = f"/canvases/{canvas['id']}"

    await studio.goto(deep_link)
    await expect(studio.page.get_by_label("User name")).to_be_visible(timeout=UI_TIMEOUT_MS)
    assert studio.path == f"/signin?next={quote(deep_link, safe='')}"
    await studio.sign_in(user.name, user.password)
    node = studio.page.get_by_test_id("rf__node-ada")
    await expect(node).to_be_visible(timeout=UI_TIMEOUT_MS)
    await expect(node).to_contain_text("Ada")
    await expect(studio.page.get_by_role("heading", name="Deep link")).to_be_visible()
    assert studio.path == deep_link


async def test_the_recorder_hears_a_content_security_policy_violation(
    chromium: Browser, https_gateway: ServiceProcess
) -> None:
    """The control: an inline <style>, which the policy refuses, is recorded, so the other
    tests' "no violation" means something."""
    async with open_studio_page(chromium, origin(https_gateway)) as visitor:
        await visitor.goto("/")
        assert visitor.csp.violations == []
        await visitor.page.evaluate(
            """() => {
                const style = document.createElement("style");
                style.textContent = "body { background: red }";
                document.head.append(style);
            }"""
        )
        await visitor.csp.wait_for(via="event")
        await visitor.csp.wait_for(via="console")
        (event,) = visitor.csp.heard("event")
        assert "style-src" in event.detail and "inline" in event.detail, event
        assert event.url.startswith(visitor.origin), event
        (console,) = visitor.csp.heard("console")
        assert "style-src" in console.detail, console
        background = await visitor.page.evaluate(
            "() => getComputedStyle(document.body).backgroundColor"
        )
        assert background != "rgb(255, 0, 0)", "the browser applied the refused style"
