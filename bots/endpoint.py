"""Which model endpoint this process talks to, chosen by its settings, and how failures name them.

``FUSION_PROVIDER`` picks the provider explicitly (a base URL does not say what a server
reports): ``openrouter`` (the default) reads ``OPENROUTER_API_KEY``/``OPENROUTER_BASE_URL`` and
prices calls from OpenRouter's ``/models``; ``openai`` is any plain OpenAI-compatible server
(vLLM, Ollama, LiteLLM, OpenAI itself) at ``OPENAI_BASE_URL`` with an optional
``OPENAI_API_KEY``, priced from the pool file's ``[prices]`` table.

The core names no setting. Here, where settings are known, a failure is presented with the
variable to check: ``SettingHintClient`` wraps the model client and adds ``(check
OPENAI_API_KEY)`` (or the OpenRouter one) to a 401/403, typed on the error's status, and to a
refused connection the URL it tried, whether the server runs, and the variable holding the URL.
Every presenter (the CLI, Slack, Discord, the worker's logs) shows that one message.
"""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass

import httpx

from bots.settings import Settings, secret_value
from fusion_engine.config import FusionConfig
from fusion_engine.errors import ConfigError, ModelConnectionError, ModelHTTPError
from fusion_engine.llm.base import ChatRequest, Completion, ModelClient, PriceSource, TextSink
from fusion_engine.llm.openai_compat import AUTH_STATUSES, OpenAICompatClient
from fusion_engine.llm.providers import OpenRouterProvider, PlainProvider, Provider
from fusion_engine.llm.retry import RetryingClient

__all__ = ["ModelEndpoint", "SettingHintClient", "model_endpoint"]

OPENROUTER_KEY = "OPENROUTER_API_KEY"
OPENAI_KEY = "OPENAI_API_KEY"
OPENROUTER_URL = "OPENROUTER_BASE_URL"
OPENAI_URL = "OPENAI_BASE_URL"


@dataclass(frozen=True, slots=True)
class ModelEndpoint:
    """A provider at a base URL with a key; ``key_setting`` and ``url_setting`` name the
    variables holding them."""

    provider: Provider
    base_url: str
    api_key: str
    key_setting: str
    url_setting: str

    def client(self, http: httpx.AsyncClient) -> ModelClient:
        """The client every stage calls: retries around the settings' hints around the
        OpenAI-compatible client (hinting inside the retries keeps the hinted error retryable)."""
        client = OpenAICompatClient(
            http, base_url=self.base_url, api_key=self.api_key, provider=self.provider
        )
        return RetryingClient(
            SettingHintClient(
                client,
                key_setting=self.key_setting,
                base_url=self.base_url,
                url_setting=self.url_setting,
            )
        )

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
            url_setting=OPENAI_URL,
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
        url_setting=OPENROUTER_URL,
    )


def _shown_url(url: str) -> str:
    """``url`` without user info or query, where a credential could hide."""
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL:
        return "the configured URL"
    return str(parsed.copy_with(userinfo=b"", query=None, fragment=None))


class SettingHintClient:
    """Wraps ``inner``: a refused key (HTTP 401/403) says which variable holds it; a refused
    connection says which URL was tried, asks whether the server runs, and names the variable
    holding the URL."""

    def __init__(
        self, inner: ModelClient, *, key_setting: str, base_url: str, url_setting: str
    ) -> None:
        self.inner = inner
        self._key_hint = f" (check {key_setting})"
        self._connect_hint = (
            f"cannot connect to {_shown_url(base_url)}: is the server running? Check {url_setting}"
        )

    def __repr__(self) -> str:
        return f"SettingHintClient({self.inner!r})"

    async def complete(self, request: ChatRequest, on_text: TextSink | None = None) -> Completion:
        try:
            return await self.inner.complete(request, on_text)
        except ModelHTTPError as exc:
            if exc.status not in AUTH_STATUSES:
                raise
            message = exc.detail.removeprefix(f"HTTP {exc.status}: ") + self._key_hint
            raise ModelHTTPError(
                exc.model, exc.status, message, retry_after=exc.retry_after
            ) from None
        except ModelConnectionError as exc:
            # The client raises ``from None``; the transport error it hid is still the
            # context. Only a failed connect gets the hint (not a stream that broke later);
            # httpx-aiohttp reports a refused connect as ``ConnectTimeout``.
            if not isinstance(exc.__context__, httpx.ConnectError | httpx.ConnectTimeout):
                raise
            raise ModelConnectionError(exc.model, f"{self._connect_hint} ({exc.detail})") from None
