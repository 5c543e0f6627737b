"""Which model endpoint this process talks to, chosen by its settings, and how failures name them.

``FUSION_PROVIDER`` picks the provider explicitly (a base URL does not say what a server
reports): ``openrouter`` (the default) reads ``OPENROUTER_API_KEY``/``OPENROUTER_BASE_URL`` and
prices calls from OpenRouter's ``/models``; ``openai`` is any plain OpenAI-compatible server
(vLLM, Ollama, LiteLLM, OpenAI itself) at ``OPENAI_BASE_URL`` with an optional
``OPENAI_API_KEY``, priced from the pool file's ``[prices]`` table.

The core names no setting. Here, where settings are known, a refused key is presented with the
variable that holds it: ``KeyHintClient`` wraps the model client and adds ``(check
OPENAI_API_KEY)`` (or the OpenRouter one) to a 401/403, typed on the error's status. Every
presenter (the CLI, Slack, Discord, the worker's logs) shows that one message.
"""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass

import httpx

from bots.settings import Settings, secret_value
from fusion_engine.config import FusionConfig
from fusion_engine.errors import ConfigError, ModelHTTPError
from fusion_engine.llm.base import ChatRequest, Completion, ModelClient, PriceSource, TextSink
from fusion_engine.llm.openai_compat import AUTH_STATUSES, OpenAICompatClient
from fusion_engine.llm.providers import OpenRouterProvider, PlainProvider, Provider
from fusion_engine.llm.retry import RetryingClient

__all__ = ["KeyHintClient", "ModelEndpoint", "model_endpoint"]

OPENROUTER_KEY = "OPENROUTER_API_KEY"
OPENAI_KEY = "OPENAI_API_KEY"


@dataclass(frozen=True, slots=True)
class ModelEndpoint:
    """A provider at a base URL with a key; ``key_setting`` names the variable holding it."""

    provider: Provider
    base_url: str
    api_key: str
    key_setting: str

    def client(self, http: httpx.AsyncClient) -> ModelClient:
        """The client every stage calls: retries around a refused key's hint around the
        OpenAI-compatible client (a 401/403 is not retried, so the order is only tidiness)."""
        client = OpenAICompatClient(
            http, base_url=self.base_url, api_key=self.api_key, provider=self.provider
        )
        return RetryingClient(KeyHintClient(client, self.key_setting))

    def prices(self, http: httpx.AsyncClient) -> AbstractAsyncContextManager[PriceSource]:
        return self.provider.prices(http, base_url=self.base_url, api_key=self.api_key)


def model_endpoint(settings: Settings, config: FusionConfig) -> ModelEndpoint:
    """The endpoint ``settings`` choose, or a ``ConfigError`` that says how to fix them."""
    if settings.provider == "openai":
        return ModelEndpoint(
            provider=PlainProvider(config.price_table()),
            base_url=settings.openai_base_url,
            api_key=secret_value(settings.openai_api_key) or "",
            key_setting=OPENAI_KEY,
        )
    key = secret_value(settings.openrouter_api_key)
    if key is None:
        raise ConfigError(
            f"{OPENROUTER_KEY} is not set. Create a key at https://openrouter.ai/keys and run "
            f"`export {OPENROUTER_KEY}=sk-or-...` (or put it in a .env file). For a local "
            "OpenAI-compatible server (vLLM, Ollama) set FUSION_PROVIDER=openai and "
            "OPENAI_BASE_URL instead."
        )
    if config.prices:
        raise ConfigError(
            "The pool file has a [prices] table, which only FUSION_PROVIDER=openai uses "
            "(OpenRouter lists its own prices). Remove the table, or set FUSION_PROVIDER=openai."
        )
    return ModelEndpoint(
        provider=OpenRouterProvider(),
        base_url=settings.openrouter_base_url,
        api_key=key,
        key_setting=OPENROUTER_KEY,
    )


class KeyHintClient:
    """Wraps ``inner``: a refused key (HTTP 401/403) says which variable holds it."""

    def __init__(self, inner: ModelClient, key_setting: str) -> None:
        self.inner = inner
        self._hint = f" (check {key_setting})"

    def __repr__(self) -> str:
        return f"KeyHintClient({self.inner!r})"

    async def complete(self, request: ChatRequest, on_text: TextSink | None = None) -> Completion:
        try:
            return await self.inner.complete(request, on_text)
        except ModelHTTPError as exc:
            if exc.status not in AUTH_STATUSES:
                raise
            message = exc.detail.removeprefix(f"HTTP {exc.status}: ") + self._hint
            raise ModelHTTPError(
                exc.model, exc.status, message, retry_after=exc.retry_after
            ) from None
