from __future__ import annotations

import redis

from bots.embedded_redis import EmbeddedRedis


def test_data_survives_a_restart(own_redis: EmbeddedRedis) -> None:
    client = redis.Redis.from_url(own_redis.url)
    client.set("budget", "42")
    client.close()
    own_redis.stop()
    assert not own_redis.running
    own_redis.start()
    client = redis.Redis.from_url(own_redis.url)
    assert client.get("budget") == b"42"
    client.close()


async def test_shared_server_answers(redis_client: redis.asyncio.Redis) -> None:
    assert await redis_client.ping() is True
    await redis_client.set("k", "v")
    assert await redis_client.get("k") == b"v"
