"""The Redis routing store on real Redis, across processes.

State survives a new store (a restarted process); two engines on one Redis racing for the same tasks and
agents never double-assign and an offer is accepted once; an engine killed with an offer outstanding (a
real process, killed) gets its task re-offered by another after the timeout; and step for step the Redis
store does exactly what the in-memory store does (same events, same state).
"""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import secrets
import sys
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
import redis.asyncio as aioredis
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from routing.engine import NewTask, RoutingEngine
from routing.model import (
    AgentProfile,
    EscalationStep,
    Fallback,
    Presence,
    QueueConfig,
    ReservationState,
    RoutingEvent,
    Strategy,
    Target,
    Task,
    TaskState,
)
from routing.store import Conflict, RoutingError
from routing.stores import redis as redis_store
from routing.stores.memory import MemoryStore
from routing.stores.redis import RedisStore
from tests.services import REDIS_URL, redis_problem, require

pytestmark = pytest.mark.redis
ROOT = Path(__file__).resolve().parents[2]


class Clock:
    """Seconds that move only when told."""

    def __init__(self, now: float = 1_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


async def delete_prefix(client: aioredis.Redis, prefix: str) -> None:
    """Remove every key of one test's prefix (and nothing else)."""
    keys = [key async for key in client.scan_iter(match=prefix + "*", count=1000)]
    if keys:
        await client.delete(*keys)


@pytest.fixture
async def new_store() -> AsyncIterator[Callable[[], RedisStore]]:
    """Makes RedisStores on one fresh prefix, each with a client of its own, as separate processes would."""
    require(redis_problem())
    prefix = f"cc:test:routing:{uuid.uuid4().hex}:"
    clients: list[aioredis.Redis] = []

    def make() -> RedisStore:
        clients.append(aioredis.from_url(REDIS_URL))
        return RedisStore(clients[-1], prefix)

    yield make
    cleaner = aioredis.from_url(REDIS_URL)
    try:
        await delete_prefix(cleaner, prefix)
    finally:
        await cleaner.aclose()
        for client in clients:
            await client.aclose()


def engine_on(store: RedisStore, clock: Clock) -> tuple[RoutingEngine, list[RoutingEvent]]:
    engine, events = RoutingEngine(store, clock), []
    engine.subscribe(events.append)
    return engine, events


def agent(agent_id: str, **skills: int) -> AgentProfile:
    return AgentProfile(agent_id, skills or {"billing": 5}, frozenset({"en"}), {"voice": 1, "chat": 2})


async def snapshot(store: RedisStore) -> dict[str, Any]:
    return {
        "queues": await store.queues(),
        "agents": await store.agents(),
        "tasks": await store.tasks(),
        "waiting": {q.name: await store.waiting(q.name) for q in await store.queues()},
    }


async def test_state_survives_a_new_store_on_the_same_prefix(new_store):
    clock = Clock()
    first, events = engine_on(new_store(), clock)
    await first.configure_queue(QueueConfig("billing", skills={"billing": 3}, wrap_up_seconds=5))
    await first.configure_queue(
        QueueConfig(
            "tech", escalation=(EscalationStep(30, add_queue="billing"),), text_fallback=Fallback("ticket")
        )
    )
    for name in ("ann", "bob"):
        await first.register_agent(agent(name))
        await first.set_presence(name, Presence.AVAILABLE)
    await first.set_presence("bob", Presence.AWAY, "lunch")
    await first.submit(NewTask("t1", "voice", "billing", priority=1, attributes={"customer": 7}))
    await first.submit(NewTask("t2", "chat", "tech"))
    offer = [e for e in events if e.kind == "task.offered"][-1]
    before = await snapshot(first.store)

    restarted = new_store()  # a process started afterwards, knowing nothing but the prefix
    assert await snapshot(restarted) == before
    assert (await restarted.get_reservation(offer.data["reservation_id"])).state is ReservationState.PENDING
    second, _ = engine_on(restarted, clock)
    task = await second.accept(offer.data["reservation_id"])
    assert (task.id, task.state, task.agent_id) == ("t1", TaskState.ASSIGNED, "ann")
    with pytest.raises(Conflict):
        await first.accept(offer.data["reservation_id"])
    assert (await first.store.get_task("t1")).attributes["customer"] == 7


async def test_two_engines_racing_never_double_assign(new_store):
    clock = Clock()
    (one, heard_one), (two, heard_two) = engine_on(new_store(), clock), engine_on(new_store(), clock)
    engines = (one, two)
    await one.configure_queue(QueueConfig("billing", skills={"billing": 3}, wrap_up_seconds=0))
    await one.configure_queue(QueueConfig("tech", skills={"tech": 3}, wrap_up_seconds=0))
    agents = [agent(f"a{n}", billing=5, **({"tech": 4} if n % 2 else {})) for n in range(12)]
    await asyncio.gather(*(engines[n % 2].register_agent(p) for n, p in enumerate(agents)))
    tasks = [
        NewTask(f"t{n}", ("voice", "chat")[n % 2], ("billing", "tech")[n % 3 == 0], priority=n % 3)
        for n in range(150)
    ]
    submits = [engines[n % 2].submit(task) for n, task in enumerate(tasks)]
    presence = [engines[n % 2].set_presence(p.id, Presence.AVAILABLE) for n, p in enumerate(agents)]
    await asyncio.gather(*submits, *presence)

    wins: Counter[str] = Counter()
    raced: set[str] = set()
    completed: set[str] = set()

    async def race(reservation_id: str) -> None:
        """Both engines accept the same offer at once: exactly one wins, the other gets a Conflict."""
        results = await asyncio.gather(*(e.accept(reservation_id) for e in engines), return_exceptions=True)
        assert sorted(type(r).__name__ for r in results) == ["Conflict", "Task"], results
        task = next(r for r in results if not isinstance(r, Exception))
        wins[reservation_id] += 1
        await engines[len(completed) % 2].complete(task.id)  # frees capacity: more offers, more races
        completed.add(task.id)

    for _ in range(100):
        offers = [e.data["reservation_id"] for e in heard_one + heard_two if e.kind == "task.offered"]
        fresh = [r for r in dict.fromkeys(offers) if r not in raced]
        if not fresh:
            break
        raced.update(fresh)
        await asyncio.gather(*(race(r) for r in fresh), one.tick(), two.tick())
        await check_nobody_holds_a_task_twice(one.store)

    assert completed == {t.id for t in tasks}, "every task was served"
    assert set(wins.values()) == {1}
    accepted = [e.task_id for e in heard_one + heard_two if e.kind == "task.accepted"]
    assert sorted(accepted) == sorted(t.id for t in tasks), "each task accepted exactly once"


async def check_nobody_holds_a_task_twice(store: RedisStore) -> None:
    holders: dict[str, list[str]] = {}
    for each in await store.agents():
        for task_id in each.tasks:
            holders.setdefault(task_id, []).append(each.id)
        channels = list(each.tasks.values())
        assert all(channels.count(c) <= each.profile.capacity.get(c, 0) for c in channels), each
        assert "voice" not in channels or len(channels) == 1, each
    assert all(len(held) == 1 for held in holders.values()), holders
    for task in await store.tasks():
        if task.state is TaskState.RESERVED:
            offered_to = (await store.get_reservation(task.reservation_id or "")).agent_id
            assert holders.get(task.id) == [offered_to], task
        elif task.state is TaskState.ASSIGNED:
            assert holders.get(task.id) == [task.agent_id], task
        else:
            assert task.id not in holders, task


async def test_an_offer_of_a_killed_process_is_offered_again_after_the_timeout(new_store):
    survivor = new_store()
    prefix, clock = survivor.prefix, Clock()
    doomed = f"""
import asyncio, os, signal
import redis.asyncio as aioredis
from routing.engine import NewTask, RoutingEngine
from routing.model import AgentProfile, Presence, QueueConfig
from routing.stores.redis import RedisStore

async def main():
    engine = RoutingEngine(RedisStore(aioredis.from_url({REDIS_URL!r}), {prefix!r}), lambda: {clock.now!r})
    offers = []
    engine.subscribe(lambda e: offers.append(e) if e.kind == "task.offered" else None)
    await engine.configure_queue(QueueConfig("billing", offer_timeout_seconds=20))
    for name in ("ann", "bob"):
        await engine.register_agent(AgentProfile(name))
    await engine.set_presence("ann", Presence.AVAILABLE)
    await engine.submit(NewTask("t1", "voice", "billing"))
    print(offers[-1].agent_id, offers[-1].data["reservation_id"], flush=True)
    os.kill(os.getpid(), signal.SIGKILL)  # dies with the offer outstanding, no clean-up of any kind

asyncio.run(main())
"""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", doomed, cwd=ROOT, stdout=asyncio.subprocess.PIPE
    )
    output, _ = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode == -9
    offered_to, reservation_id = output.decode().split()
    assert offered_to == "ann"

    engine, events = engine_on(survivor, clock)
    await engine.set_presence("bob", Presence.AVAILABLE)
    assert not [e for e in events if e.kind == "task.offered"], "t1 is still offered to ann"
    clock.now += 19.5
    await engine.tick()
    assert (await survivor.get_reservation(reservation_id)).state is ReservationState.PENDING
    clock.now += 0.5
    await engine.tick()
    assert (await survivor.get_reservation(reservation_id)).state is ReservationState.TIMED_OUT
    offer = [e for e in events if e.kind == "task.offered"][-1]
    assert (offer.task_id, offer.agent_id) == ("t1", "bob")
    assert (await engine.accept(offer.data["reservation_id"])).agent_id == "bob"


