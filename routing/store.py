"""The contract every routing store keeps (in-memory, Redis): each method is one atomic step.

Methods take the current time (seconds) from the engine's clock and return the events of what changed.
"""

from __future__ import annotations

import uuid
from typing import Protocol

from routing.model import Agent, AgentProfile, Presence, QueueConfig, Reservation, RoutingEvent, Task


def new_reservation_id() -> str:
    """A reservation id unique across processes (stores take another factory for reproducible tests)."""
    return uuid.uuid4().hex


class RoutingError(Exception):
    """Base of routing errors; the message says what was wrong."""


class UnknownTask(RoutingError):
    """No task with this id."""


class UnknownAgent(RoutingError):
    """No agent with this id."""


class UnknownQueue(RoutingError):
    """No queue with this name."""


class Conflict(RoutingError):
    """The step no longer applies: an offer accepted twice or after it timed out, a finished task..."""


class RoutingStore(Protocol):
    """State of queues, agents, tasks and reservations, and the atomic decisions over them."""

    async def put_queue(self, config: QueueConfig) -> None:
        """Create or replace a queue's configuration."""

    async def put_agent(self, profile: AgentProfile, now: float) -> list[RoutingEvent]:
        """Create an agent (offline) or update its skills, languages, capacity and queues."""

    async def set_presence(
        self, agent_id: str, presence: Presence, reason: str | None, now: float
    ) -> list[RoutingEvent]:
        """Change what the agent chose; leaving 'available' withdraws an open offer."""

    async def submit(self, task: Task, now: float) -> list[RoutingEvent]:
        """Queue a new task (its targets already set); the same id twice changes nothing."""

    async def offer(
        self, now: float, *, task_id: str | None = None, agent_id: str | None = None
    ) -> list[RoutingEvent]:
        """One matching decision (for this task, for this agent, or the best overall); [] when none."""

    async def accept(self, reservation_id: str, now: float) -> list[RoutingEvent]:
        """The agent takes the offered task; Conflict unless the offer is still open."""

    async def reject(self, reservation_id: str, now: float) -> list[RoutingEvent]:
        """The agent declines; the task keeps its place and goes to another agent."""

    async def cancel(self, task_id: str, reason: str, now: float) -> list[RoutingEvent]:
        """The customer left while waiting (abandoned); any open offer is withdrawn."""

    async def complete(self, task_id: str, now: float) -> list[RoutingEvent]:
        """The contact ended: the agent goes into wrap-up for this task (after-contact work)."""

    async def end_wrap_up(self, task_id: str, now: float) -> list[RoutingEvent]:
        """Wrap-up done: the agent's capacity is free again."""

    async def transfer(
        self,
        task_id: str,
        now: float,
        *,
        queue: str | None = None,
        agent_id: str | None = None,
        note: str = "",
    ) -> list[RoutingEvent]:
        """Move an assigned task to another queue or agent, keeping its history."""

    async def tick(self, now: float) -> list[RoutingEvent]:
        """Time-driven changes: offer timeouts, wrap-up ends, escalation steps, maximum waits."""

    async def get_task(self, task_id: str) -> Task:
        """One task."""

    async def get_agent(self, agent_id: str) -> Agent:
        """One agent."""

    async def get_reservation(self, reservation_id: str) -> Reservation:
        """One reservation."""

    async def waiting(self, queue: str) -> list[Task]:
        """Tasks waiting in a queue (queued or offered), in the order they will be served."""

    async def agents(self) -> list[Agent]:
        """Every agent."""

    async def queues(self) -> list[QueueConfig]:
        """Every queue."""
