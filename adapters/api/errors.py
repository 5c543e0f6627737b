"""Fusion's errors as OpenAI's error responses: ``{"error": {"message", "type", "code"}}``.

A client built for OpenAI branches on the status: 401 (bad key), 400 (fix the request), 402 and
429 (refused; nothing was charged; the message says when to come back), 503 (Redis or the
models are unavailable; retry later). Messages are the errors' ``user_message``: no secrets.
"""

from __future__ import annotations

from typing import Any

from fusion_engine.errors import (
    BudgetExceeded,
    ConfigError,
    FusionError,
    InputError,
    RateLimited,
)

__all__ = ["INVALID_KEY", "ApiError", "error_body", "from_fusion_error"]


class ApiError(Exception):
    """An error response: HTTP ``status`` and OpenAI's ``type`` and ``code``."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type: str,
        code: str,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type
        self.code = code
        self.headers = headers or {}
        self.extra = extra or {}


INVALID_KEY = ApiError(
    401,
    "Invalid API key. Create one with `fusion keys create TENANT` and send it as "
    "`Authorization: Bearer <key>`.",
    type="invalid_request_error",
    code="invalid_api_key",
)


def from_fusion_error(exc: FusionError) -> ApiError:
    message = exc.user_message
    if isinstance(exc, InputError):
        return ApiError(400, message, type="invalid_request_error", code="invalid_request")
    if isinstance(exc, BudgetExceeded):
        return ApiError(
            402,
            message,
            type="insufficient_quota",
            code="budget_exceeded",
            extra={"resets_at": exc.resets_at.isoformat(), "window": exc.window},
        )
    if isinstance(exc, RateLimited):
        wait = max(1, round(exc.retry_after_s))
        return ApiError(
            429,
            message,
            type="rate_limit_error",
            code="rate_limit_exceeded",
            headers={"Retry-After": str(wait)},
        )
    if isinstance(exc, ConfigError):
        return ApiError(500, message, type="server_error", code="configuration")
    # Redis down, too few models answered, a stage that failed: the service is unavailable.
    return ApiError(503, message, type="server_error", code="unavailable")


def error_body(error: ApiError) -> dict[str, Any]:
    return {
        "error": {
            "message": error.message,
            "type": error.type,
            "code": error.code,
            "param": None,
            **error.extra,
        }
    }
