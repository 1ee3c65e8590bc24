"""Property-based tests over random sequences of routing events, on every store.

After every step: no task is held by two agents, no agent exceeds its capacity, no task is lost, no agent
that could take a waiting task is left idle; at every offer, equal priority is first come first served; at
every accept, the agent meets the task's requirements.
"""

from __future__ import annotations

import asyncio

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from routing import policies
from routing.engine import NewTask, RoutingEngine
from routing.model import (
    FINAL_STATES,
    AgentProfile,
    EscalationStep,
    Fallback,
    Presence,
    QueueConfig,
    ReservationState,
    RoutingEvent,
    TaskState,
)
from routing.store import Conflict
from tests.unit.routing.conftest import STORES, Clock, make_store

QUEUES = [
    QueueConfig(
        "billing",
        skills={"billing": 5},
        wrap_up_seconds=10,
        missed_offers_limit=2,
        escalation=(EscalationStep(30, lower_levels_by=3),),
        max_wait_seconds=300,
        text_fallback=Fallback("ticket"),
        voice_fallback=Fallback("queue", "general"),
    ),
    QueueConfig(
        "tech", skills={"tech": 3}, wrap_up_seconds=0, escalation=(EscalationStep(20, add_queue="general"),)
    ),
    QueueConfig("general", wrap_up_seconds=5),
]
AGENTS = [
    AgentProfile("a1", {"billing": 7}, frozenset({"en"}), {"voice": 1, "chat": 2}),
    AgentProfile(
        "a2", {"billing": 3, "tech": 5}, frozenset({"en", "es"}), {"voice": 1, "chat": 3, "email": 2}
    ),
    AgentProfile(
        "a3", {"tech": 8}, frozenset({"es"}), {"chat": 1, "email": 1}, frozenset({"tech", "general"})
    ),
    AgentProfile("a4", {}, frozenset({"en"}), {"voice": 1, "chat": 1}, frozenset({"general"})),
]


