"""The event bus: in-process, and through real Redis between two buses standing for two processes."""

import asyncio
import uuid

import pytest
import redis.asyncio as aioredis

from contact_center.events import Gathering, InProcessBus, RedisBus
from tests.services import REDIS_URL, redis_problem, require


async def test_in_process_bus_delivers_by_topic_and_prefix():
    bus = InProcessBus()
    heard = []

    async def record(event):
        heard.append((event.topic, event.payload))

    bus.subscribe("ticket.*", record)
    unsubscribe = bus.subscribe("contact.received", record)
    await bus.publish("contact.received", {"id": 1})
    await bus.publish("ticket.escalated", {"id": 2})
    await bus.publish("agent.state", {"id": 3})
    await bus.drain()
    unsubscribe()
    await bus.publish("contact.received", {"id": 4})
    await bus.drain()
    assert heard == [("contact.received", {"id": 1}), ("ticket.escalated", {"id": 2})]


async def test_handlers_of_events_published_together_gather_their_work_and_later_ones_start_anew():
    bus, together, taken = InProcessBus(), Gathering(), []

    async def handler(event):
        gathered = await together.join(event.payload["n"])
        if gathered:
            taken.append(gathered)

    bus.subscribe("routing.task.offered", handler)
    for n in range(3):
        await bus.publish("routing.task.offered", {"n": n})
    await bus.drain()
    await bus.publish("routing.task.offered", {"n": 3})
    await bus.drain()
    assert taken == [[0, 1, 2], [3]]


async def test_a_failing_handler_does_not_stop_the_others():
    bus = InProcessBus()
    heard = []

    async def broken(event):
        raise RuntimeError("boom")

    async def fine(event):
        heard.append(event.payload)

    bus.subscribe("*", broken)
    bus.subscribe("*", fine)
    await bus.publish("x", {"ok": True})
    await bus.drain()
    assert heard == [{"ok": True}]


@pytest.mark.redis
async def test_redis_bus_reaches_subscribers_in_another_process():
    require(redis_problem())
    prefix = f"cc:test:{uuid.uuid4().hex}:"
    first_client, second_client = aioredis.from_url(REDIS_URL), aioredis.from_url(REDIS_URL)
    first, second = RedisBus(first_client, prefix=prefix), RedisBus(second_client, prefix=prefix)
    await first.start()
    await second.start()
    received = asyncio.Queue()

    async def record(event):
        await received.put(event)

    second.subscribe("contact.*", record)
    try:
        await asyncio.sleep(0.05)  # let both subscriptions reach the server
        sent = await first.publish("contact.received", {"customer_id": 7})
        event = await asyncio.wait_for(received.get(), timeout=5)
        assert (event.id, event.topic, event.payload, event.origin) == (
            sent.id,
            "contact.received",
            {"customer_id": 7},
            sent.origin,
        )
        assert received.empty()
    finally:
        await first.close()
        await second.close()
        await first_client.aclose()
        await second_client.aclose()


async def test_a_deaf_subscription_is_noticed_and_made_again():
    require(redis_problem())
    prefix = f"cc:test:{uuid.uuid4().hex}:"
    client = aioredis.from_url(REDIS_URL)
    bus = RedisBus(client, prefix=prefix, heartbeat_seconds=0.05, deaf_after_seconds=0.4)
    received = asyncio.Queue()

    async def record(event):
        await received.put(event.topic)

    bus.subscribe("*", record)
    await bus.start()
    try:
        await asyncio.sleep(0.2)
        await bus.publish("contact.first", {})
        assert await asyncio.wait_for(received.get(), timeout=5) == "contact.first"
        await asyncio.sleep(0.6)
        assert bus.resubscriptions == 0  # hearing its own heartbeats, the bus leaves a good subscription be
        await bus._pubsub.punsubscribe()  # deaf: the connection stays up but nothing arrives any more
        await bus.publish("contact.lost", {})
        for _ in range(100):
            if bus.resubscriptions:
                break
            await asyncio.sleep(0.05)
        assert bus.resubscriptions == 1
        await asyncio.sleep(1.2)  # the listener moves to the new subscription within a second
        assert bus.resubscriptions == 1  # and hears its heartbeats there: no second one
        await bus.publish("contact.after", {})
        assert await asyncio.wait_for(received.get(), timeout=5) == "contact.after"  # "contact.lost" is gone
        assert received.empty()  # heartbeats are never handed to subscribers
    finally:
        await bus.close()
        await client.aclose()
