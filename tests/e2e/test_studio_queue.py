"""The queue view in Chromium over HTTPS against the live platform: a batch of slow jobs shows
up and moves live, its progress arriving without a read of the lists; it is cancelled from the
page and the server agrees; a failed batch is retried from the page and runs again; the queue
depth names the function. Every test fails on a Content-Security-Policy violation (the
``studio`` fixture).

The slow jobs are the test worker's ``test.sleep`` (``tests/e2e/worker.py``), which reports its
progress in ten steps and checks for cancellation between them; the failing one is a render of
a model with a syntax error.
"""

# The fixtures are imported from browser.py by name, which is how pytest finds them; a test's
# parameter of the same name is that fixture, not a redefinition.
# ruff: noqa: F811

from __future__ import annotations

import asyncio
import json
import re
import secrets
from collections.abc import AsyncIterator, Iterator
from typing import Any, Final

import pytest
import pytest_asyncio
from playwright.async_api import Locator, Page, Request, expect

from libs.launcher import Platform, ServiceProcess
from libs.ports import free_port
from tests.e2e.browser import (  # noqa: F401
    IN_MODULE_LOOP,
    NEEDS_CHROMIUM,
    UI_TIMEOUT_MS,
    LocalCertificate,
    StudioApi,
    StudioPage,
    StudioUser,
    certificate,
    chromium,
    create_studio_user,
    https_gateway,
    studio,
    studio_dist,
)

pytestmark = [NEEDS_CHROMIUM, IN_MODULE_LOOP]

# Ten steps of 1 s: long enough to watch two of them and cancel before the end.
SLOW_JOB_S: Final = 10


@pytest.fixture(scope="module", autouse=True)
def test_worker(platform: Platform) -> Iterator[str]:
    """A worker serving ``test.*`` for this module, stopped after it. It is started first and
    not waited for here: it gets ready while the gateway and the browser start, and a test
    that needs it waits for it (``platform.wait_ready``)."""
    name = f"queueworker-{secrets.token_hex(3)}"
    log_path = platform.root / "logs" / f"{name}.log"
    platform.services[name] = ServiceProcess(
        name, free_port(), free_port(), log_path, module="tests.e2e.worker"
    )
    platform.start_service(name)
    yield name
    platform.stop_service(name)
    del platform.services[name]


@pytest.fixture(scope="module")
def user(platform: Platform) -> StudioUser:
    return create_studio_user(platform)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def api(platform: Platform, user: StudioUser) -> AsyncIterator[StudioApi]:
    async with StudioApi.open(platform.gateway_url, user.api_key) as opened:
        yield opened


@pytest_asyncio.fixture(scope="module", loop_scope="module", autouse=True)
async def failing_batch(api: StudioApi) -> dict[str, Any]:
    """A batch whose one job fails on every run: a render of a model with a syntax error (a
    failure no attempt cures, so the job fails at once instead of after its retries).
    Submitted as the module starts, so it has failed by the time the test that retries it
    runs; a comment of its own keeps any earlier run's render out of it."""
    source = f"// {secrets.token_hex(4)}\ncube(;\n"
    return await submit(
        api, [{"key": "doomed", "function": "render.scad", "input": {"source": source}}]
    )


async def call(api: StudioApi, method: str, path: str, status: int = 200, body: Any = None) -> Any:
    """The API's answer to one call as the user, which must have ``status``."""
    async with api.http.request(method, path, json=body) as response:
        text = await response.text()
        assert response.status == status, f"{method} {path}: {response.status}: {text}"
        return json.loads(text)


async def submit(api: StudioApi, jobs: list[dict[str, Any]]) -> dict[str, Any]:
    return dict(await call(api, "POST", "/v1/batches", 202, {"jobs": jobs}))


async def open_queue(studio: StudioPage, user: StudioUser, certificate: LocalCertificate) -> None:
    """The queue page, signed in, once its live connection is up."""
    await studio.sign_in_by_api(user.name, user.password, certificate.client_context())
    await studio.goto("/queue")
    await expect(studio.page.get_by_role("heading", name="Queue", exact=True)).to_be_visible(
        timeout=UI_TIMEOUT_MS
    )
    await expect(studio.page.locator(".live-badge")).to_have_attribute(
        "data-live-state", "live", timeout=UI_TIMEOUT_MS
    )


def batch_card(page: Page, batch_id: str, section: str | None = None) -> Locator:
    """A batch's card, anywhere or in the section named ``section``."""
    where = page if section is None else page.get_by_role("list", name=section, exact=True)
    return where.get_by_role("listitem", name=f"Batch {batch_id[:8]}", exact=True)


async def progress_of(bar: Locator, at_least: int) -> int:
    """The progress bar's value once it is ``at_least``."""
    await bar.page.wait_for_function(
        "([bar, least]) => bar.value >= least",
        arg=[await bar.element_handle(), at_least],
        timeout=UI_TIMEOUT_MS,
    )
    return int(await bar.evaluate("bar => bar.value"))


