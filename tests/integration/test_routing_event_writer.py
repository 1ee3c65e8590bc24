"""The routing-event writer under contention from other processes (PostgreSQL): it locks conversations in one
order, so two writers cannot deadlock, and a batch whose transaction failed is stored again, once.

Events are put on the writer's queue directly, as the routing engine's subscription does, so that one batch
holds exactly the events a test needs."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from contact_center.db.models import Conversation, Customer, RoutingEventRecord
from contact_center.events import Event, InProcessBus
from contact_center.routing_service.service import RoutingService
from routing.model import RoutingEvent
from routing.stores.memory import MemoryStore
from tests.pg_locks import backend_waiting_on_a_lock

pytestmark = pytest.mark.parametrize(
    "database_url", [pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True
)


@pytest.fixture
async def writer(sessions, clock):
    """A running routing service (its event writer) and the events it published."""
    bus = InProcessBus(clock)
    published: list[Event] = []

    async def keep(event: Event) -> None:
        published.append(event)

    bus.subscribe("routing.*", keep)
    service = RoutingService(MemoryStore(), sessions, bus, clock)
    await service.start(tick_interval=None)
    yield service, published
    await service.stop()


async def conversations(sessions, clock, *task_ids: str) -> None:
    async with sessions.begin() as db:
        customer = Customer(display_name="Ada", created_at=clock.now(), updated_at=clock.now())
        db.add(customer)
        await db.flush()
        for task_id in task_ids:
            now = clock.now()
            db.add(
                Conversation(
                    customer_id=customer.id,
                    channel="sms",
                    started_at=now,
                    last_activity_at=now,
                    task_id=task_id,
                )
            )


def offered(task_id: str, at: float) -> RoutingEvent:
    return RoutingEvent(kind="task.offered", at=at, task_id=task_id, agent_id=None, queue="general")


@contextlib.asynccontextmanager
async def holding_row(engine: AsyncEngine, task_id: str) -> AsyncIterator[AsyncConnection]:
    """Another process's transaction holding a conversation's row lock; committed at the end (rolled back
    if the test failed, so the writer is never left waiting)."""
    async with engine.connect() as connection:
        transaction = await connection.begin()
        try:
            await connection.execute(
                text("UPDATE conversations SET snippet = 'held' WHERE task_id = :task_id"),
                {"task_id": task_id},
            )
            yield connection
        except BaseException:
            await transaction.rollback()
            raise
        await transaction.commit()


async def states(sessions) -> dict[str, str | None]:
    async with sessions() as db:
        rows = await db.execute(select(Conversation.task_id, Conversation.routing_state))
        return dict(rows.all())


async def stored_events(sessions) -> int:
    async with sessions() as db:
        return (await db.execute(select(func.count()).select_from(RoutingEventRecord))).scalar_one()


async def test_writers_lock_conversations_in_task_order_so_they_cannot_deadlock(
    writer, sessions, engine, clock, caplog
) -> None:
    service, _ = writer
    await conversations(sessions, clock, "task-a", "task-b")
    async with holding_row(engine, "task-a") as other:  # another writer, in task order: a first
        at = clock.now().timestamp()
        for event in (offered("task-b", at), offered("task-a", at)):  # one batch, b's event first
            service._pending.put_nowait(event)
        await backend_waiting_on_a_lock(engine, "the writer")  # the writer waits for a ...
        await asyncio.wait_for(  # ... holding nothing yet, so the other writer's next row is free
            other.execute(text("UPDATE conversations SET snippet = 'held' WHERE task_id = 'task-b'")), 5
        )
    await service.flush()

    assert await states(sessions) == {"task-a": "offered", "task-b": "offered"}
    assert await stored_events(sessions) == 2
    assert not [r for r in caplog.records if "trying again" in r.getMessage()], "stored at the first try"


async def test_a_batch_whose_connection_was_dropped_is_stored_again_once_and_published_once(
    writer, sessions, engine, clock
) -> None:
    service, published = writer
    await conversations(sessions, clock, "task-a")
    async with holding_row(engine, "task-a"):
        service._pending.put_nowait(offered("task-a", clock.now().timestamp()))
        pid = await backend_waiting_on_a_lock(engine, "the writer")
        async with engine.connect() as admin:
            await admin.execute(
                text("SELECT pg_terminate_backend(:pid)"), {"pid": pid}
            )  # the connection drops
    await service.flush()

    assert await states(sessions) == {"task-a": "offered"}
    assert await stored_events(sessions) == 1
    assert [event.topic for event in published] == ["routing.task.offered"]