async def test_an_engine_dropped_with_an_offer_outstanding_is_recovered_by_the_other(new_store):
    clock = Clock()
    (doomed, _), (survivor, events) = engine_on(new_store(), clock), engine_on(new_store(), clock)
    await doomed.configure_queue(QueueConfig("billing", skills={"billing": 3}, offer_timeout_seconds=20))
    for name in ("ann", "bob"):
        await doomed.register_agent(agent(name))
    await doomed.set_presence("ann", Presence.AVAILABLE)
    await doomed.submit(NewTask("t1", "chat", "billing"))
    await doomed.store.redis.aclose()
    del doomed
    await survivor.set_presence("bob", Presence.AVAILABLE)
    clock.now += 20
    await survivor.tick()
    assert [(e.kind, e.agent_id) for e in events if e.task_id == "t1"] == [
        ("task.timed_out", "ann"),
        ("task.offered", "bob"),
    ]


async def test_a_queue_changed_by_another_process_rules_the_next_decision(new_store):
    """Decisions keep queue configurations between calls; a change from any process must reach the next."""
    clock = Clock()
    (one, events), (other, _) = engine_on(new_store(), clock), engine_on(new_store(), clock)
    await one.configure_queue(QueueConfig("billing", offer_timeout_seconds=20, wrap_up_seconds=0))
    await one.register_agent(agent("ann"))
    await one.set_presence("ann", Presence.AVAILABLE)
    for task_id in ("t1", "t2", "t3"):
        await one.submit(NewTask(task_id, "voice", "billing"))

    def offers() -> list[RoutingEvent]:
        return [e for e in events if e.kind == "task.offered"]

    await one.accept(offers()[-1].data["reservation_id"])
    await one.complete("t1")  # ann frees up: a decision for her gives her t2, under the 20 s timeout
    assert (offers()[-1].task_id, offers()[-1].data["expires_at"]) == ("t2", clock.now + 20)
    await one.accept(offers()[-1].data["reservation_id"])
    await other.configure_queue(QueueConfig("billing", offer_timeout_seconds=45, wrap_up_seconds=0))
    await one.complete("t2")
    assert (offers()[-1].task_id, offers()[-1].data["expires_at"]) == ("t3", clock.now + 45)


