"""The studio in a real browser: Debian's Chromium, driven by Playwright, against a gateway that
speaks HTTPS with a certificate from a local CA (``trustme``) and serves the built studio, so
the browser applies the real cookie rules (``__Host-``, ``Secure``, ``HttpOnly``,
``SameSite=Lax``), sends the real ``Origin`` and ``Sec-Fetch-Site`` headers, and enforces the
edge's Content-Security-Policy.

Chromium is told to accept the gateway's key (``--ignore-certificate-errors-spki-list``, the
pin of that certificate's key) instead of having the CA installed in a system store: the page
is a secure context either way, which is what the cookie rules depend on.

A test module uses the fixtures by importing them (``from tests.e2e.browser import chromium,
...``) and runs its tests on the module's event loop (``pytestmark = IN_MODULE_LOOP``): the
browser is launched once per module, and Playwright's objects belong to the loop that made
them; the certificate and the HTTPS gateway serve the whole session. Each test gets a fresh
browser context (cookies, storage and cache of its own). The pieces that are not fixtures
(certificate, launch, CSP recorder, ``StudioPage``, ``StudioApi``, ``grid_graph``) serve
``loadtests/bench_studio.py`` too.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import secrets
import ssl
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import aiohttp
import pytest
import pytest_asyncio
import trustme
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from playwright.async_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Page,
    Playwright,
    async_playwright,
    expect,
)

from libs.launcher import Platform, ServiceProcess, TlsFiles
from tests.e2e.test_edge_identity import create_user

__all__ = [
    "CHROMIUM",
    "CSRF_COOKIE",
    "IN_MODULE_LOOP",
    "NEEDS_CHROMIUM",
    "SESSION_COOKIE",
    "STUDIO_DIST",
    "UI_TIMEOUT_MS",
    "CspRecorder",
    "CspViolation",
    "LocalCertificate",
    "StudioApi",
    "StudioPage",
    "StudioUser",
    "certificate",
    "chromium",
    "create_studio_user",
    "example_value",
    "grid_graph",
    "https_gateway",
    "key_pin",
    "launch_chromium",
    "open_studio_page",
    "origin",
    "require_studio_build",
    "start_studio_gateway",
    "studio",
    "studio_dist",
]

CHROMIUM: Final = "/usr/bin/chromium"
SESSION_COOKIE: Final = "__Host-shotgraph_session"
CSRF_COOKIE: Final = "__Host-shotgraph_csrf"
# The build `make web` writes; the gateway's processes may run from anywhere, so they are
# given this absolute path.
STUDIO_DIST: Final = Path(__file__).resolve().parents[2] / "web" / "dist"
MISSING_BUILD: Final = (
    "The studio is not built: {index} is missing. `make test` builds it (`make web`); "
    "run `make web` before running these tests by hand."
)

NEEDS_CHROMIUM = pytest.mark.skipif(
    not Path(CHROMIUM).exists(), reason="Chromium is installed by `make bootstrap`"
)
# Tests that use the module-scoped browser run on the module's event loop.
IN_MODULE_LOOP = pytest.mark.asyncio(loop_scope="module")

# How long a page may take to show what a step waits for, on a loaded 2-core machine.
UI_TIMEOUT_MS: Final = 15_000


def require_studio_build(dist: Path = STUDIO_DIST) -> Path:
    """``dist`` when it holds a build of the studio; else FileNotFoundError saying how to make
    one (a gateway without a build answers ``/`` with a 404, which no test should mistake for
    the studio failing)."""
    index = dist / "index.html"
    if not index.is_file():
        raise FileNotFoundError(MISSING_BUILD.format(index=index))
    return dist


# --- HTTPS from a local CA -------------------------------------------------------------------


def key_pin(cert_pem: bytes) -> str:
    """base64(SHA-256(SubjectPublicKeyInfo)): how Chromium names a key to trust."""
    leaf = x509.load_pem_x509_certificate(cert_pem)
    spki = leaf.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return base64.b64encode(hashlib.sha256(spki).digest()).decode()


@dataclass(frozen=True)
class LocalCertificate:
    """A certificate for ``localhost`` and ``127.0.0.1`` from a CA made for the run."""

    files: TlsFiles
    pin: str
    ca: trustme.CA

    @classmethod
    def issue(cls, folder: Path) -> LocalCertificate:
        ca = trustme.CA()
        issued = ca.issue_cert("localhost", "127.0.0.1")
        files = TlsFiles(cert=folder / "chain.pem", key=folder / "key.pem")
        files.cert.write_bytes(b"".join(pem.bytes() for pem in issued.cert_chain_pems))
        issued.private_key_pem.write_to_path(str(files.key))
        return cls(files, key_pin(issued.cert_chain_pems[0].bytes()), ca)

    def server_context(self) -> ssl.SSLContext:
        """For another HTTPS server of the test's own with the same certificate."""
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.files.cert, self.files.key)
        return context

    def client_context(self) -> ssl.SSLContext:
        """For a Python client of the HTTPS gateway: verifies it against the local CA."""
        context = ssl.create_default_context()
        self.ca.configure_trust(context)
        return context


