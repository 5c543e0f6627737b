"""``sse_data``: the hand-written SSE parser on the streaming hot path."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable

import pytest

from fusion_engine.llm._sse import sse_data


async def _chunks(parts: Iterable[bytes]) -> AsyncIterator[bytes]:
    for part in parts:
        yield part


async def parse(*parts: bytes) -> list[bytes]:
    return [data async for data in sse_data(_chunks(parts))]


OPENROUTER_STREAM = (
    b": OPENROUTER PROCESSING\n\n"
    b'data: {"choices":[{"delta":{"content":"Hel"}}]}\n\n'
    b": OPENROUTER PROCESSING\n\n"
    b'data: {"choices":[{"delta":{"content":"lo"}}]}\n\n'
    b'data: {"choices":[],"usage":{"cost":0.001}}\n\n'
    b"data: [DONE]\n\n"
)
EXPECTED = [
    b'{"choices":[{"delta":{"content":"Hel"}}]}',
    b'{"choices":[{"delta":{"content":"lo"}}]}',
    b'{"choices":[],"usage":{"cost":0.001}}',
    b"[DONE]",
]


async def test_a_whole_stream_yields_each_data_payload_and_skips_comments() -> None:
    assert await parse(OPENROUTER_STREAM) == EXPECTED


@pytest.mark.parametrize("newline", [b"\n", b"\r\n", b"\r"])
async def test_every_split_point_gives_the_same_events(newline: bytes) -> None:
    stream = OPENROUTER_STREAM.replace(b"\n", newline)
    for cut in range(len(stream) + 1):
        assert await parse(stream[:cut], stream[cut:]) == EXPECTED, (newline, cut)


async def test_byte_at_a_time_with_crlf_split_between_reads() -> None:
    stream = OPENROUTER_STREAM.replace(b"\n", b"\r\n")
    assert await parse(*(stream[i : i + 1] for i in range(len(stream)))) == EXPECTED


async def test_a_lone_cr_then_lf_in_the_next_read_is_one_line_end() -> None:
    # "\r" ends a read; if the next read starts with "\n" they are one line ending, so the
    # event is dispatched once by the following blank line, not twice.
    assert await parse(b"data: a\r", b"\ndata: b\r", b"\n\r\n") == [b"a\nb"]


async def test_multi_line_data_is_joined_with_newlines() -> None:
    assert await parse(b"data: one\ndata:two\ndata\ndata:  three\n\n") == [b"one\ntwo\n\n three"]


async def test_other_fields_and_events_without_data_are_ignored() -> None:
    stream = b"event: ping\nid: 7\nretry: 10\n\nevent: message\ndata: x\n\n"
    assert await parse(stream) == [b"x"]


async def test_empty_reads_are_ignored() -> None:
    assert await parse(b"", b"data: x", b"", b"\n\n", b"") == [b"x"]


async def test_an_unterminated_last_event_is_still_delivered() -> None:
    assert await parse(b"data: a\n\ndata: last") == [b"a", b"last"]
    assert await parse(b"data: a\n\ndata: b\ndata: last\r") == [b"a", b"b\nlast"]
    assert await parse(b"data: a\n\ndata: b\n") == [b"a", b"b"]


async def test_a_trailing_partial_non_data_line_is_dropped() -> None:
    assert await parse(b"data: a\n\n: keep-al") == [b"a"]
    assert await parse(b"data: a\n\nevent: x") == [b"a"]


async def test_an_empty_stream_yields_nothing() -> None:
    assert await parse() == []
    assert await parse(b"\n\n\n") == []