async def test_scripts_are_loaded_again_when_redis_lost_them(new_store):
    store = new_store()
    store.functions = False
    await store.load_scripts()
    await store.put_queue(QueueConfig("billing"))
    store._shas["put_queue"] = "0" * 40  # as if Redis had lost its script cache: NOSCRIPT, load, retry
    await store.put_queue(QueueConfig("tech"))
    assert [q.name for q in await store.queues()] == ["billing", "tech"]


async def test_the_function_library_is_loaded_when_redis_lacks_it(new_store, monkeypatch):
    library = f"routing_test_{uuid.uuid4().hex}"  # a library of our own, so that no one else's is touched
    monkeypatch.setattr(redis_store, "LIBRARY", library)
    store = new_store()
    try:
        await store.put_queue(QueueConfig("billing"))  # FCALL: function not found; FUNCTION LOAD; FCALL
        assert store.functions is True
        assert [q.name for q in await store.queues()] == ["billing"]
    finally:
        await store.redis.function_delete(library)


async def test_libraries_of_other_versions_are_dropped_and_this_one_kept(new_store):
    store = new_store()
    other = "routing_" + secrets.token_hex(8)  # as an earlier version of the code would have named its own
    await store.redis.function_load(
        f"#!lua name={other}\nredis.register_function('{other}_noop', function() return 1 end)"
    )
    await store.put_queue(QueueConfig("billing"))
    assert other in await store.drop_other_versions()
    assert not await store.redis.function_list(library=other)
    await store.put_queue(QueueConfig("tech"))  # this version's library is still there
    assert [q.name for q in await store.queues()] == ["billing", "tech"]


