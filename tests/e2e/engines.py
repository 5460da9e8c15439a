"""The browser engines other than Chromium, from Debian's packages, each behind the same small
interface (``EngineSession``) so one flow drives them all:

- Firefox ESR through **Marionette**, the remote protocol built into every Firefox (the
  ``marionette-driver`` client from PyPI). No extra driver binary: Debian ships no geckodriver,
  and Marionette speaks to the browser Debian ships, whatever its version.
- WebKitGTK through **Selenium** and ``/usr/bin/WebKitWebDriver`` (Debian's
  ``webkit2gtk-driver``), which drives WebKitGTK's MiniBrowser.

Both run on an X display of their own (``Xvfb``): WebKitGTK has no headless mode, and Firefox
on a display gets WebGL from Mesa's software renderer (headless Firefox has none here). Each
trusts the test gateway's certificate through the ``acceptInsecureCerts`` capability; the page
is still a secure context (https on localhost), so the ``__Host-`` cookies work.

These are blocking clients: a test calls them from its own thread (they are not Playwright).
"""

from __future__ import annotations

import os
import select
import signal
import subprocess
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Protocol

FIREFOX: Final = "/usr/bin/firefox-esr"
WEBKIT_DRIVER: Final = "/usr/bin/WebKitWebDriver"
XVFB: Final = "/usr/bin/Xvfb"
# The window the engines draw the studio in: the desktop layout.
WINDOW: Final = (1280, 800)

# Preferences for a Firefox that runs tests: no first-run pages, and nothing that calls out to
# the internet by itself (updates, telemetry, safe browsing, captive-portal and connectivity
# checks, remote settings); Marionette on a free port, written to the profile's
# MarionetteActivePort.
_FIREFOX_PREFS: Final[dict[str, bool | int | str]] = {
    "marionette.port": 0,
    "remote.prefs.recommended": True,
    "app.update.disabledForTesting": True,
    "browser.shell.checkDefaultBrowser": False,
    "browser.startup.page": 0,
    "browser.startup.homepage_override.mstone": "ignore",
    "browser.aboutwelcome.enabled": False,
    "browser.newtabpage.enabled": False,
    "browser.safebrowsing.malware.enabled": False,
    "browser.safebrowsing.phishing.enabled": False,
    "browser.safebrowsing.downloads.enabled": False,
    "browser.safebrowsing.blockedURIs.enabled": False,
    "browser.region.network.url": "",
    "browser.search.update": False,
    "datareporting.policy.dataSubmissionEnabled": False,
    "datareporting.healthreport.uploadEnabled": False,
    "toolkit.telemetry.server": "",
    "extensions.update.enabled": False,
    "extensions.getAddons.cache.enabled": False,
    "extensions.blocklist.enabled": False,
    "network.captive-portal-service.enabled": False,
    "network.connectivity-service.enabled": False,
    "network.dns.disablePrefetch": True,
    "network.prefetch-next": False,
    "network.http.speculative-parallel-limit": 0,
    "services.settings.server": "data:,#remote-settings-off",
    "security.OCSP.enabled": 0,
}


def _pref(value: bool | int | str) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


class EngineTimeout(AssertionError):
    """A condition the test waited for did not come in time (what it was, and the page)."""


# --- An X display ----------------------------------------------------------------------------


@contextmanager
def xvfb(size: tuple[int, int] = (1280, 1024), timeout_s: float = 10.0) -> Iterator[str]:
    """An Xvfb server on a free display (it picks the number itself and writes it to a pipe:
    ``-displayfd``); its ``DISPLAY`` value. Stopped afterwards."""
    read_end, write_end = os.pipe()
    screen = f"{size[0]}x{size[1]}x24"
    process = subprocess.Popen(
        [XVFB, "-displayfd", str(write_end), "-screen", "0", screen, "-nolisten", "tcp"],
        pass_fds=(write_end,),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    os.close(write_end)
    try:
        ready, _, _ = select.select([read_end], [], [], timeout_s)
        number = os.read(read_end, 64).decode().strip() if ready else ""
        if not number:
            process.kill()
            _, error = process.communicate(timeout=5)
            raise RuntimeError(f"Xvfb gave no display in {timeout_s} s: {error.decode()[-2000:]}")
        yield f":{number}"
    finally:
        os.close(read_end)
        _stop_group(process)


def _stop_group(process: subprocess.Popen[Any], timeout_s: float = 10.0) -> None:
    """Stop a process started in a session of its own, and its children (Firefox's content
    processes): SIGTERM to its group, SIGKILL if it lingers."""
    if process.poll() is None:
        try:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=timeout_s)
        except ProcessLookupError:
            pass
    for stream in (process.stdout, process.stderr):
        if stream is not None:
            stream.close()


