"""A discrete-event simulation that drives the real routing engine on a virtual clock.

Contacts arrive as Poisson streams per queue; handle times are exponential or log-normal; callers may hang
up after an exponential patience. Agents accept offers at once. The figures are measured after a warm-up.
"""

from __future__ import annotations

import heapq
import itertools
import json
import math
import random
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from routing.engine import NewTask, RoutingEngine
from routing.model import (
    AgentProfile,
    EscalationStep,
    Presence,
    QueueConfig,
    RoutingEvent,
    Strategy,
    TaskState,
)
from routing.stores.memory import MemoryStore


@dataclass(frozen=True)
class Stream:
    """Contacts for one queue: Poisson arrivals, a handle-time distribution and optional patience."""

    queue: str
    arrivals_per_hour: float
    aht_seconds: float
    distribution: str = "exponential"  # or "lognormal"
    lognormal_sigma: float = 0.5
    patience_seconds: float | None = None
    channel: str = "voice"
    skill: str | None = None  # the skill whose holders handle it at normal speed


@dataclass(frozen=True)
class AgentGroup:
    """`count` agents alike."""

    name: str
    count: int
    skills: dict[str, int] = field(default_factory=dict)
    languages: tuple[str, ...] = ("en",)
    capacity: dict[str, int] = field(default_factory=lambda: {"voice": 1})
    queues: tuple[str, ...] | None = None


@dataclass(frozen=True)
class Scenario:
    """Queues, agent groups and contact streams, and how long to run."""

    queues: list[QueueConfig]
    groups: list[AgentGroup]
    streams: list[Stream]
    hours: float = 8.0
    warmup_hours: float | None = None
    seed: int = 1
    unskilled_factor: float = 1.0  # handle-time multiplier for an agent without the stream's skill
    target_seconds: float = 20.0


@dataclass
class Result:
    """The measured figures (contacts arriving after the warm-up)."""

    offered: int = 0
    answered: int = 0
    abandoned: int = 0
    answered_within_target: int = 0
    abandoned_after_target: int = 0
    waited: int = 0
    total_wait: float = 0.0
    total_handle: float = 0.0
    measured_seconds: float = 0.0
    agents: int = 0

    def summary(self) -> dict[str, Any]:
        """The figures the CLI prints."""
        settled = self.answered + self.abandoned
        sl_base = self.answered + self.abandoned_after_target
        return {
            "offered": self.offered,
            "answered": self.answered,
            "abandoned": self.abandoned,
            "service_level": round(self.answered_within_target / sl_base, 4) if sl_base else None,
            "p_wait": round(self.waited / settled, 4) if settled else None,
            "asa_seconds": round(self.total_wait / self.answered, 2) if self.answered else None,
            "abandon_rate": round(self.abandoned / settled, 4) if settled else None,
            "occupancy": round(self.total_handle / (self.agents * self.measured_seconds), 4)
            if self.agents and self.measured_seconds
            else None,
            "agents": self.agents,
        }


@dataclass
class _Contact:
    stream: Stream
    arrived: float
    answered: float | None = None
    ended: bool = False