async def test_a_call_cancelled_half_way_leaves_no_reply_for_the_next_call(new_store):
    store = new_store()
    await store.put_queue(QueueConfig("billing"))
    await store.put_agent(agent("ann"), 0.0)
    admin = aioredis.from_url(REDIS_URL)
    try:
        await admin.execute_command("CLIENT", "PAUSE", 300, "WRITE")  # FCALL may write: held back
        with pytest.raises(TimeoutError):  # the caller gives up while the reply is still to come
            await asyncio.wait_for(store.set_presence("ann", Presence.AVAILABLE, None, 1.0), 0.05)
    finally:
        await admin.execute_command("CLIENT", "UNPAUSE")
        await admin.aclose()
    task = Task("t1", "voice", "billing", [Target("billing", {})], created_at=2.0)
    events = await store.submit(task, 2.0)
    assert {e.kind for e in events} <= {"task.queued", "task.offered"}  # its own reply, not agent.state
    assert "t1" in [t.id for t in await store.tasks()]


async def test_a_call_without_a_reply_times_out_and_the_next_call_gets_its_own(new_store):
    store = new_store()
    await store.put_queue(QueueConfig("billing"))
    await store.put_agent(agent("ann"), 0.0)
    store.call_timeout = 0.05
    admin = aioredis.from_url(REDIS_URL)
    try:
        await admin.execute_command("CLIENT", "PAUSE", 300, "WRITE")  # as a peer that stopped answering
        with pytest.raises(TimeoutError):
            await store.set_presence("ann", Presence.AVAILABLE, None, 1.0)
    finally:
        await admin.execute_command("CLIENT", "UNPAUSE")
        await admin.aclose()
    store.call_timeout = 10.0
    events = await store.set_presence("ann", Presence.AWAY, "lunch", 2.0)
    assert [(e.kind, e.data["presence"]) for e in events] in ([], [("agent.state", "away")])
    assert (await store.get_agent("ann")).presence is Presence.AWAY


