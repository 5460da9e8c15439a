"""Which subject carries which message, who sends it and who reads it.

Parties are services by name, ``workers`` (every process serving functions: render, image,
and any other registered worker) and ``nats-server`` (JetStream itself).

This catalogue is the source of the AsyncAPI document committed as ``proto/asyncapi.yaml``
(``make contracts`` writes it; ``tests/contract/test_messages.py`` fails when the two
differ). A new subject or message is one entry here, its type in ``work``/``events``, and the
document made again.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

import msgspec

from libs.bus.advisories import MaxDeliveriesAdvisory
from libs.bus.events import (
    BatchCancelled,
    BatchCompleted,
    BatchProgress,
    BatchRetried,
    BatchSubmitted,
    CanvasChanged,
    CanvasExecution,
    CanvasNodes,
    CredentialRevoked,
)
from libs.bus.messages import Message
from libs.bus.work import FunctionSpec, JobMessage, JobReport

__all__ = ["CHANNELS", "INFRASTRUCTURE", "Channel", "Parameter"]

MSGPACK: Final = "application/msgpack"
JSON: Final = "application/json"
TEXT: Final = "text/plain"


@dataclass(frozen=True)
class Parameter:
    """A ``{name}`` in a channel's address: one subject token."""

    description: str
    pattern: str = "^[^.*> ]+$"


@dataclass(frozen=True)
class Channel:
    """One subject (or family of subjects) of the bus.

    ``senders`` maps each party that publishes here to the ``Message`` types it sends
    (enveloped, MessagePack). A channel whose payload is no envelope (the NATS server's JSON,
    a KV value) names its ``payload`` type or schema instead, and its senders send that.
    """

    id: str
    address: str
    description: str
    senders: Mapping[str, tuple[type[Message], ...]]
    receivers: tuple[str, ...]
    payload: type[msgspec.Struct] | dict[str, Any] | None = None
    content_type: str = MSGPACK
    parameters: dict[str, Parameter] = field(default_factory=dict)
    stream: str = ""  # the JetStream stream that keeps it, if any

    @property
    def messages(self) -> tuple[type[Message], ...]:
        """Every enveloped type on this channel, in the order the senders name them."""
        return tuple(dict.fromkeys(kind for kinds in self.senders.values() for kind in kinds))


_USER_ID = Parameter("The user the event is for (the auth service's user id).")
_BATCH_ID = Parameter("The batch the jobs belong to (a UUID).")
_CANVAS_ID = Parameter("The canvas (a UUID).")

