"""A Server-Sent Events stream read as the WHATWG HTML standard says ("Interpreting an event
stream"): lines end in CRLF, LF or CR; ``event``, ``data``, ``id`` and ``retry`` fields; lines
that start with a colon are comments; a blank line dispatches the event.

Bytes go in as they arrive, split anywhere (even inside a character or between CR and LF);
whole events come out.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass
from typing import Final

__all__ = ["SseEvent", "SseParser"]

_LINE_END: Final = re.compile(r"\r\n|\r|\n")
# One event's text at most: a stream that never ends its line or its event is refused
# instead of growing without bound.
MAX_EVENT_CHARS: Final = 1 << 20


@dataclass(frozen=True)
class SseEvent:
    type: str  # "message" when the stream named none
    data: str
    id: str | None  # this event's own ``id`` field, if it had one
    last_event_id: str  # what ``Last-Event-ID`` would say after it (ids carry over events)


class SseParser:
    """Turns the bytes of an event stream into its events."""

    def __init__(self, max_event_chars: int = MAX_EVENT_CHARS) -> None:
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._max = max_event_chars
        self._pending = ""  # the start of a line whose end has not come
        self._after_cr = False  # the last line ended in CR: an LF that follows is its CRLF
        self._started = False
        self._type = ""
        self._data: list[str] = []
        self._size = 0
        self._id: str | None = None
        self.last_event_id = ""
        self.retry_ms: int | None = None  # the stream's reconnection time, if it set one
        self.comments = 0  # comment lines seen (keep-alives)

    def feed(self, chunk: bytes) -> list[SseEvent]:
        """The events that ``chunk`` completes."""
        text = self._decoder.decode(chunk)
        if not text:
            return []
        if not self._started:
            self._started = True
            text = text.removeprefix("\ufeff")
        if self._after_cr and text.startswith("\n"):
            text = text[1:]
        self._after_cr = text.endswith("\r")
        lines = _LINE_END.split(self._pending + text)
        self._pending = lines.pop()
        if len(self._pending) > self._max:
            raise ValueError(f"an event stream line longer than {self._max} characters")
        events = []
        for line in lines:
            event = self._line(line)
            if event is not None:
                events.append(event)
        return events

    def _line(self, line: str) -> SseEvent | None:
        if not line:
            return self._dispatch()
        if line.startswith(":"):
            self.comments += 1
            return None
        name, colon, value = line.partition(":")
        if colon and value.startswith(" "):
            value = value[1:]
        if name == "event":
            self._type = value
        elif name == "data":
            self._size += len(value) + 1
            if self._size > self._max:
                raise ValueError(f"an event of more than {self._max} characters")
            self._data.append(value)
        elif name == "id":
            if "\x00" not in value:
                self._id = self.last_event_id = value
        elif name == "retry" and value.isascii() and value.isdigit():
            self.retry_ms = int(value)
        return None

    def _dispatch(self) -> SseEvent | None:
        data, kind, own_id = self._data, self._type, self._id
        self._data, self._type, self._id, self._size = [], "", None, 0
        if not data:
            return None  # an event with no data line is dropped; its id has been kept
        return SseEvent(kind or "message", "\n".join(data), own_id, self.last_event_id)
