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

__all__ = [
    "ChatMessage",
    "ChatRequest",
    "Completion",
    "FunctionModelClient",
    "ModelClient",
    "ModelPrice",
    "PriceSource",
    "StaticPrices",
    "TextSink",
    "Usage",
]
