from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis

from tests.adapters.slack.harness import SlackHarness, open_harness
from tests.fakes.slack_api import FakeSlack


@pytest.fixture
async def fake_slack() -> AsyncIterator[FakeSlack]:
    async with FakeSlack() as fake:
        yield fake


@pytest.fixture
async def slack(fake_slack: FakeSlack, redis_client: aioredis.Redis) -> AsyncIterator[SlackHarness]:
    harness, server = await open_harness(fake_slack, redis_client)
    try:
        yield harness
    finally:
        await harness.http.aclose()
        await server.close()
