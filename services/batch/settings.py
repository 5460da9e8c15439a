"""What the batch service reads beside what every service does: how far it dispatches ahead."""

from __future__ import annotations

from libs.config import Settings, positive_int, setting

__all__ = ["BatchSettings"]


class BatchSettings(Settings):
    """The batch service's settings."""

    service = "batch"

    # Jobs of one function on its work subject at once; the rest wait in Postgres, most urgent
    # first, so a new urgent job never queues behind thousands already handed to JetStream.
    dispatch_window: int = setting(default=2000, parse=positive_int)