# --- One interface for every engine -----------------------------------------------------------


class Element(Protocol):
    """What both clients' element references do."""

    def click(self) -> None: ...

    def send_keys(self, *value: str) -> None: ...


class EngineSession(Protocol):
    """A browser of one engine, driven over WebDriver-like calls."""

    engine: str  # "firefox-esr" or "webkitgtk"
    version: str
    webgl: str | None  # what WEBGL_PROBE found on the test's page, once it has asked

    def goto(self, url: str) -> None: ...

    def run(self, script: str, *args: Any) -> Any:
        """The value of ``script`` (a function body; ``arguments`` holds ``args``) in the
        page."""
        ...

    def find(self, xpath: str) -> Element: ...

    def select(self, css: str) -> Element: ...

    def element_png(self, element: Element) -> bytes:
        """A screenshot of ``element`` as drawn on screen (WebGL included), as PNG."""
        ...

    def cookies(self) -> list[dict[str, Any]]:
        """The page's cookies, HttpOnly ones included."""
        ...


def wait_until(
    session: EngineSession,
    script: str,
    what: str,
    *args: Any,
    timeout_s: float = 15.0,
) -> Any:
    """Until ``script`` returns something truthy in the page; that value. The browser has no
    event to await from here, so the condition is asked again every 100 ms until the deadline;
    EngineTimeout saying ``what`` and where the page was after it."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = session.run(script, *args)
        if value:
            return value
        if time.monotonic() > deadline:
            where = session.run("return location.href + ' — ' + document.title")
            raise EngineTimeout(f"{session.engine}: {what} not within {timeout_s} s (at {where})")
        time.sleep(0.1)


# A WebGL context in a canvas of the page's own: what the engine offers pages here.
WEBGL_PROBE: Final = """
const canvas = document.createElement("canvas");
const gl = canvas.getContext("webgl2") ?? canvas.getContext("webgl");
if (gl === null) return null;
const answer = gl.getParameter(gl.VERSION) + ", " + gl.getParameter(gl.RENDERER);
gl.getExtension("WEBGL_lose_context")?.loseContext();
return answer;
"""


# --- Firefox ESR through Marionette -----------------------------------------------------------


@dataclass
class FirefoxSession:
    """Firefox ESR on ``display``, over Marionette, accepting the test gateway's certificate."""

    client: Any  # marionette_driver.marionette.Marionette
    version: str
    engine: str = "firefox-esr"
    webgl: str | None = None

    def goto(self, url: str) -> None:
        self.client.navigate(url)

    def run(self, script: str, *args: Any) -> Any:
        return self.client.execute_script(script, script_args=list(args))

    def find(self, xpath: str) -> Element:
        element: Element = self.client.find_element("xpath", xpath)
        return element

    def select(self, css: str) -> Element:
        element: Element = self.client.find_element("css selector", css)
        return element

    def element_png(self, element: Element) -> bytes:
        return bytes(self.client.screenshot(element=element, format="binary", full=False))

    def cookies(self) -> list[dict[str, Any]]:
        return list(self.client.get_cookies())


