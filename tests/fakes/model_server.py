"""A fake OpenAI-compatible (OpenRouter-flavoured) model server on loopback.

It speaks the real wire format so the real client, the engine, the bots and the benchmarks can
run end to end without the internet:

- ``POST {base}/chat/completions``: with ``stream: true`` an SSE stream that opens with an
  ``: OPENROUTER PROCESSING`` comment, sends ``data: {chunk}`` deltas, a last chunk carrying
  ``finish_reason`` and ``usage`` (``prompt_tokens``, ``completion_tokens``, ``cost`` in USD), and
  ``data: [DONE]``; otherwise one JSON ``chat.completion``. OpenRouter now always reports usage,
  so the fake does too, whether or not ``usage.include`` / ``stream_options`` were asked for.
- ``GET {base}/models``: every model that has a behaviour, with ``pricing`` strings in USD per
  token, as OpenRouter sends them.
- Errors are OpenRouter-shaped: ``{"error": {"code": 429, "message": ..., "metadata": {}}}``;
  an error after the stream has started arrives as a ``data:`` chunk with an ``error`` object and
  ``finish_reason: "error"`` under HTTP 200.

Each model's behaviour (answer, latency, streaming speed, fault injection, prices) is a
``ModelBehavior``. A fast answer is written in one piece, so one process can serve thousands of
concurrent streams for the benchmarks; a slow one is sent several tokens per chunk at about 20
chunks a second; one with ``piece_chars`` is sent one event per token-sized piece, as a real
provider does: as fast as the client reads, or paced at ``tokens_per_s`` (``writes_per_s``
bounds how often it writes). With ``keepalive_s`` the stream opens at once and sends
OpenRouter's keep-alive comment periodically while the model "thinks" (``latency_s``).
``tests/fakes/realistic.py`` builds such models with realistic answer lengths per role; the
hand-run server streams that way with ``--realistic``. ``overrun()`` is a model that ignores
``max_tokens`` and writes ~140k characters: every streamed response it sends is logged in
``FakeModelServer.streams`` (pieces sent, whether it finished), so a test can see a client hang
up early.

Run it by hand: ``uv run python -m tests.fakes.model_server --port 8799 [--realistic]``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from types import TracebackType
from typing import Any

from aiohttp import web
from multidict import CIMultiDict

__all__ = [
    "FakeModelServer",
    "ModelBehavior",
    "RecordedRequest",
    "StreamLog",
    "count_tokens",
    "overrun",
]

FAULTS = frozenset(
    {"timeout", "non_json", "error_mid_stream", "empty", "reasoning_only", "disconnect"}
)
"""Faults other than an HTTP error status (400-599, as ``"503"`` or ``"http_503"``)."""

_CHUNKS_PER_S = 20.0
_CHARS_PER_TOKEN = 4
_PROCESSING = b": OPENROUTER PROCESSING\n\n"


@dataclass
class ModelBehavior:
    """How one fake model answers. Every field has a harmless default."""

    text: str | Callable[[dict[str, Any]], str] = "A fine answer."
    """The answer, or ``fn(request JSON) -> answer``."""
    latency_s: float = 0.0
    """Delay before the first byte (streaming) or the response (plain)."""
    tokens_per_s: float | None = None
    """Streaming speed (~4 characters a token); ``None`` sends the answer all at once."""
    fault: str | None = None
    """``None``, an HTTP error status ("500", "429", or "http_429"), or "timeout" (never answers
    until the client gives up), "non_json", "error_mid_stream", "empty", "reasoning_only",
    "disconnect" (drop the connection mid-answer)."""
    fault_times: int | None = None
    """Fail this many requests, then behave normally (``None``: always fail)."""
    retry_after_s: float | None = None
    """``Retry-After`` header sent with an HTTP-status fault."""
    prompt_price_usd_per_mtok: float = 1.0
    completion_price_usd_per_mtok: float = 2.0
    report_cost: bool = True
    """Include ``usage.cost``; when false the client has to price the call from ``/models``."""
    served_by: str | None = None
    """The ``model`` field in responses (default: the requested slug)."""
    supports_json_schema: bool = True
    """When false, a request with a ``json_schema`` ``response_format`` gets HTTP 400."""
    streams: bool = True
    """When false, answer with one JSON body even when asked to stream (some endpoints do)."""
    piece_chars: int | None = None
    """Stream one event per piece of this many characters (a real provider's one event per
    token): as fast as the client reads, or at ``tokens_per_s`` when that is set too."""
    writes_per_s: float = _CHUNKS_PER_S
    """With ``piece_chars`` and ``tokens_per_s``: how often the server writes; each write
    carries every event due by then (a real provider's events arrive about one per write)."""
    keepalive_s: float | None = None
    """Send OpenRouter's ``: OPENROUTER PROCESSING`` comment this often while the answer is
    awaited (the stream's headers go out at once, as OpenRouter's do); ``None``: one comment,
    sent with the headers after ``latency_s``."""
    running_usage: bool = False
    """Every piece also carries the usage so far, cost included (servers with continuous usage
    stats do this); the last chunk still carries the final usage."""

    def __post_init__(self) -> None:
        if self.fault is not None:
            self.fault = _normalize_fault(self.fault)


def _normalize_fault(fault: str) -> str:
    """Accept any HTTP error status as ``"503"`` or ``"http_503"`` (the error's ``kind``)."""
    status = fault.removeprefix("http_")
    if status.isdigit() and len(status) == 3 and 400 <= int(status) <= 599:
        return status
    if fault not in FAULTS:
        raise ValueError(f"unknown fault {fault!r}; use an HTTP status or one of {sorted(FAULTS)}")
    return fault


OVERRUN_CHARS = 140_000


def overrun(chars: int = OVERRUN_CHARS, piece_chars: int = 4, **kw: Any) -> ModelBehavior:
    """A model that ignores ``max_tokens``: ``chars`` characters of answer whatever was asked,
    one token-sized event at a time, its usage and cost only in the last chunk."""
    sentence = "The answer goes on and on, well past any limit it was given. "
    text = (sentence * (chars // len(sentence) + 1))[:chars]
    return ModelBehavior(text=text, piece_chars=piece_chars, **kw)


@dataclass
class StreamLog:
    """One answer the server streamed event by event (``piece_chars`` or ``tokens_per_s``)."""

    model: str
    pieces: int
    """How many content (or reasoning) events the answer has."""
    sent: int = 0
    """How many of them were written before the stream ended."""
    finished: bool = False
    """The last chunk (usage) and ``[DONE]`` were written: the client read it all."""
    ended: asyncio.Event = field(default_factory=asyncio.Event)
    """Set when the handler is done writing, by finishing or because the client hung up."""


@dataclass(frozen=True)
class RecordedRequest:
    """One request the server received (chat completions only)."""

    model: str
    body: dict[str, Any]
    headers: Mapping[str, str]
    """Case-insensitive, as HTTP headers are."""
    stream: bool
    at: float = field(default_factory=time.monotonic)


def count_tokens(text: str) -> int:
    """The fake tokenizer: about four characters a token, at least one for non-empty text."""
    return (len(text) + _CHARS_PER_TOKEN - 1) // _CHARS_PER_TOKEN


def _usd_per_token(usd_per_mtok: float) -> str:
    value = Decimal(str(usd_per_mtok)) / Decimal(1_000_000)
    return format(value.normalize(), "f")


def _usage(prompt_tokens: int, text: str, behavior: ModelBehavior) -> dict[str, Any]:
    """OpenRouter's ``usage`` for an answer ``text``, with ``cost`` in USD when reported."""
    completion_tokens = count_tokens(text)
    usage: dict[str, Any] = {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
    }
    if behavior.report_cost:
        cost = (
            Decimal(prompt_tokens) * Decimal(str(behavior.prompt_price_usd_per_mtok))
            + Decimal(completion_tokens) * Decimal(str(behavior.completion_price_usd_per_mtok))
        ) / Decimal(1_000_000)
        usage["cost"] = float(cost)
    return usage


def _error_body(status: int, message: str) -> bytes:
    return json.dumps({"error": {"code": status, "message": message, "metadata": {}}}).encode()


def _sse(payload: Mapping[str, Any]) -> bytes:
    return b"data: " + json.dumps(payload, separators=(",", ":")).encode() + b"\n\n"


class FakeModelServer:
    """The fake server. ``async with FakeModelServer(...) as server:`` binds 127.0.0.1 on a free
    port; ``server.base_url`` is then the ``.../api/v1`` base to give a client."""

    def __init__(
        self,
        behaviors: Mapping[str, ModelBehavior] | None = None,
        default: ModelBehavior | None = ModelBehavior(),  # noqa: B008 - never mutated
        api_key: str = "test-key",
        *,
        port: int = 0,
        record: bool = True,
    ) -> None:
        """``record=False`` keeps ``requests`` empty: a benchmark sending thousands of large
        bodies would otherwise grow the server's heap, and its GC cost, as it runs."""
        self._behaviors: dict[str, ModelBehavior] = dict(behaviors or {})
        self._record = record
        self._default = default
        self._api_key = api_key
        self._port = port
        self._faults_served: dict[str, int] = {}
        self._ids = itertools.count(1)
        self._closing = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self.requests: list[RecordedRequest] = []
        self.streams: list[StreamLog] = []
        """Answers streamed event by event, in the order they started (when recording)."""
        self.models_calls = 0
        """How many times ``GET /models`` was asked (authorized or not)."""
        self.base_url = ""

    # -- lifecycle ---------------------------------------------------------------------------

    async def __aenter__(self) -> FakeModelServer:
        app = web.Application(client_max_size=8 * 1024 * 1024)
        app.router.add_post("/api/v1/chat/completions", self._chat)
        app.router.add_get("/api/v1/models", self._models)
        self._runner = web.AppRunner(
            app, access_log=None, handler_cancellation=True, shutdown_timeout=1.0
        )
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", self._port, backlog=4096)
        await site.start()
        host, port = self._runner.addresses[0][:2]
        self.base_url = f"http://{host}:{port}/api/v1"
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._closing.set()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # -- configuration and inspection --------------------------------------------------------

    def set(self, model: str, behavior: ModelBehavior) -> None:
        """Give ``model`` a new behaviour (and reset its fault counter)."""
        self._behaviors[model] = behavior
        self._faults_served.pop(model, None)

    def calls(self, model: str) -> int:
        """How many chat requests asked for ``model``."""
        return sum(1 for r in self.requests if r.model == model)

    # -- handlers ----------------------------------------------------------------------------

    def _authorized(self, request: web.Request) -> bool:
        return request.headers.get("Authorization", "") == f"Bearer {self._api_key}"

    @staticmethod
    def _error(status: int, message: str, retry_after: float | None = None) -> web.Response:
        headers = {"Retry-After": f"{retry_after:g}"} if retry_after is not None else None
        return web.Response(
            status=status,
            body=_error_body(status, message),
            content_type="application/json",
            headers=headers,
        )

    async def _models(self, request: web.Request) -> web.Response:
        self.models_calls += 1
        if not self._authorized(request):
            return self._error(401, "No auth credentials found")
        data = [
            {
                "id": slug,
                "name": slug,
                "context_length": 128_000,
                "pricing": {
                    "prompt": _usd_per_token(b.prompt_price_usd_per_mtok),
                    "completion": _usd_per_token(b.completion_price_usd_per_mtok),
                    "request": "0",
                    "image": "0",
                },
            }
            for slug, b in self._behaviors.items()
        ]
        return web.json_response({"data": data})

    def _fault_for(self, model: str, behavior: ModelBehavior) -> str | None:
        if behavior.fault is None:
            return None
        served = self._faults_served.get(model, 0)
        if behavior.fault_times is not None and served >= behavior.fault_times:
            return None
        self._faults_served[model] = served + 1
        return behavior.fault

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        if not self._authorized(request):
            return self._error(401, "No auth credentials found")
        try:
            body = await request.json()
        except ValueError:
            return self._error(400, "Request body is not valid JSON")
        if not isinstance(body, dict) or not isinstance(body.get("model"), str):
            return self._error(400, "Missing 'model'")
        model: str = body["model"]
        stream = bool(body.get("stream"))
        if self._record:
            self.requests.append(RecordedRequest(model, body, CIMultiDict(request.headers), stream))
        behavior = self._behaviors.get(model, self._default)
        if behavior is None:
            return self._error(400, f"{model} is not a valid model ID")
        stream = stream and behavior.streams
        response_format = body.get("response_format") or {}
        if response_format.get("type") == "json_schema" and not behavior.supports_json_schema:
            return self._error(400, "Provider returned error: response_format is not supported")
        fault = self._fault_for(model, behavior)
        if fault is not None and fault.isdigit():
            return self._error(int(fault), f"Fake fault {fault}", behavior.retry_after_s)
        if fault == "timeout":
            return await self._never_answer(request, stream)
        opened: web.StreamResponse | None = None
        if stream and fault is None and behavior.keepalive_s is not None:
            opened = await _open_stream(request)
            await _keep_alive(opened, behavior.latency_s, behavior.keepalive_s)
        elif behavior.latency_s > 0:
            await asyncio.sleep(behavior.latency_s)
        text = behavior.text(body) if callable(behavior.text) else behavior.text
        answer = _Answer.build(self, model, body, behavior, text, fault)
        if stream:
            return await answer.stream(request, opened)
        return answer.plain(request)

    async def _never_answer(self, request: web.Request, stream: bool) -> web.StreamResponse:
        """Hold the request open until the client gives up (or the server closes). A streamed
        request gets its headers and a keep-alive comment, so only a whole-call deadline helps."""
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        if stream:
            await response.prepare(request)
            await response.write(_PROCESSING)
        await self._closing.wait()
        return response


@dataclass
class _Answer:
    """One answer rendered in the OpenAI wire format, plain or as SSE."""

    server: FakeModelServer
    behavior: ModelBehavior
    fault: str | None
    model: str
    id: str
    served_by: str
    content: str
    reasoning: str | None
    usage: dict[str, Any]

    @classmethod
    def build(
        cls,
        server: FakeModelServer,
        model: str,
        body: dict[str, Any],
        behavior: ModelBehavior,
        text: str,
        fault: str | None,
    ) -> _Answer:
        prompt_chars = "".join(
            m.get("content") or "" for m in body.get("messages", []) if isinstance(m, dict)
        )
        prompt_tokens = max(1, count_tokens(prompt_chars))
        content, reasoning = text, None
        if fault == "empty":
            content = ""
        elif fault == "reasoning_only":
            content, reasoning = "", text
        usage = _usage(prompt_tokens, text if fault != "empty" else "", behavior)
        return cls(
            server=server,
            behavior=behavior,
            fault=fault,
            model=model,
            id=f"gen-fake-{next(server._ids)}",
            served_by=behavior.served_by or model,
            content=content,
            reasoning=reasoning,
            usage=usage,
        )

    def _envelope(self, obj: str) -> dict[str, Any]:
        return {
            "id": self.id,
            "object": obj,
            "created": int(time.time()),
            "model": self.served_by,
            "provider": "Fake",
        }

    def plain(self, request: web.Request) -> web.StreamResponse:
        if self.fault == "non_json":
            return web.Response(
                status=200, text="<html><body>Bad gateway</body></html>", content_type="text/html"
            )
        if self.fault == "error_mid_stream":
            return web.json_response(
                {**self._envelope("chat.completion"), **_mid_stream_error(plain=True)}, status=200
            )
        message: dict[str, Any] = {"role": "assistant", "content": self.content}
        if self.reasoning is not None:
            message["reasoning"] = self.reasoning
        payload = {
            **self._envelope("chat.completion"),
            "choices": [
                {"index": 0, "message": message, "finish_reason": "stop", "logprobs": None}
            ],
            "usage": self.usage,
        }
        if self.fault == "disconnect":
            return _TruncatedResponse(json.dumps(payload).encode())
        return web.json_response(payload)

    def _delta(self, field_name: str, piece: str, role: bool, upto: int | None = None) -> bytes:
        delta: dict[str, Any] = {field_name: piece}
        if role:
            delta["role"] = "assistant"
        if field_name == "reasoning":
            delta["content"] = ""
        chunk: dict[str, Any] = {
            **self._envelope("chat.completion.chunk"),
            "choices": [{"index": 0, "delta": delta, "finish_reason": None}],
        }
        if self.behavior.running_usage and upto is not None:
            text = self.reasoning if self.reasoning is not None else self.content
            chunk["usage"] = _usage(self.usage["prompt_tokens"], text[:upto], self.behavior)
        return _sse(chunk)

    def _pieces(self) -> tuple[int, Iterator[bytes]]:
        """How many content (or reasoning) deltas there are, and the deltas: one piece when
        fast, ``piece_chars`` characters each, or ~20 chunks a second."""
        field_name, text = "content", self.content
        if self.reasoning is not None:
            field_name, text = "reasoning", self.reasoning
        speed = self.behavior.tokens_per_s
        size = self.behavior.piece_chars
        if size is None and speed is not None:
            size = max(1, round(speed / _CHUNKS_PER_S)) * _CHARS_PER_TOKEN
        if size is None or not text:
            return 1, iter([self._delta(field_name, text, role=True)])
        starts = range(0, len(text), size)
        return len(starts), (
            self._delta(field_name, text[i : i + size], role=i == 0, upto=i + size) for i in starts
        )

    def _tail(self) -> bytes:
        last = {
            **self._envelope("chat.completion.chunk"),
            "choices": [{"index": 0, "delta": {"content": ""}, "finish_reason": "stop"}],
            "usage": self.usage,
        }
        return _sse(last) + b"data: [DONE]\n\n"

    async def stream(
        self, request: web.Request, opened: web.StreamResponse | None = None
    ) -> web.StreamResponse:
        """The answer as SSE; ``opened`` is a stream whose headers and keep-alives were sent
        while the answer was awaited (faults never get one)."""
        headers = _STREAM_HEADERS
        if self.fault == "non_json":
            return web.Response(body=_PROCESSING + b"data: {this is not json\n\n", headers=headers)
        count, pieces = self._pieces()
        if self.fault == "error_mid_stream":
            err = {**self._envelope("chat.completion.chunk"), **_mid_stream_error()}
            return web.Response(body=_PROCESSING + next(pieces) + _sse(err), headers=headers)
        if self.fault == "disconnect":
            return _TruncatedResponse(_PROCESSING + next(pieces), headers=headers)
        speed = self.behavior.tokens_per_s
        if speed is None and self.behavior.piece_chars is None and opened is None:
            return web.Response(body=_PROCESSING + b"".join(pieces) + self._tail(), headers=headers)
        log = StreamLog(model=self.model, pieces=count)
        if self.server._record:
            self.server.streams.append(log)
        response = opened or await _open_stream(request)
        try:
            if self.behavior.piece_chars is not None and speed is not None:
                await self._write_paced(response, list(pieces), speed, log)
            else:
                interval = 0.0 if self.behavior.piece_chars is not None else 1.0 / _CHUNKS_PER_S
                for piece in pieces:
                    if log.sent:
                        await asyncio.sleep(interval)
                    await response.write(piece)
                    log.sent += 1
            await response.write(self._tail())
            await response.write_eof()
            log.finished = True
        except ConnectionResetError:  # the client hung up (the handler may be cancelled instead)
            pass
        finally:
            log.ended.set()
        return response

    async def _write_paced(
        self, response: web.StreamResponse, pieces: list[bytes], tokens_per_s: float, log: StreamLog
    ) -> None:
        """Write ``pieces`` (one event each) at ``tokens_per_s``, at most ``writes_per_s``
        writes a second, each write carrying every event due by then."""
        assert self.behavior.piece_chars is not None
        piece_s = self.behavior.piece_chars / _CHARS_PER_TOKEN / tokens_per_s
        gap_s = 1.0 / self.behavior.writes_per_s
        started = time.monotonic()
        while log.sent < len(pieces):
            due = min(len(pieces), int((time.monotonic() - started) / piece_s) + 1)
            await response.write(b"".join(pieces[log.sent : due]))
            log.sent = due
            if log.sent < len(pieces):
                next_due = started + log.sent * piece_s
                await asyncio.sleep(max(gap_s, next_due - time.monotonic()))


_STREAM_HEADERS = {"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}


async def _open_stream(request: web.Request) -> web.StreamResponse:
    """Send an SSE response's headers and OpenRouter's first keep-alive comment."""
    response = web.StreamResponse(headers=_STREAM_HEADERS)
    await response.prepare(request)
    await response.write(_PROCESSING)
    return response


async def _keep_alive(response: web.StreamResponse, wait_s: float, every_s: float) -> None:
    """Wait ``wait_s``, sending a keep-alive comment every ``every_s`` meanwhile."""
    deadline = time.monotonic() + wait_s
    while (left := deadline - time.monotonic()) > 0:
        await asyncio.sleep(min(left, every_s))
        if time.monotonic() < deadline:
            await response.write(_PROCESSING)


def _mid_stream_error(*, plain: bool = False) -> dict[str, Any]:
    """What OpenRouter sends when the upstream provider fails after the answer started."""
    key = "message" if plain else "delta"
    part: dict[str, Any] = {"role": "assistant", "content": ""} if plain else {"content": ""}
    return {
        "error": {"code": 502, "message": "Provider disconnected unexpectedly"},
        "choices": [{"index": 0, key: part, "finish_reason": "error"}],
    }


class _TruncatedResponse(web.StreamResponse):
    """Sends the headers and the first part of a body, then drops the connection."""

    def __init__(self, partial: bytes, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(headers=headers)
        self._partial = partial

    async def prepare(self, request: web.BaseRequest) -> Any:
        writer = await super().prepare(request)
        await self.write(self._partial)
        if request.transport is not None:
            request.transport.close()
        return writer

    async def write_eof(self, data: bytes = b"") -> None:
        return None


async def _serve_forever(args: argparse.Namespace) -> None:
    # Imported here: the fake's core does not depend on the engine's prompts. Role-aware
    # answers (analyses, eval verdicts) and list prices for the built-in pools' models.
    from tests.fakes.offline import answer, priced_models

    default = ModelBehavior(
        text=answer,
        latency_s=args.latency,
        tokens_per_s=args.tokens_per_s,
    )
    if args.realistic:
        from tests.fakes.realistic import RoleLengths, realistic

        lengths = RoleLengths(args.panel_tokens, args.judge_tokens, args.writer_tokens)
        default = realistic(lengths, tokens_per_s=args.tokens_per_s, latency_s=args.latency)
    behaviors = priced_models(default)
    behaviors |= {slug: overrun(latency_s=args.latency) for slug in args.overrun}
    async with FakeModelServer(
        behaviors, default=default, api_key=args.api_key, port=args.port
    ) as server:
        print(f"fake model server at {server.base_url} (api key {args.api_key!r})", flush=True)
        await asyncio.Event().wait()


def main(argv: list[str] | None = None) -> None:
    """Serve the fake forever on loopback, answering every model slug."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--port", type=int, default=8799)
    parser.add_argument("--api-key", default="test-key")
    parser.add_argument("--latency", type=float, default=0.2, help="seconds before first byte")
    parser.add_argument("--tokens-per-s", type=float, default=80.0)
    parser.add_argument(
        "--overrun",
        action="append",
        default=[],
        metavar="SLUG",
        help="a model that ignores max_tokens and streams ~140k characters (repeatable)",
    )
    parser.add_argument(
        "--realistic",
        action="store_true",
        help="stream like a provider: one event per token at --tokens-per-s, keep-alives, "
        "answers of realistic length per role (the three options below)",
    )
    parser.add_argument("--panel-tokens", type=int, default=800)
    parser.add_argument("--judge-tokens", type=int, default=1000)
    parser.add_argument("--writer-tokens", type=int, default=1200)
    args = parser.parse_args(argv)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve_forever(args))


if __name__ == "__main__":
    main()
