"""The routing engine: turns triggers (a task arrives, an agent frees up, time passes) into store decisions.

Every change is published to listeners as a RoutingEvent. Dispatch runs on every trigger and on every tick,
so nothing waits for an event that was missed.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from routing.model import AgentProfile, Presence, QueueConfig, RoutingEvent, Target, Task
from routing.store import RoutingStore

log = logging.getLogger(__name__)
Clock = Callable[[], float]
Listener = Callable[[RoutingEvent], Awaitable[None] | None]
MAX_DECISIONS_PER_TICK = 10_000
REQUEUED = frozenset(
    {
        "task.rejected",
        "task.timed_out",
        "task.withdrawn",
        "task.transferred",
        "task.escalated",
        "task.fell_back",
    }
)
FREED = frozenset({"task.rejected", "task.timed_out", "task.withdrawn", "task.transferred", "task.wrapped"})


@dataclass(frozen=True)
class NewTask:
    """A contact to route: the queue decides the requirements; extra skills or a language may be added."""

    id: str
    channel: str
    queue: str
    priority: int = 0
    skills: dict[str, int] = field(default_factory=dict)
    language: str | None = None
    preferred_agent: str | None = None
    attributes: dict[str, Any] = field(default_factory=dict)


class RoutingEngine:
    """Routing for one process over a store (shared with other processes when the store is Redis)."""

    def __init__(self, store: RoutingStore, clock: Clock) -> None:
        self.store = store
        self.clock = clock
        self._listeners: list[Listener] = []

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Hear every routing event; returns a function that stops it."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener) if listener in self._listeners else None

    async def configure_queue(self, config: QueueConfig) -> None:
        """Create or replace a queue."""
        await self.store.put_queue(config)

    async def queue(self, name: str) -> QueueConfig | None:
        """A queue's configuration as the store has it (shared by every process on Redis), or None."""
        return next((config for config in await self.store.queues() if config.name == name), None)

    async def register_agent(self, profile: AgentProfile) -> None:
        """Create or update an agent's skills, languages, capacity and queues."""
        await self._emit(await self.store.put_agent(profile, self.clock()))
        await self._dispatch(agent_id=profile.id)

    async def set_presence(self, agent_id: str, presence: Presence, reason: str | None = None) -> None:
        """Available, away (with a reason) or offline; an available agent gets work at once."""
        await self._settle(await self.store.set_presence(agent_id, presence, reason, self.clock()))
        await self._dispatch(agent_id=agent_id)

    async def submit(self, new: NewTask) -> Task:
        """Queue a contact and offer it to the best available agent, if any."""
        now = self.clock()
        queue = await self.queue(new.queue)
        skills = {**(queue.skills if queue else {}), **new.skills}
        language = new.language or (queue.language if queue else None)
        task = Task(
            id=new.id,
            channel=new.channel,
            queue=new.queue,
            created_at=now,
            priority=new.priority,
            targets=[Target(new.queue, skills, language)],
            attributes=dict(new.attributes),
            preferred_agent=new.preferred_agent,
        )
        await self._emit(await self.store.submit(task, now))
        await self._dispatch(task_id=new.id)
        return await self.store.get_task(new.id)

    async def accept(self, reservation_id: str) -> Task:
        """The agent accepts an offer (a second accept raises Conflict)."""
        events = await self.store.accept(reservation_id, self.clock())
        await self._emit(events)
        task = await self.store.get_task(events[-1].task_id or "")
        await self._dispatch(agent_id=task.agent_id)
        return task

    async def reject(self, reservation_id: str) -> None:
        """The agent declines; the task goes to the next agent without losing its place."""
        await self._settle(await self.store.reject(reservation_id, self.clock()))

    async def cancel(self, task_id: str, reason: str = "customer left") -> None:
        """The customer hung up or left while waiting: abandoned, and any offer withdrawn."""
        await self._settle(await self.store.cancel(task_id, reason, self.clock()))

    async def complete(self, task_id: str) -> None:
        """The contact ended; wrap-up starts."""
        await self._settle(await self.store.complete(task_id, self.clock()))

    async def end_wrap_up(self, task_id: str) -> None:
        """The agent finished after-contact work early."""
        await self._settle(await self.store.end_wrap_up(task_id, self.clock()))

    async def transfer(
        self, task_id: str, *, queue: str | None = None, agent_id: str | None = None, note: str = ""
    ) -> None:
        """Send an assigned task to another queue or agent."""
        await self._settle(
            await self.store.transfer(task_id, self.clock(), queue=queue, agent_id=agent_id, note=note)
        )

    async def tick(self) -> None:
        """Apply what time brought (timeouts, wrap-up ends, escalations), then offer what can be offered."""
        await self._settle(await self.store.tick(self.clock()))
        await self._dispatch()

    async def run(self, interval: float = 0.5) -> None:
        """Tick forever (until cancelled); errors are logged and the loop goes on."""
        while True:
            try:
                await self.tick()
            except Exception:
                log.exception("routing tick failed")
            await asyncio.sleep(interval)

    async def _dispatch(self, *, task_id: str | None = None, agent_id: str | None = None) -> None:
        if task_id is None and agent_id is None:
            for _ in range(MAX_DECISIONS_PER_TICK):
                events = await self.store.offer(self.clock())
                if not events:
                    return
                await self._emit(events)
            return
        events = await self.store.offer(self.clock(), task_id=task_id, agent_id=agent_id)
        await self._emit(events)
        # A decision for a task gives the chosen agent their most urgent task, which may be another one:
        # then this task still waits while other agents may be free, so decide for it again.
        for _ in range(MAX_DECISIONS_PER_TICK):
            if task_id is None or not events or any(e.task_id == task_id for e in events):
                return
            events = await self.store.offer(self.clock(), task_id=task_id)
            await self._emit(events)

    async def _settle(self, events: list[RoutingEvent]) -> None:
        """Publish the events, then offer again whatever they freed: tasks back in line, agents with room."""
        await self._emit(events)
        for event in events:
            if event.kind in REQUEUED and event.task_id:
                await self._dispatch(task_id=event.task_id)
        for event in events:
            if event.kind in FREED and event.agent_id:
                await self._dispatch(agent_id=event.agent_id)

    async def _emit(self, events: list[RoutingEvent]) -> None:
        for event in events:
            for listener in list(self._listeners):
                try:
                    result = listener(event)
                    if inspect.isawaitable(result):
                        await result
                except Exception:
                    log.exception("routing listener failed on %s", event.kind)
