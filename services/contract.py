"""The bus contract as documents, made from the code: the AsyncAPI 3 document of every subject
and of the live connection (``proto/asyncapi.yaml``) and the JSON Schema of the user events
that the studio's TypeScript types are made from (``web/src/api/events.ts``).

``make contracts`` writes both; ``tests/contract/test_messages.py`` fails when a committed one
differs from what the code declares. The channels come from ``libs.bus.channels``; each of the
platform's own functions gets a work channel whose job input is that function's schema; the
live connection's channels come from ``services.live_contract``.
"""

from __future__ import annotations

import argparse
import inspect
import json
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, Final

import msgspec
import yaml

import libs.bus.messages
from libs.bus.channels import CHANNELS, INFRASTRUCTURE, MSGPACK, Channel
from libs.bus.events import CANVAS_EVENTS, USER_EVENTS
from libs.bus.messages import Message
from libs.bus.work import FunctionSpec, JobMessage
from services.image.generation import GENERATE
from services.image.jobs import FRAME, THUMBNAIL, TRANSFORM
from services.live_contract import live_document
from services.render.jobs import RENDER_SCAD

__all__ = [
    "ASYNCAPI_PATH",
    "FUNCTIONS",
    "asyncapi_document",
    "asyncapi_yaml",
    "user_events_schema",
]

ROOT: Final = Path(__file__).resolve().parent.parent
ASYNCAPI_PATH: Final = ROOT / "proto" / "asyncapi.yaml"
FUNCTIONS: Final[tuple[FunctionSpec, ...]] = (RENDER_SCAD, THUMBNAIL, TRANSFORM, FRAME, GENERATE)
_REF: Final = "#/components/schemas/{name}"
_HEADERS: Final = {
    "type": "object",
    "description": "NATS headers: the W3C trace context, and the deduplication id where set.",
    "properties": {
        "traceparent": {"type": "string"},
        "tracestate": {"type": "string"},
        "Nats-Msg-Id": {"type": "string"},
    },
}


def _summary(kind: type) -> str:
    return (inspect.getdoc(kind) or kind.__name__).split("\n\n")[0].replace("\n", " ")


def _envelope(kind: type[Message], payload: dict[str, Any]) -> dict[str, Any]:
    """The schema of ``kind`` in its envelope, as it travels."""
    return {
        "type": "object",
        "required": ["type", "id", "time", "payload"],
        "properties": {
            "type": {"const": kind.TYPE},
            "schema_version": {
                "type": "integer",
                "minimum": 1,
                "maximum": kind.VERSION,
                "default": 1,
                "description": "The payload's schema version; older ones read as this one.",
            },
            "id": {"type": "string", "minLength": 1, "maxLength": 200},
            "time": {"type": "number", "description": "When it was sent (Unix seconds)."},
            "payload": payload,
        },
    }


def _message(kind: type[Message], payload: dict[str, Any], title: str = "") -> dict[str, Any]:
    return {
        "name": kind.TYPE,
        "title": title or kind.__name__,
        "summary": _summary(kind),
        "contentType": MSGPACK,
        "headers": {"$ref": _REF.format(name="NatsHeaders")},
        "payload": _envelope(kind, payload),
        "x-schema-version": kind.VERSION,
    }


def _parameters(channel: Channel) -> dict[str, Any]:
    return {
        name: {"description": parameter.description, "x-pattern": parameter.pattern}
        for name, parameter in channel.parameters.items()
    }


_ON_NATS: Final = [{"$ref": "#/servers/nats"}]


def _channel(channel: Channel, messages: Iterable[str]) -> dict[str, Any]:
    body: dict[str, Any] = {"address": channel.address, "description": channel.description}
    body["servers"] = _ON_NATS
    if channel.parameters:
        body["parameters"] = _parameters(channel)
    body["messages"] = {name: {"$ref": f"#/components/messages/{name}"} for name in messages}
    if channel.stream:
        body["x-stream"] = channel.stream
    return body


