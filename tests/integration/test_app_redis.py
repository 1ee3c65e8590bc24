"""The application scaled-out style: events and routing on the real Redis, two app processes sharing it."""

import uuid

import pytest

from contact_center.app import create_app
from contact_center.settings import load_settings
from contact_center.web.appkeys import ROUTING
from tests.conftest import another_process, bearer
from tests.services import REDIS_URL, redis_problem, require

pytestmark = pytest.mark.redis


@pytest.fixture
def redis_settings(database_url, tmp_path):
    require(redis_problem())
    return load_settings(
        database_url=database_url,
        data_dir=tmp_path / "data",
        secret_key="test-secret-key",
        public_url="http://testserver",
        redis_url=REDIS_URL,
        redis_prefix=f"cc-test-{uuid.uuid4().hex[:8]}:",
    )


@pytest.fixture
async def cleanup_redis(redis_settings):
    yield
    import redis.asyncio as aioredis

    client = aioredis.from_url(REDIS_URL)
    async for key in client.scan_iter(match=f"{redis_settings.redis_prefix}*", count=1000):
        await client.delete(key)
    await client.aclose()


async def test_health_checks_redis_and_routing_runs_on_it(
    aiohttp_client, redis_settings, cleanup_redis, staff, clock
):
    first = await aiohttp_client(create_app(redis_settings, clock=clock, tick_interval=None))
    second = await aiohttp_client(
        create_app(another_process(redis_settings), clock=clock, tick_interval=None)
    )
    health = await (await first.get("/healthz")).json()
    assert health["checks"] == {"database": "ok", "redis": "ok"}
    supervisor, agent = bearer(staff["supervisor"]["token"]), bearer(staff["agent"]["token"])
    created = await first.post(
        "/api/contacts",
        headers=supervisor,
        json={"channel": "chat", "identities": [["chat", "visitor-9"]], "text": "Hello"},
    )
    assert created.status == 201
    task_id = (await created.json())["task_id"]
    # The agent is on the other process: the task queued by the first one is offered there.
    await second.post("/api/routing/presence", json={"presence": "available"}, headers=agent)
    me = await (await second.get("/api/routing/me", headers=agent)).json()
    assert me["offer"]
    accepted = await first.post(f"/api/routing/offers/{me['offer']}/accept", headers=agent)
    assert accepted.status == 200 and (await accepted.json())["task_id"] == task_id
    again = await second.post(f"/api/routing/offers/{me['offer']}/accept", headers=agent)
    assert again.status == 409
    await first.server.app[ROUTING].flush()
    await second.server.app[ROUTING].flush()


async def test_with_every_redis_connection_busy_a_command_waits_for_one(
    aiohttp_client, redis_settings, cleanup_redis
):
    import asyncio

    from contact_center.web.appkeys import REDIS

    small = redis_settings.model_copy(update={"redis_max_connections": 10})
    client = await aiohttp_client(create_app(small, tick_interval=None))
    redis = client.server.app[REDIS]
    empty = f"{small.redis_prefix}nothing-here"
    # more commands at once than the pool has connections (and than redis-py's default pool of 100), each
    # holding its connection for 0.05 s: they take turns instead of failing with "Too many connections"
    answers = await asyncio.gather(*(redis.blpop([empty], timeout=0.05) for _ in range(150)))
    assert answers == [None] * 150