async def test_a_connection_closed_by_redis_is_opened_again_for_the_next_call(new_store):
    name = f"routing-test-{uuid.uuid4().hex[:12]}"
    store = new_store()
    store.redis = aioredis.from_url(REDIS_URL, client_name=name)  # a client whose connections we can find
    admin = aioredis.from_url(REDIS_URL)
    try:
        await store.put_queue(QueueConfig("billing"))
        killed = 0
        for entry in await admin.client_list():
            if entry.get("name") == name:
                killed += await admin.execute_command("CLIENT", "KILL", "ID", entry["id"])
        assert killed
        await asyncio.sleep(0.05)  # closed while idle, as by a restart or an idle timeout
        await store.put_queue(QueueConfig("tech"))
        assert [q.name for q in await store.queues()] == ["billing", "tech"]
    finally:
        await store.redis.aclose()
        await admin.aclose()


# the Redis store does what the in-memory store does, step for step ------------------------------------------

QUEUES = [
    QueueConfig(
        "billing",
        skills={"billing": 5},
        wrap_up_seconds=10,
        missed_offers_limit=2,
        escalation=(EscalationStep(30, lower_levels_by=3), EscalationStep(50, drop_language=True)),
        max_wait_seconds=300,
        text_fallback=Fallback("ticket"),
        voice_fallback=Fallback("queue", "general"),
        preferred_agent_seconds=20,
    ),
    QueueConfig(
        "tech",
        skills={"tech": 3},
        wrap_up_seconds=0,
        strategy=Strategy.MOST_SKILLED,
        escalation=(EscalationStep(20, add_queue="general"),),
    ),
    QueueConfig("general", wrap_up_seconds=5, strategy=Strategy.ROUND_ROBIN, max_wait_seconds=200),
    QueueConfig("sales", skills={"sales": 0}, strategy=Strategy.LEAST_OCCUPIED, offer_timeout_seconds=10),
]
AGENTS = [
    AgentProfile("a1", {"billing": 7}, frozenset({"en"}), {"voice": 1, "chat": 2}),
    AgentProfile(
        "a2", {"billing": 3, "tech": 5}, frozenset({"en", "es"}), {"voice": 1, "chat": 3, "email": 2}
    ),
    AgentProfile(
        "a3", {"tech": 8}, frozenset({"es"}), {"chat": 1, "email": 1}, frozenset({"tech", "general"})
    ),
    AgentProfile("a4", {}, frozenset({"en"}), {"voice": 1, "chat": 1}, frozenset({"general", "sales"})),
]


class Ids:
    """Reservation ids in order of appearance (the two stores draw different uuids)."""

    def __init__(self) -> None:
        self.names: dict[str, str] = {}

    def __call__(self, reservation_id: str | None) -> str | None:
        if reservation_id is None:
            return None
        return self.names.setdefault(reservation_id, f"r{len(self.names)}")

    def text(self, message: str) -> str:
        for real, name in self.names.items():
            message = message.replace(real, name)
        return message


