"""Pools: which models sit on the panel, who judges, who writes, and the timing knobs.

A pool is plain, frozen data. ``PoolSpec`` travels inside every ``FusionRequest`` (and so inside
every queued job), so a worker runs exactly the pool that was quoted at submit time.
"""

from __future__ import annotations

from typing import Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = ["MAX_PANEL", "MIN_PANEL", "PoolSpec"]

MIN_PANEL = 2
MAX_PANEL = 8


class PoolSpec(BaseModel):
    """One resolved pool. Every field has a safe default except the models themselves."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1, max_length=64)
    models: tuple[str, ...] = Field(min_length=MIN_PANEL, max_length=MAX_PANEL)
    judge: str = Field(min_length=1)
    writer: str = Field(min_length=1)
    judge_fallback: str | None = None
    writer_fallback: str | None = None
    fallbacks: dict[str, tuple[str, ...]] = Field(default_factory=dict)
    """Per panel model, slugs to try in order when it fails."""
    description: str = ""

    max_output_tokens: int = Field(default=1500, ge=64, le=32_000)
    """Cap on each panel answer."""
    judge_max_tokens: int = Field(default=2500, ge=256, le=32_000)
    writer_max_tokens: int = Field(default=3000, ge=256, le=32_000)
    temperature: float | None = Field(default=None, ge=0, le=2)
    writer_temperature: float | None = Field(default=None, ge=0, le=2)
    """The writer's own temperature (an API client's ``temperature``); ``None``: ``temperature``."""

    call_timeout_s: float = Field(default=90.0, gt=0, le=900)
    """Per-call timeout for one model request (including streaming)."""
    quorum: int = Field(default=2, ge=1, le=MAX_PANEL)
    """Minimum panel answers needed to go on."""
    grace_s: float = Field(default=8.0, ge=0, le=600)
    """Once quorum is reached, how long to wait for the rest of the panel."""
    deadline_s: float = Field(default=120.0, gt=0, le=1800)
    """Hard deadline for the whole panel stage."""
    max_retries: int = Field(default=2, ge=0, le=6)
    """Retries per call for retryable failures (429, 502, 503, connection, timeout)."""

    @model_validator(mode="after")
    def _check(self) -> Self:
        if len(set(self.models)) != len(self.models):
            raise ValueError(f"pool {self.name!r} lists a model twice")
        if self.quorum > len(self.models):
            raise ValueError(
                f"pool {self.name!r}: quorum {self.quorum} is larger than its "
                f"{len(self.models)} models"
            )
        unknown = set(self.fallbacks) - set(self.models)
        if unknown:
            raise ValueError(
                f"pool {self.name!r}: fallbacks given for models not in the pool: "
                + ", ".join(sorted(unknown))
            )
        return self

    def with_models(self, models: tuple[str, ...]) -> PoolSpec:
        """This pool's knobs with another panel (quorum clipped to fit)."""
        return PoolSpec.model_validate(
            self.model_dump()
            | {
                "name": "custom",
                "models": models,
                "fallbacks": {},
                "quorum": min(self.quorum, len(models)),
            }
        )
