"""The live connection's part of the AsyncAPI document: ``/v1/ws`` and ``/v1/events``.

Made from ``libs.live.protocol`` as the bus's part is made from ``libs.bus``: one message per
protocol type (its schema from msgspec), the close codes, the limits and the reset.
``docs/live-events.md`` is the prose; ``tests/contract/test_live_protocol.py`` checks the three
agree.
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from typing import Any, Final

import msgspec

import libs.live.protocol
from libs.bus.streams import STREAMS
from libs.live.protocol import (
    CLIENT_MESSAGES,
    CLOSE_CODES,
    JSON_PROTOCOL,
    MAX_CLIENT_MESSAGE_BYTES,
    MAX_TOPICS,
    MSGPACK_PROTOCOL,
    SERVER_MESSAGES,
    SSE_MESSAGES,
    EventMessage,
)

__all__ = [
    "LIVE_SERVERS",
    "SETTINGS",
    "SSE_CHANNEL",
    "WS_CHANNEL",
    "live_document",
    "message_name",
]

WS_CHANNEL: Final = "live.ws"
SSE_CHANNEL: Final = "live.sse"
_PARTY: Final = "fanout"
_HOST: Final = "shotgraph.example.com"
LIVE_SERVERS: Final = {
    "live-ws": {
        "host": _HOST,
        "protocol": "wss",
        "description": (
            "The public edge: the gateway relays live connections to fan-out (an Ingress may"
            " route them to fan-out directly). Plain ws on a development stack."
        ),
    },
    "live-sse": {
        "host": _HOST,
        "protocol": "https",
        "description": "The public edge, as for the WebSocket. Plain http on a development stack.",
    },
}
# Fan-out's limits, set per deployment (docs/live-events.md, "Limits (settings)").
SETTINGS: Final[dict[str, tuple[int, str]]] = {
    "SHOTGRAPH_FANOUT_MAX_CONNECTIONS": (20000, "per process"),
    "SHOTGRAPH_FANOUT_MAX_CONNECTIONS_PER_USER": (
        8,
        "per process; the gateway's `event_streams` lease caps it across replicas",
    ),
    "SHOTGRAPH_FANOUT_QUEUE_BYTES": (262144, "unsent bytes per connection before `4008`"),
    "SHOTGRAPH_FANOUT_WINDOW_MS": (50, "the batching window; 0 sends each message at once"),
    "SHOTGRAPH_FANOUT_HEARTBEAT_S": (20, ""),
    "SHOTGRAPH_FANOUT_DRAIN_JITTER_MS": (5000, "the spread of `reconnect.after_ms` on SIGTERM"),
    "SHOTGRAPH_FANOUT_FIRST_MESSAGE_WAIT_MS": (
        1000,
        "how long a new WebSocket's live events wait for its first message (a `resume`)",
    ),
    "SHOTGRAPH_FANOUT_RECHECK_S": (
        60,
        "how often each connection's credential and topics are checked again",
    ),
}
_REF: Final = "#/components/schemas/{name}"
# The event inside an ``event`` message: fan-out passes it on as published, newer types and
# fields included, so only its envelope fields are promised.
_EVENT: Final = {
    "type": "object",
    "description": (
        "The event as published: the envelope's `type`, `id`, `time` and `schema_version`"
        " beside its payload's fields (the user and canvas events of the bus channels)."
    ),
    "required": ["type", "id", "time", "schema_version"],
    "properties": {
        "type": {"type": "string"},
        "id": {"type": "string"},
        "time": {"type": "number"},
        "schema_version": {"type": "integer"},
    },
}

_WS_DESCRIPTION: Final = f"""\
One connection per user carries the user's own events and the topics it follows
(`canvas:<id>`, `batch:<id>`, `render:<id>`). Subprotocol `{MSGPACK_PROTOCOL}` (binary frames,
MessagePack) or `{JSON_PROTOCOL}` (text frames, JSON); an upgrade that offers neither is
refused (400). Per-message compression is off.

A server frame is an array of server messages (`x-server-frame`): at most one frame per
connection per batching window, a message after a quiet window written at once. A client frame
is one client message (`x-client-frame`), at most {MAX_CLIENT_MESSAGE_BYTES} bytes. A
reconnecting client's first message is `resume`, naming the last `seq` it received: it gets
every event after it on its feed and topics, in order, each once, then `resumed`, then the live
flow; or `reset` when the stream's history no longer reaches back, after which it refetches
what it shows. The server pings every `heartbeat_s` and closes a connection whose pong does not
come; it closes with the codes of `x-close-codes`.

Before the upgrade, refusals are RFC 9457 problems: 400 (bad topics or subprotocol), 401 (no
or bad credential), 403 (a cookie from a foreign `Origin`), 429 and 503 with `Retry-After`.
The prose is docs/live-events.md."""

_SSE_DESCRIPTION: Final = """\
The same flow as Server-Sent Events, for where a WebSocket cannot go. Topics are chosen at
connect time (`?topics=`, comma separated); a reconnecting client names the last `seq` it
received in `Last-Event-ID` (or `?last_event_id=`). Each event is `id: <seq>`, `event: <the
event's type>`, `data: <the event message as JSON>`; every other message is an SSE event named
`shotgraph.<type>` without an `id` (`x-sse-events`). A comment line every 15 s keeps proxies
from closing an idle stream; a slow reader's stream ends, and it resumes. A bad `Last-Event-ID`
is a 400 problem; other refusals are as for the WebSocket."""


def message_name(kind: type[msgspec.Struct]) -> str:
    """A protocol message's ``type`` on the wire."""
    return str(kind.__struct_config__.tag)


