"""What every routing store must do, driven through the engine (the same tests run on each store)."""

import pytest

from routing.engine import NewTask
from routing.model import (
    AgentProfile,
    EscalationStep,
    Fallback,
    Presence,
    QueueConfig,
    ReservationState,
    Strategy,
    TaskState,
)
from routing.store import Conflict

pytestmark = pytest.mark.asyncio


async def setup(engine, *queues, agents=()):
    for queue in queues or (QueueConfig("billing", skills={"billing": 3}),):
        await engine.configure_queue(queue)
    for profile in agents:
        await engine.register_agent(profile)


def agent(agent_id, skills=None, languages=("en",), capacity=None, queues=None):
    return AgentProfile(
        agent_id,
        skills=skills if skills is not None else {"billing": 5},
        languages=frozenset(languages),
        capacity=capacity or {"voice": 1, "chat": 3, "email": 5, "sms": 3},
        queues=frozenset(queues) if queues else None,
    )


async def test_task_goes_to_the_longest_idle_qualified_agent(engine, clock, recorder):
    await setup(engine, agents=[agent("ann"), agent("bob"), agent("cy", skills={"billing": 2})])
    await engine.set_presence("bob", Presence.AVAILABLE)
    clock.now += 10
    await engine.set_presence("ann", Presence.AVAILABLE)
    await engine.set_presence("cy", Presence.AVAILABLE)
    await engine.submit(NewTask("t1", "voice", "billing"))
    assert recorder.last_offer().agent_id == "bob"


async def test_accept_succeeds_once(engine, recorder, store):
    await setup(engine, agents=[agent("ann")])
    await engine.set_presence("ann", Presence.AVAILABLE)
    await engine.submit(NewTask("t1", "voice", "billing"))
    reservation = recorder.last_offer().data["reservation_id"]
    task = await engine.accept(reservation)
    assert task.state is TaskState.ASSIGNED and task.agent_id == "ann"
    with pytest.raises(Conflict):
        await engine.accept(reservation)


async def test_task_waits_until_a_qualified_agent_becomes_available(engine, recorder):
    await setup(engine, agents=[agent("ann")])
    await engine.submit(NewTask("t1", "chat", "billing"))
    assert not recorder.kinds("task.offered")
    await engine.set_presence("ann", Presence.AVAILABLE)
    assert recorder.last_offer().task_id == "t1"


async def test_rejected_task_goes_to_the_next_agent_keeping_its_place(engine, clock, recorder, store):
    await setup(engine, agents=[agent("ann"), agent("bob", capacity={"voice": 1})])
    await engine.set_presence("ann", Presence.AVAILABLE)
    await engine.submit(NewTask("old", "voice", "billing"))
    clock.now += 5
    await engine.submit(NewTask("new", "voice", "billing"))
    await engine.reject(recorder.last_offer("ann").data["reservation_id"])
    await engine.set_presence("bob", Presence.AVAILABLE)
    assert recorder.last_offer("bob").task_id == "old"
    assert recorder.last_offer("ann").task_id == "new"


async def test_offer_times_out_and_goes_to_next_agent(engine, clock, recorder, store):
    await setup(engine, agents=[agent("ann"), agent("bob")])
    await engine.set_presence("ann", Presence.AVAILABLE)
    await engine.submit(NewTask("t1", "voice", "billing"))
    first = recorder.last_offer()
    clock.now += 19
    await engine.tick()
    assert (await store.get_reservation(first.data["reservation_id"])).state is ReservationState.PENDING
    await engine.set_presence("bob", Presence.AVAILABLE)
    clock.now += 1
    await engine.tick()
    assert (await store.get_reservation(first.data["reservation_id"])).state is ReservationState.TIMED_OUT
    assert recorder.last_offer().agent_id == "bob"
    with pytest.raises(Conflict):
        await engine.accept(first.data["reservation_id"])


async def test_agent_missing_offers_in_a_row_is_set_away(engine, clock, recorder, store):
    queue = QueueConfig("billing", skills={"billing": 3}, missed_offers_limit=2)
    await setup(engine, queue, agents=[agent("ann")])
    await engine.set_presence("ann", Presence.AVAILABLE)
    for n in range(2):
        await engine.submit(NewTask(f"t{n}", "voice", "billing"))
        clock.now += 21
        await engine.tick()
    ann = await store.get_agent("ann")
    assert ann.presence is Presence.AWAY and ann.away_reason == "missed offers"
    assert recorder.kinds("agent.state")[-1].data["reason"] == "missed offers"


