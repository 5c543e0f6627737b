"""The ``data`` of each Server-Sent Event in a byte stream, as bytes.

Hand-written rather than ``httpx-sse`` because it sits on the hottest path in the process: at
500 concurrent fusions the library's text decoding, per-line decoder objects and
``ServerSentEvent`` instances cost ~0.35 ms per streamed call, which is a noticeable share of one
core in the panel burst (``bench/bench_fusion.py``; see ``bench/README.md``). Working on bytes,
a call pays one ``split`` per network read and hands each payload straight to pydantic's JSON
parser without decoding it first.

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

__all__ = ["sse_data"]


async def sse_data(chunks: AsyncIterable[bytes]) -> AsyncGenerator[bytes, None]:
    """Yield the joined ``data`` of each event in ``chunks`` (events without data are skipped)."""
    pending = b""
    data: list[bytes] = []
    async for chunk in chunks:
        if not chunk:
            continue
        if pending:
            chunk = pending + chunk
        if b"\r" in chunk:
            if chunk.endswith(b"\r"):  # may be the first half of \r\n: decide with the next read
                pending, chunk = b"\r", chunk[:-1]
            else:
                pending = b""
            chunk = chunk.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
            lines = chunk.split(b"\n")
            pending = lines.pop() + pending
        else:
            lines = chunk.split(b"\n")
            pending = lines.pop()
        for line in lines:
            if not line:
                if data:
                    yield b"\n".join(data)
                    data = []
            elif line.startswith(b"data:"):
                value = line[5:]
                data.append(value[1:] if value.startswith(b" ") else value)
            elif line == b"data":
                data.append(b"")
    last = pending.rstrip(b"\r")
    if last.startswith(b"data:"):
        value = last[5:]
        data.append(value[1:] if value.startswith(b" ") else value)
    if data:
        yield b"\n".join(data)
