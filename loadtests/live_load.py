"""Live connections held by load-generator processes, for ``bench_fanout``: thousands each.

Each generator is a spawned process with its own event loop and one ``aiohttp`` session. It
opens raw WebSockets (``shotgraph.v1.msgpack`` or ``.json``) and SSE streams, each with an API
key and one topic, and holds them: a connection counts as open once the server has said
``subscribed``. Every frame is read and tallied (frames, bytes, events by kind) and every event's
age is taken from its ``time`` (the publisher's clock is this machine's). The parent drives the
generators over pipes (``Generators``); each command is answered with a plain dict.

The full client (``libs.live.client``) resumes, backs off and keeps state per connection; here
a connection is a socket, a reader task and a few counters, so that one process holds thousands.
"""

from __future__ import annotations

import asyncio
import contextlib
import resource
import signal
import time
from array import array
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any, Final, Literal

import aiohttp
import msgspec

from libs.live.protocol import JSON_PROTOCOL, MSGPACK_PROTOCOL
from loadtests.common import child, spawn

__all__ = ["KINDS", "Generators", "Kind", "Spec", "kind_of", "raise_fd_limit"]

Kind = Literal["sse", "msgpack", "json"]
KINDS: Final[tuple[Kind, ...]] = ("sse", "msgpack", "json")
_PROTOCOL: Final = {"msgpack": MSGPACK_PROTOCOL, "json": JSON_PROTOCOL}
_SSE_PING: Final = b": ping\n\n"  # fan-out's keep-alive comment: not counted as traffic
_CLOSE_TIMEOUT_S: Final = 5.0
_REPLY_TIMEOUT_S: Final = 600.0
MAX_EVENT_BYTES: Final = 1 << 20


def kind_of(index: int) -> Kind:
    """The mix: half SSE, a quarter WebSocket with MessagePack, a quarter with JSON."""
    kinds: tuple[Kind, ...] = ("sse", "msgpack", "sse", "json")
    return kinds[index % 4]


@dataclass(frozen=True)
class Spec:
    """One connection to open: how, as whom (an API key), and the topic it subscribes to."""

    kind: Kind
    key: str
    topic: str


# --- what a generator reads: only the fields it counts -----------------------------------------


class _Event(msgspec.Struct):
    time: float = 0.0


class _Message(msgspec.Struct):
    type: str
    seq: int = 0
    event: _Event | None = None
    reason: str = ""


_FRAME_DECODERS: Final[dict[Kind, Any]] = {
    "msgpack": msgspec.msgpack.Decoder(list[_Message]),
    "json": msgspec.json.Decoder(list[_Message]),
}
_SSE_DECODER: Final = msgspec.json.Decoder(_Message)
_SUBSCRIBE: Final[dict[Kind, Any]] = {
    "msgpack": msgspec.msgpack.encode,
    "json": msgspec.json.encode,
}


class _SseEvents:
    """The ``data`` of each whole event in a stream as fan-out writes it: lines end in LF, and
    each event's data is one line. Far cheaper than a full parser (``libs.live.sse``), which
    would make the generator, not the server, what is measured."""

    __slots__ = ("_rest",)

    def __init__(self) -> None:
        self._rest = b""

    def feed(self, chunk: bytes) -> list[bytes]:
        *whole, self._rest = (self._rest + chunk).split(b"\n\n")
        if len(self._rest) > MAX_EVENT_BYTES:
            raise ValueError("an event stream event that never ends")
        found = []
        for event in whole:
            at = event.find(b"data: ")
            if at == 0 or (at > 0 and event[at - 1] == 0x0A):
                found.append(event[at + 6 :].split(b"\n", 1)[0])
        return found


class _Refused(Exception):
    """The server said no (an HTTP status, ``refused``, or a close before ``subscribed``)."""


class _Held:
    """One open connection: its socket, the highest event sequence it got, its close."""

    __slots__ = ("closed", "kind", "ready", "response", "seq", "ws")

    def __init__(self, kind: Kind) -> None:
        self.kind = kind
        self.seq = 0
        self.closed: str | None = None  # how it ended, if it has
        self.ready: asyncio.Future[None] | None = None  # until ``subscribed``
        self.ws: aiohttp.ClientWebSocketResponse | None = None
        self.response: aiohttp.ClientResponse | None = None


