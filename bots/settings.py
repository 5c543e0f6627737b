"""Process settings, read once from the environment (and a ``.env`` file) at the edge.

Only ``bots/`` reads the environment; everything below receives typed values. Secrets are
``SecretStr`` so they never print in logs or tracebacks.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from fusion_engine.config import FusionConfig, load_config
from fusion_engine.errors import ConfigError

__all__ = ["LOG_LEVELS", "PROVIDERS", "Settings", "load_pool_file", "secret_value"]

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
PROVIDERS = ("openrouter", "openai")


def secret_value(value: SecretStr | None) -> str | None:
    """A secret's stripped text, or ``None`` when it is unset or blank."""
    text = value.get_secret_value().strip() if value is not None else ""
    return text or None


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore", populate_by_name=True)

    provider: Literal["openrouter", "openai"] = Field(default="openrouter", alias="FUSION_PROVIDER")
    """Which kind of endpoint answers (``bots.endpoint``): OpenRouter, or a plain
    OpenAI-compatible server priced from the pool file's ``[prices]``."""
    openrouter_api_key: SecretStr | None = None
    openrouter_base_url: str = "https://openrouter.ai/api/v1"
    openai_api_key: SecretStr | None = None
    """Optional: a local server may need no key."""
    openai_base_url: str = "https://api.openai.com/v1"
    fusion_config: Path | None = None
    """Path of a TOML pool file; unset for the built-in pools."""

    redis_url: str | None = None
    """Unset: Fusion starts an embedded Redis-compatible server persisted under ``data_dir``."""
    data_dir: Path = Field(default=Path(".fusion"), alias="FUSION_DATA_DIR")
    metrics_port: int | None = Field(default=None, alias="FUSION_METRICS_PORT")
    log_level: str = Field(default="INFO", alias="FUSION_LOG_LEVEL")

    slack_bot_token: SecretStr | None = None
    slack_signing_secret: SecretStr | None = None
    slack_app_token: SecretStr | None = None
    slack_api_url: str = "https://slack.com/api/"
    slack_client_id: str | None = None
    slack_client_secret: SecretStr | None = None
    slack_installation_db: str = Field(
        default="sqlite:///.fusion/slack_installations.db", alias="SLACK_INSTALLATION_DB"
    )
    port: int = 3000

    discord_token: SecretStr | None = None
    discord_api_url: str | None = None
    """Override of Discord's REST base URL (tests point it at a loopback fake)."""
    discord_gateway_url: str | None = None

    @field_validator("redis_url")
    @classmethod
    def _redis_url(cls, url: str | None) -> str | None:
        """Checked with redis-py's own parser, so a URL accepted here also connects. The value
        is not echoed: it may hold a password."""
        if url is None or not url.strip():
            return None
        from redis.asyncio.connection import parse_url  # redis loads only when it is used

        try:
            parse_url(url.strip())
        except ValueError:
            raise ValueError(
                "is not a Redis URL; write redis://[:PASSWORD@]HOST:6379/0 (rediss:// for TLS, "
                "unix:///path/to/redis.sock), or unset REDIS_URL to use the embedded server"
            ) from None
        return url.strip()

    @field_validator("provider", mode="before")
    @classmethod
    def _provider(cls, name: object) -> object:
        if not isinstance(name, str):
            return name
        if name.strip().lower() not in PROVIDERS:
            raise ValueError(f"{name!r} is not a provider; use one of {', '.join(PROVIDERS)}")
        return name.strip().lower()

    @field_validator("log_level")
    @classmethod
    def _log_level(cls, level: str) -> str:
        name = level.strip().upper()
        if name not in LOG_LEVELS:
            raise ValueError(f"{level!r} is not a log level; use one of {', '.join(LOG_LEVELS)}")
        return name


def load_pool_file(settings: Settings) -> FusionConfig:
    """The pool file ``FUSION_CONFIG`` names (the built-in pools when unset); a file that
    cannot be read says which variable pointed at it."""
    try:
        return load_config(settings.fusion_config)
    except ConfigError as exc:
        if isinstance(exc.__cause__, OSError | UnicodeDecodeError):
            raise ConfigError(
                f"{exc} Point FUSION_CONFIG at another file, or unset it to use the built-in pools."
            ) from exc.__cause__
        raise
