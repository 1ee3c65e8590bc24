"""Live statistics computed from routing events: per queue counts and times, agents' occupancy.

Service level is "answered within the target over answered plus abandoned after the target": callers who
hang up before the target count neither for nor against the queue.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from routing.model import RoutingEvent


@dataclass
class QueueFigures:
    """Counters of one queue since the statistics began."""

    offered: int = 0
    answered: int = 0
    answered_within_target: int = 0
    abandoned: int = 0
    abandoned_after_target: int = 0
    fell_back: int = 0
    transferred_in: int = 0
    wait_of_answered: float = 0.0
    handled: int = 0
    handle_time: float = 0.0

    @property
    def service_level(self) -> float | None:
        """Answered within target over answered plus abandoned after target (None before any)."""
        denominator = self.answered + self.abandoned_after_target
        return self.answered_within_target / denominator if denominator else None

    @property
    def average_speed_of_answer(self) -> float | None:
        """Mean wait of answered contacts, in seconds."""
        return self.wait_of_answered / self.answered if self.answered else None

    @property
    def average_handle_time(self) -> float | None:
        """Mean time from answer to the end of wrap-up, in seconds."""
        return self.handle_time / self.handled if self.handled else None

    @property
    def abandon_rate(self) -> float | None:
        """Abandoned over offered."""
        return self.abandoned / self.offered if self.offered else None


@dataclass
class _AgentClock:
    presence: str = "offline"
    handling: int = 0
    since: float = 0.0
    busy: float = 0.0
    idle: float = 0.0


@dataclass
class LiveStatistics:
    """Listens to routing events; `target_seconds(queue)` gives each queue's service-level target."""

    target_seconds: Callable[[str], float]
    queues: dict[str, QueueFigures] = field(default_factory=dict)
    _agents: dict[str, _AgentClock] = field(default_factory=dict)

    def __call__(self, event: RoutingEvent) -> None:
        """Record one event (use the instance as an engine listener)."""
        figures = self.queues.setdefault(event.queue, QueueFigures()) if event.queue else None
        data = event.data
        if event.kind == "task.queued" and figures:
            figures.offered += 1
        elif event.kind == "task.transferred" and figures:
            figures.offered += 1
            figures.transferred_in += 1
            self._agent_change(event.agent_id, event.at, handling=-1)
        elif event.kind == "task.accepted" and figures:
            figures.answered += 1
            figures.wait_of_answered += data["wait"]
            if data["wait"] <= self.target_seconds(event.queue or ""):
                figures.answered_within_target += 1
            self._agent_change(event.agent_id, event.at, handling=+1)
        elif event.kind == "task.abandoned" and figures:
            figures.abandoned += 1
            if data["wait"] > self.target_seconds(event.queue or ""):
                figures.abandoned_after_target += 1
        elif event.kind == "task.fell_back" and figures:
            figures.fell_back += 1
        elif event.kind == "task.wrapped" and figures:
            figures.handled += 1
            figures.handle_time += data["handle"]
            self._agent_change(event.agent_id, event.at, handling=-1)
        elif event.kind == "agent.state":
            self._agent_change(event.agent_id, event.at, presence=data["presence"])

    def occupancy(self, now: float, agent_id: str | None = None) -> float | None:
        """Time handling contacts over time handling or available and idle (away and offline excluded)."""
        clocks = [self._agents[agent_id]] if agent_id else list(self._agents.values())
        busy = idle = 0.0
        for clock in clocks:
            elapsed = now - clock.since
            busy += clock.busy + (elapsed if clock.handling else 0.0)
            idle += clock.idle + (elapsed if not clock.handling and clock.presence == "available" else 0.0)
        return busy / (busy + idle) if busy + idle else None

    def _agent_change(
        self, agent_id: str | None, at: float, *, handling: int = 0, presence: str | None = None
    ) -> None:
        if agent_id is None:
            return
        clock = self._agents.setdefault(agent_id, _AgentClock(since=at))
        elapsed = at - clock.since
        if clock.handling:
            clock.busy += elapsed
        elif clock.presence == "available":
            clock.idle += elapsed
        clock.since = at
        clock.handling = max(0, clock.handling + handling)
        if presence is not None:
            clock.presence = presence
