"""Every message on a platform's bus, for the whole of a test run, checked against the contract.

A subscriber on ``>`` in a thread of its own (the tests' event loops come and go per test)
checks each message it sees with ``BusDocument`` (the committed AsyncAPI document). At the end
the run fails if any message was not as documented, if a message a test marked as
deliberately malformed passed, or if the subscriber fell behind and missed messages.
"""

from __future__ import annotations

import asyncio
import threading
from collections import Counter
from dataclasses import dataclass, field

import nats
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.errors import SlowConsumerError

from tests.contract.bus_document import EXPECT_INVALID_HEADER, BusDocument

__all__ = ["AuditReport", "BusAudit"]

_START_TIMEOUT_S = 10.0
_MAX_VIOLATIONS_KEPT = 50


@dataclass
class AuditReport:
    """What the audit saw: messages per channel, and everything wrong."""

    channels: Counter[str] = field(default_factory=Counter)
    infrastructure: int = 0
    caught_on_purpose: int = 0  # deliberately malformed messages that failed the check
    violations: list[str] = field(default_factory=list)
    missed: int = 0  # slow-consumer drops: messages never checked

    @property
    def checked(self) -> int:
        return sum(self.channels.values())

    def summary(self) -> str:
        per_channel = ", ".join(f"{name} {n}" for name, n in sorted(self.channels.items()))
        return (
            f"bus audit: {self.checked} messages checked against proto/asyncapi.yaml"
            f" ({per_channel}); {self.infrastructure} on NATS's own subjects;"
            f" {self.caught_on_purpose} deliberately malformed caught;"
            f" {len(self.violations)} violations; {self.missed} missed"
        )

    def problems(self) -> list[str]:
        found = list(self.violations[:_MAX_VIOLATIONS_KEPT])
        if self.missed:
            found.append(f"the audit fell behind and missed {self.missed} messages")
        return found


class BusAudit:
    """Start it once the platform's NATS is up; ``stop`` returns what it saw."""

    def __init__(self, nats_url: str, document: BusDocument | None = None) -> None:
        self._url = nats_url
        self._document = document or BusDocument.committed()
        self.report = AuditReport()
        self._lock = threading.Lock()
        self._ready = threading.Event()
        self._stopping: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread = threading.Thread(target=self._run, name="bus-audit", daemon=True)
        self._failure: BaseException | None = None

    def start(self) -> None:
        self._thread.start()
        if not self._ready.wait(_START_TIMEOUT_S) or self._failure is not None:
            raise RuntimeError(f"the bus audit did not start: {self._failure!r}")

    def stop(self) -> AuditReport:
        """Stop listening once every message already received is checked."""
        if self._loop is not None and self._stopping is not None:
            self._loop.call_soon_threadsafe(self._stopping.set)
        if self._thread.ident is not None:
            self._thread.join(_START_TIMEOUT_S)
        return self.report

    def _run(self) -> None:
        try:
            asyncio.run(self._listen())
        except BaseException as exc:  # reported to start() or at stop()
            self._failure = exc
            self._ready.set()

    async def _listen(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stopping = asyncio.Event()

        async def on_error(exc: Exception) -> None:
            if isinstance(exc, SlowConsumerError):
                with self._lock:
                    self.report.missed += 1

        client: Client = await nats.connect(
            self._url,
            name="bus-audit",
            max_reconnect_attempts=-1,
            reconnect_time_wait=0.2,
            error_cb=on_error,
        )
        try:
            await client.subscribe(
                ">",
                cb=self._check,
                pending_msgs_limit=1_000_000,
                pending_bytes_limit=2 << 30,
            )
            await client.flush()
            self._ready.set()
            await self._stopping.wait()
        finally:
            await client.drain()  # every message already received is checked first

    async def _check(self, msg: Msg) -> None:
        verdict = self._document.check(msg.subject, msg.headers, msg.data)
        marked = bool(msg.headers and msg.headers.get(EXPECT_INVALID_HEADER) == "invalid")
        with self._lock:
            report = self.report
            if verdict.infrastructure:
                report.infrastructure += 1
                return
            report.channels[verdict.channel or "(undocumented)"] += 1
            if marked and verdict.ok:
                report.violations.append(f"{msg.subject}: marked malformed, but it passed")
            elif marked:
                report.caught_on_purpose += 1
            elif not verdict.ok:
                report.violations.append(f"{msg.subject}: {verdict.problem}")
