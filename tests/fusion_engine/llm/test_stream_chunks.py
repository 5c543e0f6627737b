"""The stream reader's cheap per-chunk path: same answers, same refusals as whole validation.

``_Answer.add_data`` reads a delta chunk from the parsed JSON after a shape check instead of
building ``WireChunk`` models. The differential test holds it to ``add_chunk`` over the fully
validated model for every payload below; the others check what a read at a time changes
(``on_text`` gets one call per read) and what it must not (text before an error still arrives
first; a content-encoded body is still decoded).
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable

import httpx
import pytest
from pydantic import ValidationError

from fusion_engine.errors import ModelHTTPError, ModelOutputError
from fusion_engine.llm._wire import WireChunk
from fusion_engine.llm.openai_compat import OpenAICompatClient, _Answer, _WireErrorChunk
from fusion_engine.tokens import OutputCap

from .conftest import API_KEY, ask

SSE = {"content-type": "text/event-stream"}
_DELTA = {"index": 0, "delta": {"content": "Hel"}, "finish_reason": None}

MALFORMED = {
    "content not a string": {"choices": [{"delta": {"content": 5}}]},
    "falsy reasoning of the wrong type": {"choices": [{"delta": {"content": "a", "reasoning": 0}}]},
    "reasoning_content a list": {"choices": [{"delta": {"reasoning_content": []}}]},
    "delta null": {"choices": [{"delta": None}]},
    "delta a list": {"choices": [{"delta": ["content"]}]},
    "choices null": {"choices": None},
    "choices an object": {"choices": {"0": _DELTA}},
    "choice a string": {"choices": ["Hel"]},
    "finish_reason a number": {"choices": [{**_DELTA, "finish_reason": 3}]},
    "model a number": {"model": 7, "choices": [_DELTA]},
    "a bad second choice": {"choices": [_DELTA, 5]},
    "usage of the wrong shape": {"choices": [_DELTA], "usage": {"prompt_tokens": "many"}},
    "error a string": {"choices": [], "error": "boom"},
    "a list": [_DELTA],
    "a string": "Hel",
}
ACCEPTED = {
    "plain delta": {"id": "x", "model": "m/a-0613", "choices": [_DELTA]},
    "extra fields": {"choices": [{**_DELTA, "logprobs": None, "native_finish_reason": None}]},
    "role only": {"choices": [{"delta": {"role": "assistant"}}]},
    "no delta": {"choices": [{"finish_reason": "stop"}]},
    "no choices": {"model": "m/a"},
    "empty choices": {"choices": []},
    "usage and error null": {"choices": [_DELTA], "usage": None, "error": None},
    "reasoning": {"choices": [{"delta": {"content": None, "reasoning": "hmm"}}]},
    "reasoning_content": {"choices": [{"delta": {"content": "", "reasoning_content": "hm"}}]},
    "two choices": {"choices": [_DELTA, {**_DELTA, "index": 1}]},
    "usage": {"choices": [], "usage": {"prompt_tokens": 3, "completion_tokens": 1, "cost": 0.1}},
    "finish": {"choices": [{"delta": {"content": ""}, "finish_reason": "stop"}]},
    "unicode": {"choices": [{"delta": {"content": "héllo \u2713"}}]},
}


def _state(answer: _Answer) -> tuple[object, ...]:
    return (answer.served_by, answer._parts, answer._thoughts, answer.finish_reason, answer.usage)


def _fresh() -> _Answer:
    answer = _Answer(served_by="m/a", cap=OutputCap(512))
    answer.add_chunk(WireChunk.model_validate({"choices": [{"delta": {"content": "So "}}]}))
    return answer


@pytest.mark.parametrize("payload", list(ACCEPTED.values()), ids=list(ACCEPTED))
def test_the_cheap_path_folds_a_chunk_as_the_validated_model_does(payload: object) -> None:
    data = json.dumps(payload).encode()
    cheap, whole = _fresh(), _fresh()
    delta = cheap.add_data("m/a", data)
    assert delta == whole.add_chunk(WireChunk.model_validate_json(data))
    assert _state(cheap) == _state(whole)


@pytest.mark.parametrize("payload", list(MALFORMED.values()), ids=list(MALFORMED))
def test_the_cheap_path_refuses_what_validation_refuses(payload: object) -> None:
    data = json.dumps(payload).encode()
    with pytest.raises(ValidationError):
        WireChunk.model_validate_json(data)
    with pytest.raises(ModelOutputError, match="unparseable stream chunk"):
        _fresh().add_data("m/a", data)


def test_an_error_object_is_raised_whatever_else_the_chunk_holds() -> None:
    data = json.dumps({"choices": [_DELTA], "error": {"code": 502, "message": "gone"}}).encode()
    with pytest.raises(_WireErrorChunk) as caught:
        _fresh().add_data("m/a", data)
    assert caught.value.error.code == 502


def _client(
    handler: Callable[[httpx.Request], httpx.Response],
) -> OpenAICompatClient:
    http = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    return OpenAICompatClient(http, base_url="http://models.test/v1/", api_key=API_KEY)


def _data(payload: object) -> str:
    return f"data: {json.dumps(payload)}\n\n"


def _text(piece: str, finish: str | None = None) -> str:
    return _data(
        {"model": "m/a", "choices": [{"delta": {"content": piece}, "finish_reason": finish}]}
    )


class Sink:
    def __init__(self) -> None:
        self.deltas: list[str] = []

    async def __call__(self, text: str) -> None:
        self.deltas.append(text)


async def test_the_deltas_of_one_read_reach_on_text_in_one_call() -> None:
    body = _text("Hel") + _text("lo, ") + _text("world.", "stop") + "data: [DONE]\n\n"
    sink = Sink()
    client = _client(lambda r: httpx.Response(200, headers=SSE, text=body))  # one read
    completion = await client.complete(ask(), sink)
    assert completion.text == "Hello, world."
    assert sink.deltas == ["Hello, world."]


async def test_text_read_before_an_error_in_the_same_read_is_passed_on_first() -> None:
    """The retry wrapper retries only a call that passed no text on: a read that holds text
    and then an error must hand the text over before raising, as one event at a time did."""
    err = {"error": {"code": 502, "message": "upstream fell over"}, "choices": []}
    body = _text("Fo") + _text("ur") + _data(err) + _text("never")
    sink = Sink()
    client = _client(lambda r: httpx.Response(200, headers=SSE, text=body))
    with pytest.raises(ModelHTTPError, match="upstream fell over"):
        await client.complete(ask(), sink)
    assert sink.deltas == ["Four"]


async def test_a_malformed_chunk_mid_stream_fails_the_call_after_the_text_before_it() -> None:
    bad = _data({"choices": [{"delta": {"content": 5}}]})
    sink = Sink()
    client = _client(lambda r: httpx.Response(200, headers=SSE, text=_text("Fo") + bad))
    with pytest.raises(ModelOutputError, match="unparseable stream chunk"):
        await client.complete(ask(), sink)
    assert sink.deltas == ["Fo"]


async def test_a_content_encoded_stream_is_still_decoded() -> None:
    body = gzip.compress((_text("Four.", "stop") + "data: [DONE]\n\n").encode())
    headers = {**SSE, "content-encoding": "gzip"}
    client = _client(lambda r: httpx.Response(200, headers=headers, content=body))
    completion = await client.complete(ask())
    assert completion.text == "Four."
