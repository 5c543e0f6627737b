"""The Redis keys the Discord adapter writes (beside the core's ``fusion_engine.keys``).

Kept in one place for the same reason as the core's: a key is a schema shared by processes (the
bot writes what the worker reads, and both may run different versions during a deploy).
Everything lives under ``fusion:discord:``.
"""

from __future__ import annotations

from fusion_engine.keys import PREFIX

__all__ = [
    "POSTED_TTL_S",
    "RESULT_TTL_S",
    "conversation_key",
    "dm_limits_key",
    "posted_key",
    "result_key",
]

_DISCORD = f"{PREFIX}:discord"
RESULT_TTL_S = 30 * 24 * 3600
"""How long per-model buttons and thread conversations keep working."""
POSTED_TTL_S = 2 * 24 * 3600
"""How long a re-run finds what a job already posted (covers the queue's retries)."""


def result_key(job_key: str) -> str:
    """The finished ``FusionResult`` JSON, so the per-model buttons keep working after a
    restart (persistent views carry only ``job key + model index`` in their custom_id)."""
    return f"{_DISCORD}:result:{job_key}"


def posted_key(job_key: str) -> str:
    """``Posted`` JSON: which messages a job already posted (main, overflow parts, thread,
    thread parts), so a re-run after a crash edits instead of posting again."""
    return f"{_DISCORD}:posted:{job_key}"


def conversation_key(thread_id: str) -> str:
    """The conversation held by an answer's thread (``ConversationTurn`` JSON list), for
    follow-up mentions."""
    return f"{_DISCORD}:conv:{thread_id}"


def dm_limits_key(user_id: str) -> str:
    """Set once when a user's DM budget got its DM default limits."""
    return f"{_DISCORD}:dm-limits:{user_id}"