async def launch_chromium(playwright: Playwright, certificate: LocalCertificate) -> Browser:
    """Debian's Chromium, headless, trusting the certificate's key."""
    return await playwright.chromium.launch(
        executable_path=CHROMIUM,
        args=[f"--ignore-certificate-errors-spki-list={certificate.pin}"],
    )


def start_studio_gateway(
    platform: Platform,
    certificate: LocalCertificate,
    name: str,
    studio_dir: Path = STUDIO_DIST,
) -> ServiceProcess:
    """One more gateway of the platform, on HTTPS with production's cookie rules, serving the
    studio build in ``studio_dir``."""
    return platform.add_process(
        name,
        "services.gateway",
        tls=certificate.files,
        env={
            "SHOTGRAPH_DEV_INSECURE_HTTP": "off",
            "SHOTGRAPH_STUDIO_DIR": str(studio_dir.resolve()),
        },
    )


def origin(gateway: ServiceProcess) -> str:
    """The gateway's origin as the browser names it: by host name, as a user would."""
    return f"https://localhost:{gateway.http_port}"


# --- Content-Security-Policy violations ------------------------------------------------------

_CSP_BINDING: Final = "__shotgraphCspViolation"
# Runs in every frame before the page's own scripts (CDP's addScriptToEvaluateOnNewDocument,
# which the page's CSP does not govern). The event bubbles from the element or document that
# broke the policy to the window, so one capturing listener hears all of them.
_CSP_LISTENER: Final = f"""
window.addEventListener("securitypolicyviolation", (event) => {{
  window.{_CSP_BINDING}({{
    directive: event.effectiveDirective,
    blocked: event.blockedURI,
    source: event.sourceFile,
    line: event.lineNumber,
    sample: event.sample,
    disposition: event.disposition,
  }});
}}, true);
"""


@dataclass(frozen=True)
class CspViolation:
    """One violation a page reported: from its ``securitypolicyviolation`` event, or a console
    message of Chromium's that names the Content Security Policy."""

    via: str  # "event" or "console"
    url: str
    detail: str

    def __str__(self) -> str:
        return f"[{self.via}] {self.url}: {self.detail}"


