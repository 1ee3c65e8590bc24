"""Routing fixtures: an engine on each store, driven by a manual clock.

The Redis store runs on real Redis (tests/services.py: skipped locally without it, a failure in CI), each
store on a fresh key prefix whose keys are deleted, and whose client is closed, when the test ends.
"""

from __future__ import annotations

import asyncio
import itertools
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from routing.engine import RoutingEngine
from routing.model import RoutingEvent
from routing.stores.memory import MemoryStore
from routing.stores.redis import RedisStore
from tests.services import REDIS_URL, redis_problem, require


class Clock:
    """Seconds that move only when told."""

    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


class Recorder:
    """Every routing event, in order."""

    def __init__(self) -> None:
        self.events: list[RoutingEvent] = []

    def __call__(self, event: RoutingEvent) -> None:
        self.events.append(event)

    def kinds(self, kind: str) -> list[RoutingEvent]:
        return [e for e in self.events if e.kind == kind]

    def last_offer(self, agent_id: str | None = None) -> RoutingEvent:
        offers = [e for e in self.kinds("task.offered") if agent_id in (None, e.agent_id)]
        assert offers, "no offer was made"
        return offers[-1]


STORES = ["memory", "redis"]


class _Pool(aioredis.ConnectionPool):
    """A connection pool that cleans up before the event loop it first ran in is closed.

    The property tests run each example on an event loop of their own and close it in `teardown`, with no
    hook for the store: this is where its keys are deleted and its connections closed. Every command takes
    a connection from the pool (the store keeps one for its operations), so the first one arms it.
    """

    cleanup: Callable[[], Awaitable[None]] | None = None

    async def get_connection(self, *args, **kwargs):
        if self.cleanup is not None:
            _before_close(asyncio.get_running_loop(), self.cleanup)
            self.cleanup = None
        return await super().get_connection(*args, **kwargs)


def _before_close(loop: asyncio.AbstractEventLoop, cleanup: Callable[[], Awaitable[None]]) -> None:
    close = loop.close

    def closing() -> None:
        if not loop.is_closed() and not loop.is_running():
            loop.run_until_complete(cleanup())
        close()

    loop.close = closing  # type: ignore[method-assign]


async def dispose(store: RedisStore) -> None:
    """Delete every key under the store's unique prefix and close its client (once)."""
    client = store.redis
    if getattr(client, "disposed", False):
        return
    client.disposed = True
    keys = [key async for key in client.scan_iter(match=store.prefix + "*", count=1000)]
    if keys:
        await client.delete(*keys)
    await client.aclose()


def counting_ids():
    """Reservation ids in creation order, so that offers expiring at the same instant are handled in the
    same order on every run (hypothesis replays an example and needs the same path)."""
    counter = itertools.count(1)
    return lambda: f"{next(counter):032x}"


def make_store(kind: str):
    if kind == "memory":
        return MemoryStore(new_id=counting_ids())
    if kind == "redis":
        require(redis_problem())
        prefix = f"cc:test:routing:{uuid.uuid4().hex}:"
        pool = _Pool.from_url(REDIS_URL)
        store = RedisStore(aioredis.Redis.from_pool(pool), prefix, new_id=counting_ids())
        pool.cleanup = lambda: dispose(store)
        return store
    raise ValueError(kind)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Routing tests on the Redis store carry the `redis` marker."""
    here = Path(__file__).parent
    for item in items:
        if here in item.path.parents and "redis" in item.nodeid.lower():
            item.add_marker(pytest.mark.redis)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture(params=STORES)
async def store(request) -> AsyncIterator:
    store = make_store(request.param)
    yield store
    if isinstance(store, RedisStore):
        await dispose(store)


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def engine(store, clock, recorder) -> RoutingEngine:
    engine = RoutingEngine(store, clock)
    engine.subscribe(recorder)
    return engine
