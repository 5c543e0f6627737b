"""Answers of realistic length per role, for a fake model server that streams like a provider.

A real fusion reads about 5,000 stream events: four panel answers of ~800 tokens, a judge of
~1,000 and a writer of ~1,200, one event per token. ``RoleLengths`` holds those lengths (in the
fake's tokens of four characters) and ``answer_for`` writes an answer of that length for a
request body, by role: valid judge JSON (``tests.fakes.judge``) padded to length for the judge,
prose for the panel and the writer. ``realistic`` is the ``ModelBehavior`` that streams them
one token-sized event at a time, with OpenRouter's keep-alive comments while it "thinks".
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from tests.fakes.judge import analysis_json_for, is_judge_request, is_writer_request
from tests.fakes.model_server import ModelBehavior

__all__ = ["CHARS_PER_TOKEN", "RoleLengths", "answer_for", "realistic"]

CHARS_PER_TOKEN = 4
"""The fake tokenizer's (``model_server.count_tokens``): one streamed event per 4 characters."""
_PROSE = (
    "Read replicas scale reads and keep data fresh within the replication lag, while a cache "
    "cuts latency for hot keys but needs an invalidation story; most systems end up with both. "
)


@dataclass(frozen=True)
class RoleLengths:
    """Answer lengths in tokens, per role (a provider's typical long-form answers)."""

    panel: int = 800
    judge: int = 1000
    writer: int = 1200

    def chunks(self, panel_size: int) -> int:
        """Stream events of one fusion with ``panel_size`` members (one per token)."""
        return panel_size * self.panel + self.judge + self.writer


def _prose(tokens: int, lead: str) -> str:
    chars = tokens * CHARS_PER_TOKEN
    text = lead + _PROSE * (chars // len(_PROSE) + 1)
    return text[:chars]


def _judge(body: dict[str, Any], tokens: int) -> str:
    prompt = "\n".join(str(m.get("content") or "") for m in body.get("messages", []))
    reply = json.loads(analysis_json_for(prompt))
    short = json.dumps(reply)
    room = tokens * CHARS_PER_TOKEN - len(short) - len(', ""')
    if room > 0:
        reply["consensus"].append(_prose(room // CHARS_PER_TOKEN, "").strip())
    return json.dumps(reply)


def answer_for(body: dict[str, Any], lengths: RoleLengths = RoleLengths()) -> str:
    """An answer to ``body`` of its role's length (within a token or two)."""
    if is_judge_request(body):
        return _judge(body, lengths.judge)
    if is_writer_request(body):
        return _prose(lengths.writer, "The fused answer: ")
    return _prose(lengths.panel, f"{body.get('model')} answers: ")


def realistic(
    lengths: RoleLengths = RoleLengths(),
    *,
    tokens_per_s: float | None = None,
    latency_s: float = 0.0,
    keepalive_s: float | None = 1.0,
    **kw: Any,
) -> ModelBehavior:
    """A model that answers at ``lengths`` one token per event: at ``tokens_per_s`` (one write
    per event, up to 1,000 writes a second), or as fast as the client reads when ``None``."""
    return ModelBehavior(
        text=lambda body: answer_for(body, lengths),
        piece_chars=CHARS_PER_TOKEN,
        tokens_per_s=tokens_per_s,
        writes_per_s=1000.0,
        latency_s=latency_s,
        keepalive_s=keepalive_s,
        **kw,
    )
