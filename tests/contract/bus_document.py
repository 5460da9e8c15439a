"""Checking a message seen on the bus against the committed AsyncAPI document.

Only the document is consulted, never the code's types: what it finds wrong is a difference
between what flows and what the contract says. The end-to-end tests run every message of
their run through it (``tests/e2e/bus_audit.py``); the contract tests check it on known good
and bad messages first.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, Final

import msgpack
import yaml
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

__all__ = ["EXPECT_INVALID_HEADER", "BusDocument", "Verdict", "subject_matches"]

DOCUMENT: Final = Path(__file__).resolve().parents[2] / "proto" / "asyncapi.yaml"
_URI: Final = "urn:shotgraph:asyncapi"
# A test that publishes a deliberately bad message marks it with this header; such a message
# must fail the check (so the audit shows it catches what it should) and is not a violation.
EXPECT_INVALID_HEADER: Final = "Shotgraph-Test-Expect"
# JetStream KV writes a delete or purge marker with no value.
_KV_OPERATION: Final = "KV-Operation"
_NATS: Final = {"$ref": "#/servers/nats"}


def subject_matches(pattern: str, subject: str) -> bool:
    """NATS wildcard matching: ``*`` is one token, a final ``>`` one or more."""
    want, have = pattern.split("."), subject.split(".")
    for index, token in enumerate(want):
        if token == ">":
            return len(have) > index
        if index >= len(have) or (token != "*" and token != have[index]):
            return False
    return len(want) == len(have)


@dataclass(frozen=True)
class Verdict:
    """What the document says of one message."""

    channel: str  # the channel id, "" for infrastructure or an undocumented subject
    problem: str = ""  # empty when the message is as documented
    infrastructure: bool = False

    @property
    def ok(self) -> bool:
        return not self.problem


@dataclass(frozen=True)
class _Channel:
    id: str
    address: re.Pattern[str]
    parameters: int
    # Component key and message, by wire name (the envelope's ``type``, or a raw message's name)
    messages: Mapping[str, tuple[str, dict[str, Any]]]


class BusDocument:
    """The committed AsyncAPI document, ready to check messages against."""

    def __init__(self, document: Mapping[str, Any]) -> None:
        self.document = document
        self._registry: Registry[Any] = Registry().with_resource(
            _URI, Resource.from_contents(dict(document), default_specification=DRAFT202012)
        )
        self._validators: dict[str, Draft202012Validator] = {}

    @classmethod
    def committed(cls) -> BusDocument:
        return cls(yaml.safe_load(DOCUMENT.read_text()))

    @cached_property
    def channels(self) -> list[_Channel]:
        """Most specific first: a subject of a platform function matches its own channel."""
        messages = self.document["components"]["messages"]
        found = []
        for channel_id, channel in self.document["channels"].items():
            if _NATS not in channel.get("servers", [_NATS]):
                continue  # the live connection's: an HTTP path, no subject
            parameters = channel.get("parameters", {})
            pattern = re.escape(channel["address"])
            for name, parameter in parameters.items():
                token = parameter["x-pattern"].removeprefix("^").removesuffix("$")
                pattern = pattern.replace(re.escape(f"{{{name}}}"), f"(?:{token})")
            named = {}
            for ref in channel["messages"].values():
                key = ref["$ref"].rsplit("/", 1)[-1]
                named[messages[key]["name"]] = (key, messages[key])
            found.append(_Channel(channel_id, re.compile(pattern), len(parameters), named))
        return sorted(found, key=lambda channel: channel.parameters)

    def check(self, subject: str, headers: Mapping[str, str] | None, data: bytes) -> Verdict:
        """Whether ``data`` on ``subject`` is a message the document describes there."""
        headers = headers or {}
        for channel in self.channels:
            if channel.address.fullmatch(subject):
                if headers.get(_KV_OPERATION) in ("DEL", "PURGE"):
                    return Verdict(channel.id)
                return Verdict(channel.id, self._problem(channel, data))
        for pattern in self.document.get("x-infrastructure", {}):
            if subject_matches(pattern, subject):
                return Verdict("", infrastructure=True)
        return Verdict("", f"no channel of the document carries {subject!r}")

    def _problem(self, channel: _Channel, data: bytes) -> str:
        (content_type,) = {m.get("contentType", "") for _, m in channel.messages.values()}
        try:
            value = _decoded(content_type, data)
        except ValueError as exc:
            return f"{channel.id}: not {content_type}: {exc}"
        if content_type == "application/msgpack":
            kind = value.get("type") if isinstance(value, dict) else None
            found = channel.messages.get(kind) if isinstance(kind, str) else None
            if found is None:
                return f"{channel.id}: carries no message of type {kind!r}"
        else:
            (found,) = channel.messages.values()
        key, message = found
        error = next(iter(self._validator(key).iter_errors(value)), None)
        if error is None:
            return ""
        where = "/".join(str(step) for step in error.absolute_path) or "(root)"
        return f"{channel.id}: {message['name']} at {where}: {error.message[:300]}"

    def _validator(self, key: str) -> Draft202012Validator:
        """The message's payload schema; its references resolve within the whole document."""
        if key not in self._validators:
            self._validators[key] = Draft202012Validator(
                {"$ref": f"{_URI}#/components/messages/{key}/payload"}, registry=self._registry
            )
        return self._validators[key]


def _decoded(content_type: str, data: bytes) -> Any:
    if content_type == "application/msgpack":
        try:
            return msgpack.unpackb(data, raw=False, strict_map_key=True)
        except Exception as exc:  # msgpack raises several unrelated types for garbage
            raise ValueError(str(exc)) from exc
    if content_type == "application/json":
        return json.loads(data)
    return data.decode()