class _Generator:
    """The connections of one process and their tallies."""

    def __init__(self, session: aiohttp.ClientSession) -> None:
        self._session = session
        self._held: list[_Held] = []
        self._readers: set[asyncio.Task[None]] = set()
        self._target = 0  # the sequence every open connection is waited on to reach
        self._short: set[_Held] = set()  # open connections below the target
        self._reached = asyncio.Event()
        self.reset()

    def reset(self) -> None:
        self.latencies = array("d")  # each delivery's age when read, and when that was
        self.arrivals = array("d")
        self.frames: Counter[str] = Counter()
        self.bytes: Counter[str] = Counter()
        self.events: Counter[str] = Counter()
        self.started = time.time()

    # --- opening ------------------------------------------------------------------------------

    async def open(
        self, base_url: str, specs: Sequence[Spec], concurrency: int, timeout_s: float
    ) -> dict[str, Any]:
        failures: Counter[str] = Counter()
        limit = asyncio.Semaphore(concurrency)
        started = time.perf_counter()

        async def one(spec: Spec) -> None:
            async with limit:
                held = _Held(spec.kind)
                try:
                    await asyncio.wait_for(self._open(base_url, spec, held), timeout_s)
                except _Refused as exc:
                    failures[str(exc)] += 1
                except (aiohttp.ClientError, OSError, TimeoutError) as exc:
                    failures[type(exc).__name__] += 1
                else:
                    self._held.append(held)
                    return
                await self._close(held)

        await asyncio.gather(*(one(spec) for spec in specs))
        return {
            "opened": len(specs) - failures.total(),
            "failures": dict(failures),
            "seconds": time.perf_counter() - started,
        }

    async def _open(self, base_url: str, spec: Spec, held: _Held) -> None:
        held.ready = asyncio.get_running_loop().create_future()
        headers = {"Authorization": f"Bearer {spec.key}"}
        if spec.kind == "sse":
            response = await self._session.get(
                f"{base_url}/v1/events",
                params={"topics": spec.topic},
                headers=headers | {"Accept": "text/event-stream"},
            )
            if response.status != 200:
                response.release()
                raise _Refused(f"HTTP {response.status}")
            held.response = response
            self._start(self._read_sse(held))
        else:
            try:
                ws = await self._session.ws_connect(
                    f"{base_url}/v1/ws",
                    protocols=(_PROTOCOL[spec.kind],),
                    headers=headers,
                    autoping=True,
                    heartbeat=None,
                )
            except aiohttp.WSServerHandshakeError as exc:
                raise _Refused(f"HTTP {exc.status}") from None
            held.ws = ws
            self._start(self._read_ws(held))
            subscribe = {"type": "subscribe", "topic": spec.topic}
            if spec.kind == "json":
                await ws.send_str(msgspec.json.encode(subscribe).decode())
            else:
                await ws.send_bytes(msgspec.msgpack.encode(subscribe))
        await held.ready
        held.ready = None

    def _start(self, reading: Any) -> None:
        task = asyncio.get_running_loop().create_task(reading)
        self._readers.add(task)
        task.add_done_callback(self._readers.discard)

    # --- reading ------------------------------------------------------------------------------

    async def _read_ws(self, held: _Held) -> None:
        ws = held.ws
        assert ws is not None
        decode = _FRAME_DECODERS[held.kind].decode
        how = "closed"
        try:
            while True:
                message = await ws.receive()
                if message.type not in (aiohttp.WSMsgType.BINARY, aiohttp.WSMsgType.TEXT):
                    break
                data = message.data
                self._frame(held, time.time(), len(data), decode(data))
            how = f"websocket {ws.close_code}"
        except Exception as exc:  # a reader that fails is a dropped connection, tallied
            how = type(exc).__name__
        finally:
            self._ended(held, how)

    async def _read_sse(self, held: _Held) -> None:
        response = held.response
        assert response is not None
        events = _SseEvents()
        how = "sse ended"
        try:
            async for chunk in response.content.iter_any():
                now = time.time()
                data = events.feed(chunk)
                if chunk == _SSE_PING:
                    continue
                self._frame(held, now, len(chunk), [_SSE_DECODER.decode(d) for d in data])
        except Exception as exc:
            how = type(exc).__name__
        finally:
            self._ended(held, how)

    def _frame(self, held: _Held, now: float, size: int, messages: list[_Message]) -> None:
        kind = held.kind
        self.frames[kind] += 1
        self.bytes[kind] += size
        for message in messages:
            if message.type == "event":
                self.events[kind] += 1
                if message.event is not None:
                    self.latencies.append(now - message.event.time)
                    self.arrivals.append(now)
                if message.seq > held.seq:
                    held.seq = message.seq
                    if held.seq >= self._target and held in self._short:
                        self._short.discard(held)
                        if not self._short:
                            self._reached.set()
            elif held.ready is not None and not held.ready.done():
                if message.type == "subscribed":
                    held.ready.set_result(None)
                elif message.type == "refused":
                    held.ready.set_exception(_Refused(f"refused: {message.reason}"))

    def _ended(self, held: _Held, how: str) -> None:
        held.closed = how
        if held.ready is not None and not held.ready.done():
            held.ready.set_exception(_Refused(f"{how} before subscribed"))
        if held in self._short:
            self._short.discard(held)
            if not self._short:
                self._reached.set()

    # --- waiting, tallying, closing -----------------------------------------------------------

    async def reach(self, seq: int, timeout_s: float) -> dict[str, Any]:
        """Until every open connection has an event at or after ``seq`` (or the time is up)."""
        started = time.perf_counter()
        self._target = seq
        self._short = {h for h in self._held if h.closed is None and h.seq < seq}
        self._reached.clear()
        if self._short:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._reached.wait(), timeout_s)
        self._short = set()
        ended = Counter(h.closed for h in self._held if h.closed is not None)
        return {
            "received": sum(1 for h in self._held if h.closed is None and h.seq >= seq),
            "missing": sum(1 for h in self._held if h.closed is None and h.seq < seq),
            "dropped": dict(ended),
            "seconds": time.perf_counter() - started,
        }

    def tally(self) -> dict[str, Any]:
        return {
            "latencies": self.latencies.tobytes(),
            "arrivals": self.arrivals.tobytes(),
            "frames": dict(self.frames),
            "bytes": dict(self.bytes),
            "events": dict(self.events),
            "connections": dict(Counter(h.kind for h in self._held if h.closed is None)),
            "seconds": time.time() - self.started,
        }

    async def close_all(self) -> dict[str, Any]:
        held, self._held = self._held, []
        await asyncio.gather(*(self._close(h) for h in held))
        readers = tuple(self._readers)
        for task in readers:
            task.cancel()
        await asyncio.gather(*readers, return_exceptions=True)
        return {"closed": len(held)}

    async def _close(self, held: _Held) -> None:
        if held.ready is not None and not held.ready.done():
            held.ready.cancel()  # given up on: nobody waits for its outcome any more
        if held.ws is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(held.ws.close(), _CLOSE_TIMEOUT_S)
        if held.response is not None:
            held.response.close()


