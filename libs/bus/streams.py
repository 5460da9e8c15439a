"""The JetStream streams of the platform, declared in one place and applied idempotently."""

from __future__ import annotations

from nats.js import JetStreamContext
from nats.js.api import DiscardPolicy, RetentionPolicy, StorageType, StreamConfig
from nats.js.errors import BadRequestError

from libs.bus.subjects import (
    ALL_CANVAS_EVENTS,
    ALL_RESULTS,
    ALL_USER_EVENTS,
    ALL_WORK,
    MAX_DELIVERIES_ADVISORIES,
)

__all__ = ["BLOB_BUCKET", "STREAMS", "ensure_streams"]

BLOB_BUCKET = "blobs"

STREAMS: tuple[StreamConfig, ...] = (
    # Work to be done: each message is removed once a worker acks it.
    StreamConfig(
        name="WORK",
        subjects=[ALL_WORK],
        retention=RetentionPolicy.WORK_QUEUE,
        storage=StorageType.FILE,
        duplicate_window=300.0,
        max_msg_size=1 << 20,
    ),
    # Worker results on their way back to the batch service.
    StreamConfig(
        name="RESULTS",
        subjects=[ALL_RESULTS],
        retention=RetentionPolicy.WORK_QUEUE,
        storage=StorageType.FILE,
        duplicate_window=300.0,
        max_msg_size=1 << 20,
    ),
    # JetStream's word that a job message ran out of deliveries (its worker kept dying):
    # captured durably so batch records the dead letter even if it was down at the time.
    StreamConfig(
        name="DEADLETTERS",
        subjects=[MAX_DELIVERIES_ADVISORIES],
        retention=RetentionPolicy.LIMITS,
        storage=StorageType.FILE,
        max_age=7 * 24 * 3600.0,
    ),
    # What users see; kept for an hour so a reconnecting browser resumes without gaps.
    StreamConfig(
        name="EVENTS",
        subjects=[ALL_USER_EVENTS, ALL_CANVAS_EVENTS],
        retention=RetentionPolicy.LIMITS,
        storage=StorageType.FILE,
        max_age=3600.0,
        max_bytes=1 << 30,
        discard=DiscardPolicy.OLD,
        max_msg_size=1 << 20,
    ),
)


async def ensure_streams(js: JetStreamContext) -> None:
    """Create each stream, or bring an existing one up to this declaration."""
    for config in STREAMS:
        try:
            await js.add_stream(config=config)
        except BadRequestError:
            # Exists with another configuration (an older release): update it in place.
            await js.update_stream(config=config)
    await js.create_object_store(BLOB_BUCKET)
