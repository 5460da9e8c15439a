"""Sessions in a real browser: Debian's Chromium, driven by Playwright, against a gateway that
speaks HTTPS with a certificate from a local CA, so the browser applies the real cookie rules
(``__Host-``, ``Secure``, ``HttpOnly``, ``SameSite=Lax``) and sends the real ``Origin`` and
``Sec-Fetch-Site`` headers. The certificate, the HTTPS gateway and the browser are
``browser.py``'s fixtures.
"""

# The fixtures are imported from browser.py by name, which is how pytest finds them; a test's
# parameter of the same name is that fixture, not a redefinition.
# ruff: noqa: F811

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
import pytest_asyncio
from aiohttp import web
from playwright.async_api import Browser, Page

from libs.launcher import Platform, ServiceProcess
from libs.ports import free_port
from tests.e2e.browser import CSRF_COOKIE as CSRF
from tests.e2e.browser import (  # noqa: F401
    IN_MODULE_LOOP,
    NEEDS_CHROMIUM,
    LocalCertificate,
    certificate,
    chromium,
    https_gateway,
    origin,
    studio_dist,
)
from tests.e2e.browser import SESSION_COOKIE as SESSION
from tests.e2e.test_edge_identity import create_user

pytestmark = NEEDS_CHROMIUM


async def fetch(page: Page, method: str, path: str, **options: Any) -> dict[str, Any]:
    """``fetch`` from the page's own script: the browser adds cookies, Origin and
    Sec-Fetch-Site as it would for the studio."""
    result: dict[str, Any] = await page.evaluate(
        """async ([method, path, body, headers]) => {
            const response = await fetch(path, {
                method, headers: {"Content-Type": "application/json", ...headers},
                body: body === null ? undefined : JSON.stringify(body),
            });
            return {status: response.status, body: await response.text()};
        }""",
        [method, path, options.get("json"), options.get("headers", {})],
    )
    return result


@IN_MODULE_LOOP
async def test_a_browser_signs_in_with_a_host_only_secure_cookie_and_csrf_guards_changes(
    platform: Platform, https_gateway: ServiceProcess, chromium: Browser
) -> None:
    name, password = create_user(platform)
    context = await chromium.new_context()
    page = await context.new_page()
    # A page of the gateway's origin without the studio's script: only the test's fetches run.
    await page.goto(f"{origin(https_gateway)}/v1/auth/session")

    login = await fetch(
        page, "POST", "/v1/auth/login", json={"user_name": name, "password": password}
    )
    assert login["status"] == 200, login

    cookies = {c["name"]: c for c in await context.cookies()}
    session = cookies[SESSION]
    assert session["secure"] and session["httpOnly"] and session["sameSite"] == "Lax"
    assert session["path"] == "/" and session["domain"] == "localhost"
    assert not cookies[CSRF]["httpOnly"], "the page reads the CSRF token"
    visible = await page.evaluate("document.cookie")
    assert SESSION not in visible and CSRF in visible, "no script can read the session"

    assert (await fetch(page, "GET", "/v1/canvases"))["status"] == 200
    refused = await fetch(page, "POST", "/v1/canvases", json={"name": "no token"})
    assert refused["status"] == 403, refused
    token = await page.evaluate(
        f"document.cookie.split('; ').find(c => c.startsWith('{CSRF}=')).split('=')[1]"
    )
    created = await fetch(
        page, "POST", "/v1/canvases", json={"name": "signed"}, headers={"X-CSRF-Token": token}
    )
    assert created["status"] == 201, created

    # EventSource sends no header of its own: the cookie opens the stream.
    opened = await page.evaluate(
        """() => new Promise((resolve) => {
            const source = new EventSource("/v1/events");
            source.onopen = () => { source.close(); resolve("open"); };
            source.onerror = () => { source.close(); resolve("error"); };
        })"""
    )
    assert opened == "open"

    logout = await fetch(page, "POST", "/v1/auth/logout", headers={"X-CSRF-Token": token})
    assert logout["status"] == 204
    assert SESSION not in {c["name"] for c in await context.cookies()}
    assert (await fetch(page, "GET", "/v1/canvases"))["status"] == 401
    await context.close()


@pytest_asyncio.fixture(loop_scope="module")
async def other_site(certificate: LocalCertificate) -> AsyncIterator[str]:
    """Another site's page, at https://127.0.0.1:<port>: another host than the gateway's
    localhost, so another site, with no Content-Security-Policy of ours."""
    context = certificate.server_context()

    async def page(_: web.Request) -> web.Response:
        return web.Response(
            text="<!doctype html><title>elsewhere</title>", content_type="text/html"
        )

    app = web.Application()
    app.router.add_get("/", page)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port, ssl_context=context).start()
    yield f"https://127.0.0.1:{port}/"
    await runner.cleanup()


@IN_MODULE_LOOP
async def test_another_site_cannot_act_with_the_session(
    platform: Platform, https_gateway: ServiceProcess, chromium: Browser, other_site: str
) -> None:
    """Another site's page gets no cookie of the gateway's on a POST (SameSite=Lax), whether
    it fetches or submits a form."""
    name, password = create_user(platform)
    context = await chromium.new_context()
    page = await context.new_page()
    await page.goto(f"{origin(https_gateway)}/v1/auth/session")
    assert (
        await fetch(page, "POST", "/v1/auth/login", json={"user_name": name, "password": password})
    )["status"] == 200
    before = (await fetch(page, "GET", "/v1/canvases"))["body"]

    attacker = await context.new_page()
    await attacker.goto(other_site)
    target = f"{origin(https_gateway)}/v1/canvases"
    await attacker.evaluate(
        """async (target) => {
            // The request goes out; the answer is blocked (Cross-Origin-Resource-Policy).
            try {
                await fetch(target, {method: "POST", mode: "no-cors", credentials: "include",
                                     body: JSON.stringify({name: "forged"})});
            } catch (blocked) {}
        }""",
        target,
    )
    async with attacker.expect_navigation():
        await attacker.evaluate(
            """(target) => {
                const form = document.createElement("form");
                form.method = "POST";
                form.action = target;
                form.enctype = "text/plain";
                const field = document.createElement("input");
                field.name = '{"name": "forged", "x": "';
                field.value = '"}';
                form.appendChild(field);
                document.body.appendChild(form);
                form.submit();
            }""",
            target,
        )
    assert "401" in await attacker.content() or "403" in await attacker.content()
    assert (await fetch(page, "GET", "/v1/canvases"))["body"] == before, "nothing was made"
    await context.close()


def test_sessions_need_https_unless_development_says_otherwise(
    platform: Platform, https_gateway: ServiceProcess
) -> None:
    """The same gateway on plain HTTP without the development setting refuses to sign in."""
    import urllib.error
    import urllib.request

    del https_gateway
    plain = platform.add_process(
        f"gateway-plain-{secrets.token_hex(2)}",
        "services.gateway",
        env={"SHOTGRAPH_DEV_INSECURE_HTTP": "off"},
    )
    request = urllib.request.Request(
        f"{plain.url}/v1/auth/login",
        data=b'{"user_name": "x", "password": "y"}',
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=10)
    assert refused.value.code == 403
    assert "HTTPS" in refused.value.read().decode()


@pytest.fixture(scope="module", autouse=True)
def _stop_extra_gateways(platform: Platform) -> Iterator[None]:
    yield
    for name in [n for n in platform.services if n.startswith("gateway-plain-")]:
        platform.stop_service(name)
        del platform.services[name]