def _raw_message(channel: Channel) -> tuple[str, dict[str, Any]]:
    """A channel whose payload is no envelope: the NATS server's JSON, a KV value."""
    payload = channel.payload
    if isinstance(payload, type):
        name, schema = payload.__name__, {"$ref": _REF.format(name=payload.__name__)}
        summary = _summary(payload)
    else:
        name, schema, summary = f"{channel.id}.value", dict(payload or {}), channel.description
    return name, {
        "name": name,
        "title": name,
        "summary": summary,
        "contentType": channel.content_type,
        "payload": schema,
    }


def _function_channel(spec: FunctionSpec) -> tuple[str, dict[str, Any], str, dict[str, Any]]:
    """A platform function's own work channel: a JobMessage whose input is its schema."""
    service, _, name = spec.name.partition(".")
    title = "".join(part.title() for part in (service, *name.split("."))) + "Job"
    input_ref = f"{spec.name}.input"
    payload = {
        "allOf": [
            {"$ref": _REF.format(name=JobMessage.__name__)},
            {
                "type": "object",
                "properties": {
                    "function": {"const": spec.name},
                    "input": {"$ref": _REF.format(name=input_ref)},
                },
            },
        ]
    }
    channel = {
        "address": spec.subject,
        "description": f"Jobs of ``{spec.name}``: {spec.description}",
        "servers": _ON_NATS,
        "messages": {title: {"$ref": f"#/components/messages/{title}"}},
        "x-stream": "WORK",
    }
    return title, _message(JobMessage, payload, title), input_ref, channel


def _operation(
    channel_id: str, party: str, action: str, messages: Sequence[str]
) -> tuple[str, dict[str, Any]]:
    verb = "Sent" if action == "send" else "Received"
    return f"{party}.{action}.{channel_id}", {
        "action": action,
        "channel": {"$ref": f"#/channels/{channel_id}"},
        "summary": f"{verb} by {party}: {', '.join(messages)}",
        "messages": [{"$ref": f"#/channels/{channel_id}/messages/{name}"} for name in messages],
        "x-party": party,
    }


def _operations(
    channel_id: str, channel: Channel, every: Sequence[str], sent: dict[str, list[str]]
) -> dict[str, Any]:
    """Who sends what on a channel, and who receives all of it."""
    operations = dict(
        _operation(channel_id, party, "send", sent.get(party, every)) for party in channel.senders
    )
    operations |= dict(
        _operation(channel_id, party, "receive", every) for party in channel.receivers
    )
    return operations


def asyncapi_document(
    channels: Sequence[Channel] = CHANNELS, functions: Sequence[FunctionSpec] = FUNCTIONS
) -> dict[str, Any]:
    """The AsyncAPI 3 document of ``channels``, with a work channel per function, and of the
    live connection."""
    types: list[type[msgspec.Struct]] = []
    for channel in channels:
        types.extend(channel.messages)
        if isinstance(channel.payload, type):
            types.append(channel.payload)
    _, schemas = msgspec.json.schema_components(types, ref_template=_REF)
    schemas["NatsHeaders"] = _HEADERS
    messages: dict[str, Any] = {}
    doc_channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    for channel in channels:
        names = []
        for kind in channel.messages:
            messages[kind.__name__] = _message(kind, {"$ref": _REF.format(name=kind.__name__)})
            names.append(kind.__name__)
        if channel.payload is not None:
            name, message = _raw_message(channel)
            messages[name] = message
            names.append(name)
        sent = {
            party: [kind.__name__ for kind in kinds]
            for party, kinds in channel.senders.items()
            if kinds
        }
        doc_channels[channel.id] = _channel(channel, names)
        operations |= _operations(channel.id, channel, names, sent)
    work = next(channel for channel in channels if channel.id == "work")
    for spec in functions:
        title, message, input_ref, body = _function_channel(spec)
        messages[title] = message
        schemas[input_ref] = spec.input_schema
        doc_channels[spec.subject] = body
        operations |= _operations(spec.subject, work, [title], {})
    live = live_document()
    for part, mine, theirs in (
        ("channel", doc_channels, live["channels"]),
        ("operation", operations, live["operations"]),
        ("message", messages, live["messages"]),
        ("schema", schemas, live["schemas"]),
    ):
        if clash := mine.keys() & theirs.keys():
            raise ValueError(f"a bus {part} and a live one share the names {sorted(clash)}")
        mine |= theirs
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "Shotgraph bus and live events",
            "version": "1.0.0",
            "description": (inspect.getdoc(libs.bus.messages) or "") + "\n\n" + live["description"],
        },
        "defaultContentType": MSGPACK,
        "servers": {
            "nats": {
                "host": "nats:4222",
                "protocol": "nats",
                "description": "NATS with JetStream (SHOTGRAPH_NATS_URL).",
            },
            **live["servers"],
        },
        "channels": doc_channels,
        "operations": operations,
        "components": {"messages": messages, "schemas": dict(sorted(schemas.items()))},
        "x-infrastructure": dict(INFRASTRUCTURE),
    }


