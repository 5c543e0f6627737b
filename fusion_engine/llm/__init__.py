"""Talking to models: the ``ModelClient`` seam, its OpenAI-compatible client, and fakes."""

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
from fusion_engine.llm.retry import RetryingClient

__all__ = [
    "ChatMessage",
    "ChatRequest",
    "Completion",
    "FunctionModelClient",
    "ModelClient",
    "ModelPrice",
    "ModelsPriceSource",
    "OpenAICompatClient",
    "PriceSource",
    "RetryingClient",
    "StaticPrices",
    "TextSink",
    "Usage",
    "price_usage",
]