class SameAsMemory(RuleBasedStateMachine):
    """Random triggers on an engine over each store in lockstep: events, errors and state must be equal."""

    functions: bool | None = None  # the Redis store as a function library (Redis 7), or None: its choice
    scan_limit: int | None = None  # a lower MemoryStore.SCAN_LIMIT for both stores, to reach it

    @initialize()
    def start(self) -> None:
        require(redis_problem())
        # Increasing uuids: reservations due at the same moment time out in creation order in both stores.
        counter = itertools.count(1)
        self.patches = [mock.patch("uuid.uuid4", lambda: uuid.UUID(int=next(counter)))]
        if self.scan_limit is not None:
            self.patches += [
                mock.patch("routing.stores.memory.SCAN_LIMIT", self.scan_limit),
                mock.patch("routing.stores.redis.SCAN_LIMIT", self.scan_limit),
            ]
        for patch in self.patches:
            patch.start()
        self.loop = asyncio.new_event_loop()
        self.clock = Clock()
        self.prefix = f"cc:test:routing:{secrets.token_hex(16)}:"  # not uuid4: it is counting now
        self.client = aioredis.from_url(REDIS_URL)
        self.stores = (MemoryStore(), RedisStore(self.client, self.prefix, functions=self.functions))
        self.ids = (Ids(), Ids())
        self.heard: tuple[list[RoutingEvent], list[RoutingEvent]] = ([], [])
        self.engines = []
        for store, heard in zip(self.stores, self.heard, strict=True):
            self.engines.append(RoutingEngine(store, self.clock))
            self.engines[-1].subscribe(heard.append)
        self.submitted: list[str] = []
        for queue in QUEUES:
            self.both(lambda e, q=queue: e.configure_queue(q))
        for profile in AGENTS:
            self.both(lambda e, p=profile: e.register_agent(p))
            self.both(lambda e, p=profile: e.set_presence(p.id, Presence.AVAILABLE))

    def teardown(self) -> None:
        if hasattr(self, "loop"):
            self.loop.run_until_complete(delete_prefix(self.client, self.prefix))
            self.loop.run_until_complete(self.client.aclose())
            self.loop.close()
            for patch in self.patches:
                patch.stop()

    def both(self, step: Callable[[RoutingEngine], Any]) -> None:
        """Run one step on both engines; they must raise the same error or hear the same events."""
        outcomes = []
        for engine, heard, ids in zip(self.engines, self.heard, self.ids, strict=True):
            heard.clear()
            self.current = ids
            try:
                self.loop.run_until_complete(step(engine))
                error = None
            except RoutingError as exc:
                error = (type(exc).__name__, ids.text(str(exc)))
            outcomes.append((error, [self.plain(e, ids) for e in heard]))
        assert outcomes[0] == outcomes[1]

    @staticmethod
    def plain(event: RoutingEvent, ids: Ids) -> RoutingEvent:
        if "reservation_id" not in event.data:
            return event
        return dataclasses.replace(
            event, data={**event.data, "reservation_id": ids(event.data["reservation_id"])}
        )

    def offers(self) -> list[str]:
        return list(self.ids[0].names.values())

    def real_id(self, name: str) -> str:
        """The reservation id that the store now being driven gave the offer known by `name`."""
        return next(real for real, known in self.current.names.items() if known == name)

    @rule(
        channel=st.sampled_from(["voice", "chat", "email"]),
        queue=st.sampled_from([q.name for q in QUEUES]),
        priority=st.integers(0, 2),
        language=st.sampled_from([None, None, "en", "es"]),
        preferred=st.sampled_from([None, None, None, "a1", "a2"]),
        skills=st.sampled_from([{}, {}, {}, {"billing": 0}, {"tech": 2}]),  # {"billing": 0}: lenient
    )
    def submit(self, channel, queue, priority, language, preferred, skills):
        task = NewTask(
            f"t{len(self.submitted)}",
            channel,
            queue,
            priority,
            skills=skills,
            language=language,
            preferred_agent=preferred,
        )
        self.submitted.append(task.id)
        self.both(lambda e: e.submit(task))

    @rule(
        agent=st.sampled_from([a.id for a in AGENTS]),
        presence=st.sampled_from([Presence.AVAILABLE, Presence.AVAILABLE, Presence.AWAY, Presence.OFFLINE]),
    )
    def presence(self, agent, presence):
        self.both(lambda e: e.set_presence(agent, presence, "break" if presence is Presence.AWAY else None))

    def open_offers(self) -> list[str]:
        """Offers still pending (most answers go to those; some to stale ones, which must be refused)."""
        memory = self.stores[0]
        return [
            name for real, name in self.ids[0].names.items() if memory._reservations[real].state == "pending"
        ]

    def tasks_in(self, *states: TaskState) -> list[str]:
        return [
            t
            for t in self.submitted
            if self.loop.run_until_complete(self.stores[0].get_task(t)).state in states
        ]

    @rule(data=st.data(), action=st.sampled_from(["accept", "accept", "reject"]), stale=st.integers(0, 4))
    def answer_offer(self, data, action, stale):
        offers = self.offers() if stale == 0 else self.open_offers()
        if offers:
            name = data.draw(st.sampled_from(offers))
            self.both(lambda e: getattr(e, action)(self.real_id(name)))

    @rule(data=st.data(), reason=st.sampled_from(["customer left", "withdrawn"]))
    def cancel(self, data, reason):
        if self.submitted:
            task_id = data.draw(st.sampled_from(self.submitted))
            self.both(lambda e: e.cancel(task_id, reason))

    @rule(
        data=st.data(),
        how=st.sampled_from(["complete", "complete", "end_wrap_up", "tech", "general", "agent", "both"]),
        any_task=st.integers(0, 4),
    )
    def finish_or_transfer(self, data, how, any_task):
        busy = self.tasks_in(TaskState.ASSIGNED, TaskState.WRAPPING)
        tasks = self.submitted if any_task == 0 else busy
        if not tasks:
            return
        task_id = data.draw(st.sampled_from(tasks))
        if how in ("complete", "end_wrap_up"):
            self.both(lambda e: getattr(e, how)(task_id))
        elif how == "agent":
            agent_id = data.draw(st.sampled_from([a.id for a in AGENTS]))
            self.both(lambda e: e.transfer(task_id, agent_id=agent_id, note="to you"))
        elif how == "both":
            self.both(lambda e: e.transfer(task_id, queue="tech", agent_id="a1"))
        else:
            self.both(lambda e: e.transfer(task_id, queue=how, note="over to you"))

    @rule(agent=st.sampled_from([a.id for a in AGENTS]), tech=st.integers(0, 9))
    def retrain(self, agent, tech):
        profile = next(a for a in AGENTS if a.id == agent)
        self.both(
            lambda e: e.register_agent(dataclasses.replace(profile, skills={**profile.skills, "tech": tech}))
        )

    @rule(
        queue=st.sampled_from(range(len(QUEUES))),
        skills=st.sampled_from([{}, {"tech": 3}, {"billing": 5, "tech": 1}, {"sales": 2}, {"billing": 0}]),
    )
    def reconfigure(self, queue, skills):
        """A queue's requirements change while tasks wait: which lines agents may serve changes with them."""
        self.both(lambda e: e.configure_queue(dataclasses.replace(QUEUES[queue], skills=skills)))

    @rule(seconds=st.sampled_from([1, 5, 10, 11, 21, 35, 120]))
    def time_passes(self, seconds):
        self.clock.now += seconds
        self.both(lambda e: e.tick())

    @invariant()
    def same_state(self):
        if not hasattr(self, "stores"):
            return
        states = [self.loop.run_until_complete(self.state(n)) for n in range(2)]
        assert states[0] == states[1]

    async def state(self, which: int) -> dict[str, Any]:
        store, ids = self.stores[which], self.ids[which]

        def plain(item: Any) -> Any:
            fields = dataclasses.asdict(item)
            for name in ("reservation_id", "offer"):
                if name in fields:
                    fields[name] = ids(fields[name])
            if "id" in fields and "expires_at" in fields:
                fields["id"] = ids(fields["id"])
            return fields

        reservations = [await store.get_reservation(real) for real in ids.names]
        return {
            "tasks": [plain(t) for t in await store.tasks()],
            "agents": [plain(a) for a in await store.agents()],
            "queues": await store.queues(),
            "waiting": {q.name: [t.id for t in await store.waiting(q.name)] for q in QUEUES},
            "reservations": [plain(r) for r in reservations],
        }


class SameAsMemoryWithScripts(SameAsMemory):
    """The same, with every operation sent as an EVALSHA script (as on Redis before 7), and lines scanned
    no further than 3 entries, so that the limit is reached and must cut the scan at the same place."""

    functions = False
    scan_limit = 3


for _machine in (SameAsMemory, SameAsMemoryWithScripts):
    _machine.TestCase.settings = settings(
        max_examples=60, stateful_step_count=40, deadline=None, suppress_health_check=[HealthCheck.too_slow]
    )
TestRedisStoreSameAsMemory = SameAsMemory.TestCase
TestRedisScriptsSameAsMemory = SameAsMemoryWithScripts.TestCase
