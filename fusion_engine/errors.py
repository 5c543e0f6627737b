"""One exception tree for everything Fusion raises on purpose.

::

    FusionError                      base; ``user_message`` is safe to show in a chat
    ├── ConfigError                  bad settings or pool file; says how to fix it
    ├── InputError                   bad question or options from the user (nothing was called)
    ├── ModelCallError               one model call failed (model, status, retryable, retry_after,
    │   │                            usage: what the endpoint billed for it, when it said)
    │   ├── ModelTimeout             no answer within the per-call timeout
    │   ├── ModelConnectionError     could not reach the endpoint
    │   ├── ModelHTTPError           non-2xx status, or an error event inside a 200 stream
    │   ├── ModelOutputError         empty or unparseable output
    │   └── CallOverBudget           not made: the budget hold could not grow to cover it
    ├── QuorumError                  too few panel members answered
    ├── StageError                   judge/writer stage failed after billed calls (spent_micros)
    ├── IncompleteRunError           an engine's event stream ended without ``Done`` (an engine bug)
    ├── RefusedError                 the request was refused before anything ran; nothing charged
    │   ├── BudgetExceeded           the tenant's budget cannot cover the quote
    │   └── RateLimited              too many requests from this user
    └── UnavailableError             a backing service (Redis) is down; try again later

Errors carry data, not just text, so adapters can render them and retry logic can reason about
them. Messages never include secrets (API keys, tokens, signing secrets).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # annotations only: the llm package imports this module
    from fusion_engine.llm.base import Usage

__all__ = [
    "BudgetExceeded",
    "CallOverBudget",
    "ConfigError",
    "FusionError",
    "IncompleteRunError",
    "InputError",
    "ModelCallError",
    "ModelConnectionError",
    "ModelHTTPError",
    "ModelOutputError",
    "ModelTimeout",
    "QuorumError",
    "RateLimited",
    "RefusedError",
    "StageError",
    "UnavailableError",
]


class FusionError(Exception):
    """Base of every deliberate Fusion error."""

    @property
    def user_message(self) -> str:
        """A one-line message that is safe to show to a chat user."""
        return str(self)


class ConfigError(FusionError):
    """Settings or the pool file are wrong. The message says how to fix it."""


class InputError(FusionError):
    """The user's question or options are invalid. No model was called."""


class ModelCallError(FusionError):
    """One call to one model failed.

    ``retryable`` is true for failures worth trying again (429, 502, 503, connection errors,
    timeouts); ``retry_after`` is the server's ``Retry-After`` in seconds, when it sent one.
    ``kind`` is a short machine-readable reason such as ``"timeout"`` or ``"http_429"``.
    ``usage`` is what the endpoint reported for the failed call (an empty answer is still
    billed), so the caller can charge it; ``None`` when nothing was reported.
    """

    kind = "error"

    def __init__(
        self,
        model: str,
        message: str,
        *,
        status: int | None = None,
        retryable: bool = False,
        retry_after: float | None = None,
        usage: Usage | None = None,
    ) -> None:
        super().__init__(f"{model}: {message}")
        self.model = model
        self.detail = message
        self.status = status
        self.retryable = retryable
        self.retry_after = retry_after
        self.usage = usage


class ModelTimeout(ModelCallError):
    kind = "timeout"

    def __init__(self, model: str, message: str = "timed out") -> None:
        super().__init__(model, message, retryable=True)


class ModelConnectionError(ModelCallError):
    kind = "connection"

    def __init__(self, model: str, message: str = "could not connect") -> None:
        super().__init__(model, message, retryable=True)


