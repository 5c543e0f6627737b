"""The pool file: pools, the default pool, budget defaults and a price table, loaded from TOML.

The core never reads the environment: a process passes the path it got from its settings, or
``None`` for the built-in defaults shipped beside this module. Messages here name the file and
the key at fault, never a setting: the process adds how its settings point at the file.
"""

from __future__ import annotations

import tomllib
from importlib import resources
from pathlib import Path
from typing import Any, Self

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from fusion_engine.errors import ConfigError, InputError
from fusion_engine.llm.base import ModelPrice
from fusion_engine.money import MAX_LIMIT_USD, usd_to_micros
from fusion_engine.pools import MAX_PANEL, MIN_PANEL, PoolSpec

__all__ = ["BudgetDefaults", "FusionConfig", "TablePrice", "describe_problems", "load_config"]

MAX_PRICE_USD_PER_MTOK = 10_000
"""Far above any listed model (the dearest cost hundreds of dollars a million tokens); a larger
number is a typo (a price per token written as per million, or a missing decimal point)."""


class BudgetDefaults(BaseModel):
    """Limits new tenants start with (USD). ``0`` for the DM limits disables DMs."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    daily_usd: float = Field(default=5.0, ge=0, le=MAX_LIMIT_USD)
    monthly_usd: float = Field(default=50.0, ge=0, le=MAX_LIMIT_USD)
    dm_daily_usd: float = Field(default=0.5, ge=0, le=MAX_LIMIT_USD)
    dm_monthly_usd: float = Field(default=5.0, ge=0, le=MAX_LIMIT_USD)
    user_rate_limit: str = "10/minute"
    """A ``limits`` rate string; checked here, at load, with the library's own parser."""

    @field_validator("user_rate_limit")
    @classmethod
    def _one_rate(cls, value: str) -> str:
        import limits  # here, not at the top: the CLI loads config on every start

        fix = "write one rate such as '10/minute' or '100/hour'"
        try:
            items = limits.parse_many(value)
        except ValueError:
            raise ValueError(f"{value!r} is not a rate limit; {fix}") from None
        if len(items) != 1 or items[0].amount < 1:
            raise ValueError(f"{value!r} must be one rate of at least 1; {fix}")
        return value


class TablePrice(BaseModel):
    """One model's price in the pool file's ``[prices]`` table, in USD per million tokens:
    ``"my/model" = { prompt = 0.15, completion = 0.60 }``."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    prompt: float = Field(ge=0, le=MAX_PRICE_USD_PER_MTOK)
    completion: float = Field(ge=0, le=MAX_PRICE_USD_PER_MTOK)

    def model_price(self) -> ModelPrice:
        """In integer micro-dollars per million tokens (rounded up), parsed from the decimal
        text so ``0.15`` is exactly ``150_000``."""
        return ModelPrice(
            prompt_per_mtok=usd_to_micros(self.prompt),
            completion_per_mtok=usd_to_micros(self.completion),
        )


class FusionConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    default_pool: str
    pools: dict[str, PoolSpec]
    budgets: BudgetDefaults = BudgetDefaults()
    prices: dict[str, TablePrice] = {}
    """Prices for a plain OpenAI-compatible server (slug → USD per million tokens), which lists
    none itself. A model missing here is unpriced (the quote lists it and charges the
    conservative allowance)."""

    @field_validator("prices")
    @classmethod
    def _price_slugs(cls, prices: dict[str, TablePrice]) -> dict[str, TablePrice]:
        for slug in prices:
            if not slug or any(c.isspace() for c in slug):
                raise ValueError(f"has {slug!r}, which is not a model slug (like 'org/model')")
        return prices

    def price_table(self) -> dict[str, ModelPrice]:
        """``prices`` in the engine's units, for a ``StaticPrices`` source."""
        return {slug: price.model_price() for slug, price in self.prices.items()}

    @model_validator(mode="before")
    @classmethod
    def _name_pools(cls, data: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("pools"), dict):
            pools = {}
            for name, spec in data["pools"].items():
                pools[name] = {"name": name, **spec} if isinstance(spec, dict) else spec
            data = {**data, "pools": pools}
        return data

    @model_validator(mode="after")
    def _check_default(self) -> Self:
        if not self.pools:
            raise ValueError("no pools are defined; add a [pools.NAME] table")
        if self.default_pool not in self.pools:
            raise ValueError(
                f"default_pool {self.default_pool!r} is not one of the pools: "
                + ", ".join(sorted(self.pools))
            )
        return self

    def pool(self, name: str | None = None) -> PoolSpec:
        """The named pool (default pool when ``None``); ``InputError`` names the choices."""
        key = name or self.default_pool
        try:
            return self.pools[key]
        except KeyError:
            raise InputError(
                f"Unknown pool {key!r}. Choose one of: {', '.join(sorted(self.pools))}."
            ) from None

    def resolve(
        self,
        pool: str | None = None,
        *,
        models: tuple[str, ...] | None = None,
        judge: str | None = None,
        writer: str | None = None,
    ) -> PoolSpec:
        """A pool with the user's overrides applied; bad overrides raise ``InputError``."""
        spec = self.pool(pool)
        if models is not None:
            cleaned = tuple(dict.fromkeys(m.strip() for m in models if m.strip()))
            if not MIN_PANEL <= len(cleaned) <= MAX_PANEL:
                raise InputError(
                    f"Give between {MIN_PANEL} and {MAX_PANEL} distinct models "
                    f"(got {len(cleaned)}), e.g. --models "
                    "openai/gpt-5.4,anthropic/claude-sonnet-4.6"
                )
            for slug in cleaned:
                _check_slug(slug)
            spec = spec.with_models(cleaned)
        updates: dict[str, str] = {}
        if judge is not None:
            updates["judge"] = _check_slug(judge.strip())
        if writer is not None:
            updates["writer"] = _check_slug(writer.strip())
        return spec.model_copy(update=updates) if updates else spec


def _check_slug(slug: str) -> str:
    if not slug or any(c.isspace() for c in slug) or len(slug) > 200:
        raise InputError(f"{slug!r} is not a model slug; slugs look like 'openai/gpt-5.4'.")
    return slug


def load_config(path: Path | None = None) -> FusionConfig:
    """Load the pool file at ``path``, or the built-in defaults when ``path`` is ``None``."""
    if path is None:
        text = resources.files("fusion_engine").joinpath("default_config.toml").read_text()
        source = "the built-in defaults"
    else:
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"Cannot read the pool file {path} ({exc.strerror}).") from exc
        except UnicodeDecodeError as exc:
            raise ConfigError(
                f"The pool file {path} is not UTF-8 text (byte {exc.start} cannot be read). "
                "Save it as UTF-8 (TOML requires it)."
            ) from exc
        source = str(path)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source} is not valid TOML: {exc}. Fix the line it names.") from exc
    try:
        return FusionConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(
            f"{source} has problems: {describe_problems(exc)}. See README.md, 'Configuration'."
        ) from exc


def describe_problems(exc: ValidationError, *, upper: bool = False) -> str:
    """Each problem as ``key: pydantic's message``, or ``key our validator's sentence`` (its
    ``Value error,`` prefix dropped), joined by ``; ``. ``upper`` spells keys as environment
    variables."""
    problems = []
    for err in exc.errors():
        key = ".".join(str(p) for p in err["loc"])
        key = key.upper() if upper else key
        if err["type"] == "value_error" and "error" in err.get("ctx", {}):
            problems.append(f"{key} {err['ctx']['error']}")
        else:
            problems.append(f"{key}: {err['msg']}")
    return "; ".join(problems)
