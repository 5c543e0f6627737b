"""Providers: what one kind of OpenAI-compatible endpoint adds to the wire format.

``OpenAICompatClient`` speaks the OpenAI chat-completions wire format and nothing else: the
request body, streaming, errors, the output cap, token usage. Whatever differs between the
endpoints that speak it is a ``Provider`` the client is given:

- the headers sent with every call (OpenRouter's app attribution, ``X-Title``/``HTTP-Referer``);
- how a usage object becomes a ``Usage``: OpenRouter reports what it charged (``usage.cost``,
  USD); a plain server reports tokens only, and the caller prices them (``price_usage``);
- where prices come from, as a resource the caller opens (``async with provider.prices(...)``):
  OpenRouter's ``GET /models`` list (``ModelsPriceSource``, refreshed in the background, closed
  with the block), or a fixed table for a plain server (the pool file's ``[prices]``).

Two providers ship: ``OpenRouterProvider`` (the default endpoint) and ``PlainProvider`` for
self-hosted OpenAI-compatible servers (vLLM, Ollama, LiteLLM) or OpenAI itself. A provider is
chosen by the process's settings (``bots/``); nothing here reads the environment or names a
setting. Which key or variable to check when authentication fails is the caller's to say.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Protocol

import httpx

from fusion_engine.llm._wire import WireUsage
from fusion_engine.llm.base import ModelPrice, PriceSource, Usage
from fusion_engine.llm.pricing import ModelsPriceSource, StaticPrices
from fusion_engine.money import usd_to_micros

__all__ = ["OpenRouterProvider", "PlainProvider", "Provider"]


class Provider(Protocol):
    """What an endpoint adds to the OpenAI wire format (see the module docstring)."""

    def headers(self) -> Mapping[str, str]:
        """Headers sent with every chat call, besides authorization and content type."""
        ...

    def usage(self, wire: WireUsage) -> Usage:
        """The call's ``Usage``: tokens, and the cost when the endpoint reports one."""
        ...

    def prices(
        self, http: httpx.AsyncClient, *, base_url: str, api_key: str
    ) -> AbstractAsyncContextManager[PriceSource]:
        """The price source to quote and price calls with, open for the ``async with``."""
        ...


def _tokens(wire: WireUsage) -> Usage:
    return Usage(prompt_tokens=wire.prompt_tokens, completion_tokens=wire.completion_tokens)


@dataclass(frozen=True, slots=True)
class OpenRouterProvider:
    """OpenRouter: app attribution headers, ``usage.cost`` as the reported cost, prices from
    ``/models``. ``app_name``/``app_url`` are what OpenRouter shows for the app's traffic."""

    app_name: str = "Fusion"
    app_url: str | None = None

    def headers(self) -> Mapping[str, str]:
        headers = {"X-Title": self.app_name}
        if self.app_url:
            headers["HTTP-Referer"] = self.app_url
        return headers

    def usage(self, wire: WireUsage) -> Usage:
        usage = _tokens(wire)
        if wire.cost is None:
            return usage
        try:
            micros = usd_to_micros(wire.cost)
        except ValueError:  # negative or non-finite: better unknown (and priced) than wrong
            return usage
        return usage.model_copy(update={"cost_micros": micros, "cost_source": "reported"})

    @asynccontextmanager
    async def prices(
        self, http: httpx.AsyncClient, *, base_url: str, api_key: str
    ) -> AsyncIterator[PriceSource]:
        """``ModelsPriceSource``; its background refresh is cancelled when the block ends, so
        it never outlives ``http``."""
        source = ModelsPriceSource(http, base_url=base_url, api_key=api_key)
        try:
            yield source
        finally:
            await source.aclose()


@dataclass(frozen=True, slots=True)
class PlainProvider:
    """A plain OpenAI-compatible server: no extra headers, tokens only (a ``cost`` field, if
    a proxy sends one, is not trusted: the operator's table is what calls are charged at), and
    prices from ``table`` (slug → price). A model missing from the table is unpriced: the quote
    lists it and both quote and settlement charge the conservative allowance."""

    table: Mapping[str, ModelPrice] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "table", MappingProxyType(dict(self.table)))

    def headers(self) -> Mapping[str, str]:
        return {}

    def usage(self, wire: WireUsage) -> Usage:
        return _tokens(wire)

    @asynccontextmanager
    async def prices(
        self, http: httpx.AsyncClient, *, base_url: str, api_key: str
    ) -> AsyncIterator[PriceSource]:
        yield StaticPrices(self.table)
