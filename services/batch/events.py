"""What batch tells users: events on ``events.user.<owner_id>``, kept in the EVENTS stream."""

from __future__ import annotations

from typing import Any

from nats.js import JetStreamContext

from libs.bus import Envelope, publish

__all__ = ["publish_user_event", "user_subject"]


def user_subject(owner_id: str) -> str:
    return f"events.user.{owner_id}"


async def publish_user_event(
    js: JetStreamContext, owner_id: str, kind: str, payload: dict[str, Any], *, msg_id: str
) -> None:
    await publish(js, user_subject(owner_id), Envelope(kind, payload), msg_id=msg_id)
