"""In-process fakes for the ``ModelClient`` and ``PriceSource`` seams.

``FunctionModelClient`` takes a plain function from ``ChatRequest`` to text (or a ``Completion``,
or raises a ``ModelCallError``), sync or async. It streams the text in small pieces when asked,
so code above the seam can be tested without a server. Like the real client, it cuts a text
longer than the request's ``max_tokens`` (flagging it ``truncated``) and raises an empty answer
as a ``ModelOutputError`` that carries the answer's usage. End-to-end tests use the loopback fake
OpenAI-compatible server in ``tests/fakes`` instead. One seam up, the engine port's fake is
``fusion_engine.scripted.ScriptedEngine``.
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Awaitable, Callable

from fusion_engine.errors import ModelOutputError
from fusion_engine.llm.base import ChatRequest, Completion, TextSink, Usage
from fusion_engine.llm.pricing import StaticPrices
from fusion_engine.money import cost_micros
from fusion_engine.tokens import OutputCap

__all__ = ["FunctionModelClient", "StaticPrices"]

Responder = Callable[[ChatRequest], "str | Completion | Awaitable[str | Completion]"]


class FunctionModelClient:
    """A ``ModelClient`` whose answers come from ``fn``. Records every request in ``calls``."""

    def __init__(
        self,
        fn: Responder,
        *,
        prices: StaticPrices | None = None,
        chunk_chars: int = 16,
    ) -> None:
        self._fn = fn
        self._prices = prices
        self._chunk_chars = chunk_chars
        self.calls: list[ChatRequest] = []

    async def complete(self, request: ChatRequest, on_text: TextSink | None = None) -> Completion:
        self.calls.append(request)
        started = time.monotonic()
        out = self._fn(request)
        if inspect.isawaitable(out):
            out = await out
        if isinstance(out, Completion):
            completion = out
        else:
            prompt_tokens = sum(len(m.content) for m in request.messages) // 4 + 1
            completion_tokens = len(out) // 4 + 1
            price = self._prices.prices.get(request.model) if self._prices else None
            usage = Usage(prompt_tokens=prompt_tokens, completion_tokens=completion_tokens)
            if price is not None:
                usage = usage.model_copy(
                    update={
                        "cost_micros": cost_micros(prompt_tokens, price.prompt_per_mtok)
                        + cost_micros(completion_tokens, price.completion_per_mtok),
                        "cost_source": "priced",
                    }
                )
            completion = Completion(
                model=request.model,
                served_by=request.model,
                text=out,
                usage=usage,
                finish_reason="stop",
            )
        cap = OutputCap(request.max_tokens)
        text = cap.take(completion.text)
        if cap.reached:
            completion = completion.model_copy(
                update={"text": text, "truncated": True, "finish_reason": "length"}
            )
        if not completion.text.strip():
            raise ModelOutputError(request.model, "empty answer", usage=completion.usage)
        if on_text is not None:
            text = completion.text
            for i in range(0, len(text), self._chunk_chars):
                await on_text(text[i : i + self._chunk_chars])
        return completion.model_copy(update={"latency_s": time.monotonic() - started})