async def test_customer_leaving_cancels_the_task_and_withdraws_the_offer(engine, recorder, store):
    await setup(engine, agents=[agent("ann")])
    await engine.set_presence("ann", Presence.AVAILABLE)
    await engine.submit(NewTask("t1", "voice", "billing"))
    offer = recorder.last_offer()
    await engine.cancel("t1", "caller hung up")
    assert (await store.get_task("t1")).state is TaskState.ABANDONED
    assert (await store.get_reservation(offer.data["reservation_id"])).state is ReservationState.WITHDRAWN
    ann = await store.get_agent("ann")
    assert ann.offer is None and not ann.tasks
    await engine.cancel("t1", "retry")  # repeating changes nothing
    assert len(recorder.kinds("task.abandoned")) == 1
    with pytest.raises(Conflict):
        await engine.accept(offer.data["reservation_id"])


async def test_higher_priority_first_then_first_come_first_served(engine, clock, recorder):
    await setup(engine, agents=[agent("ann", capacity={"chat": 1})])
    for task_id, priority in [("a", 0), ("b", 0), ("vip", 2), ("c", 0)]:
        await engine.submit(NewTask(task_id, "chat", "billing", priority=priority))
        clock.now += 1
    await engine.set_presence("ann", Presence.AVAILABLE)
    served = []
    for _ in range(4):
        offer = recorder.last_offer()
        served.append(offer.task_id)
        await engine.accept(offer.data["reservation_id"])
        await engine.complete(offer.task_id)
        clock.now += 31
        await engine.tick()
    assert served == ["vip", "a", "b", "c"]


async def test_low_priority_does_not_starve(engine, clock, recorder):
    await setup(engine, agents=[agent("ann", capacity={"chat": 1})])
    await engine.submit(NewTask("old-low", "chat", "billing", priority=0))
    clock.now += 150  # longer than 2 priority levels' worth of aging (60 s each)
    await engine.submit(NewTask("new-high", "chat", "billing", priority=2))
    await engine.set_presence("ann", Presence.AVAILABLE)
    assert recorder.last_offer().task_id == "old-low"


async def test_chat_capacity_and_exclusive_voice(engine, recorder, store):
    await setup(engine, agents=[agent("ann", capacity={"voice": 1, "chat": 2})])
    await engine.set_presence("ann", Presence.AVAILABLE)
    for n in range(3):
        await engine.submit(NewTask(f"c{n}", "chat", "billing"))
        offer = recorder.last_offer()
        if offer.task_id == f"c{n}":
            await engine.accept(offer.data["reservation_id"])
    ann = await store.get_agent("ann")
    assert sorted(ann.tasks) == ["c0", "c1"]
    await engine.submit(NewTask("v1", "voice", "billing"))
    assert (await store.get_task("v1")).state is TaskState.QUEUED  # voice needs an otherwise free agent


async def test_agent_on_a_call_gets_nothing_else(engine, recorder, store):
    await setup(engine, agents=[agent("ann")])
    await engine.set_presence("ann", Presence.AVAILABLE)
    await engine.submit(NewTask("v1", "voice", "billing"))
    await engine.accept(recorder.last_offer().data["reservation_id"])
    await engine.submit(NewTask("c1", "chat", "billing"))
    assert (await store.get_task("c1")).state is TaskState.QUEUED


async def test_language_must_match(engine, recorder, store):
    await setup(engine, agents=[agent("ann", languages=["en"]), agent("ana", languages=["es", "en"])])
    await engine.set_presence("ann", Presence.AVAILABLE)
    await engine.submit(NewTask("t1", "chat", "billing", language="es"))
    assert not recorder.kinds("task.offered")
    await engine.set_presence("ana", Presence.AVAILABLE)
    assert recorder.last_offer().agent_id == "ana"


