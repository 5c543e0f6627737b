"""Every Redis key Fusion writes, and every TTL, in one place.

Why one module: keys are a schema shared by processes of different versions; scattering
f-strings across modules is how two writers end up disagreeing about a name. Each tenant's
budget keys share the ``{tenant}`` hash tag so the budget Lua scripts touch a single slot.
The ``limits`` rate limiter and saq keep their own prefixes (``LIMITS`` and ``saq:``).
"""

from __future__ import annotations

__all__ = [
    "ATTEMPTS_TTL_S",
    "DAILY_SPENT_TTL_S",
    "DEDUPE_TTL_S",
    "MONTHLY_SPENT_TTL_S",
    "PENDING_JOBS",
    "PENDING_LEASE_S",
    "PREFIX",
    "RATE_LIMIT_PREFIX",
    "SAQ_QUEUE_NAME",
    "TENANTS",
    "BudgetKeys",
    "JobKeys",
]

PREFIX = "fusion"
TENANTS = f"{PREFIX}:tenants"
"""A set of every tenant that ever reserved or had limits set (``fusion budget list``)."""
RATE_LIMIT_PREFIX = f"{PREFIX}:ratelimit"
SAQ_QUEUE_NAME = "fusion"

DAILY_SPENT_TTL_S = 3 * 24 * 3600
"""A day's spend counter outlives its day so ``status`` never races a rollover."""
MONTHLY_SPENT_TTL_S = 35 * 24 * 3600
DEDUPE_TTL_S = 7 * 24 * 3600
"""How long a job key (a platform event id) is remembered: accepted, settled, delivered."""
ATTEMPTS_TTL_S = DEDUPE_TTL_S

PENDING_JOBS = f"{PREFIX}:jobs:pending"
"""Sorted set: every accepted job not yet done (its key), scored by its lease expiry (epoch
ms, by the writer's clock). A lapsed lease hands the job to a reaper (``jobs/pending.py``)."""
PENDING_LEASE_S = 30.0
"""A pending job's lease: extended by the running attempt's keep-alive and by a reaper that finds
it still queued; a job lost by the queue is re-queued this long (plus a reap period) after a
worker last touched it."""


class BudgetKeys:
    """The keys of one tenant's budget."""

    __slots__ = ("tenant",)

    def __init__(self, tenant: str) -> None:
        self.tenant = tenant

    @property
    def _base(self) -> str:
        return f"{PREFIX}:budget:{{{self.tenant}}}"

    @property
    def limits(self) -> str:
        """Hash: ``daily`` and ``monthly`` limits in micro-dollars."""
        return f"{self._base}:limits"

    def daily_spent(self, day: str) -> str:
        """Integer micro-dollars spent in the UTC day ``day`` (``YYYYMMDD``)."""
        return f"{self._base}:spent:d:{day}"

    def monthly_spent(self, month: str) -> str:
        """Integer micro-dollars spent in the UTC month ``month`` (``YYYYMM``)."""
        return f"{self._base}:spent:m:{month}"

    @property
    def hold_amounts(self) -> str:
        """Hash: hold id -> micro-dollars held."""
        return f"{self._base}:holds"

    @property
    def hold_leases(self) -> str:
        """Sorted set: hold id scored by its lease expiry (epoch milliseconds)."""
        return f"{self._base}:leases"

    def settled(self, hold_id: str) -> str:
        """String: the amount a hold was settled for; its existence makes settle idempotent."""
        return f"{self._base}:settled:{hold_id}"


class JobKeys:
    """Markers that make a job's effects exactly-once across re-deliveries and crashes."""

    __slots__ = ("key",)

    def __init__(self, key: str) -> None:
        self.key = key

    @property
    def _base(self) -> str:
        return f"{PREFIX}:job:{{{self.key}}}"

    @property
    def accepted(self) -> str:
        """Set NX when the job is first enqueued; a retried delivery finds it and stops."""
        return f"{self._base}:accepted"

    @property
    def attempts(self) -> str:
        """Hash: attempt id -> micro-dollars that attempt is known to have spent."""
        return f"{self._base}:attempts"

    @property
    def outcome(self) -> str:
        """The finished result (or error) as JSON, so a re-run delivers it without re-asking."""
        return f"{self._base}:outcome"

    @property
    def pending(self) -> str:
        """Hash while the job is pending: ``job`` (the ``FusionJob`` JSON, so a reaper can queue
        it again) and ``reaps`` (how often a reaper had to). Deleted with its ``PENDING_JOBS``
        entry when the job is done."""
        return f"{self._base}:pending"

    @property
    def delivered(self) -> str:
        return f"{self._base}:delivered"

    @property
    def done(self) -> str:
        return f"{self._base}:done"

    @property
    def lock(self) -> str:
        """Held (with a short TTL, renewed) by the one attempt running the job right now."""
        return f"{self._base}:lock"