class Simulation:
    """One run of a scenario."""

    def __init__(self, scenario: Scenario) -> None:
        self.scenario = scenario
        self.rng = random.Random(scenario.seed)  # noqa: S311 (a simulation, not security)
        self.now = 0.0
        self.engine = RoutingEngine(MemoryStore(), lambda: self.now)
        self.engine.subscribe(self._on_event)
        self._events: list[tuple[float, int, Callable[[], Awaitable[None]]]] = []
        self._seq = itertools.count()
        self._contacts: dict[str, _Contact] = {}
        self._agents: dict[str, AgentProfile] = {}
        self._ids = itertools.count()
        self.result = Result()
        self._warmup = (
            scenario.warmup_hours if scenario.warmup_hours is not None else min(1.0, scenario.hours / 10)
        )
        self._needs_ticks = any(
            q.escalation or q.max_wait_seconds or q.wrap_up_seconds for q in scenario.queues
        )

    async def run(self, progress: Callable[[float], None] | None = None) -> Result:
        """Simulate until the end; `progress` gets the share done (0-1) now and then."""
        end = self.scenario.hours * 3600
        for queue in self.scenario.queues:
            await self.engine.configure_queue(queue)
        for group in self.scenario.groups:
            for n in range(group.count):
                profile = AgentProfile(
                    f"{group.name}-{n}",
                    dict(group.skills),
                    frozenset(group.languages),
                    dict(group.capacity),
                    frozenset(group.queues) if group.queues else None,
                )
                self._agents[profile.id] = profile
                await self.engine.register_agent(profile)
                await self.engine.set_presence(profile.id, Presence.AVAILABLE)
        for stream in self.scenario.streams:
            self._schedule(self._next_arrival_time(stream), self._arrival(stream))
        if self._needs_ticks:
            self._schedule(1.0, self._tick())
        reported = 0.0
        while self._events and self._events[0][0] <= end:
            at, _, action = heapq.heappop(self._events)
            self.now = at
            await action()
            if progress is not None and at / end - reported >= 0.01:
                reported = at / end
                progress(reported)
        self.result.agents = len(self._agents)
        self.result.measured_seconds = end - self._warmup * 3600
        self._count_unfinished(end)
        return self.result

    def _schedule(self, at: float, action: Awaitable[None] | Callable[[], Awaitable[None]]) -> None:
        call = action if callable(action) else (lambda a=action: a)
        heapq.heappush(self._events, (at, next(self._seq), call))

    def _next_arrival_time(self, stream: Stream) -> float:
        return self.now + self.rng.expovariate(stream.arrivals_per_hour / 3600)

    def _arrival(self, stream: Stream) -> Callable[[], Awaitable[None]]:
        async def arrive() -> None:
            task_id = f"c{next(self._ids)}"
            self._contacts[task_id] = _Contact(stream, self.now)
            if stream.patience_seconds:
                self._schedule(
                    self.now + self.rng.expovariate(1 / stream.patience_seconds), self._abandon(task_id)
                )
            self._schedule(self._next_arrival_time(stream), self._arrival(stream))
            await self.engine.submit(NewTask(task_id, stream.channel, stream.queue))

        return arrive

    def _abandon(self, task_id: str) -> Callable[[], Awaitable[None]]:
        async def hang_up() -> None:
            task = await self.engine.store.get_task(task_id)
            if task.state in (TaskState.QUEUED, TaskState.RESERVED):
                await self.engine.cancel(task_id, "caller hung up")

        return hang_up

    def _tick(self) -> Callable[[], Awaitable[None]]:
        async def tick() -> None:
            await self.engine.tick()
            self._schedule(self.now + 1.0, self._tick())

        return tick

    def _on_event(self, event: RoutingEvent) -> None:
        """Agents accept offers at once; answered contacts end after their handle time."""
        if event.kind == "task.offered":
            reservation_id = event.data["reservation_id"]
            self._schedule(self.now, lambda: self._accept(reservation_id))
        elif event.kind == "task.accepted":
            contact = self._contacts[event.task_id or ""]
            contact.answered = self.now
            handle = self._handle_time(contact.stream, self._agents[event.agent_id or ""])
            self._record_answer(contact, handle)
            self._schedule(self.now + handle, lambda t=event.task_id: self.engine.complete(t))
        elif event.kind == "task.abandoned":
            contact = self._contacts[event.task_id or ""]
            contact.ended = True
            if contact.arrived >= self._warmup * 3600:
                self.result.offered += 1
                self.result.abandoned += 1
                self.result.waited += 1
                if self.now - contact.arrived > self.scenario.target_seconds:
                    self.result.abandoned_after_target += 1

    async def _accept(self, reservation_id: str) -> None:
        await self.engine.accept(reservation_id)

    def _record_answer(self, contact: _Contact, handle: float) -> None:
        contact.ended = True
        if contact.arrived < self._warmup * 3600:
            return
        wait = self.now - contact.arrived
        result = self.result
        result.offered += 1
        result.answered += 1
        result.total_wait += wait
        result.total_handle += handle
        result.waited += wait > 1e-9
        result.answered_within_target += wait <= self.scenario.target_seconds

    def _handle_time(self, stream: Stream, agent: AgentProfile) -> float:
        mean = stream.aht_seconds
        if stream.skill and stream.skill not in agent.skills:
            mean *= self.scenario.unskilled_factor
        if stream.distribution == "lognormal":
            sigma = stream.lognormal_sigma
            return self.rng.lognormvariate(math.log(mean) - sigma * sigma / 2, sigma)
        return self.rng.expovariate(1 / mean)

    def _count_unfinished(self, end: float) -> None:
        """Contacts still waiting at the end count as offered (they are in the queue), not as settled."""
        for contact in self._contacts.values():
            if not contact.ended and contact.arrived >= self._warmup * 3600:
                self.result.offered += 1


def single_queue(
    agents: int,
    arrivals_per_hour: float,
    aht_seconds: float,
    *,
    target_seconds: float = 20,
    hours: float = 8,
    seed: int = 1,
    patience_seconds: float | None = None,
    distribution: str = "exponential",
) -> Scenario:
    """One queue, one skill, identical agents: the Erlang C (or A, with patience) situation."""
    queue = QueueConfig(
        "main", skills={"main": 1}, target_seconds=target_seconds, wrap_up_seconds=0, missed_offers_limit=0
    )
    return Scenario(
        queues=[queue],
        groups=[AgentGroup("agent", agents, {"main": 5})],
        streams=[
            Stream("main", arrivals_per_hour, aht_seconds, distribution, patience_seconds=patience_seconds)
        ],
        hours=hours,
        seed=seed,
        target_seconds=target_seconds,
    )


def load_scenario(path: Path, **overrides: Any) -> Scenario:
    """A scenario from a JSON file (see docs/routing.md for the format)."""
    data = json.loads(path.read_text())
    queues = [
        QueueConfig(
            name=q["name"],
            skills=q.get("skills", {}),
            language=q.get("language"),
            strategy=Strategy(q.get("strategy", "longest_idle")),
            target_seconds=q.get("target_seconds", data.get("target_seconds", 20)),
            escalation=tuple(EscalationStep(**s) for s in q.get("escalation", [])),
            max_wait_seconds=q.get("max_wait_seconds"),
            wrap_up_seconds=q.get("wrap_up_seconds", 0),
            missed_offers_limit=0,
        )
        for q in data["queues"]
    ]
    groups = [
        AgentGroup(
            g["name"],
            g["count"],
            g.get("skills", {}),
            tuple(g.get("languages", ["en"])),
            g.get("capacity", {"voice": 1}),
            tuple(g["queues"]) if g.get("queues") else None,
        )
        for g in data["groups"]
    ]
    streams = [Stream(**s) for s in data["streams"]]
    fields = {
        k: data[k]
        for k in ("hours", "warmup_hours", "seed", "unskilled_factor", "target_seconds")
        if k in data
    }
    return Scenario(queues=queues, groups=groups, streams=streams, **{**fields, **overrides})


async def simulate(scenario: Scenario, progress: Callable[[float], None] | None = None) -> dict[str, Any]:
    """Run a scenario and return its summary figures."""
    result = await Simulation(scenario).run(progress)
    return {
        **result.summary(),
        "hours": scenario.hours,
        "seed": scenario.seed,
        "scenario": {"streams": [asdict(s) for s in scenario.streams]},
    }