class ModelHTTPError(ModelCallError):
    """A non-2xx response, or an ``error`` object inside a 200 SSE stream."""

    RETRYABLE_STATUSES = frozenset({408, 429, 502, 503, 504})

    def __init__(
        self,
        model: str,
        status: int,
        message: str,
        *,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(
            model,
            f"HTTP {status}: {message}",
            status=status,
            retryable=status in self.RETRYABLE_STATUSES,
            retry_after=retry_after,
        )

    @property
    def kind(self) -> str:  # type: ignore[override]
        return f"http_{self.status}"


class ModelOutputError(ModelCallError):
    """The model answered, but with nothing usable (empty, or not the expected structure)."""

    kind = "bad_output"

    def __init__(
        self, model: str, message: str = "empty answer", *, usage: Usage | None = None
    ) -> None:
        super().__init__(model, message, retryable=False, usage=usage)


class CallOverBudget(ModelCallError):
    """A model call was not made: the fusion's budget hold could not grow to cover its most
    expensive outcome. Never retried (the budget will not have grown a moment later); to the
    stage it is one more failed call, so a panel member fails, the judge gives no analysis,
    and a writer that cannot run ends the fusion with this reason."""

    kind = "budget"

    def __init__(self, model: str, refusal: BudgetExceeded) -> None:
        from fusion_engine.money import format_usd

        super().__init__(
            model,
            f"not run: the {refusal.window} budget has {format_usd(refusal.remaining_micros)} "
            f"left and this call could cost up to {format_usd(refusal.quote_micros)} more "
            f"(it resets {refusal.resets_at:%Y-%m-%d %H:%M} UTC)",
        )
        self.refusal = refusal


class QuorumError(FusionError):
    """Fewer panel members answered than the pool's quorum.

    ``failures`` maps each failed member to its reason; ``calls`` lists every failed call
    (member or fallback slug, cause), in order. The message names each distinct cause once,
    with the calls it stopped: an endpoint that is down fails every call the same way, and
    one cause said seven times hides it."""

    def __init__(
        self,
        answered: int,
        quorum: int,
        failures: dict[str, str],
        *,
        calls: Sequence[tuple[str, str]] | None = None,
    ) -> None:
        self.calls = tuple(failures.items() if calls is None else calls)
        super().__init__(
            f"only {answered} of the panel answered, {quorum} needed"
            + _grouped(self.calls, every=answered == 0)
        )
        self.answered = answered
        self.quorum = quorum
        self.failures = failures


def _grouped(calls: Sequence[tuple[str, str]], *, every: bool) -> str:
    by_cause: dict[str, list[str]] = {}
    for slug, cause in calls:
        by_cause.setdefault(cause, []).append(slug)
    if not by_cause:
        return ""
    if len(by_cause) == 1 and len(calls) > 1:
        return f": {'all ' if every else ''}{len(calls)} calls failed: {next(iter(by_cause))}"
    parts = (
        f"{slugs[0]}: {cause}" if len(slugs) == 1 else f"{cause} ({', '.join(slugs)})"
        for cause, slugs in by_cause.items()
    )
    return f" ({'; '.join(parts)})"


class StageError(FusionError):
    """A stage after the panel failed for good. ``spent_micros`` is what its calls were billed,
    which no progress event reported, so the budget can still be charged the real spend."""

    def __init__(self, message: str, *, spent_micros: int = 0) -> None:
        super().__init__(message)
        self.spent_micros = spent_micros


class IncompleteRunError(FusionError):
    """An engine's event stream ended without ``Done``: a broken engine, not a failed fusion
    (a failed fusion raises its own error from the stream). Whatever the stream reported it
    spent before it ended is still charged."""

    def __init__(self, message: str = "The fusion ended without an answer.") -> None:
        super().__init__(message)


class RefusedError(FusionError):
    """Refused before anything ran. Nothing was charged."""


class BudgetExceeded(RefusedError):
    """The tenant's remaining budget cannot cover the quoted cost.

    ``more``: a running fusion's hold could not grow by ``quote_micros`` (what was already held,
    and any spend recorded for it, stays as it was)."""

    def __init__(
        self,
        tenant: str,
        *,
        window: str,
        remaining_micros: int,
        quote_micros: int,
        resets_at: datetime,
        more: bool = False,
    ) -> None:
        from fusion_engine.money import format_usd

        cost = "needs up to {} more" if more else "would cost up to {}"
        super().__init__(
            f"The {window} budget has {format_usd(remaining_micros)} left and this question "
            f"{cost.format(format_usd(quote_micros))}. "
            f"It resets {resets_at:%Y-%m-%d %H:%M} UTC."
        )
        self.tenant = tenant
        self.more = more
        self.window = window
        self.remaining_micros = remaining_micros
        self.quote_micros = quote_micros
        self.resets_at = resets_at


class RateLimited(RefusedError):
    """Too many requests from one user in the current window."""

    def __init__(self, user: str, *, limit: str, retry_after_s: float) -> None:
        super().__init__(
            f"Too many questions (limit {limit}). Try again in {max(1, round(retry_after_s))} s."
        )
        self.user = user
        self.limit = limit
        self.retry_after_s = retry_after_s


class UnavailableError(FusionError):
    """A backing service is unreachable. Nothing was charged; try again shortly."""
