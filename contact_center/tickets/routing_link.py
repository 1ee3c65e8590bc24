"""Tickets as routable work: a ticket waiting for someone at its tier is a routing task on channel "ticket".

The ticket keeps its task id (they start with "ticket"). Escalating an assigned ticket transfers its task to
the new tier's queue, keeping its history; a ticket whose task is still waiting gets a new one there. An
agent's room for ticket work is their "ticket" capacity (5 unless their profile says otherwise).
"""

from __future__ import annotations

import logging
import uuid

from contact_center.db.models import Ticket
from contact_center.routing_service.service import DEFAULT_QUEUE, RoutingService
from routing.engine import NewTask
from routing.model import TaskState
from routing.store import RoutingError

log = logging.getLogger(__name__)
CHANNEL = "ticket"
TASK_PREFIX = "ticket"
PRIORITY = {"low": 0, "normal": 0, "high": 1, "urgent": 2}


def is_ticket_task(task_id: str | None) -> bool:
    """True for the routing task of a ticket (not of a conversation)."""
    return bool(task_id) and str(task_id).startswith(TASK_PREFIX)


def task_priority(ticket: Ticket) -> int:
    """Urgent and high tickets, higher tiers and complaints wait less."""
    return PRIORITY.get(ticket.priority, 0) + (ticket.tier - 1) + (1 if ticket.category == "complaint" else 0)


class TicketRouter:
    """Puts tickets into the routing engine and takes them out again."""

    def __init__(self, routing: RoutingService) -> None:
        self.routing = routing
        self._pending: dict[int, NewTask] = {}

    async def claim(self, ticket: Ticket, queue: str | None, previous: str | None) -> tuple[str, str]:
        """Inside the ticket's transaction: the task id and queue it will have. An assigned task is
        transferred and keeps its id; otherwise a new task replaces the old one."""
        engine = self.routing.engine
        name = queue if queue and await engine.queue(queue) else DEFAULT_QUEUE
        task_id = previous
        state = await self._state(previous)
        if state is not TaskState.ASSIGNED:
            task_id = f"{TASK_PREFIX}{ticket.id}-{uuid.uuid4().hex[:10]}"
        self._pending[ticket.id] = NewTask(
            id=task_id or "",
            channel=CHANNEL,
            queue=name,
            priority=task_priority(ticket),
            attributes={"ticket_id": ticket.id, "customer_id": ticket.customer_id, "tier": ticket.tier},
        )
        return task_id or "", name

    async def submit(self, ticket_id: int, queue: str, previous: str | None) -> None:
        """After the commit: move the old task out of the way and queue the claimed one."""
        task = self._pending.pop(ticket_id, None)
        if task is None:
            return
        engine = self.routing.engine
        state = await self._state(previous)
        if previous == task.id and state is TaskState.ASSIGNED:
            await engine.transfer(previous, queue=queue, note=f"escalated to L{task.attributes['tier']}")
            return
        if previous and state in (TaskState.QUEUED, TaskState.RESERVED):
            await engine.cancel(previous, "ticket re-routed")
        elif previous and state in (TaskState.ASSIGNED, TaskState.WRAPPING):
            await self.finish(previous)
        await engine.submit(task)

    async def finish(self, task_id: str) -> None:
        """The ticket needs nobody now (resolved, waiting, closed): end its task and free the agent."""
        engine = self.routing.engine
        state = await self._state(task_id)
        if state in (TaskState.QUEUED, TaskState.RESERVED):
            await engine.cancel(task_id, "ticket no longer waiting")
            return
        if state is TaskState.ASSIGNED:
            await engine.complete(task_id)
            state = await self._state(task_id)
        if state is TaskState.WRAPPING:
            await engine.end_wrap_up(task_id)

    async def knows(self, task_id: str) -> bool:
        """True if the engine has the task (in any state)."""
        return await self._state(task_id) is not None

    async def _state(self, task_id: str | None) -> TaskState | None:
        if not task_id:
            return None
        try:
            return (await self.routing.engine.store.get_task(task_id)).state
        except (RoutingError, KeyError):
            return None
