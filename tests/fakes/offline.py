"""What the hand-run fake model server (``python -m tests.fakes.model_server``) answers and
charges, so the README's offline try-out behaves like the real service.

- ``PRICES``: list prices (USD per million tokens, prompt and completion) for every model the
  built-in pools name, of the order OpenRouter lists for such models. They are published in
  ``GET /models`` as a real endpoint does, so quotes and budgets see priced models instead of
  charging each one the cautious unpriced rate.
- ``answer``: routes by role, so ``fusion ask`` gets a real analysis from its judge and
  ``fusion eval`` gets valid verdicts from its judges; every other call is prose.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from tests.fakes.judge import (
    analysis_json_for,
    is_eval_judge_request,
    is_judge_request,
    verdict_json_for,
)
from tests.fakes.model_server import ModelBehavior

__all__ = ["PRICES", "answer", "priced_models"]

PRICES: dict[str, tuple[float, float]] = {
    "anthropic/claude-sonnet-4.6": (3.0, 15.0),
    "openai/gpt-5.4": (1.25, 10.0),
    "openai/gpt-5.4-mini": (0.25, 2.0),
    "google/gemini-3.1-pro-preview": (2.0, 12.0),
    "google/gemini-3-flash-preview": (0.5, 3.0),
    "google/gemini-2.5-pro": (1.25, 10.0),
    "deepseek/deepseek-v3.2": (0.28, 0.42),
    "deepseek/deepseek-chat-v3.1": (0.2, 0.8),
    "deepseek/deepseek-v4-pro": (0.5, 2.0),
    "qwen/qwen3-max": (1.2, 6.0),
    "qwen/qwen3-coder": (0.22, 0.95),
    "qwen/qwen3-235b-a22b-2507": (0.08, 0.55),
}
"""slug -> (prompt, completion) USD per million tokens."""


def answer(body: dict[str, Any]) -> str:
    """The reply to one chat request, by the role the request plays."""
    prompt = "\n".join(str(m.get("content")) for m in body.get("messages", []))
    if is_eval_judge_request(body):
        return verdict_json_for(prompt)
    if is_judge_request(body):
        return analysis_json_for(prompt)
    return f"A fine answer from {body.get('model')}."


def priced_models(behavior: ModelBehavior) -> dict[str, ModelBehavior]:
    """``behavior`` for every model in ``PRICES``, at that model's price."""
    return {
        slug: dataclasses.replace(
            behavior, prompt_price_usd_per_mtok=prompt, completion_price_usd_per_mtok=completion
        )
        for slug, (prompt, completion) in PRICES.items()
    }