def list_reads(page: Page) -> list[str]:
    """The URLs of every read of the batch lists and jobs the page makes from now on."""
    urls: list[str] = []

    def heard(request: Request) -> None:
        if request.method == "GET" and "/v1/batches" in request.url:
            urls.append(request.url)

    page.on("request", heard)
    return urls


async def test_a_running_batch_moves_live_and_is_cancelled_from_the_queue_view(
    studio: StudioPage,
    user: StudioUser,
    api: StudioApi,
    certificate: LocalCertificate,
    platform: Platform,
    test_worker: str,
) -> None:
    page = studio.page
    await open_queue(studio, user, certificate)
    await asyncio.to_thread(platform.wait_ready, [test_worker])

    batch = await submit(
        api,
        [
            {"key": "slow", "function": "test.sleep", "input": {"seconds": SLOW_JOB_S}},
            {
                "key": "after",
                "function": "test.sleep",
                "input": {"seconds": SLOW_JOB_S},
                "depends_on": ["slow"],
            },
        ],
    )
    card = batch_card(page, batch["id"], "Running")
    await expect(card).to_be_visible(timeout=UI_TIMEOUT_MS)
    await card.get_by_role("button", name=re.compile("^Show jobs")).click()
    slow = page.get_by_role("progressbar", name="Progress of job slow")

    # Progress arrives from the live connection: nothing is read while it moves a step on.
    first = await progress_of(slow, 10)
    reads = list_reads(page)
    second = await progress_of(slow, first + 10)
    assert second > first and reads == [], reads
    jobs = page.get_by_role("table", name=f"Jobs of Batch {batch['id'][:8]}")
    await expect(
        jobs.get_by_role("row", name=re.compile("^slow")).locator(".state-label")
    ).to_have_text(re.compile("Running"))
    await expect(jobs.get_by_role("row", name=re.compile("^after"))).to_contain_text("Waiting")

    depth = page.get_by_role("table", name="Jobs per function")
    await expect(depth.get_by_role("row", name=re.compile(r"test\.sleep"))).to_be_visible(
        timeout=UI_TIMEOUT_MS
    )

    await card.get_by_role("button", name=f"Cancel Batch {batch['id'][:8]}").click()
    dialog = page.get_by_role("dialog", name=f"Cancel Batch {batch['id'][:8]}?")
    await dialog.get_by_role("button", name="Cancel batch").click()
    ended = batch_card(page, batch["id"], "Recently ended")
    await expect(ended.locator(".state-label").first).to_have_text(
        re.compile("Cancelled"), timeout=UI_TIMEOUT_MS
    )
    await expect(ended.get_by_role("status")).to_have_text(re.compile("cancelled|stop"))
    await expect(ended.get_by_role("button", name=re.compile("^Cancel"))).to_have_count(0)

    server = await call(api, "GET", f"/v1/batches/{batch['id']}")
    assert server["state"] == "cancelled", server
    assert server["counts"] == {"cancelled": 2}, server


async def test_a_failed_batch_is_retried_from_the_queue_view_and_runs_again(
    studio: StudioPage,
    user: StudioUser,
    api: StudioApi,
    certificate: LocalCertificate,
    failing_batch: dict[str, Any],
) -> None:
    page = studio.page
    batch_id = failing_batch["id"]
    await open_queue(studio, user, certificate)

    card = batch_card(page, batch_id, "Recently ended")
    await expect(card.locator(".state-label").first).to_have_text(
        re.compile("Failed"), timeout=UI_TIMEOUT_MS
    )
    job_page = await call(api, "GET", f"/v1/batches/{batch_id}/jobs")
    job_id = job_page["jobs"][0]["id"]
    first_run = len((await call(api, "GET", f"/v1/jobs/{job_id}"))["history"])
    assert first_run >= 1  # each failed attempt is kept with its error

    await card.get_by_role("button", name=f"Retry Batch {batch_id[:8]}").click()
    await expect(page.get_by_role("status").filter(has_text="runs again")).to_have_text(
        "1 job runs again.", timeout=UI_TIMEOUT_MS
    )

    # It runs again, and fails again: the job, on its second run, is shown failed once more.
    shown = batch_card(page, batch_id)
    await shown.get_by_role("button", name=re.compile("^Show jobs")).click()
    doomed = page.get_by_role("table", name=f"Jobs of Batch {batch_id[:8]}").get_by_role(
        "row", name=re.compile("^doomed")
    )
    await expect(doomed).to_contain_text("retry 1", timeout=UI_TIMEOUT_MS)
    await expect(doomed.locator(".state-label")).to_have_text(
        re.compile("Failed"), timeout=UI_TIMEOUT_MS
    )
    await expect(batch_card(page, batch_id, "Recently ended")).to_be_visible()

    job = await call(api, "GET", f"/v1/jobs/{job_id}")
    assert job["retry"] == 1 and len(job["history"]) == 2 * first_run, job
