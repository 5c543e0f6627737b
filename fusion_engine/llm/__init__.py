"""Talking to models: the ``ModelClient`` seam, its OpenAI-compatible client and the providers
that add an endpoint's specifics, and fakes."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fusion_engine.lazy import lazy_face

__all__ = [
    "ChatMessage",
    "ChatRequest",
    "Completion",
    "FunctionModelClient",
    "ModelClient",
    "ModelPrice",
    "ModelsPriceSource",
    "OpenAICompatClient",
    "OpenRouterProvider",
    "PlainProvider",
    "PriceSource",
    "Provider",
    "RetryingClient",
    "StaticPrices",
    "TextSink",
    "Usage",
    "price_usage",
]

_EXPORTS = {
    "ChatMessage": "fusion_engine.llm.base",
    "ChatRequest": "fusion_engine.llm.base",
    "Completion": "fusion_engine.llm.base",
    "ModelClient": "fusion_engine.llm.base",
    "ModelPrice": "fusion_engine.llm.base",
    "PriceSource": "fusion_engine.llm.base",
    "TextSink": "fusion_engine.llm.base",
    "Usage": "fusion_engine.llm.base",
    "FunctionModelClient": "fusion_engine.llm.function",
    "StaticPrices": "fusion_engine.llm.function",
    "OpenAICompatClient": "fusion_engine.llm.openai_compat",
    "OpenRouterProvider": "fusion_engine.llm.providers",
    "PlainProvider": "fusion_engine.llm.providers",
    "Provider": "fusion_engine.llm.providers",
    "ModelsPriceSource": "fusion_engine.llm.pricing",
    "price_usage": "fusion_engine.llm.pricing",
    "RetryingClient": "fusion_engine.llm.retry",
}

if TYPE_CHECKING:
    from fusion_engine.llm.base import (
        ChatMessage,
        ChatRequest,
        Completion,
        ModelClient,
        ModelPrice,
        PriceSource,
        TextSink,
        Usage,
    )
    from fusion_engine.llm.function import FunctionModelClient, StaticPrices
    from fusion_engine.llm.openai_compat import OpenAICompatClient
    from fusion_engine.llm.pricing import ModelsPriceSource, price_usage
    from fusion_engine.llm.providers import OpenRouterProvider, PlainProvider, Provider
    from fusion_engine.llm.retry import RetryingClient
else:
    __getattr__, __dir__ = lazy_face(__name__, _EXPORTS)