class RoutingMachine(RuleBasedStateMachine):
    """Random triggers against one engine; `store_kind` is set by the subclass for each store."""

    store_kind = "memory"

    @initialize()
    def start(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.clock = Clock()
        self.store = make_store(self.store_kind)
        self.engine = RoutingEngine(self.store, self.clock)
        self.engine.subscribe(self.check_event)
        self.submitted: list[str] = []
        self.offers: list[str] = []
        self.problems: list[str] = []
        self.run(self.setup())

    def teardown(self) -> None:
        if hasattr(self, "loop"):
            self.loop.close()

    def run(self, coroutine):
        return self.loop.run_until_complete(coroutine)

    async def setup(self) -> None:
        for queue in QUEUES:
            await self.engine.configure_queue(queue)
        for profile in AGENTS:
            await self.engine.register_agent(profile)

    async def check_event(self, event: RoutingEvent) -> None:
        if event.kind == "task.offered":
            self.offers.append(event.data["reservation_id"])
            await self.check_first_come_first_served(event)
        if event.kind == "task.accepted":
            task, agent = await self.store.get_task(event.task_id), await self.store.get_agent(event.agent_id)
            if (
                not any(policies.meets(agent, t) for t in task.targets)
                and "only_agent" not in task.attributes
            ):
                self.problems.append(f"{agent.id} accepted {task.id} without meeting its requirements")

    async def check_first_come_first_served(self, event: RoutingEvent) -> None:
        offered = await self.store.get_task(event.task_id)
        agent = await self.store.get_agent(event.agent_id)
        agent.tasks.pop(offered.id, None)
        agent_offer, agent.offer = agent.offer, None
        try:
            for queue in {t.queue for t in offered.targets}:
                for other in await self.store.waiting(queue):
                    if (
                        other.state is TaskState.QUEUED
                        and other.priority == offered.priority
                        and policies.score(other) < policies.score(offered)
                        and policies.has_room(agent, other.channel)
                        and policies.eligible(agent, other, self.clock(), 0, False)
                    ):
                        self.problems.append(f"{offered.id} offered to {agent.id} before older {other.id}")
        finally:
            agent.tasks[offered.id] = offered.channel
            agent.offer = agent_offer

    # triggers -------------------------------------------------------------------------------------

    @rule(
        channel=st.sampled_from(["voice", "chat", "email"]),
        queue=st.sampled_from(["billing", "tech", "general"]),
        priority=st.integers(0, 2),
        language=st.sampled_from([None, None, "en", "es"]),
    )
    def submit(self, channel, queue, priority, language):
        task_id = f"t{len(self.submitted)}"
        self.submitted.append(task_id)
        self.run(self.engine.submit(NewTask(task_id, channel, queue, priority=priority, language=language)))

    @rule(
        agent=st.sampled_from([a.id for a in AGENTS]),
        presence=st.sampled_from([Presence.AVAILABLE, Presence.AVAILABLE, Presence.AWAY, Presence.OFFLINE]),
    )
    def presence(self, agent, presence):
        self.run(self.engine.set_presence(agent, presence, "break" if presence is Presence.AWAY else None))

    @rule(data=st.data(), accept=st.booleans())
    def answer_offer(self, data, accept):
        if not self.offers:
            return
        reservation_id = data.draw(st.sampled_from(self.offers))
        try:
            if accept:
                self.run(self.engine.accept(reservation_id))
            else:
                self.run(self.engine.reject(reservation_id))
        except Conflict:
            reservation = self.run(self.store.get_reservation(reservation_id))
            if reservation.state is ReservationState.PENDING and self.clock() < reservation.expires_at:
                self.problems.append(f"open offer {reservation_id} refused")

    @rule(data=st.data())
    def customer_leaves(self, data):
        if self.submitted:
            task_id = data.draw(st.sampled_from(self.submitted))
            task = self.run(self.store.get_task(task_id))
            if task.state in (TaskState.QUEUED, TaskState.RESERVED):
                self.run(self.engine.cancel(task_id))

    @rule(data=st.data(), transfer=st.sampled_from([None, None, "tech", "general"]))
    def finish_or_transfer(self, data, transfer):
        tasks = [self.run(self.store.get_task(t)) for t in self.submitted]
        assigned = [t.id for t in tasks if t.state is TaskState.ASSIGNED]
        if assigned:
            task_id = data.draw(st.sampled_from(assigned))
            if transfer:
                self.run(self.engine.transfer(task_id, queue=transfer))
            else:
                self.run(self.engine.complete(task_id))

    @rule(seconds=st.sampled_from([1, 5, 11, 21, 35, 120]))
    def time_passes(self, seconds):
        self.clock.now += seconds
        self.run(self.engine.tick())

    # invariants -----------------------------------------------------------------------------------

    @invariant()
    def no_problem_seen_at_events(self):
        assert not self.problems, self.problems

    @invariant()
    def nothing_double_assigned_over_capacity_or_lost(self):
        if not hasattr(self, "store"):
            return
        agents = self.run(self.store.agents())
        holders: dict[str, list[str]] = {}
        for agent in agents:
            for task_id in agent.tasks:
                holders.setdefault(task_id, []).append(agent.id)
            channels = list(agent.tasks.values())
            for channel in set(channels):
                assert channels.count(channel) <= agent.profile.capacity.get(channel, 0), (agent.id, channels)
            if "voice" in channels:
                assert len(channels) == 1, (agent.id, channels)
        waiting = {t.id for q in QUEUES for t in self.run(self.store.waiting(q.name))}
        for task_id in self.submitted:
            task = self.run(self.store.get_task(task_id))
            held = holders.get(task_id, [])
            assert len(held) <= 1, (task_id, held)
            if task.state in FINAL_STATES:
                assert not held and task_id not in waiting, task
            elif task.state in (TaskState.QUEUED, TaskState.RESERVED):
                assert task_id in waiting, task
                assert bool(held) == (task.state is TaskState.RESERVED), (task, held)
            else:
                assert held == [task.agent_id], (task, held)

    @invariant()
    def no_idle_agent_next_to_a_task_it_could_take(self):
        if not hasattr(self, "store"):
            return
        now = self.clock()
        for agent in self.run(self.store.agents()):
            for queue in QUEUES:
                for task in self.run(self.store.waiting(queue.name)):
                    if task.state is TaskState.QUEUED and policies.has_room(agent, task.channel):
                        assert not policies.eligible(agent, task, now, 0, False), (agent.id, task.id)


for _kind in STORES:
    _machine = type(f"Routing{_kind.title()}Machine", (RoutingMachine,), {"store_kind": _kind})
    _machine.TestCase.settings = settings(
        max_examples=120, stateful_step_count=40, deadline=None, suppress_health_check=[HealthCheck.too_slow]
    )
    globals()[f"TestRouting{_kind.title()}"] = _machine.TestCase