async def test_escalation_lowers_levels_then_adds_overflow_then_falls_back(engine, clock, recorder, store):
    billing = QueueConfig(
        "billing",
        skills={"billing": 8},
        max_wait_seconds=120,
        voice_fallback=Fallback("voicemail"),
        escalation=(EscalationStep(30, lower_levels_by=3), EscalationStep(60, add_queue="general")),
    )
    general = QueueConfig("general")
    await setup(
        engine,
        billing,
        general,
        agents=[agent("junior", skills={"billing": 5}), agent("generalist", skills={}, queues=["general"])],
    )
    await engine.submit(NewTask("t1", "voice", "billing"))
    await engine.set_presence("junior", Presence.AWAY, "lunch")
    await engine.set_presence("generalist", Presence.AVAILABLE)
    clock.now += 30
    await engine.tick()
    assert recorder.kinds("task.escalated")[-1].data["step"] == 1
    assert not recorder.kinds("task.offered")  # junior has level 5 >= 8-3 but is away; generalist not yet
    clock.now += 30
    await engine.tick()
    assert recorder.last_offer().agent_id == "generalist"
    await engine.reject(recorder.last_offer().data["reservation_id"])
    clock.now += 60
    await engine.tick()
    task = await store.get_task("t1")
    assert task.state is TaskState.FELL_BACK and task.end_reason == "voicemail"


async def test_junior_agent_gets_the_task_after_levels_are_lowered(engine, clock, recorder):
    billing = QueueConfig(
        "billing", skills={"billing": 8}, escalation=(EscalationStep(30, lower_levels_by=3),)
    )
    await setup(engine, billing, agents=[agent("junior", skills={"billing": 5})])
    await engine.set_presence("junior", Presence.AVAILABLE)
    await engine.submit(NewTask("t1", "chat", "billing"))
    assert not recorder.kinds("task.offered")
    clock.now += 30
    await engine.tick()
    assert recorder.last_offer().agent_id == "junior"


async def test_wrap_up_holds_the_agent_then_idle_counts_from_its_end(engine, clock, recorder, store):
    queue = QueueConfig("billing", skills={"billing": 3}, wrap_up_seconds=45)
    await setup(engine, queue, agents=[agent("ann"), agent("bob")])
    await engine.set_presence("ann", Presence.AVAILABLE)
    await engine.submit(NewTask("t1", "voice", "billing"))
    await engine.accept(recorder.last_offer().data["reservation_id"])
    clock.now += 100
    await engine.complete("t1")
    await engine.submit(NewTask("t2", "voice", "billing"))
    assert (await store.get_task("t2")).state is TaskState.QUEUED
    clock.now += 45
    await engine.tick()
    assert recorder.last_offer().task_id == "t2" and recorder.last_offer().agent_id == "ann"
    assert (await store.get_agent("ann")).idle_since == clock.now
    assert recorder.kinds("task.wrapped")[0].data["handle"] == 145


async def test_transfer_to_a_queue_and_to_an_agent_keeps_history(engine, recorder, store):
    tech = QueueConfig("tech", skills={"tech": 3})
    await setup(
        engine,
        QueueConfig("billing", skills={"billing": 3}),
        tech,
        agents=[agent("ann"), agent("tom", skills={"tech": 5}), agent("bob")],
    )
    await engine.set_presence("ann", Presence.AVAILABLE)
    await engine.submit(NewTask("t1", "chat", "billing"))
    await engine.accept(recorder.last_offer().data["reservation_id"])
    await engine.set_presence("tom", Presence.AVAILABLE)
    await engine.transfer("t1", queue="tech", note="needs a technician")
    offer = recorder.last_offer()
    assert offer.agent_id == "tom"
    await engine.accept(offer.data["reservation_id"])
    await engine.set_presence("bob", Presence.AVAILABLE)
    await engine.set_presence("ann", Presence.AVAILABLE)
    await engine.transfer("t1", agent_id="bob", note="back to billing")
    assert recorder.last_offer().agent_id == "bob"
    task = await store.get_task("t1")
    assert [h["note"] for h in task.history] == ["needs a technician", "back to billing"]
    assert not (await store.get_agent("tom")).tasks


async def test_preferred_agent_first_for_its_window(engine, clock, recorder):
    await setup(engine, agents=[agent("ann", capacity={"voice": 1}), agent("bob")])
    await engine.set_presence("ann", Presence.AVAILABLE)
    await engine.set_presence("bob", Presence.AVAILABLE)
    await engine.submit(NewTask("busy", "voice", "billing", preferred_agent="ann"))
    await engine.accept(recorder.last_offer().data["reservation_id"])
    await engine.submit(NewTask("t2", "voice", "billing", preferred_agent="ann"))
    assert recorder.last_offer().task_id == "busy"  # bob waits: ann is preferred and logged in
    clock.now += 30
    await engine.tick()
    assert recorder.last_offer().task_id == "t2" and recorder.last_offer().agent_id == "bob"