def _summary(kind: type) -> str:
    # Only a class's own docstring: a Struct without one would inherit msgspec's.
    return " ".join((kind.__doc__ or kind.__name__).split("\n\n")[0].split())


def _request(query: dict[str, Any], headers: dict[str, Any]) -> dict[str, Any]:
    return {
        "query": {"type": "object", "properties": query},
        "headers": {"type": "object", "properties": headers},
    }


_TOKEN: Final = {
    "token": {
        "type": "string",
        "description": "A stream token from `POST /v1/events/tokens` (60 s, one connection).",
    }
}
_CREDENTIALS: Final = {
    "Authorization": {"type": "string", "description": "`Bearer <API key>`."},
    "X-API-Key": {"type": "string"},
    "Cookie": {"type": "string", "description": "The session cookie (browsers)."},
}


def _limits() -> dict[str, Any]:
    (events,) = (stream for stream in STREAMS if stream.name == "EVENTS")
    return {
        "max_client_message_bytes": MAX_CLIENT_MESSAGE_BYTES,
        "max_topics": MAX_TOPICS,
        "history_s": int(events.max_age or 0),
        "settings": {
            name: {"default": default, "description": text}
            for name, (default, text) in SETTINGS.items()
        },
    }


def _operation(channel: str, action: str, kinds: Sequence[type]) -> tuple[str, dict[str, Any]]:
    names = [kind.__name__ for kind in kinds]
    verb = "Sent" if action == "send" else "Received"
    return f"{_PARTY}.{action}.{channel}", {
        "action": action,
        "channel": {"$ref": f"#/channels/{channel}"},
        "summary": f"{verb} by {_PARTY}: {', '.join(names)}",
        "messages": [{"$ref": f"#/channels/{channel}/messages/{name}"} for name in names],
        "x-party": _PARTY,
    }


def live_document() -> dict[str, Any]:
    """The live part of the document: servers, channels, operations, messages and schemas,
    to be merged into the bus's."""
    kinds = (*SERVER_MESSAGES, *CLIENT_MESSAGES)
    _, schemas = msgspec.json.schema_components(kinds, ref_template=_REF)
    schemas[EventMessage.__name__]["properties"]["event"] = _EVENT
    schemas["LiveServerFrame"] = {
        "type": "array",
        "description": "One server frame: the messages of one batching window.",
        "items": {"oneOf": [{"$ref": _REF.format(name=k.__name__)} for k in SERVER_MESSAGES]},
    }
    schemas["LiveClientFrame"] = {
        "description": "One client frame: one message.",
        "oneOf": [{"$ref": _REF.format(name=k.__name__)} for k in CLIENT_MESSAGES],
    }
    messages = {
        kind.__name__: {
            "name": message_name(kind),
            "title": kind.__name__,
            "summary": _summary(kind),
            "payload": {"$ref": _REF.format(name=kind.__name__)},
            "x-direction": "server" if kind in SERVER_MESSAGES else "client",
        }
        for kind in kinds
    }
    ws = {
        "address": "/v1/ws",
        "description": _WS_DESCRIPTION,
        "servers": [{"$ref": "#/servers/live-ws"}],
        "messages": {k.__name__: {"$ref": f"#/components/messages/{k.__name__}"} for k in kinds},
        "bindings": {
            "ws": {
                "method": "GET",
                **_request(
                    _TOKEN,
                    {
                        "Sec-WebSocket-Protocol": {
                            "type": "string",
                            "enum": [MSGPACK_PROTOCOL, JSON_PROTOCOL],
                        },
                        "Origin": {
                            "type": "string",
                            "description": "Required allowed origin with a cookie.",
                        },
                        **_CREDENTIALS,
                    },
                ),
                "bindingVersion": "0.1.0",
            }
        },
        "x-server-frame": {"$ref": _REF.format(name="LiveServerFrame")},
        "x-client-frame": {"$ref": _REF.format(name="LiveClientFrame")},
        "x-close-codes": {
            str(int(code)): {"meaning": meaning, "client_should": should}
            for code, (meaning, should) in CLOSE_CODES.items()
        },
        "x-limits": _limits(),
    }
    sse = {
        "address": "/v1/events",
        "description": _SSE_DESCRIPTION,
        "servers": [{"$ref": "#/servers/live-sse"}],
        "messages": {
            k.__name__: {"$ref": f"#/components/messages/{k.__name__}"} for k in SSE_MESSAGES
        },
        "x-request": {
            "method": "GET",
            **_request(
                {
                    **_TOKEN,
                    "topics": {"type": "string", "description": "Comma-separated topics."},
                    "last_event_id": {"type": "string", "pattern": "^[0-9]+$"},
                },
                {
                    "Accept": {"const": "text/event-stream"},
                    "Last-Event-ID": {"type": "string", "pattern": "^[0-9]+$"},
                    **_CREDENTIALS,
                },
            ),
        },
        "x-sse-events": {
            message_name(k): "<the event's type>"
            if k is EventMessage
            else f"shotgraph.{message_name(k)}"
            for k in SSE_MESSAGES
        },
        "x-limits": _limits(),
    }
    operations = dict(
        (
            _operation(WS_CHANNEL, "send", SERVER_MESSAGES),
            _operation(WS_CHANNEL, "receive", CLIENT_MESSAGES),
            _operation(SSE_CHANNEL, "send", SSE_MESSAGES),
        )
    )
    return {
        "description": inspect.getdoc(libs.live.protocol) or "",
        "servers": LIVE_SERVERS,
        "channels": {WS_CHANNEL: ws, SSE_CHANNEL: sse},
        "operations": operations,
        "messages": messages,
        "schemas": schemas,
    }