class _Dumper(yaml.SafeDumper):
    """Block scalars for text of several lines, so the rules read as written; no anchors."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def _text(dumper: yaml.SafeDumper, text: str) -> yaml.Node:
    style = "|" if "\n" in text else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", text, style=style)


_Dumper.add_representer(str, _text)


def asyncapi_yaml(document: dict[str, Any] | None = None) -> str:
    """The document as committed: YAML in a stable order, with a header saying it is made."""
    body = yaml.dump(
        document or asyncapi_document(),
        Dumper=_Dumper,
        sort_keys=False,
        allow_unicode=True,
        width=100,
    )
    return "# Made by `make contracts` (services/contract.py) from libs/bus: do not edit.\n" + body


_TS_VALUES: Final = {"integer": "number", "number": "number", "string": "string"}


def _for_typescript(schema: Any) -> Any:
    """What json-schema-to-typescript cannot read from the schema, spelled out: a map keyed
    by an enum is a partial record of it; a free-form object maps strings to unknowns."""
    if isinstance(schema, list):
        return [_for_typescript(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    schema = {key: _for_typescript(value) for key, value in schema.items()}
    keys = schema.get("propertyNames", {}).get("$ref", "")
    if keys:
        values = _TS_VALUES.get(schema.get("additionalProperties", {}).get("type"), "unknown")
        schema["tsType"] = f"Partial<Record<{keys.rsplit('/', 1)[-1]}, {values}>>"
    elif schema.get("type") == "object" and "properties" not in schema:
        schema.setdefault("additionalProperties", True)
    return schema


def user_events_schema(
    events: Sequence[type[Message]] = (*USER_EVENTS, *CANVAS_EVENTS),
) -> dict[str, Any]:
    """One JSON Schema of the events a browser receives (the user's own and those of the
    canvases it views): each event's envelope fields beside its payload's, as fan-out relays
    them; the studio's TypeScript types are made from it."""
    _, schemas = msgspec.json.schema_components(events, ref_template="#/definitions/{name}")
    definitions: dict[str, Any] = _for_typescript(dict(sorted(schemas.items())))
    variants = []
    for kind in events:
        name = f"{kind.__name__}Event"
        definitions[name] = {
            "description": _summary(kind),
            "allOf": [
                {
                    "type": "object",
                    "required": ["type", "id", "time", "schema_version"],
                    "properties": {
                        "type": {"const": kind.TYPE},
                        "id": {"type": "string"},
                        "time": {"type": "number"},
                        "schema_version": {"type": "integer"},
                    },
                },
                {"$ref": f"#/definitions/{kind.__name__}"},
            ],
        }
        variants.append({"$ref": f"#/definitions/{name}"})
    return {
        "title": "UserEvent",
        "description": "An event on a user's live connection.",
        "oneOf": variants,
        "definitions": definitions,
    }


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m services.contract", description=__doc__)
    parser.add_argument(
        "what", choices=("asyncapi", "user-events-schema"), help="which document to print"
    )
    args = parser.parse_args(argv)
    if args.what == "asyncapi":
        sys.stdout.write(asyncapi_yaml())
    else:
        sys.stdout.write(json.dumps(user_events_schema(), indent=2) + "\n")


if __name__ == "__main__":
    main()