@contextmanager
def firefox(display: str, timeout_s: float = 60.0) -> Iterator[FirefoxSession]:
    """Debian's Firefox ESR in a fresh profile on ``display``, with a Marionette session that
    accepts insecure certificates; the browser is stopped afterwards."""
    with warnings.catch_warnings():
        # marionette-driver's own imports (mozinfo, mozdevice) use deprecated calls and
        # modules (distro.linux_distribution, telnetlib) as they load: not ours to fix.
        warnings.simplefilter("ignore", DeprecationWarning)
        from marionette_driver.marionette import Marionette

    with tempfile.TemporaryDirectory(prefix="shotgraph-firefox-") as folder:
        profile = Path(folder)
        (profile / "user.js").write_text(
            "".join(f'user_pref("{k}", {_pref(v)});\n' for k, v in _FIREFOX_PREFS.items())
        )
        log = (profile / "firefox.log").open("wb")
        process = subprocess.Popen(
            [FIREFOX, "--marionette", "--no-remote", "--profile", str(profile), "about:blank"],
            env={**os.environ, "DISPLAY": display, "MOZ_CRASHREPORTER_DISABLE": "1"},
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            port = _marionette_port(profile, process, timeout_s)
            client = Marionette(host="127.0.0.1", port=port, startup_timeout=int(timeout_s))
            capabilities = client.start_session({"acceptInsecureCerts": True})
            session = FirefoxSession(client, str(capabilities["browserVersion"]))
            client.set_window_rect(x=0, y=0, width=WINDOW[0], height=WINDOW[1])
            try:
                yield session
            finally:
                client.delete_session()
        finally:
            _stop_group(process)
            log.close()


def _marionette_port(profile: Path, process: subprocess.Popen[Any], timeout_s: float) -> int:
    """The port Marionette listens on: Firefox writes it to the profile once it listens."""
    written = profile / "MarionetteActivePort"
    deadline = time.monotonic() + timeout_s
    while not written.exists() or not written.read_text().strip():
        if process.poll() is not None or time.monotonic() > deadline:
            tail = (profile / "firefox.log").read_text(errors="replace")[-3000:]
            raise RuntimeError(f"Firefox started no Marionette server; its log ends:\n{tail}")
        time.sleep(0.1)
    return int(written.read_text())


# --- WebKitGTK through Selenium ---------------------------------------------------------------


@dataclass
class WebKitSession:
    """WebKitGTK's MiniBrowser on ``display``, over Selenium and WebKitWebDriver."""

    driver: Any  # selenium.webdriver.WebKitGTK
    version: str
    engine: str = "webkitgtk"
    webgl: str | None = None

    def goto(self, url: str) -> None:
        self.driver.get(url)

    def run(self, script: str, *args: Any) -> Any:
        return self.driver.execute_script(script, *args)

    def find(self, xpath: str) -> Element:
        element: Element = self.driver.find_element("xpath", xpath)
        return element

    def select(self, css: str) -> Element:
        element: Element = self.driver.find_element("css selector", css)
        return element

    def element_png(self, element: Element) -> bytes:
        """Cut from a screenshot of the viewport: WebKitGTK's element screenshots leave out
        what WebGL draws (they come out black), its viewport screenshots have it."""
        import pyvips

        box = self.run(
            "const element = arguments[0];"
            " element.scrollIntoView({block: 'center', inline: 'center'});"
            " const box = element.getBoundingClientRect(), scale = devicePixelRatio;"
            " return [box.left, box.top, box.width, box.height].map((v) => Math.round(v * scale));",
            element,
        )
        left, top, width, height = (int(value) for value in box)
        # Two frames, so what the scroll and the last change drew is on screen.
        self.driver.execute_async_script(
            "const done = arguments[arguments.length - 1];"
            " requestAnimationFrame(() => requestAnimationFrame(() => done(null)));"
        )
        viewport = pyvips.Image.new_from_buffer(self.driver.get_screenshot_as_png(), "")
        left, top = max(left, 0), max(top, 0)
        width = min(width, viewport.width - left)
        height = min(height, viewport.height - top)
        return bytes(viewport.crop(left, top, width, height).pngsave_buffer())

    def cookies(self) -> list[dict[str, Any]]:
        return list(self.driver.get_cookies())


@contextmanager
def webkitgtk(display: str) -> Iterator[WebKitSession]:
    """WebKitGTK (its MiniBrowser, started by WebKitWebDriver) on ``display``, accepting
    insecure certificates; stopped afterwards."""
    from selenium import webdriver
    from selenium.webdriver.webkitgtk.options import Options
    from selenium.webdriver.webkitgtk.service import Service

    options = Options()
    options.accept_insecure_certs = True
    # The driver on a free port of its own choosing; the browser it starts inherits DISPLAY.
    service = Service(
        executable_path=WEBKIT_DRIVER,
        env={**os.environ, "DISPLAY": display},
        log_output=subprocess.DEVNULL,
    )
    with warnings.catch_warnings():
        # Selenium's own WebKitGTK class still hands its connection the deprecated argument.
        warnings.filterwarnings("ignore", "setting remote_server_addr", DeprecationWarning)
        driver = webdriver.WebKitGTK(options=options, service=service)
    try:
        driver.set_window_rect(x=0, y=0, width=WINDOW[0], height=WINDOW[1])
        yield WebKitSession(driver, str(driver.capabilities.get("browserVersion", "?")))
    finally:
        driver.quit()


ENGINES: Final[dict[str, Callable[[str], Any]]] = {"firefox-esr": firefox, "webkitgtk": webkitgtk}
