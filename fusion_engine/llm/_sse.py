"""The ``data`` of each Server-Sent Event in a byte stream, as bytes.

Hand-written rather than ``httpx-sse`` because it sits on the hottest path in the process: at
500 concurrent fusions the library's text decoding, per-line decoder objects and
``ServerSentEvent`` instances cost ~0.35 ms per streamed call, which is a noticeable share of one
core in the panel burst (``bench/bench_fusion.py``; see ``bench/README.md``). Working on bytes,
a call pays one ``split`` per network read and hands each payload straight to pydantic's JSON
parser without decoding it first. ``SSEDecoder`` is a plain object fed one read at a time
(``feed`` returns that read's payloads as a list), not a generator: the reader loop resumes one
generator fewer per read, which at one event per token is one per chunk.

Only what a chat-completions stream uses is kept, per the SSE spec
(https://html.spec.whatwg.org/multipage/server-sent-events.html#event-stream-interpretation):
lines end in ``\\r\\n``, ``\\n`` or ``\\r``; a blank line dispatches the event; a line starting
with ``:`` is a comment (OpenRouter's ``: OPENROUTER PROCESSING`` keep-alives); ``data`` lines
of one event are joined with ``\\n``; one space after the colon is dropped; other fields
(``event``, ``id``, ``retry``) are ignored. Unlike the spec, an event left without a closing
blank line when the stream ends is still delivered: a sloppy endpoint's last chunk carries the
usage, and the caller decides whether the stream was complete.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterable

__all__ = ["SSEDecoder", "sse_data"]


class SSEDecoder:
    """Splits a byte stream into the joined ``data`` of each event, one read at a time."""

    __slots__ = ("_data", "_pending")

    def __init__(self) -> None:
        self._pending = b""
        self._data: list[bytes] = []

    def feed(self, chunk: bytes) -> list[bytes]:
        """The payloads of the events that ``chunk`` completes (events without data are
        skipped); an incomplete line or event is kept for the next read."""
        if self._pending:
            chunk = self._pending + chunk
        if b"\r" in chunk:
            pending = b""
            if chunk.endswith(b"\r"):  # may be the first half of \r\n: decide with the next read
                pending, chunk = b"\r", chunk[:-1]
            chunk = chunk.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
            lines = chunk.split(b"\n")
            self._pending = lines.pop() + pending
        else:
            lines = chunk.split(b"\n")
            self._pending = lines.pop()
        out: list[bytes] = []
        data = self._data
        for line in lines:
            if not line:
                if data:
                    out.append(data[0] if len(data) == 1 else b"\n".join(data))
                    data.clear()
            elif line.startswith(b"data:"):
                data.append(line[6:] if line.startswith(b"data: ") else line[5:])
            elif line == b"data":
                data.append(b"")
        return out

    def close(self) -> list[bytes]:
        """The payload of an event left without its closing blank line, if any."""
        last = self._pending.rstrip(b"\r")
        self._pending = b""
        if last.startswith(b"data:"):
            self._data.append(last[6:] if last.startswith(b"data: ") else last[5:])
        if not self._data:
            return []
        out = b"\n".join(self._data)
        self._data.clear()
        return [out]


async def sse_data(chunks: AsyncIterable[bytes]) -> AsyncGenerator[bytes, None]:
    """Yield the joined ``data`` of each event in ``chunks`` (events without data are skipped)."""
    decoder = SSEDecoder()
    async for chunk in chunks:
        if chunk:
            for data in decoder.feed(chunk):
                yield data
    for data in decoder.close():
        yield data
