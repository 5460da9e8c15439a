"""What the image service reads beside what every JetStream worker does: how large an image
may be before a pixel is decoded, and which generation backends it may call."""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from libs.config import MAX_UPLOAD_BYTES, WorkerSettings, positive_int, setting

__all__ = ["GenerationBackend", "ImageSettings", "parse_backends"]

_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")


@dataclass(frozen=True)
class GenerationBackend:
    """One generation server, with how long to wait for it and how soon to give up on it."""

    name: str
    url: str
    poll_interval_s: float = 0.5
    timeout_s: float = 600.0  # a whole generation
    request_timeout_s: float = 10.0  # one HTTP call
    breaker_threshold: int = 3  # consecutive outages that open the breaker
    breaker_ttl_s: float = 15.0  # how long it stays open


def parse_backends(raw: str) -> tuple[GenerationBackend, ...]:
    """Read ``name=url,name=url`` (empty: none); a malformed part raises ValueError naming it."""
    backends: dict[str, GenerationBackend] = {}
    for part in filter(None, (p.strip() for p in raw.split(","))):
        name, _, url = (s.strip() for s in part.partition("="))
        address = urlsplit(url)
        if (
            not _NAME.fullmatch(name)
            or address.scheme not in ("http", "https")
            or not address.netloc
        ):
            raise ValueError(f"generation backend {part!r} is not name=http(s)://host[:port]")
        if name in backends:
            raise ValueError(f"generation backend {name!r} is listed twice")
        backends[name] = GenerationBackend(name=name, url=url.rstrip("/"))
    return tuple(backends.values())


class ImageSettings(WorkerSettings):
    """The image service's settings."""

    service = "image"

    worker_concurrency: int = setting(default=4, parse=positive_int)  # jobs at once, per process
    max_upload_bytes: int = setting(default=MAX_UPLOAD_BYTES, parse=positive_int)
    # What an image may be before a pixel is decoded (imgproxy's careful defaults).
    image_max_pixels: int = setting(default=50_000_000, parse=positive_int)  # of one frame
    # Frames processed unless the animation is asked for.
    image_max_frames: int = setting(default=1, parse=positive_int)
    # More frames than this declared: refused outright.
    image_max_animation_frames: int = setting(default=100, parse=positive_int)
    # Progressive JPEGs decode whole.
    image_max_progressive_pixels: int = setting(default=20_000_000, parse=positive_int)
    # External generation services, "name=url,name=url" (ComfyUI-style queue APIs).
    generation_backends: tuple[GenerationBackend, ...] = setting(default=(), parse=parse_backends)
