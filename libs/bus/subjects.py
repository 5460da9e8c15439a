"""Every subject name of the platform, built by one helper each.

A token taken from data (a user id, a batch id, a function name) must not carry NATS's
separators or wildcards: ``events.user.a.b`` or ``events.user.*`` would deliver one user's
events to the wrong subscribers. Each helper refuses such a token.
"""

from __future__ import annotations

import re
from typing import Final

__all__ = [
    "ALL_CANVAS_CHANGES",
    "ALL_CANVAS_EVENTS",
    "ALL_RESULTS",
    "ALL_REVOCATIONS",
    "ALL_USER_EVENTS",
    "ALL_WORK",
    "MAX_DELIVERIES_ADVISORIES",
    "auth_revoked_subject",
    "batch_events_subject",
    "canvas_changed_subject",
    "canvas_events_subject",
    "result_subject",
    "service_work",
    "user_batch_events_subject",
    "user_events_subject",
    "user_feed_subjects",
    "work_subject",
]

ALL_WORK: Final = "work.>"
ALL_RESULTS: Final = "job.result.>"
ALL_USER_EVENTS: Final = "events.user.>"
ALL_CANVAS_EVENTS: Final = "events.canvas.*"
ALL_CANVAS_CHANGES: Final = "canvas.changed.*"
ALL_REVOCATIONS: Final = "auth.revoked.*"
# JetStream's word that a message of the WORK stream ran out of deliveries.
MAX_DELIVERIES_ADVISORIES: Final = "$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.WORK.>"

# One token: no separator (.), no wildcard (* >), no whitespace or control character.
_TOKEN = re.compile(r"[^.*>\s\x00-\x1f\x7f]{1,200}")
# A function name is "<service>.<name>": two tokens.
_FUNCTION = re.compile(r"[a-z][a-z0-9_-]*\.[a-z][a-z0-9_.-]*")


def _token(value: str, what: str) -> str:
    if not _TOKEN.fullmatch(value):
        raise ValueError(f"{what} {value!r} cannot be a subject token")
    return value


def work_subject(function: str) -> str:
    """Where jobs of ``function`` (``<service>.<name>``) wait for a worker."""
    if not _FUNCTION.fullmatch(function) or function.endswith("."):
        raise ValueError(f"function {function!r} is not <service>.<name>")
    return f"work.{function}"


def service_work(service: str) -> str:
    """Every work subject of one service's functions: what its workers may consume."""
    return f"work.{_token(service, 'service')}.>"


def result_subject(batch_id: str) -> str:
    """Where workers report on the jobs of one batch."""
    return f"job.result.{_token(batch_id, 'batch id')}"


def user_events_subject(user_id: str) -> str:
    """What one user's browsers are told, kept in the EVENTS stream for resuming."""
    return f"events.user.{_token(user_id, 'user id')}"


def batch_events_subject(owner_id: str, batch_id: str) -> str:
    """What one batch's owner is told of it: on the owner's feed, and routable by subject alone
    to whoever follows the batch (fan-out's ``batch:<id>`` topic)."""
    owner = _token(owner_id, "owner id")
    return f"events.user.{owner}.batch.{_token(batch_id, 'batch id')}"


def user_batch_events_subject(user_id: str) -> str:
    """Every event of every batch of one user's: the filter for following them."""
    return f"events.user.{_token(user_id, 'user id')}.batch.*"


def user_feed_subjects(user_id: str) -> tuple[str, str]:
    """Every subject of one user's own feed: events for the user, and the events under it
    (``events.user.<id>.>``, such as its batches'). A wildcard of NATS cannot name both."""
    subject = user_events_subject(user_id)
    return subject, f"{subject}.>"


def canvas_events_subject(canvas_id: str) -> str:
    """What everyone viewing one canvas is told, kept in the EVENTS stream for resuming."""
    return f"events.canvas.{_token(canvas_id, 'canvas id')}"


def canvas_changed_subject(canvas_id: str) -> str:
    """That one canvas changed: cached copies older than the event are dropped."""
    return f"canvas.changed.{_token(canvas_id, 'canvas id')}"


def auth_revoked_subject(user_id: str) -> str:
    """That one of a user's sessions or keys stopped working: edge caches drop it at once."""
    return f"auth.revoked.{_token(user_id, 'user id')}"
