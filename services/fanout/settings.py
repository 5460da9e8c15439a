"""What the fanout service reads beside what every service does: its peers and its limits.

The limits are the table of ``docs/live-events.md``; each is ``SHOTGRAPH_FANOUT_<NAME>``.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from libs.config import (
    LOCAL_ADDRESSES,
    RpcClientSettings,
    address,
    positive_float,
    positive_int,
    setting,
)

__all__ = ["FanoutSettings", "non_negative_int", "origins"]


def non_negative_int(raw: str) -> int:
    """A count or duration that may be zero (zero turns the thing off)."""
    value = int(raw)
    if value < 0:
        raise ValueError("must be zero or a positive integer")
    return value


def origins(raw: str) -> tuple[str, ...]:
    """Comma-separated web origins (``https://studio.example.com``), lower-cased."""
    parsed = []
    for item in filter(None, (part.strip() for part in raw.split(","))):
        parts = urlsplit(item)
        if parts.scheme not in ("http", "https") or not parts.netloc or parts.path not in ("", "/"):
            raise ValueError(f"{item!r} is not an origin such as https://studio.example.com")
        parsed.append(f"{parts.scheme}://{parts.netloc}".lower())
    return tuple(parsed)


class FanoutSettings(RpcClientSettings):
    """The fanout service's settings: who it asks about credentials and topics, and its limits."""

    service = "fanout"

    auth_addr: str = setting(default=LOCAL_ADDRESSES["auth"], parse=address)
    canvas_addr: str = setting(default=LOCAL_ADDRESSES["canvas"], parse=address)
    batch_addr: str = setting(default=LOCAL_ADDRESSES["batch"], parse=address)
    render_addr: str = setting(default=LOCAL_ADDRESSES["render"], parse=address)

    fanout_max_connections: int = setting(default=20_000, parse=positive_int)
    fanout_max_connections_per_user: int = setting(default=8, parse=positive_int)
    fanout_queue_bytes: int = setting(default=256 * 1024, parse=positive_int)
    fanout_window_ms: int = setting(default=50, parse=non_negative_int)
    fanout_heartbeat_s: float = setting(default=20.0, parse=positive_float)
    fanout_drain_jitter_ms: int = setting(default=5_000, parse=non_negative_int)
    # Origins whose pages may open a WebSocket with the session cookie, beside the fan-out's
    # own (cross-site WebSocket hijacking: a browser sends the cookie from any page).
    fanout_allowed_origins: tuple[str, ...] = setting(default=(), parse=origins)
    # How often each connection's credential and topics are checked again.
    fanout_recheck_s: float = setting(default=60.0, parse=positive_float)
    # How long a new WebSocket's live events wait for its first message, so that a ``resume``
    # is never overtaken by live events it would replay.
    fanout_first_message_wait_ms: int = setting(default=1_000, parse=non_negative_int)
