"""Topics a connection may subscribe to, and who may read each.

``canvas:<id>``, ``batch:<id>`` and ``render:<id>`` (ids are UUIDs). Whether a user may read
one is asked of the service that owns it; a topic that does not exist and one the user may not
read get the same answer, so a refusal tells nothing about what exists. A topic's events travel
under a hub key: a canvas's its own, a render's its batch's.
"""

from __future__ import annotations

import enum
import re
import uuid
from dataclasses import dataclass
from typing import Protocol

from libs.downstream import Downstream
from libs.errors import Forbidden, InvalidArgument, NotFound
from libs.live.protocol import MAX_TOPICS
from shotgraph.batch.v1 import batch_pb2, batch_pb2_grpc
from shotgraph.canvas.v1 import canvas_pb2, canvas_pb2_grpc
from shotgraph.render.v1 import render_pb2, render_pb2_grpc

__all__ = [
    "Access",
    "GrpcAccess",
    "InvalidTopic",
    "Topic",
    "TopicKind",
    "parse_topic",
    "parse_topics",
]

_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


class TopicKind(enum.Enum):
    CANVAS = "canvas"
    BATCH = "batch"
    RENDER = "render"


class InvalidTopic(ValueError):
    """A topic name that names no topic (its text says why)."""


@dataclass(frozen=True, slots=True)
class Topic:
    """A topic as a client named it (``name``), and what it names."""

    name: str
    kind: TopicKind
    id: str  # lower-case UUID, as subjects and the owning services spell it

    @property
    def canvas_key(self) -> str:
        """The hub key of a canvas topic, known without asking anyone."""
        return f"canvas:{self.id}"


def parse_topic(name: str) -> Topic:
    """The topic ``name`` names; InvalidTopic when it names none."""
    kind, sep, ident = name.partition(":")
    try:
        parsed = TopicKind(kind)
    except ValueError:
        parsed = None
    if not sep or parsed is None:
        known = ", ".join(f"{k.value}:<id>" for k in TopicKind)
        raise InvalidTopic(f"a topic is one of {known}")
    if not _UUID.fullmatch(ident):
        raise InvalidTopic(f"a {kind} topic's id is a UUID")
    return Topic(name, parsed, str(uuid.UUID(ident)))


def parse_topics(raw: str) -> list[Topic]:
    """SSE's ``?topics=canvas:<id>,batch:<id>``; InvalidArgument (400) naming the bad one."""
    names = [name.strip() for name in raw.split(",") if name.strip()]
    if len(names) > MAX_TOPICS:
        raise InvalidArgument(f"at most {MAX_TOPICS} topics")
    topics: dict[str, Topic] = {}
    for name in names:
        try:
            topics[name] = parse_topic(name)
        except InvalidTopic as exc:
            raise InvalidArgument(f"topic {name[:100]!r}: {exc}") from exc
    return list(topics.values())


class Access(Protocol):
    """Who may read which topic."""

    async def key_of(self, user_id: str, topic: Topic) -> str | None:
        """The hub key carrying ``topic``'s events when ``user_id`` may read it; None when
        not, or when it does not exist. Unavailable when that cannot be told now."""


class GrpcAccess:
    """Access as the owning services answer it: canvas (its readers), batch and render (their
    owners)."""

    def __init__(
        self,
        canvas: Downstream[canvas_pb2_grpc.CanvasServiceStub],
        batch: Downstream[batch_pb2_grpc.BatchServiceStub],
        render: Downstream[render_pb2_grpc.RenderServiceStub],
    ) -> None:
        self._canvas = canvas
        self._batch = batch
        self._render = render

    async def key_of(self, user_id: str, topic: Topic) -> str | None:
        try:
            if topic.kind is TopicKind.CANVAS:
                await self._canvas.call(
                    self._canvas.stub.GetCanvas,
                    canvas_pb2.GetCanvasRequest(owner_id=user_id, canvas_id=topic.id),
                )
                return topic.canvas_key
            if topic.kind is TopicKind.BATCH:
                await self._batch.call(
                    self._batch.stub.GetBatch,
                    batch_pb2.GetBatchRequest(owner_id=user_id, batch_id=topic.id),
                )
                return f"batch:{topic.id}"
            render: render_pb2.Render = await self._render.call(
                self._render.stub.GetRender,
                render_pb2.GetRenderRequest(owner_id=user_id, render_id=topic.id),
            )
            return f"batch:{render.batch_id}" if render.batch_id else None
        except (NotFound, Forbidden):
            return None
        except InvalidArgument:  # an id its service does not take is no topic either
            return None
