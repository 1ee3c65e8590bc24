"""The in-memory routing store: one process, every step atomic because nothing else touches the state."""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterator
from dataclasses import replace

from routing import policies
from routing.model import (
    FINAL_STATES,
    Agent,
    AgentProfile,
    Presence,
    QueueConfig,
    Reservation,
    ReservationState,
    RoutingEvent,
    Target,
    Task,
    TaskState,
)
from routing.store import Conflict, UnknownAgent, UnknownQueue, UnknownTask, new_reservation_id
from routing.stores.lines import WaitingLines

SCAN_LIMIT = 2000


class MemoryStore:
    """Routing state in this process's memory."""

    def __init__(
        self,
        aging_seconds: float = policies.DEFAULT_AGING_SECONDS,
        exclusive_channels: frozenset[str] = policies.EXCLUSIVE_CHANNELS,
        new_id: Callable[[], str] = new_reservation_id,
    ) -> None:
        self.aging_seconds = aging_seconds
        self.exclusive = exclusive_channels
        self.new_id = new_id
        self._queues: dict[str, QueueConfig] = {}
        self._agents: dict[str, Agent] = {}
        self._tasks: dict[str, Task] = {}
        self._reservations: dict[str, Reservation] = {}
        self._lines = WaitingLines()
        self._ready: set[str] = set()
        self._by_skill: dict[str, set[str]] = {}
        self._offer_due: list[tuple[float, str]] = []
        self._wrap_due: list[tuple[float, str]] = []
        self._deadlines: list[tuple[float, int, str]] = []

    # configuration --------------------------------------------------------------------------------

    async def put_queue(self, config: QueueConfig) -> None:
        """Create or replace a queue's configuration."""
        self._queues[config.name] = config
        self._lines.configure(config.name, config.skills)

    async def put_agent(self, profile: AgentProfile, now: float) -> list[RoutingEvent]:
        """Create an agent (offline) or replace its profile."""
        agent = self._agents.get(profile.id)
        if agent is None:
            agent = Agent(profile=profile, presence_since=now, idle_since=now)
            self._agents[profile.id] = agent
        else:
            for skill in agent.profile.skills:
                self._by_skill.get(skill, set()).discard(profile.id)
            agent.profile = profile
        for skill in profile.skills:
            self._by_skill.setdefault(skill, set()).add(profile.id)
        return [RoutingEvent("agent.updated", now, agent_id=profile.id)]

    # presence -------------------------------------------------------------------------------------

    async def set_presence(
        self, agent_id: str, presence: Presence, reason: str | None, now: float
    ) -> list[RoutingEvent]:
        """Change the agent's chosen state; leaving 'available' withdraws an open offer."""
        agent = self._agent(agent_id)
        events: list[RoutingEvent] = []
        if presence is not Presence.AVAILABLE and agent.offer is not None:
            events += self._withdraw(self._reservations[agent.offer], now, "agent left")
        return events + self._set_presence(agent, presence, reason, now)

    def _set_presence(
        self, agent: Agent, presence: Presence, reason: str | None, now: float
    ) -> list[RoutingEvent]:
        previous = agent.presence
        reason = reason if presence is Presence.AWAY else None
        if previous is presence and agent.away_reason == reason:
            return []
        if presence is Presence.AVAILABLE and previous is not Presence.AVAILABLE:
            agent.missed_offers = 0
            if not agent.tasks:
                agent.idle_since = now
        agent.presence, agent.away_reason, agent.presence_since = presence, reason, now
        self._refresh_ready(agent)
        return [
            RoutingEvent(
                "agent.state",
                now,
                agent_id=agent.id,
                data={"presence": presence.value, "previous": previous.value, "reason": reason},
            )
        ]

    # tasks ----------------------------------------------------------------------------------------

    async def submit(self, task: Task, now: float) -> list[RoutingEvent]:
        """Queue a new task; the same id twice changes nothing."""
        if task.id in self._tasks:
            return []
        queue = self._queue(task.queue)
        if not task.targets:
            task.targets = [queue.target()]
        task.state = TaskState.QUEUED
        self._tasks[task.id] = task
        self._enter_lines(task)
        self._schedule_deadline(task, queue)
        return [
            RoutingEvent(
                "task.queued",
                now,
                task_id=task.id,
                queue=task.queue,
                data={"channel": task.channel, "priority": task.priority},
            )
        ]

    async def offer(
        self, now: float, *, task_id: str | None = None, agent_id: str | None = None
    ) -> list[RoutingEvent]:
        """One matching decision; [] when nothing can be offered."""
        if not self._ready:
            return []
        if task_id is not None:
            task = self._tasks.get(task_id)
            if task is None or task.state is not TaskState.QUEUED:
                return []
            agent = self._best_agent(task, now)
            if agent is None:
                return []
            # The agent's oldest eligible task goes first: this one, unless an older one waits for them too.
            return self._reserve(self._first_task_for(agent, now) or task, agent, now)
        if agent_id is not None:
            agent = self._agents.get(agent_id)
            if agent is None or agent.id not in self._ready:
                return []
            first = self._first_task_for(agent, now)
            return self._reserve(first, agent, now) if first else []
        for task in self._waiting_for(None):
            agent = self._best_agent(task, now)
            if agent is not None:
                return self._reserve(task, agent, now)
        return []

    async def accept(self, reservation_id: str, now: float) -> list[RoutingEvent]:
        """The agent takes the task; Conflict unless the offer is still open."""
        reservation = self._reservations.get(reservation_id)
        if reservation is None:
            raise Conflict(f"offer {reservation_id} does not exist")
        if reservation.state is ReservationState.PENDING and now >= reservation.expires_at:
            self._time_out(reservation, now)
        if reservation.state is not ReservationState.PENDING:
            raise Conflict(f"offer {reservation_id} is {reservation.state.value}, no longer open")
        task, agent = self._tasks[reservation.task_id], self._agents[reservation.agent_id]
        reservation.state = ReservationState.ACCEPTED
        task.state, task.agent_id, task.assigned_at = TaskState.ASSIGNED, agent.id, now
        agent.offer, agent.missed_offers = None, 0
        self._leave_lines(task)
        self._refresh_ready(agent)
        return [
            RoutingEvent(
                "task.accepted",
                now,
                task_id=task.id,
                agent_id=agent.id,
                queue=task.queue,
                data={
                    "reservation_id": reservation.id,
                    "wait": now - task.created_at,
                    "channel": task.channel,
                },
            )
        ]

    async def reject(self, reservation_id: str, now: float) -> list[RoutingEvent]:
        """The agent declines; the task keeps its place."""
        reservation = self._reservations.get(reservation_id)
        if reservation is None or reservation.state is not ReservationState.PENDING:
            raise Conflict(f"offer {reservation_id} is not open")
        if now >= reservation.expires_at:
            self._time_out(reservation, now)
            raise Conflict(f"offer {reservation_id} timed out")
        return self._release_offer(reservation, ReservationState.REJECTED, now, decline=True)

    async def cancel(self, task_id: str, reason: str, now: float) -> list[RoutingEvent]:
        """The customer left while waiting (abandoned); any open offer is withdrawn; finished: no change."""
        task = self._task(task_id)
        if task.state in FINAL_STATES:
            return []
        if task.state not in (TaskState.QUEUED, TaskState.RESERVED):
            raise Conflict(f"task {task_id} is {task.state.value}; complete it instead")
        events: list[RoutingEvent] = []
        if task.state is TaskState.RESERVED and task.reservation_id:
            events += self._withdraw(self._reservations[task.reservation_id], now, reason)
        self._end(task, TaskState.ABANDONED, reason, now)
        return [
            *events,
            RoutingEvent(
                "task.abandoned",
                now,
                task_id=task.id,
                queue=task.queue,
                data={"reason": reason, "wait": now - task.created_at, "channel": task.channel},
            ),
        ]

    async def complete(self, task_id: str, now: float) -> list[RoutingEvent]:
        """The contact ended: wrap-up starts (or the task finishes if the queue has none)."""
        task = self._task(task_id)
        if task.state is not TaskState.ASSIGNED:
            if task.state in (TaskState.WRAPPING, TaskState.COMPLETED):
                return []
            raise Conflict(f"task {task_id} is {task.state.value}, not assigned")
        queue = self._queue(task.queue)
        task.state, task.completed_at = TaskState.WRAPPING, now
        task.wrap_up_until = now + queue.wrap_up_seconds
        events = [
            RoutingEvent(
                "task.completed",
                now,
                task_id=task.id,
                agent_id=task.agent_id,
                queue=task.queue,
                data={"talk": self._since_assigned(task, now), "channel": task.channel},
            )
        ]
        if queue.wrap_up_seconds <= 0:
            return events + self._finish_wrap_up(task, now)
        heapq.heappush(self._wrap_due, (task.wrap_up_until, task.id))
        return events

    async def end_wrap_up(self, task_id: str, now: float) -> list[RoutingEvent]:
        """Wrap-up done early or on time."""
        task = self._task(task_id)
        if task.state is not TaskState.WRAPPING:
            return []
        return self._finish_wrap_up(task, now)

    async def transfer(
        self,
        task_id: str,
        now: float,
        *,
        queue: str | None = None,
        agent_id: str | None = None,
        note: str = "",
    ) -> list[RoutingEvent]:
        """Hand an assigned task to another queue or a named agent; it waits again, keeping its history."""
        task = self._task(task_id)
        if task.state is not TaskState.ASSIGNED:
            raise Conflict(f"task {task_id} is {task.state.value}; only an assigned task can be transferred")
        if (queue is None) == (agent_id is None):
            raise Conflict("transfer to either a queue or an agent")
        target_queue = self._queue(queue) if queue else self._queue(task.queue)
        if agent_id is not None:
            self._agent(agent_id)
        from_agent = self._agents[task.agent_id] if task.agent_id else None
        task.history.append(
            {
                "at": now,
                "from_agent": task.agent_id,
                "from_queue": task.queue,
                "to_queue": queue,
                "to_agent": agent_id,
                "note": note,
            }
        )
        if from_agent is not None:
            from_agent.tasks.pop(task.id, None)
            self._after_release(from_agent, now)
        task.queue, task.state, task.agent_id, task.reservation_id = (
            target_queue.name,
            TaskState.QUEUED,
            None,
            None,
        )
        task.targets = [target_queue.target()] if agent_id is None else [Target(target_queue.name)]
        task.declined_by, task.escalation_step, task.queued_at = [], 0, now
        task.attributes = {k: v for k, v in task.attributes.items() if k != "only_agent"}
        if agent_id is not None:
            task.attributes["only_agent"] = agent_id
        self._enter_lines(task)
        self._schedule_deadline(task, target_queue)
        return [
            RoutingEvent(
                "task.transferred",
                now,
                task_id=task.id,
                agent_id=from_agent.id if from_agent else None,
                queue=task.queue,
                data={
                    "to_queue": queue,
                    "to_agent": agent_id,
                    "note": note,
                    "channel": task.channel,
                    "from_queue": task.history[-1]["from_queue"],
                },
            )
        ]

    async def tick(self, now: float) -> list[RoutingEvent]:
        """Offers that timed out, wrap-ups that ended, escalation steps and maximum waits that fell due."""
        events: list[RoutingEvent] = []
        while self._offer_due and self._offer_due[0][0] <= now:
            _, reservation_id = heapq.heappop(self._offer_due)
            reservation = self._reservations[reservation_id]
            if reservation.state is ReservationState.PENDING:
                events += self._time_out(reservation, now)
        while self._wrap_due and self._wrap_due[0][0] <= now:
            _, task_id = heapq.heappop(self._wrap_due)
            task = self._tasks[task_id]
            if (
                task.state is TaskState.WRAPPING
                and task.wrap_up_until is not None
                and task.wrap_up_until <= now
            ):
                events += self._finish_wrap_up(task, now)
        while self._deadlines and self._deadlines[0][0] <= now:
            _, version, task_id = heapq.heappop(self._deadlines)
            task = self._tasks[task_id]
            if task.state in (TaskState.QUEUED, TaskState.RESERVED) and version == task.attributes.get(
                "_deadline_version"
            ):
                events += self._escalate(task, now)
        return events

    # reads ----------------------------------------------------------------------------------------

    async def get_task(self, task_id: str) -> Task:
        """One task."""
        return self._task(task_id)

    async def get_agent(self, agent_id: str) -> Agent:
        """One agent."""
        return self._agent(agent_id)

    async def get_reservation(self, reservation_id: str) -> Reservation:
        """One reservation."""
        reservation = self._reservations.get(reservation_id)
        if reservation is None:
            raise Conflict(f"offer {reservation_id} does not exist")
        return reservation

    async def waiting(self, queue: str) -> list[Task]:
        """Tasks waiting in a queue, in serving order."""
        self._queue(queue)
        return [self._tasks[task_id] for task_id in self._lines.line(queue)]

    async def agents(self) -> list[Agent]:
        """Every agent."""
        return list(self._agents.values())

    async def queues(self) -> list[QueueConfig]:
        """Every queue."""
        return list(self._queues.values())

    async def tasks(self) -> list[Task]:
        """Every task this store knows, finished ones included."""
        return list(self._tasks.values())

    # internals ------------------------------------------------------------------------------------

    def _agent(self, agent_id: str) -> Agent:
        agent = self._agents.get(agent_id)
        if agent is None:
            raise UnknownAgent(f"agent {agent_id} does not exist")
        return agent

    def _task(self, task_id: str) -> Task:
        task = self._tasks.get(task_id)
        if task is None:
            raise UnknownTask(f"task {task_id} does not exist")
        return task

    def _queue(self, name: str) -> QueueConfig:
        queue = self._queues.get(name)
        if queue is None:
            raise UnknownQueue(f"queue {name} does not exist")
        return queue

    def _refresh_ready(self, agent: Agent) -> None:
        if agent.presence is Presence.AVAILABLE and agent.offer is None:
            self._ready.add(agent.id)
        else:
            self._ready.discard(agent.id)

    def _enter_lines(self, task: Task) -> None:
        self._lines.enter(task, policies.score(task, self.aging_seconds))

    def _leave_lines(self, task: Task) -> None:
        self._lines.leave(task.id)

    def _waiting_for(self, agent: Agent | None) -> Iterator[Task]:
        """Queued tasks in serving order across the agent's queues (all queues for None)."""
        if agent is None:
            task_ids = self._lines.merged(limit=SCAN_LIMIT)
        else:
            task_ids = self._lines.merged(agent.profile.queues, agent.profile.skills, limit=SCAN_LIMIT)
        for task_id in task_ids:
            task = self._tasks[task_id]
            if task.state is TaskState.QUEUED:
                yield task

    def _first_task_for(self, agent: Agent, now: float) -> Task | None:
        for task in self._waiting_for(agent):
            if policies.has_room(agent, task.channel, self.exclusive) and self._eligible(agent, task, now):
                return task
        return None

    def _eligible(self, agent: Agent, task: Task, now: float) -> bool:
        queue = self._queues[task.queue]
        preferred = self._agents.get(task.preferred_agent or "")
        preferred_available = preferred is not None and preferred.presence is Presence.AVAILABLE
        return policies.eligible(agent, task, now, queue.preferred_agent_seconds, preferred_available)

    def _best_agent(self, task: Task, now: float) -> Agent | None:
        candidates: set[str] = set()
        for target in task.targets:
            # Only a level above 0 excludes agents without the skill (policies.meets: missing counts as 0).
            required = [skill for skill, level in target.skills.items() if level > 0]
            if required:
                rarest = min(required, key=lambda s: len(self._by_skill.get(s, ())))
                candidates |= self._ready & self._by_skill.get(rarest, set())
            else:
                candidates |= self._ready
                break
        return policies.pick(
            (self._agents[a] for a in candidates),
            task,
            self._queues[task.queue].strategy,
            lambda a: policies.has_room(a, task.channel, self.exclusive) and self._eligible(a, task, now),
        )

    def _reserve(self, task: Task, agent: Agent, now: float) -> list[RoutingEvent]:
        queue = self._queues[task.queue]
        reservation = Reservation(self.new_id(), task.id, agent.id, now, now + queue.offer_timeout_seconds)
        self._reservations[reservation.id] = reservation
        task.state, task.reservation_id = TaskState.RESERVED, reservation.id
        agent.offer, agent.last_offered_at = reservation.id, now
        agent.tasks[task.id] = task.channel
        self._refresh_ready(agent)
        heapq.heappush(self._offer_due, (reservation.expires_at, reservation.id))
        return [
            RoutingEvent(
                "task.offered",
                now,
                task_id=task.id,
                agent_id=agent.id,
                queue=task.queue,
                data={
                    "reservation_id": reservation.id,
                    "expires_at": reservation.expires_at,
                    "channel": task.channel,
                },
            )
        ]

    def _release_offer(
        self, reservation: Reservation, state: ReservationState, now: float, *, decline: bool
    ) -> list[RoutingEvent]:
        task, agent = self._tasks[reservation.task_id], self._agents[reservation.agent_id]
        reservation.state = state
        agent.offer = None
        agent.tasks.pop(task.id, None)
        if decline:
            task.declined_by.append(agent.id)
        if task.state is TaskState.RESERVED and task.reservation_id == reservation.id:
            task.state, task.reservation_id = TaskState.QUEUED, None
        self._refresh_ready(agent)
        kind = {
            ReservationState.REJECTED: "task.rejected",
            ReservationState.TIMED_OUT: "task.timed_out",
            ReservationState.WITHDRAWN: "task.withdrawn",
        }[state]
        return [
            RoutingEvent(
                kind,
                now,
                task_id=task.id,
                agent_id=agent.id,
                queue=task.queue,
                data={"reservation_id": reservation.id},
            )
        ]

    def _time_out(self, reservation: Reservation, now: float) -> list[RoutingEvent]:
        events = self._release_offer(reservation, ReservationState.TIMED_OUT, now, decline=True)
        agent = self._agents[reservation.agent_id]
        agent.missed_offers += 1
        limit = self._queues[self._tasks[reservation.task_id].queue].missed_offers_limit
        if limit and agent.missed_offers >= limit and agent.presence is Presence.AVAILABLE:
            events += self._set_presence(agent, Presence.AWAY, "missed offers", now)
        return events

    def _withdraw(self, reservation: Reservation, now: float, reason: str) -> list[RoutingEvent]:
        events = self._release_offer(reservation, ReservationState.WITHDRAWN, now, decline=False)
        return [replace(e, data={**e.data, "reason": reason}) for e in events]

    def _finish_wrap_up(self, task: Task, now: float) -> list[RoutingEvent]:
        task.state, task.ended_at, task.wrap_up_until = TaskState.COMPLETED, now, None
        agent = self._agents.get(task.agent_id or "")
        if agent is not None:
            agent.tasks.pop(task.id, None)
            self._after_release(agent, now)
        return [
            RoutingEvent(
                "task.wrapped",
                now,
                task_id=task.id,
                agent_id=task.agent_id,
                queue=task.queue,
                data={"handle": self._since_assigned(task, now), "channel": task.channel},
            )
        ]

    @staticmethod
    def _since_assigned(task: Task, now: float) -> float:
        """Seconds since the agent took the task (0 if never assigned); an assignment at time 0.0 counts."""
        return now - (task.assigned_at if task.assigned_at is not None else now)

    def _after_release(self, agent: Agent, now: float) -> None:
        if not agent.tasks:
            agent.idle_since = now
        self._refresh_ready(agent)

    def _end(self, task: Task, state: TaskState, reason: str, now: float) -> None:
        task.state, task.end_reason, task.ended_at = state, reason, now
        self._leave_lines(task)

    def _schedule_deadline(self, task: Task, queue: QueueConfig) -> None:
        due = policies.next_deadline(task, queue)
        version = task.attributes.get("_deadline_version", 0) + 1
        task.attributes["_deadline_version"] = version
        if due is not None:
            heapq.heappush(self._deadlines, (due, version, task.id))

    def _escalate(self, task: Task, now: float) -> list[RoutingEvent]:
        queue = self._queues[task.queue]
        events: list[RoutingEvent] = []
        waited = now - task.queued_at
        if queue.max_wait_seconds is not None and waited >= queue.max_wait_seconds:
            return events + self._fall_back(task, queue, now)
        while (
            task.escalation_step < len(queue.escalation)
            and queue.escalation[task.escalation_step].after_seconds <= waited
        ):
            step = queue.escalation[task.escalation_step]
            task.targets = policies.escalated_targets(task, step, self._queues)
            task.escalation_step += 1
            events.append(
                RoutingEvent(
                    "task.escalated",
                    now,
                    task_id=task.id,
                    queue=task.queue,
                    data={"step": task.escalation_step, "queues": sorted({t.queue for t in task.targets})},
                )
            )
        self._enter_lines(task)
        self._schedule_deadline(task, queue)
        return events

    def _fall_back(self, task: Task, queue: QueueConfig, now: float) -> list[RoutingEvent]:
        fallback = queue.fallback_for(task.channel)
        events: list[RoutingEvent] = []
        if task.state is TaskState.RESERVED and task.reservation_id:
            events += self._withdraw(self._reservations[task.reservation_id], now, "maximum wait")
        if fallback is not None and fallback.action == "queue" and fallback.queue in self._queues:
            next_queue = self._queues[fallback.queue]
            task.history.append(
                {"at": now, "from_queue": task.queue, "to_queue": next_queue.name, "note": "maximum wait"}
            )
            events.append(
                RoutingEvent(
                    "task.fell_back",
                    now,
                    task_id=task.id,
                    queue=task.queue,
                    data={"action": "queue", "to_queue": next_queue.name},
                )
            )
            task.queue, task.targets, task.escalation_step, task.queued_at = (
                next_queue.name,
                [next_queue.target()],
                0,
                now,
            )
            self._enter_lines(task)
            self._schedule_deadline(task, next_queue)
            return events
        action = fallback.action if fallback is not None else "none"
        self._end(task, TaskState.FELL_BACK, action, now)
        return [
            *events,
            RoutingEvent(
                "task.fell_back",
                now,
                task_id=task.id,
                queue=task.queue,
                data={"action": action, "wait": now - task.created_at, "channel": task.channel},
            ),
        ]
