"""The budget is a hard cap, end to end: the real CLI, the real client, a real Redis, and a
provider that ignores ``max_tokens``.

Every panel member and the writer stream ~140k characters whatever ``max_tokens`` says (usage
and cost only in a last chunk they never reach). Three questions are charged to one team with a
$0.05 daily limit: what the budget records never passes $0.05, and it is exactly what the
answered questions say they cost. Before the client cut streams at their cap, the same three
questions recorded $0.17-0.27.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from bots.embedded_redis import EmbeddedRedis
from fusion_engine.budget.redis_store import RedisBudgetStore
from fusion_engine.config import load_config
from fusion_engine.result import FusionResult
from tests.bots.conftest import JUDGE, PANEL, WRITER, _text_for
from tests.bots.test_ask_cli import final_error_line, invoke
from tests.fakes.model_server import FakeModelServer, ModelBehavior, overrun

LIMIT_MICROS = 50_000
TENANT = "capped-team"


@pytest.fixture
async def overrunning_server() -> AsyncIterator[FakeModelServer]:
    behaviors = {m: overrun() for m in (*PANEL, WRITER)}
    behaviors[JUDGE] = ModelBehavior(text=_text_for)
    async with FakeModelServer(behaviors) as server:
        yield server


async def test_three_questions_against_a_five_cent_limit_never_record_more(
    overrunning_server: FakeModelServer,
    pool_file: Path,
    redis_server: EmbeddedRedis,
    redis_client: aioredis.Redis,
) -> None:
    store = RedisBudgetStore.from_defaults(redis_client, load_config(None).budgets)
    await store.set_limits(TENANT, daily_micros=LIMIT_MICROS, monthly_micros=10 * LIMIT_MICROS)
    env = {
        "OPENROUTER_BASE_URL": overrunning_server.base_url,
        "OPENROUTER_API_KEY": "test-key",
        "FUSION_CONFIG": str(pool_file),
        "REDIS_URL": redis_server.url,
    }

    charged: list[int] = []
    refused = 0
    for n in range(3):
        result = await invoke(["ask", "--json", "--tenant", TENANT, f"Question {n}?"], env)
        if result.exit_code == 0:
            fused = FusionResult.model_validate_json(result.stdout)
            assert all(a.truncated for a in fused.answers)  # every member overran and was cut
            charged.append(fused.cost_micros)
        else:
            assert result.exit_code == 1, result.output
            assert "budget" in final_error_line(result)
            refused += 1

    status = await store.status(TENANT)
    assert status.held_micros == 0
    assert status.daily_spent_micros == sum(charged)
    assert status.daily_spent_micros <= LIMIT_MICROS
    # One question cut at its caps costs $0.0249, and the $0.0251 left is less than the next
    # one's quote, so it and the third are refused before any call; with no cap the first
    # question alone recorded more than the whole limit.
    assert (len(charged), refused) == (1, 2)
    assert charged == [24_924]
    # No stream was read to its end: each was closed at its cap.
    assert overrunning_server.streams
    assert not any(s.finished for s in overrunning_server.streams if s.model != JUDGE)