CHANNELS: Final[tuple[Channel, ...]] = (
    Channel(
        id="work",
        address="work.{service}.{function}",
        description=(
            "Jobs waiting for a worker of their function (``<service>.<function>``), one worker"
            " each: work-queue retention, explicit acks, ``Nats-Msg-Id`` = ``<job id>:<dispatch"
            " number>``. The input fits the function's registered ``input_schema``; the"
            " platform's own functions have a channel each below, with that schema."
        ),
        senders={"batch": (JobMessage,)},
        receivers=("workers",),
        parameters={
            "service": Parameter("The service that serves the function."),
            "function": Parameter("The function's name within its service.", "^[^*> ]+$"),
        },
        stream="WORK",
    ),
    Channel(
        id="job.result",
        address="job.result.{batch_id}",
        description="Workers' reports on the jobs of one batch: running, succeeded, failed, ...",
        senders={"workers": (JobReport,)},
        receivers=("batch",),
        parameters={"batch_id": _BATCH_ID},
        stream="RESULTS",
    ),
    Channel(
        id="events.user",
        address="events.user.{user_id}",
        description=(
            "What one user's browsers are told, kept an hour for resuming (``Last-Event-ID`` is"
            " the stream sequence). Fan-out relays each event as written, as JSON: the"
            " envelope's ``type``, ``id``, ``time`` and ``schema_version`` beside the payload's"
            " fields. The user's feed is this subject and every one under it"
            " (``events.user.{user_id}.>``)."
        ),
        senders={"canvas": (CanvasExecution,)},
        # canvas: its durable consumer ``canvas-batch-events`` (``events.user.>``) sees these
        # too, and skips them.
        receivers=("fanout", "canvas"),
        parameters={"user_id": _USER_ID},
        stream="EVENTS",
    ),
    Channel(
        id="events.user.batch",
        address="events.user.{user_id}.batch.{batch_id}",
        description=(
            "What a batch's owner is told of it, on the owner's feed and kept an hour like the"
            " rest of it; its subject alone routes it to whoever follows the batch (fan-out's"
            " ``batch:<id>`` topic). Relayed as the user events are."
        ),
        senders={
            "batch": (BatchSubmitted, BatchProgress, BatchCompleted, BatchCancelled, BatchRetried),
        },
        # canvas: its durable consumer ``canvas-batch-events`` follows the batches of
        # executions (``services/canvas/tracking.py``).
        receivers=("fanout", "canvas"),
        parameters={"user_id": _USER_ID, "batch_id": _BATCH_ID},
        stream="EVENTS",
    ),
    Channel(
        id="events.canvas",
        address="events.canvas.{canvas_id}",
        description=(
            "What everyone viewing one canvas is told: node states during Execute. Kept an hour"
            " beside the user events, in the same stream, for resuming, and for fan-out to"
            " relay to the canvas's viewers once connections subscribe to canvas topics."
        ),
        senders={"canvas": (CanvasNodes,)},
        receivers=(),
        parameters={"canvas_id": _CANVAS_ID},
        stream="EVENTS",
    ),
    Channel(
        id="canvas.changed",
        address="canvas.changed.{canvas_id}",
        description=(
            "A canvas changed (or was deleted); every canvas replica drops cached copies older"
            " than its stamp, every gateway worker its kept answers older than it, and every"
            " fan-out worker asks again whether each viewer of the canvas may still read it"
            " (one who may not, the canvas unshared or deleted, is unsubscribed with"
            " access_lost). Core NATS (not kept): a replica that misses one still holds entries"
            " that expire, a gateway checks each kept answer against the canvas's stamp in"
            " Redis before serving it, and fan-out asks every viewer again periodically."
        ),
        senders={"canvas": (CanvasChanged,)},
        receivers=("canvas", "gateway", "fanout"),
        parameters={"canvas_id": _CANVAS_ID},
    ),
    Channel(
        id="auth.revoked",
        address="auth.revoked.{user_id}",
        description=(
            "One of a user's sessions or API keys stopped working; every gateway and fanout"
            " worker drops it from its identity cache and closes its open event streams. Core"
            " NATS (not kept): a worker that misses one holds the identity no longer than its"
            " cache's few seconds, and empties its cache when it reconnects."
        ),
        senders={"auth": (CredentialRevoked,)},
        receivers=("gateway", "fanout"),
        parameters={"user_id": _USER_ID},
    ),
    Channel(
        id="advisory.max_deliveries",
        address="$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.WORK.{consumer}",
        description=(
            "JetStream's word that a job message ran out of deliveries (its workers kept"
            " dying); kept in the DEADLETTERS stream so batch records the dead letter even if"
            " it was down at the time."
        ),
        senders={"nats-server": ()},
        receivers=("batch",),
        payload=MaxDeliveriesAdvisory,
        content_type=JSON,
        parameters={"consumer": Parameter("The durable consumer that gave up.")},
        stream="DEADLETTERS",
    ),
    Channel(
        id="functions",
        address="$KV.functions.{function}",
        description=(
            "The functions workers serve, by name (a KV bucket): batch refuses a job for any"
            " other and checks each job's input against the function's schema."
        ),
        senders={"workers": ()},
        receivers=("batch",),
        payload=FunctionSpec,
        content_type=JSON,
        parameters={"function": Parameter("``<service>.<function>``.", "^[^*> ]+$")},
    ),
    Channel(
        id="cancellations",
        address="$KV.cancellations.{batch_id}",
        description=(
            "Cancelled batches (a KV bucket): workers watch it and stop a cancelled batch's jobs"
            " between steps. The value only marks the key."
        ),
        senders={"batch": ()},
        receivers=("workers",),
        payload={"type": "string", "const": "1"},
        content_type=TEXT,
        parameters={"batch_id": _BATCH_ID},
    ),
)

# Subjects that carry NATS's own protocol or one service's private storage: no message of
# the platform's travels there.
INFRASTRUCTURE: Final[dict[str, str]] = {
    "$JS.API.>": "JetStream's API (stream, consumer, KV and object store management)",
    "$JS.ACK.>": "acknowledgements of JetStream deliveries",
    "$JS.FC.>": "JetStream flow control",
    "$JS.EVENT.>": "JetStream's advisories and metrics, other than the one consumed above",
    "$SYS.>": "the server's system account",
    "_INBOX.>": "replies to requests",
    "$O.blobs.>": "the blob store's chunks and metadata (a JetStream object store)",
    "$KV.render-cache.>": "render's cache of outputs (private to render)",
    "$KV.image-uploads.>": "image's upload index (private to image)",
    "$KV.image-uploaders.>": "who uploaded which blob (private to image)",
    "$KV.image-derived.>": "image's derived-image index (private to image)",
    "$KV.image-working.>": "image's working copies (private to image)",
    "$KV.presence.>": "who views which canvas (private to fanout, shared by its processes)",
}
