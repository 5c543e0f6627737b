"""Fixtures for the model-client tests: the fake server on loopback and a real httpx client."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from fusion_engine.http import new_http_client
from fusion_engine.llm.base import ChatMessage, ChatRequest
from fusion_engine.llm.openai_compat import OpenAICompatClient
from fusion_engine.llm.providers import OpenRouterProvider
from tests.fakes.model_server import FakeModelServer

API_KEY = "sk-or-v1-secret-test-key-0123456789"


def ask(model: str = "m/a", **kw: object) -> ChatRequest:
    """A small request to ``model``."""
    fields: dict[str, object] = {
        "model": model,
        "messages": (ChatMessage(role="user", content="What is 2 + 2?"),),
        "max_tokens": 512,
        "timeout_s": 10.0,
    }
    fields.update(kw)
    return ChatRequest.model_validate(fields)


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with new_http_client(connect_timeout_s=5.0) as client:
        yield client


@pytest.fixture
async def server() -> AsyncIterator[FakeModelServer]:
    async with FakeModelServer(api_key=API_KEY) as fake:
        yield fake


@pytest.fixture
def client(http: httpx.AsyncClient, server: FakeModelServer) -> OpenAICompatClient:
    return OpenAICompatClient(
        http,
        base_url=server.base_url,
        api_key=API_KEY,
        provider=OpenRouterProvider(app_url="https://fusion.example"),
    )
