"""Reference images uploaded through the studio in Chromium over HTTPS against the live
platform: fifty files at once, half dropped on the drop zone (a real ``DataTransfer`` of
files) and half chosen with its file input, one of them not an image and one too large. The
other 48 finish with their thumbnails and digests, the two bad rows each say why, no more than
four are sent at a time, and each digest a row shows is a blob on the server holding that
row's colour. The test fails on a Content-Security-Policy violation (the ``studio`` fixture).
"""

# The fixtures are imported from browser.py by name, which is how pytest finds them; a test's
# parameter of the same name is that fixture, not a redefinition.
# ruff: noqa: F811

from __future__ import annotations

import asyncio
import base64
import colorsys
import secrets
from dataclasses import dataclass
from typing import Any, Final

import pyvips
from playwright.async_api import FilePayload, Page, expect

from libs.config import MAX_UPLOAD_BYTES
from libs.launcher import Platform
from tests.e2e.browser import (  # noqa: F401
    IN_MODULE_LOOP,
    NEEDS_CHROMIUM,
    UI_TIMEOUT_MS,
    LocalCertificate,
    StudioApi,
    StudioPage,
    certificate,
    chromium,
    create_studio_user,
    https_gateway,
    studio,
    studio_dist,
)

pytestmark = [NEEDS_CHROMIUM, IN_MODULE_LOOP]

FILES: Final = 50
CONCURRENCY: Final = 4  # web/src/uploads/queue.ts CONCURRENCY
# Fifty uploads, each normalised and thumbnailed by the image service, on a loaded machine.
ALL_DONE_TIMEOUT_MS: Final = 60_000
NOT_AN_IMAGE: Final = "not-an-image.png"
TOO_LARGE: Final = "too-large.png"
# JPEG moves a flat colour by a few levels; PNG keeps it exactly.
COLOUR_TOLERANCE: Final = 6

# Counts the page's uploads in flight, from the page's own XMLHttpRequests: what it sends at
# once, not what the network log happens to interleave.
_COUNT_UPLOADS: Final = """
(() => {
  const open = XMLHttpRequest.prototype.open;
  const send = XMLHttpRequest.prototype.send;
  window.__uploads = { inFlight: 0, peak: 0, sent: 0 };
  XMLHttpRequest.prototype.open = function (method, url, ...rest) {
    this.__isUpload = method === "POST" && String(url).startsWith("/v1/blobs");
    return open.call(this, method, url, ...rest);
  };
  XMLHttpRequest.prototype.send = function (body) {
    if (this.__isUpload) {
      const uploads = window.__uploads;
      uploads.sent += 1;
      uploads.inFlight += 1;
      uploads.peak = Math.max(uploads.peak, uploads.inFlight);
      // readyState 4 comes before the load event whose handler may start the next upload.
      const ended = () => {
        if (this.readyState !== 4) return;
        uploads.inFlight -= 1;
        this.removeEventListener("readystatechange", ended);
      };
      this.addEventListener("readystatechange", ended);
    }
    return send.call(this, body);
  };
})();
"""

# Builds the dropped files in the page, the oversized one as zeros (nothing to carry over the
# wire), and returns the DataTransfer a drop of them carries.
_DROPPED_FILES: Final = """
([files, oversized, oversizedName]) => {
  const transfer = new DataTransfer();
  for (const file of files) {
    const bytes = Uint8Array.from(atob(file.data), (c) => c.charCodeAt(0));
    transfer.items.add(new File([bytes], file.name, { type: file.type }));
  }
  transfer.items.add(new File([new Uint8Array(oversized)], oversizedName, { type: "image/png" }));
  return transfer;
}
"""


@dataclass(frozen=True)
class Reference:
    """One good image of the upload: its name, its flat colour and its encoded bytes."""

    name: str
    rgb: tuple[int, int, int]
    data: bytes
    mime: str


def references(count: int) -> list[Reference]:
    """``count`` small images of distinct colours around the hue wheel, PNG and JPEG in turn,
    from a starting hue of this run's own (so the server has not seen them before)."""
    start = secrets.randbelow(1000) / 1000
    made = []
    for index in range(count):
        hue = (start + index / count) % 1.0
        rgb = tuple(round(c * 255) for c in colorsys.hsv_to_rgb(hue, 0.75, 0.9))
        image = (
            pyvips.Image.black(48, 32, bands=3)
            .linear([1, 1, 1], list(rgb))
            .cast("uchar")
            .copy(interpretation="srgb")
        )
        if index % 2:
            data, mime, suffix = bytes(image.jpegsave_buffer(Q=95)), "image/jpeg", "jpg"
        else:
            data, mime, suffix = bytes(image.pngsave_buffer()), "image/png", "png"
        made.append(
            Reference(f"reference-{index + 1:02d}.{suffix}", (rgb[0], rgb[1], rgb[2]), data, mime)
        )
    return made


