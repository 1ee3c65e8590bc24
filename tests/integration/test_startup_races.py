"""Start-up on an empty database: processes starting together share one default queue and one set of
built-in ticket categories."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from contact_center.clock import ManualClock
from contact_center.db.models import Queue, TicketCategory
from contact_center.events import InProcessBus
from contact_center.routing_service.service import DEFAULT_QUEUE, RoutingService
from contact_center.tickets.categories import BUILTIN, ensure_builtin
from routing.stores.memory import MemoryStore
from tests.pg_locks import backend_waiting_on_a_lock


def _service(sessions: async_sessionmaker[AsyncSession], clock: ManualClock) -> RoutingService:
    return RoutingService(MemoryStore(), sessions, InProcessBus(clock), clock)


async def _count(sessions: async_sessionmaker[AsyncSession], table: type) -> int:
    async with sessions() as db:
        return (await db.execute(select(func.count()).select_from(table))).scalar_one()


async def _while_another_process_inserts(
    sessions: async_sessionmaker[AsyncSession], engine: AsyncEngine, row, start_up
) -> None:
    """Run start_up while another transaction holds an uncommitted row with the same name, then commit
    that transaction: start_up reads nothing, waits on the unique index, and then meets the other's row."""
    other_process = sessions()
    await other_process.begin()
    other_process.add(row)
    await other_process.flush()
    starting = asyncio.create_task(start_up)
    await backend_waiting_on_a_lock(engine, "start-up")  # its INSERT waits on ours
    await other_process.commit()
    await other_process.close()
    await asyncio.wait_for(starting, 10)


# These two run on PostgreSQL only: SQLite serialises writers, so two inserts cannot interleave there.
ON_POSTGRESQL = pytest.mark.parametrize(
    "database_url", [pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True
)


async def test_an_empty_database_gets_the_default_queue(sessions, clock) -> None:
    service = _service(sessions, clock)
    await service.reload()

    assert await _count(sessions, Queue) == 1
    assert DEFAULT_QUEUE in {queue.name for queue in await service.engine.store.queues()}


@ON_POSTGRESQL
async def test_a_process_losing_the_race_for_the_default_queue_uses_the_winners(
    sessions, engine, clock
) -> None:
    row = Queue(name=DEFAULT_QUEUE, description="Everything", channels=[], required_skills={})
    service = _service(sessions, clock)
    await _while_another_process_inserts(sessions, engine, row, service.reload())

    assert await _count(sessions, Queue) == 1
    assert DEFAULT_QUEUE in {queue.name for queue in await service.engine.store.queues()}


@ON_POSTGRESQL
async def test_a_process_losing_the_race_for_a_builtin_category_keeps_the_winners(sessions, engine) -> None:
    code, label, priority = BUILTIN[0]
    row = TicketCategory(
        code=code, label=label, tiers=[], default_priority=priority, builtin=True, active=True
    )
    await _while_another_process_inserts(sessions, engine, row, ensure_builtin(sessions))

    assert await _count(sessions, TicketCategory) == len(BUILTIN)
