"""The payloads that travel on the bus: one declared type each, registered by name.

Every payload type is a ``Message``: a frozen msgspec Struct with a ``TYPE`` (its name on the
wire, such as ``"batch.progress"``) and a ``VERSION``. msgspec checks a payload against its
type as it decodes it and gives each type its JSON Schema, from which the AsyncAPI document
(``proto/asyncapi.yaml``) and the studio's TypeScript types are made.

How a message may change, so that a rolling deploy loses nothing:

- A new field is optional (it has a default); readers ignore fields they do not know.
- A field is never removed, renamed or given another type, and an enum gains no value,
  while anything still reads it: such a change is a new message type.
- ``VERSION`` goes up by one with every change to a type, so a reader can tell a payload
  written by a newer release from its own.
- A reader that meets a newer version than its own reads the fields it knows. Where that
  fails, it does not drop the message: a consumer of work leaves it for a replica that knows
  the version (it is retried, not terminated), and fan-out passes events on unchanged to the
  browser, which ignores what it does not know.
- Payload fields are never called ``type``, ``id``, ``time`` or ``schema_version``: fan-out
  sends an event to the browser as the envelope's fields and the payload's side by side.
"""

from __future__ import annotations

from typing import Any, ClassVar, TypeVar

import msgspec

__all__ = ["ENVELOPE_FIELDS", "MESSAGE_TYPES", "Message", "MessageT"]

ENVELOPE_FIELDS = frozenset({"type", "schema_version", "id", "time"})
MESSAGE_TYPES: dict[str, type[Message]] = {}


class Message(msgspec.Struct, kw_only=True, frozen=True):
    """A payload of the bus: ``TYPE`` names it on the wire; ``VERSION`` counts its changes."""

    TYPE: ClassVar[str]
    VERSION: ClassVar[int] = 1

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "TYPE" not in cls.__dict__:
            return  # a shared base of several messages, not a message of its own
        if cls.TYPE in MESSAGE_TYPES:
            raise TypeError(f"message type {cls.TYPE!r} is declared twice")
        # The Struct's fields are not set up yet: read what its classes annotate.
        named = {name for klass in cls.__mro__ for name in vars(klass).get("__annotations__", {})}
        clashing = ENVELOPE_FIELDS & named
        if clashing:
            raise TypeError(f"{cls.__name__} has a field named like the envelope's: {clashing}")
        MESSAGE_TYPES[cls.TYPE] = cls


MessageT = TypeVar("MessageT", bound=Message)