async def drop_files(page: Page, files: list[Reference], oversized_bytes: int) -> None:
    """Drags ``files`` and one file of ``oversized_bytes`` over the drop zone and drops them:
    the events a browser sends when files from the desktop are dropped."""
    payload = [
        {"name": f.name, "type": f.mime, "data": base64.b64encode(f.data).decode()} for f in files
    ]
    transfer = await page.evaluate_handle(_DROPPED_FILES, [payload, oversized_bytes, TOO_LARGE])
    zone = page.get_by_test_id("drop-zone")
    await zone.dispatch_event("dragenter", {"dataTransfer": transfer})
    await zone.dispatch_event("dragover", {"dataTransfer": transfer})
    await expect(zone).to_have_class("drop-zone is-over")  # it shows where the files will go
    await zone.dispatch_event("drop", {"dataTransfer": transfer})
    await transfer.dispose()


async def shown_digests(page: Page) -> dict[str, str]:
    """File name -> the digest its finished row shows."""
    rows: list[list[str]] = await page.eval_on_selector_all(
        '.upload-row[data-state="done"]',
        """rows => rows.map(row => [
            document.getElementById(row.getAttribute("aria-labelledby")).textContent,
            row.querySelector("code[data-sha256]").textContent,
        ])""",
    )
    return dict((name, digest) for name, digest in rows)


async def blob_colour(api: StudioApi, digest: str) -> tuple[float, ...]:
    """The mean colour of the blob the server holds under ``digest`` (fails if it has none)."""
    async with api.http.get(f"/v1/blobs/{digest}") as response:
        assert response.status == 200, f"GET /v1/blobs/{digest}: {response.status}"
        data = await response.read()
    image: Any = pyvips.Image.new_from_buffer(data, "")
    return tuple(image.stats()(4, band + 1)[0] for band in range(3))


async def test_fifty_uploads_at_once_two_refused_with_their_reasons_the_others_finish(
    platform: Platform, certificate: LocalCertificate, studio: StudioPage
) -> None:
    user = create_studio_user(platform)
    good = references(FILES - 2)
    dropped, chosen = good[: len(good) // 2], good[len(good) // 2 :]
    # Named as a PNG, so the browser cannot tell: the server reads it and refuses it.
    not_an_image = FilePayload(name=NOT_AN_IMAGE, mimeType="image/png", buffer=b"just words\n" * 40)

    await studio.sign_in_by_api(user.name, user.password, certificate.client_context())
    page = studio.page
    await page.add_init_script(_COUNT_UPLOADS)
    await studio.goto("/")
    await page.get_by_role("link", name="Reference images").click()
    await expect(page.get_by_role("heading", level=1, name="Reference images")).to_be_visible(
        timeout=UI_TIMEOUT_MS
    )

    # Fifty at once: 25 dropped (one too large), then 25 chosen (one not an image).
    await drop_files(page, dropped, MAX_UPLOAD_BYTES + 1)
    await page.get_by_label("Choose files").set_input_files(
        [FilePayload(name=f.name, mimeType=f.mime, buffer=f.data) for f in chosen] + [not_an_image]
    )
    rows = page.locator(".upload-row")
    await expect(rows).to_have_count(FILES)

    # The two bad rows say why, each in its own row; the others all finish.
    too_large = page.get_by_role("listitem", name=TOO_LARGE)
    await expect(too_large.get_by_role("alert")).to_have_text(
        "The file is 50.0 MB: larger than the 50 MB limit."
    )
    refused = page.get_by_role("listitem", name=NOT_AN_IMAGE).get_by_role("alert")
    await expect(refused).to_contain_text(
        "not a PNG, JPEG, WebP, GIF or TIFF image", timeout=UI_TIMEOUT_MS
    )
    await expect(page.locator('.upload-row[data-state="done"]')).to_have_count(
        FILES - 2, timeout=ALL_DONE_TIMEOUT_MS
    )
    summary = page.get_by_role("region", name="Uploads").get_by_role("status")
    await expect(summary).to_have_text(f"{FILES - 2} uploaded · 2 refused")

    # Every finished row shows its thumbnail, loaded.
    await page.wait_for_function(
        """count => {
            const thumbnails = [...document.querySelectorAll('.upload-row[data-state="done"] img')];
            return thumbnails.length === count
                && thumbnails.every(img => img.complete && img.naturalWidth > 0);
        }""",
        arg=FILES - 2,
        timeout=UI_TIMEOUT_MS,
    )

    # A few at a time, and the oversized file never sent.
    uploads = await page.evaluate("window.__uploads")
    assert uploads["peak"] == CONCURRENCY, uploads
    assert uploads["sent"] == FILES - 1, uploads

    # Each digest a row shows is a blob on the server, holding that row's colour.
    digests = await shown_digests(page)
    assert sorted(digests) == sorted(f.name for f in good)
    assert len(set(digests.values())) == len(good)
    async with StudioApi.open(platform.gateway_url, user.api_key) as api:
        colours = await asyncio.gather(*(blob_colour(api, digests[f.name]) for f in good))
    for reference, colour in zip(good, colours, strict=True):
        off = max(abs(a - b) for a, b in zip(colour, reference.rgb, strict=True))
        assert off <= COLOUR_TOLERANCE, (reference.name, reference.rgb, colour)