@pytest.mark.parametrize(
    ("strategy", "expected"),
    [(Strategy.MOST_SKILLED, "expert"), (Strategy.LEAST_OCCUPIED, "free"), (Strategy.LONGEST_IDLE, "expert")],
)
async def test_queue_strategy_chooses_the_agent(engine, clock, recorder, strategy, expected):
    queue = QueueConfig("billing", skills={"billing": 3}, strategy=strategy)
    await setup(
        engine,
        queue,
        agents=[
            agent("expert", skills={"billing": 9}, capacity={"chat": 3}),
            agent("free", skills={"billing": 4}, capacity={"chat": 3}),
        ],
    )
    await engine.set_presence("expert", Presence.AVAILABLE)
    clock.now += 5
    await engine.set_presence("free", Presence.AVAILABLE)
    await engine.submit(NewTask("warm", "chat", "billing", skills={"billing": 9}))
    await engine.accept(recorder.last_offer().data["reservation_id"])
    await engine.submit(NewTask("t", "chat", "billing"))
    assert recorder.last_offer().agent_id == expected


async def test_round_robin_rotates(engine, clock, recorder):
    queue = QueueConfig("billing", skills={"billing": 3}, strategy=Strategy.ROUND_ROBIN)
    await setup(engine, queue, agents=[agent("a", capacity={"chat": 5}), agent("b", capacity={"chat": 5})])
    await engine.set_presence("a", Presence.AVAILABLE)
    await engine.set_presence("b", Presence.AVAILABLE)
    picked = []
    for n in range(4):
        clock.now += 1
        await engine.submit(NewTask(f"t{n}", "chat", "billing"))
        offer = recorder.last_offer()
        picked.append(offer.agent_id)
        await engine.accept(offer.data["reservation_id"])
    assert picked in (["a", "b", "a", "b"], ["b", "a", "b", "a"])


async def test_submitting_the_same_task_twice_changes_nothing(engine, recorder):
    await setup(engine)
    await engine.submit(NewTask("t1", "chat", "billing"))
    await engine.submit(NewTask("t1", "chat", "billing"))
    assert len(recorder.kinds("task.queued")) == 1


async def test_going_away_withdraws_an_open_offer_which_goes_to_another_agent(engine, recorder):
    await setup(engine, agents=[agent("ann"), agent("bob")])
    await engine.set_presence("ann", Presence.AVAILABLE)
    await engine.submit(NewTask("t1", "voice", "billing"))
    await engine.set_presence("bob", Presence.AVAILABLE)
    await engine.set_presence("ann", Presence.OFFLINE)
    assert recorder.kinds("task.withdrawn")
    assert recorder.last_offer().agent_id == "bob"


async def test_a_transferred_task_goes_to_a_free_agent_when_the_freed_one_takes_a_more_urgent_task(
    engine, recorder, store
):
    # Found by the property test: the freed agent takes the waiting urgent task, and the transferred one
    # must not be left waiting beside another idle agent.
    await setup(
        engine,
        QueueConfig("billing", skills={"billing": 5}),
        QueueConfig("general"),
        agents=[agent("ann", skills={"billing": 7}), agent("bob", skills={"billing": 3})],
    )
    await engine.set_presence("bob", Presence.AVAILABLE)
    await engine.submit(NewTask("urgent", "voice", "general", priority=2))
    urgent_offer = recorder.last_offer("bob").data["reservation_id"]
    await engine.submit(NewTask("billing", "voice", "billing"))  # bob lacks the level: it waits
    await engine.set_presence("ann", Presence.AVAILABLE)
    billing_offer = recorder.last_offer("ann").data["reservation_id"]
    await engine.reject(urgent_offer)  # bob declines; ann has an offer out: urgent waits
    await engine.accept(billing_offer)
    await engine.transfer("billing", queue="general")
    urgent, billing = await store.get_task("urgent"), await store.get_task("billing")
    assert urgent.state is TaskState.RESERVED and billing.state is TaskState.RESERVED
    holders = {a.id: a.offer for a in await store.agents() if a.offer}
    assert set(holders) == {"ann", "bob"}  # one each: nobody idle beside a waiting task
