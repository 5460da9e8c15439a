"""Clients of the live endpoints as tests use them: every message read as it arrives, frames
kept (a WebSocket frame is a list of messages), and the way the connection ended."""

from __future__ import annotations

import asyncio
import json
import socket
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import msgpack
from aiohttp import ClientResponse, ClientWebSocketResponse, WSMsgType

from services.fanout.wire import Wire

TIMEOUT_S = 10.0

Message = dict[str, Any]


class _Reader:
    """Messages as they arrive, and when the connection ended."""

    def __init__(self) -> None:
        self.messages: asyncio.Queue[Message] = asyncio.Queue()
        self.ended = asyncio.Event()
        self.seen: list[Message] = []  # everything taken by next()

    async def next(self, timeout_s: float = TIMEOUT_S) -> Message:
        """The next message; fails the test when none comes."""
        getting = asyncio.ensure_future(self.messages.get())
        ending = asyncio.ensure_future(self.ended.wait())
        done, _ = await asyncio.wait(
            {getting, ending}, timeout=timeout_s, return_when=asyncio.FIRST_COMPLETED
        )
        ending.cancel()
        if getting in done:
            self.seen.append(getting.result())
            return self.seen[-1]
        getting.cancel()
        if not self.messages.empty():
            self.seen.append(self.messages.get_nowait())
            return self.seen[-1]
        raise AssertionError(
            "the connection ended" if self.ended.is_set() else f"no message in {timeout_s} s"
        )

    async def next_of(self, kind: str) -> Message:
        """The next message of type ``kind``; those before it are skipped."""
        while (message := await self.next())["type"] != kind:
            pass
        return message

    async def events_until(self, seq: int) -> list[Message]:
        """Every event up to the one with ``seq`` (other messages are skipped)."""
        events: list[Message] = []
        while not events or events[-1]["seq"] < seq:
            events.append(await self.next_of("event"))
        return events


@dataclass
class WsClient(_Reader):
    """One ``/v1/ws`` connection."""

    ws: ClientWebSocketResponse
    wire: Wire
    frames: list[list[Message]] = field(default_factory=list)

    def __post_init__(self) -> None:
        _Reader.__init__(self)
        self._reading = asyncio.create_task(self._read())

    async def _read(self) -> None:
        try:
            async for frame in self.ws:
                if frame.type is WSMsgType.TEXT:
                    messages = json.loads(frame.data)
                elif frame.type is WSMsgType.BINARY:
                    messages = msgpack.unpackb(frame.data)
                else:
                    break
                assert isinstance(messages, list), messages
                self.frames.append(messages)
                for message in messages:
                    self.messages.put_nowait(message)
        finally:
            self.ended.set()

    async def send(self, message: Message) -> None:
        if self.wire is Wire.JSON:
            await self.ws.send_str(json.dumps(message))
        else:
            await self.ws.send_bytes(msgpack.packb(message))

    async def closed(self, timeout_s: float = TIMEOUT_S) -> int | None:
        """The close code, once the server closed the connection."""
        await asyncio.wait_for(self.ended.wait(), timeout_s)
        await self._reading
        return self.ws.close_code

    def vanish(self) -> None:
        """Drop the connection as a client whose network went does: no closing handshake."""
        sock = self.ws.get_extra_info("socket")
        assert sock is not None
        sock.shutdown(socket.SHUT_RDWR)

    async def close(self) -> None:
        await self.ws.close()
        self._reading.cancel()
        await asyncio.gather(self._reading, return_exceptions=True)


@dataclass
class SseClient(_Reader):
    """One ``/v1/events`` stream: each SSE event as its data, with ``sse_id`` and
    ``sse_event`` beside."""

    response: ClientResponse

    def __post_init__(self) -> None:
        _Reader.__init__(self)
        self._reading = asyncio.create_task(self._read())

    async def _read(self) -> None:
        fields: dict[str, str] = {}
        try:
            async for raw in self.response.content:
                line = raw.decode().rstrip("\r\n")
                if line:
                    if not line.startswith(":"):  # ":" starts a comment (a ping)
                        name, _, value = line.partition(":")
                        fields[name] = value.removeprefix(" ")
                    continue
                if "data" in fields:
                    message = json.loads(fields["data"])
                    message["sse_event"] = fields.get("event")
                    message["sse_id"] = int(fields["id"]) if "id" in fields else None
                    self.messages.put_nowait(message)
                fields = {}
        except aiohttp.ClientPayloadError:
            pass  # the server dropped the stream
        finally:
            self.ended.set()

    async def closed(self, timeout_s: float = TIMEOUT_S) -> None:
        await asyncio.wait_for(self.ended.wait(), timeout_s)

    async def close(self) -> None:
        self.response.close()
        self._reading.cancel()
        await asyncio.gather(self._reading, return_exceptions=True)
