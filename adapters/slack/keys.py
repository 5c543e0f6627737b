"""The Redis keys the Slack adapter writes (beside the core's ``fusion_engine.keys``).

Kept in one place for the same reason as the core's: a key is a schema shared by processes.
Everything lives under ``fusion:slack:`` and expires with the core's dedupe window.
"""

from __future__ import annotations

from fusion_engine.keys import DEDUPE_TTL_S, PREFIX

__all__ = ["MESSAGE_TTL_S", "SEEN_TTL_S", "message_key", "result_key", "seen_key"]

_SLACK = f"{PREFIX}:slack"
MESSAGE_TTL_S = DEDUPE_TTL_S
"""How long a job's message state (channel, ts, what was posted) and its result are kept."""
SEEN_TTL_S = 24 * 3600
"""Slack retries an event for about an hour; a day covers retries and duplicate deliveries."""


def message_key(job_key: str) -> str:
    """Hash: ``channel``, ``ts``, ``mode`` (message | response_url), ``replies``, ``final``,
    ``job`` (the FusionJob JSON, for Re-run)."""
    return f"{_SLACK}:msg:{job_key}"


def result_key(job_key: str) -> str:
    """The FusionResult JSON (for Show the analysis)."""
    return f"{_SLACK}:result:{job_key}"


def seen_key(event_id: str) -> str:
    """Set once per Events API ``event_id``: a retried or duplicate delivery finds it."""
    return f"{_SLACK}:seen:{event_id}"