@dataclass
class CspRecorder:
    """Every CSP violation in one browser context, from the first script of every page on, kept
    across navigations (each is sent to Python as it happens)."""

    violations: list[CspViolation] = field(default_factory=list)
    _arrived: asyncio.Event = field(default_factory=asyncio.Event)

    async def attach(self, context: BrowserContext) -> None:
        await context.expose_binding(_CSP_BINDING, self._on_event)
        await context.add_init_script(_CSP_LISTENER)
        context.on("console", self._on_console)

    def _on_event(self, source: Mapping[str, Any], report: Mapping[str, Any]) -> None:
        frame = source.get("frame")
        url = frame.url if frame is not None else "?"
        sample = f" {report.get('sample')!r}" if report.get("sample") else ""
        detail = (
            f"{report.get('disposition')} {report.get('directive')} blocked"
            f" {report.get('blocked') or '?'} at {report.get('source') or '?'}:"
            f"{report.get('line')}{sample}"
        )
        self._add(CspViolation("event", url, detail))

    def _on_console(self, message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text:
            url = message.location.get("url") or (message.page.url if message.page else "?")
            self._add(CspViolation("console", url, message.text))

    def _add(self, violation: CspViolation) -> None:
        self.violations.append(violation)
        self._arrived.set()

    def heard(self, via: str | None = None) -> list[CspViolation]:
        """The violations recorded so far, or those heard one way ("event" or "console")."""
        return [v for v in self.violations if via is None or v.via == via]

    async def wait_for(
        self, count: int = 1, *, via: str | None = None, timeout_s: float = 10.0
    ) -> None:
        """Until at least ``count`` violations (heard ``via``, if given) are recorded;
        TimeoutError after ``timeout_s``."""
        async with asyncio.timeout(timeout_s):
            while len(self.heard(via)) < count:
                self._arrived.clear()
                await self._arrived.wait()

    def report(self) -> str:
        lines = [f"{len(self.violations)} Content-Security-Policy violation(s):"]
        lines += [f"  {violation}" for violation in self.violations]
        return "\n".join(lines)


# --- The studio's pages ----------------------------------------------------------------------


@dataclass
class StudioPage:
    """One page of the studio in its own browser context, with the context's CSP recorder."""

    page: Page
    origin: str
    csp: CspRecorder

    @property
    def context(self) -> BrowserContext:
        return self.page.context

    async def goto(self, path: str = "/") -> None:
        """Open ``path`` of the studio's origin and wait for its load event."""
        await self.page.goto(f"{self.origin}{path}")

    @property
    def path(self) -> str:
        """The page's path and query, as the studio's router sees them."""
        url = self.page.url.removeprefix(self.origin)
        return url.split("#", 1)[0] or "/"

    async def sign_in(self, name: str, password: str) -> None:
        """Sign in through the studio's form and wait until the signed-in shell shows."""
        await self.page.get_by_label("User name").fill(name)
        await self.page.get_by_label("Password").fill(password)
        await self.page.get_by_role("button", name="Sign in").click()
        await expect(self.page.get_by_role("button", name="Sign out")).to_be_visible(
            timeout=UI_TIMEOUT_MS
        )

    async def sign_in_by_api(self, name: str, password: str, ssl_context: ssl.SSLContext) -> None:
        """Put a session in the context's cookie jar without opening a page: the cookies of the
        API's sign-in answer, as the browser would have stored them (host-only, Secure). The
        context stays cold: no page, connection or cached file of the studio's yet."""
        async with (
            aiohttp.ClientSession() as http,
            http.post(
                f"{self.origin}/v1/auth/login",
                json={"user_name": name, "password": password},
                headers={"Origin": self.origin},
                ssl=ssl_context,
            ) as response,
        ):
            if response.status != 200:
                raise RuntimeError(f"sign-in of {name}: {response.status} {await response.text()}")
            await self.context.add_cookies(
                [
                    {
                        "name": morsel.key,
                        "value": morsel.value,
                        "url": self.origin,
                        "httpOnly": bool(morsel["httponly"]),
                        "secure": True,
                        "sameSite": "Strict" if morsel["samesite"] == "Strict" else "Lax",
                    }
                    for morsel in response.cookies.values()
                ]
            )


@asynccontextmanager
async def open_studio_page(browser: Browser, studio_origin: str) -> AsyncIterator[StudioPage]:
    """A fresh context (no cookies, no cache) with a CSP recorder, and one page in it; the
    context is closed afterwards."""
    context = await browser.new_context()
    try:
        recorder = CspRecorder()
        await recorder.attach(context)
        yield StudioPage(await context.new_page(), studio_origin, recorder)
    finally:
        await context.close()


# --- People and setup through the API --------------------------------------------------------


@dataclass(frozen=True)
class StudioUser:
    """A person who signs in to the studio, and a key of theirs for setting things up."""

    name: str
    password: str
    api_key: str


def create_studio_user(platform: Platform, *, admin: bool = False) -> StudioUser:
    """A new user with a password (as the command line makes one) and an API key."""
    name, password = create_user(platform, admin=admin)
    return StudioUser(name, password, platform.create_api_key(name))


class StudioApi:
    """The gateway's API with one user's key: for setting up what a flow starts from (the flows
    themselves go through the studio's pages)."""

    def __init__(self, http: aiohttp.ClientSession) -> None:
        self.http = http

    @classmethod
    @asynccontextmanager
    async def open(
        cls, base_url: str, api_key: str, ssl_context: ssl.SSLContext | None = None
    ) -> AsyncIterator[StudioApi]:
        connector = aiohttp.TCPConnector(ssl=ssl_context if ssl_context is not None else True)
        async with aiohttp.ClientSession(
            base_url=base_url,
            headers={"Authorization": f"Bearer {api_key}"},
            connector=connector,
            timeout=aiohttp.ClientTimeout(total=60),
        ) as http:
            yield cls(http)

    async def _call(self, method: str, path: str, status: int, body: Any = None) -> Any:
        async with self.http.request(method, path, json=body) as response:
            text = await response.text()
            if response.status != status:
                raise RuntimeError(f"{method} {path}: {response.status}, not {status}: {text}")
            return json.loads(text) if text else None

    async def node_types(self) -> list[dict[str, Any]]:
        listed = await self._call("GET", "/v1/canvas-node-types", 200)
        return list(listed["node_types"])

    async def create_canvas(self, name: str) -> dict[str, Any]:
        return dict(await self._call("POST", "/v1/canvases", 201, {"name": name}))

    async def save_graph(
        self, canvas_id: str, graph: Mapping[str, Any], *, base_version: int
    ) -> dict[str, Any]:
        """A new version of the canvas holding ``graph`` (saved with warnings if it is
        unfinished; a property its node's schema refuses is a 422, so a RuntimeError here)."""
        body = {"base_version": base_version, "graph": graph, "autosave": False}
        return dict(await self._call("POST", f"/v1/canvases/{canvas_id}/versions", 201, body))

    async def canvas_with_graph(self, name: str, graph: Mapping[str, Any]) -> dict[str, Any]:
        """A new canvas whose newest version holds ``graph``; the canvas as the API lists it."""
        canvas = await self.create_canvas(name)
        version = await self.save_graph(canvas["id"], graph, base_version=canvas["version"])
        return {**canvas, "version": version["number"]}

    async def identity(self) -> dict[str, Any]:
        """Who the key belongs to: ``user_id``, ``user_name`` and the key's scopes."""
        return dict((await self._call("GET", "/v1/auth/session", 200))["identity"])

    async def canvas(self, canvas_id: str) -> dict[str, Any]:
        """The canvas with its newest version's graph, as the server holds it."""
        return dict(await self._call("GET", f"/v1/canvases/{canvas_id}", 200))

    async def results(self, canvas_id: str) -> dict[str, Any]:
        """What each node of the newest version has made: ``{node_id: NodeResult}``."""
        answer = await self._call("GET", f"/v1/canvases/{canvas_id}/results", 200)
        return {node["node_id"]: node for node in answer["nodes"]}

    async def execute(self, canvas_id: str) -> dict[str, Any]:
        """Execute the newest version: the execution as it starts."""
        return dict(await self._call("POST", f"/v1/canvases/{canvas_id}/execute", 202))

    async def upload(self, data: bytes) -> str:
        """Upload a blob (an image, say); its id, the SHA-256 a property names it by."""
        async with self.http.post("/v1/blobs", data=data) as response:
            text = await response.text()
            if response.status not in (200, 201):
                raise RuntimeError(f"POST /v1/blobs: {response.status}: {text}")
            return str(json.loads(text)["sha256"])


# --- Graphs of any size ----------------------------------------------------------------------


def example_value(schema: Mapping[str, Any], label: str) -> Any:
    """A value ``schema`` accepts: its default or first choice, else the smallest of its type
    (an object with its required properties only). Enough for the kinds' property schemas."""
    for key in ("const", "default"):
        if key in schema:
            return schema[key]
    if "enum" in schema:
        return schema["enum"][0]
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = kind[0]
    if kind == "string":
        text = label.ljust(int(schema.get("minLength", 0)), "x")
        return text[: int(schema.get("maxLength", len(text)))]
    if kind in ("number", "integer"):
        if "minimum" in schema:
            return schema["minimum"]
        if "exclusiveMinimum" in schema:
            return schema["exclusiveMinimum"] + 1
        return 1
    if kind == "boolean":
        return False
    if kind == "array":
        item = schema.get("items", {})
        return [example_value(item, label) for _ in range(int(schema.get("minItems", 0)))]
    if kind == "object":
        properties = schema.get("properties", {})
        return {
            name: example_value(properties.get(name, {}), f"{label} {name}")
            for name in schema.get("required", ())
        }
    raise ValueError(f"no example for a schema of type {kind!r}: {dict(schema)}")


def grid_graph(
    node_types: Sequence[Mapping[str, Any]],
    count: int,
    *,
    columns: int = 25,
    spacing: tuple[float, float] = (240.0, 160.0),
) -> dict[str, Any]:
    """``count`` nodes on a grid, the node types taken in turn, each with properties its
    schema accepts; each input port wired to the nearest earlier node with an output of its
    type (so the graph has no cycle and a shot has its scene and a character). The graph may
    be unfinished in ways no schema says (a scene feeding a shot wants a backdrop): the API
    saves it with warnings, and an editor shows it all the same."""
    nodes: list[dict[str, Any]] = []
    edges: list[dict[str, str]] = []
    latest: dict[str, tuple[str, str]] = {}  # port type -> (node id, output port) last made
    for index in range(count):
        kind = node_types[index % len(node_types)]
        node_id = f"{kind['name']}-{index:04d}"
        for port in kind.get("inputs", ()):
            source = latest.get(port["type"])
            if source is not None:
                edges.append(
                    {
                        "source": source[0],
                        "source_port": source[1],
                        "target": node_id,
                        "target_port": port["name"],
                    }
                )
        for port in kind.get("outputs", ()):
            latest[port["type"]] = (node_id, port["name"])
        row, column = divmod(index, columns)
        nodes.append(
            {
                "id": node_id,
                "type": kind["name"],
                "position": {"x": column * spacing[0], "y": row * spacing[1]},
                "properties": example_value(kind["properties"], f"{kind['title']} {index}"),
            }
        )
    return {"nodes": nodes, "edges": edges}


# --- Fixtures --------------------------------------------------------------------------------
#
# The certificate and the HTTPS gateway serve the whole session: a gateway takes seconds to
# start and keeps nothing a test relies on being fresh (every test signs in as a user of its
# own), so each module starting one of its own only cost time. A fixture imported into several
# modules is set up once per module, whatever its scope (pytest registers it in each), so the
# shared objects live in the session's stash and the fixtures keep their names, module scope
# and signatures: a module that imports them needs no change. The browser stays per module:
# Playwright's objects belong to the event loop that made them.

_SESSION_CERTIFICATE: Final = pytest.StashKey[LocalCertificate]()
_SESSION_GATEWAY: Final = pytest.StashKey[tuple[Platform, ServiceProcess]]()


@pytest.fixture(scope="module")
def certificate(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> LocalCertificate:
    """The session's certificate (issued by the first module that asks)."""
    stash = request.config.stash
    if _SESSION_CERTIFICATE not in stash:
        stash[_SESSION_CERTIFICATE] = LocalCertificate.issue(tmp_path_factory.mktemp("tls"))
    return stash[_SESSION_CERTIFICATE]


@pytest.fixture(scope="module")
def studio_dist() -> Path:
    """The studio's build; the test fails, saying how to make it, when there is none."""
    try:
        return require_studio_build()
    except FileNotFoundError as missing:
        pytest.fail(str(missing), pytrace=False)


@pytest.fixture(scope="module")
def https_gateway(
    request: pytest.FixtureRequest,
    platform: Platform,
    certificate: LocalCertificate,
    studio_dist: Path,
) -> ServiceProcess:
    """A gateway of the platform on HTTPS with production's cookie rules, serving the studio:
    one for the session, started by the first module that asks and stopped with the platform
    (which stops every process it started). A new one is started if that one has died, or for
    another platform than the session's."""
    stash = request.config.stash
    shared = stash.get(_SESSION_GATEWAY, None)
    if shared is not None:
        owner, gateway = shared
        if owner is platform and gateway.process is not None and gateway.process.poll() is None:
            return gateway
    gateway = start_studio_gateway(
        platform, certificate, f"gateway-https-{secrets.token_hex(3)}", studio_dist
    )
    stash[_SESSION_GATEWAY] = (platform, gateway)
    return gateway


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def chromium(certificate: LocalCertificate) -> AsyncIterator[Browser]:
    """One browser for the module; every test opens a context of its own."""
    async with async_playwright() as playwright:
        browser = await launch_chromium(playwright, certificate)
        yield browser
        await browser.close()


@pytest_asyncio.fixture(loop_scope="module")
async def studio(chromium: Browser, https_gateway: ServiceProcess) -> AsyncIterator[StudioPage]:
    """A page of the studio in a fresh context; the test fails if any page of the context
    reported a Content-Security-Policy violation."""
    async with open_studio_page(chromium, origin(https_gateway)) as page:
        yield page
        violations = page.csp.report() if page.csp.violations else None
    if violations is not None:
        pytest.fail(violations, pytrace=False)