# --- the process ------------------------------------------------------------------------------


def raise_fd_limit() -> None:
    """Each connection is a file descriptor: take all the hard limit allows."""
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def _serve(commands: Connection) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent stops us, also on Ctrl-C
    raise_fd_limit()
    asyncio.run(_obey(commands))


async def _obey(commands: Connection) -> None:
    loop = asyncio.get_running_loop()
    connector = aiohttp.TCPConnector(limit=0, force_close=True)
    timeout = aiohttp.ClientTimeout(total=None, sock_connect=30)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        generator = _Generator(session)
        while True:
            try:
                command, args = await loop.run_in_executor(None, commands.recv)
            except EOFError:
                return  # the parent is gone
            if command == "open":
                reply = await generator.open(*args)
            elif command == "reach":
                reply = await generator.reach(*args)
            elif command == "reset":
                generator.reset()
                reply = {}
            elif command == "tally":
                reply = generator.tally()
            elif command == "close":
                reply = await generator.close_all()
            else:
                await generator.close_all()
                commands.send({})
                return
            commands.send(reply)


class Generators:
    """``count`` generator processes, driven together: each command goes to all of them and
    returns their answers. Use as a context manager: the processes end with the block."""

    def __init__(self, count: int) -> None:
        self.count = count
        self._pipes: list[Connection] = []
        self._stack = contextlib.ExitStack()
        self.pids: list[int] = []

    def __enter__(self) -> Generators:
        for _ in range(self.count):
            ours, theirs = spawn.Pipe()
            process = self._stack.enter_context(child(_serve, (theirs,)))
            theirs.close()
            self._pipes.append(ours)
            self.pids.append(process.pid)
        return self

    def __exit__(self, *exc: object) -> None:
        for pipe in self._pipes:
            with contextlib.suppress(OSError):
                pipe.send(("stop", ()))
        for pipe in self._pipes:
            with contextlib.suppress(OSError, EOFError):
                if pipe.poll(_CLOSE_TIMEOUT_S * 2):
                    pipe.recv()
        self._stack.close()

    def ask(self, command: str, per_generator: Sequence[tuple[Any, ...]]) -> list[dict[str, Any]]:
        """Send ``command`` with the i-th arguments to the i-th generator; their answers."""
        for pipe, args in zip(self._pipes, per_generator, strict=True):
            pipe.send((command, args))
        answers = []
        for pipe in self._pipes:
            if not pipe.poll(_REPLY_TIMEOUT_S):
                raise TimeoutError(f"a load generator did not answer {command!r}")
            try:
                answers.append(pipe.recv())
            except EOFError:
                raise RuntimeError(f"a load generator died during {command!r}") from None
        return answers

    def ask_all(self, command: str, *args: Any) -> list[dict[str, Any]]:
        """The same command and arguments to every generator."""
        return self.ask(command, [args] * self.count)

    def open(
        self, base_url: str, specs: Sequence[Spec], *, concurrency: int, timeout_s: float
    ) -> dict[str, Any]:
        """Open ``specs``, shared out among the generators; opened, failures by kind, time."""
        # In blocks, not round-robin: every generator gets the same mix of kinds (dealt
        # round-robin, four generators would each hold one kind, the SSE ones the busiest).
        size = len(specs)
        dealt = [
            specs[n * size // self.count : (n + 1) * size // self.count] for n in range(self.count)
        ]
        answers = self.ask("open", [(base_url, d, concurrency, timeout_s) for d in dealt])
        failures: Counter[str] = Counter()
        for answer in answers:
            failures.update(answer["failures"])
        return {
            "opened": sum(a["opened"] for a in answers),
            "failures": dict(failures),
            "seconds": max(a["seconds"] for a in answers),
        }

    def reach(self, seq: int, timeout_s: float) -> dict[str, Any]:
        """Until every open connection has had an event at or after ``seq``."""
        answers = self.ask_all("reach", seq, timeout_s)
        dropped: Counter[str] = Counter()
        for answer in answers:
            dropped.update(answer["dropped"])
        return {
            "received": sum(a["received"] for a in answers),
            "missing": sum(a["missing"] for a in answers),
            "dropped": dict(dropped),
            "seconds": max(a["seconds"] for a in answers),
        }

    def tally(self) -> dict[str, Any]:
        """Every generator's latencies (seconds) with their arrival times (Unix), and frames,
        bytes, events and connections by kind, since the last ``reset``."""
        answers = self.ask_all("tally")
        latencies, arrivals = array("d"), array("d")
        merged: dict[str, Counter[str]] = {
            name: Counter() for name in ("frames", "bytes", "events", "connections")
        }
        for answer in answers:
            latencies.frombytes(answer["latencies"])
            arrivals.frombytes(answer["arrivals"])
            for name, tallied in merged.items():
                tallied.update(answer[name])
        counts = {name: dict(c) for name, c in merged.items()}
        return {"latencies": latencies, "arrivals": arrivals} | counts

    def reset(self) -> None:
        self.ask_all("reset")

    def close(self) -> int:
        return sum(a["closed"] for a in self.ask_all("close"))
