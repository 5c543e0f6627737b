"""Where prices come from, and pricing a call's usage with them.

Two sources: ``ModelsPriceSource``, OpenRouter's ``GET /models`` list (the OpenRouter
provider's), and ``StaticPrices``, a fixed table (a plain server's, from the pool file).

OpenRouter lists each model's price as decimal strings of USD per token (``"0.000003"``). They
are parsed with ``Decimal`` into integer micro-dollars per million tokens (``3_000_000``), so no
float ever touches money. A negative price (``"-1"``, used by variable-price routers) or a
missing one means the price is unknown, and the model is reported as unknown (``None``).

The list is fetched once and kept for ``ttl_s``; concurrent callers share a single in-flight
fetch. When a refresh fails the stale list is kept (prices change rarely; an answer should not
fail because the price list blinked) and the next attempt waits ``retry_s``. Price lookups never
raise: with no list at all (the endpoint has no ``/models``, or it is down) every model is
unknown, and callers treat an unknown price conservatively: the quote and ``price_usage`` both
charge an unpriced model's tokens at the same deliberately high allowance
(``UNPRICED_PRICE``), so a budget still binds. Failing every fusion because an optional price
list is missing would make endpoints without one unusable.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from decimal import ROUND_CEILING, Decimal, InvalidOperation

import httpx
from pydantic import ValidationError

from fusion_engine.llm._wire import WireModel, WireModelList
from fusion_engine.llm.base import CostSource, ModelPrice, PriceSource, Usage
from fusion_engine.money import MICROS_PER_USD, cost_micros, format_usd

__all__ = [
    "UNPRICED_COMPLETION_MICROS_PER_MTOK",
    "UNPRICED_PRICE",
    "UNPRICED_PROMPT_MICROS_PER_MTOK",
    "ModelsPriceSource",
    "StaticPrices",
    "parse_price_per_token",
    "price_usage",
    "tokens_cost",
    "unpriced_note",
]

log = logging.getLogger(__name__)

_TOKENS_PER_PRICE_UNIT = 1_000_000

UNPRICED_PROMPT_MICROS_PER_MTOK = 15_000_000
"""$15 per million prompt tokens for a model with no known price (dearer than most models)."""
UNPRICED_COMPLETION_MICROS_PER_MTOK = 75_000_000
"""$75 per million completion tokens for a model with no known price."""
UNPRICED_PRICE = ModelPrice(
    prompt_per_mtok=UNPRICED_PROMPT_MICROS_PER_MTOK,
    completion_per_mtok=UNPRICED_COMPLETION_MICROS_PER_MTOK,
)
"""The allowance the quote reserves and ``price_usage`` charges for a model with no price."""


def unpriced_note(models: Sequence[str]) -> str:
    """Why a quote names ``models``, in a user's words: the endpoint lists no price for them,
    so they are counted at the deliberately high ``UNPRICED_PRICE`` and the figure is a
    ceiling, not a forecast."""
    return (
        f"no price listed for {', '.join(models)}, so counted at a cautious "
        f"{format_usd(UNPRICED_PROMPT_MICROS_PER_MTOK)} in / "
        f"{format_usd(UNPRICED_COMPLETION_MICROS_PER_MTOK)} out per million tokens; "
        "the real cost is likely lower"
    )


def parse_price_per_token(value: str | None) -> int | None:
    """``"0.000003"`` USD per token → ``3_000_000`` micro-dollars per million tokens (rounded
    up). ``None`` for a missing, unparseable, negative or non-finite price."""
    if value is None:
        return None
    try:
        usd = Decimal(value.strip())
    except InvalidOperation:
        return None
    if not usd.is_finite() or usd < 0:
        return None
    micros = usd * MICROS_PER_USD * _TOKENS_PER_PRICE_UNIT
    return int(micros.to_integral_value(rounding=ROUND_CEILING))


def _model_price(model: WireModel) -> ModelPrice | None:
    if model.pricing is None:
        return None
    prompt = parse_price_per_token(model.pricing.prompt)
    completion = parse_price_per_token(model.pricing.completion)
    if prompt is None or completion is None:
        return None
    return ModelPrice(
        prompt_per_mtok=prompt,
        completion_per_mtok=completion,
        context_length=model.context_length,
    )


class ModelsPriceSource:
    """A ``PriceSource`` backed by ``{base_url}/models``.

    ``http`` is the process's shared client; this class never closes it. ``clock`` is injectable
    so tests can expire the cache without sleeping.

    Stale-while-revalidate: only the very first fetch (no list cached yet) is awaited. Once a
    list exists, an expired one still answers at once and a single background task refreshes
    it, because ``price`` sits on latency-critical paths (the quote before a chat command's
    ack) where waiting up to ``fetch_timeout_s`` for an hourly refresh is not acceptable; a
    price an hour or two old is. The source owns that task: ``aclose`` cancels it.
    """

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        base_url: str,
        api_key: str,
        ttl_s: float = 3600.0,
        retry_s: float = 30.0,
        fetch_timeout_s: float = 20.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._http = http
        self._url = base_url.rstrip("/") + "/models"
        self._headers = {"Authorization": f"Bearer {api_key}"}
        self._ttl_s = ttl_s
        self._retry_s = retry_s
        self._fetch_timeout_s = fetch_timeout_s
        self._clock = clock
        self._prices: dict[str, ModelPrice | None] | None = None
        self._next_fetch_at = float("-inf")
        self._inflight: asyncio.Task[None] | None = None
        self._closed = False
        self.fetches = 0
        """How many fetches of ``/models`` were started (for tests and metrics)."""

    def __repr__(self) -> str:
        return f"ModelsPriceSource(url={self._url!r})"

    async def price(self, model: str) -> ModelPrice | None:
        """The model's price, or ``None`` if the endpoint does not list it with a fixed price.

        Waits only when no list has ever been fetched; an expired list answers immediately
        while a background refresh runs. ``asyncio.wait`` neither cancels the shared fetch when
        one waiting caller is cancelled nor raises its failure (lookups never raise)."""
        if not self._closed and self._clock() >= self._next_fetch_at:
            fetch = self._start_fetch()
            if self._prices is None:
                await asyncio.wait({fetch})
        return self._prices.get(model) if self._prices is not None else None

    async def wait_idle(self) -> None:
        """Wait until no refresh is in flight (tests; a warm cache before serving). Never
        raises for the fetch: its failures are logged and keep the previous prices."""
        task = self._inflight
        if task is not None:
            await asyncio.wait({task})

    async def aclose(self) -> None:
        """Cancel an in-flight refresh and wait for it to end; later lookups answer from the
        cache without fetching. The shared ``http`` client stays open (its owner closes it)."""
        self._closed = True
        task = self._inflight
        if task is not None:
            task.cancel()
            await asyncio.wait({task})

    def _start_fetch(self) -> asyncio.Task[None]:
        """The in-flight fetch, started if there is none: one fetch at a time (single flight)."""
        if self._inflight is None:
            self.fetches += 1
            self._inflight = asyncio.create_task(self._fetch(), name="fusion-price-refresh")
            self._inflight.add_done_callback(self._fetch_done)
        return self._inflight

    def _fetch_done(self, task: asyncio.Task[None]) -> None:
        if self._inflight is task:
            self._inflight = None
        if task.cancelled():
            return
        exc = task.exception()  # retrieved here, so a failure is never "never retrieved"
        if exc is not None:  # not one of the expected failures ``_fetch`` handles itself
            self._next_fetch_at = self._clock() + min(self._retry_s, self._ttl_s)
            log.error("refreshing %s failed unexpectedly (%s)", self._url, type(exc).__name__)

    async def _fetch(self) -> None:
        try:
            async with asyncio.timeout(self._fetch_timeout_s):
                response = await self._http.get(self._url, headers=self._headers)
            response.raise_for_status()
            listing = WireModelList.model_validate_json(response.content)
        except (httpx.HTTPError, ValidationError, TimeoutError) as exc:
            self._next_fetch_at = self._clock() + min(self._retry_s, self._ttl_s)
            stale = "keeping the previous prices" if self._prices is not None else "no prices"
            log.warning("fetching %s failed (%s); %s", self._url, type(exc).__name__, stale)
            return
        self._prices = {m.id: _model_price(m) for m in listing.data}
        self._next_fetch_at = self._clock() + self._ttl_s


class StaticPrices:
    """A ``PriceSource`` from a fixed mapping: a plain server's price table (the pool file's
    ``[prices]``), or a test's."""

    def __init__(self, prices: Mapping[str, ModelPrice]) -> None:
        self.prices = dict(prices)

    def __repr__(self) -> str:
        return f"StaticPrices({len(self.prices)} models)"

    async def price(self, model: str) -> ModelPrice | None:
        return self.prices.get(model)


async def price_usage(usage: Usage, model: str, prices: PriceSource) -> Usage:
    """Fill in the cost of ``usage`` from ``prices`` when the endpoint did not report it.

    A usage whose cost is already known (``reported``/``priced``/``estimated``/``mixed``) is
    returned as is. A model without a known price is charged at ``UNPRICED_PRICE`` (source
    ``estimated``): settling such calls as $0 would let unpriced models spend without limit.
    """
    if usage.cost_source != "unknown":
        return usage
    price = await prices.price(model)
    source: CostSource = "priced"
    if price is None:
        price, source = UNPRICED_PRICE, "estimated"
    cost = tokens_cost(usage.prompt_tokens, usage.completion_tokens, price)
    return usage.model_copy(update={"cost_micros": cost, "cost_source": source})


def tokens_cost(prompt_tokens: int, completion_tokens: int, price: ModelPrice) -> int:
    """What ``prompt_tokens`` in and ``completion_tokens`` out cost at ``price`` (rounded up)."""
    return cost_micros(prompt_tokens, price.prompt_per_mtok) + cost_micros(
        completion_tokens, price.completion_per_mtok
    )
