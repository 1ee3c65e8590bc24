"""The agent console scaled out: two app processes on the real Redis; the agent's socket on one, the contact
arriving on the other; consoles counted across processes for the grace period, also when a process dies."""

from __future__ import annotations

import asyncio
import uuid

import pytest
import redis.asyncio as aioredis

from agent_ui.agent_presence import LEASE_SECONDS, RedisSockets
from agent_ui.agent_pushes import sweep
from agent_ui.wallboard_pusher import BOARD as WALLBOARD
from contact_center.app import create_app
from contact_center.intake import InboundContact
from contact_center.web.appkeys import INTAKE, ROUTING
from tests.conftest import another_process, bearer
from tests.integration.test_agent_console import available, closed
from tests.integration.test_app_redis import cleanup_redis, redis_settings  # noqa: F401  (fixtures)
from tests.integration.test_chat import settle, sockets  # noqa: F401  (a fixture)
from tests.services import REDIS_URL

pytestmark = pytest.mark.redis


@pytest.fixture
async def two_processes(aiohttp_client, redis_settings, cleanup_redis, clock):  # noqa: F811
    """Two app processes on the same Redis (and database), as test clients: (first, second)."""
    first = await aiohttp_client(create_app(redis_settings, clock=clock, tick_interval=None))
    second = await aiohttp_client(
        create_app(another_process(redis_settings), clock=clock, tick_interval=None)
    )
    return first, second


async def sms_queued(process, phone: str) -> None:
    """An SMS from `phone` stored and queued by `process`, its routing events published."""
    await process.server.app[INTAKE].receive(
        InboundContact(channel="sms", identities=[("phone", phone)], text="Hello", language="en")
    )
    await settle(process.server.app)


async def test_an_offer_made_on_one_process_rings_on_the_other(
    two_processes,
    redis_settings,  # noqa: F811
    staff,
    sockets,  # noqa: F811
    clock,
):
    first, second = two_processes
    admin = bearer(staff["admin"]["token"])
    assert (
        await first.patch(f"/api/users/{staff['agent']['id']}", json={"languages": ["en"]}, headers=admin)
    ).ok
    await first.server.app[ROUTING].sync_agent(staff["agent"]["id"])
    console = await sockets(second, "/agent", auth={"token": staff["agent"]["token"]})
    await console.wait_for("state")
    await available(console)

    result = await first.server.app[INTAKE].receive(
        InboundContact(channel="sms", identities=[("phone", "+14155550123")], text="Hello", language="en")
    )
    await settle(first.server.app)
    [offer] = await console.wait_for("offer")
    assert offer["conversation_id"] == result.conversation_id

    await closed(console, second.server.app, staff["agent"]["id"])  # closed on the second process
    clock.advance(seconds=10)
    assert await sweep(first.server.app) == []
    back = await sockets(first, "/agent", auth={"token": staff["agent"]["token"]})
    [state] = await back.wait_for("state")
    assert (
        state["presence"]["state"] == "available"
        and state["offers"][0]["reservation_id"] == offer["reservation_id"]
    )
    await closed(back, first.server.app, staff["agent"]["id"])
    clock.advance(seconds=redis_settings.agent_grace_seconds + 1)
    assert await sweep(second.server.app) == [staff["agent"]["id"]]
    assert await sweep(first.server.app) == []  # one process acts
    assert (await first.server.app[ROUTING].agent_view(staff["agent"]["id"]))["presence"] == "offline"


async def test_the_consoles_of_a_dead_process_stop_counting_when_their_leases_run_out(redis_settings):  # noqa: F811
    client = aioredis.from_url(REDIS_URL, decode_responses=True)
    prefix = f"cc-test-{uuid.uuid4().hex[:8]}:consoles:"
    try:
        dead, alive = RedisSockets(client, prefix), RedisSockets(client, prefix)
        await dead.opened(7, "sid-1", 1000.0)
        await alive.renew(1000.0 + LEASE_SECONDS / 2)
        assert await alive.count(7, 1000.0 + LEASE_SECONDS / 2) == 1
        assert await alive.gone_since(1000.0 + LEASE_SECONDS / 2) == {}
        later = 1000.0 + LEASE_SECONDS + 1  # the dead process renewed nothing
        await alive.renew(later)
        assert await alive.count(7, later) == 0
        assert await alive.gone_since(later) == {7: later}
        assert await alive.forget(7) and not await dead.forget(7)
    finally:
        async for key in client.scan_iter(match=f"{prefix}*"):
            await client.delete(key)
        await client.aclose()


async def test_a_wallboard_on_one_process_shows_a_contact_queued_on_the_other(
    two_processes,
    staff,
    sockets,  # noqa: F811
    clock,
):
    from tests.integration.test_wallboard import merged, until

    first, second = two_processes
    board = await sockets(second, "/wallboard", auth={"token": staff["supervisor"]["token"]})
    await board.wait_for("wallboard:snapshot")
    await sms_queued(first, "+14155550124")
    state = await until(
        lambda: merged(board)["queues"].get("general/sms", {}).get("waiting") == 1 and merged(board)
    )
    assert state["summary"]["waiting"] == 1
    # the other process computes the same board from the shared routing store and database
    assert (await first.server.app[WALLBOARD].current())["queues"]["general/sms"]["waiting"] == 1


async def test_no_process_computes_boards_until_a_wallboard_opens_and_then_one_pushes_for_all(
    two_processes,
    staff,
    sockets,  # noqa: F811
):
    from tests.integration.test_wallboard import boards_computed, merged, until

    first, second = two_processes
    await sms_queued(first, "+14155550125")
    await asyncio.sleep(0.5)  # the push loop's own pace (real time): it would have computed by now
    assert await boards_computed(first) == await boards_computed(second) == 0

    board = await sockets(second, "/wallboard", auth={"token": staff["supervisor"]["token"]})
    await board.wait_for("wallboard:snapshot")
    await sms_queued(first, "+14155550126")
    await until(lambda: merged(board)["queues"].get("general/sms", {}).get("waiting") == 2)
    pushers = [p for p in (first, second) if p.server.app[WALLBOARD].last is not None]
    assert len(pushers) == 1  # one process computes and pushes the deltas, whichever holds the lease


async def test_when_the_pushing_process_stops_another_one_pushes_the_wallboard(
    two_processes,
    redis_settings,  # noqa: F811
    staff,
    sockets,  # noqa: F811
    clock,
):
    from agent_ui.wallboard_pusher import PUSHER_LEASE_SECONDS
    from tests.integration.test_wallboard import merged, until

    first, second = two_processes
    board = await sockets(second, "/wallboard", auth={"token": staff["supervisor"]["token"]})
    await board.wait_for("wallboard:snapshot")
    await sms_queued(first, "+14155550127")
    await until(lambda: merged(board)["queues"].get("general/sms", {}).get("waiting") == 1)
    [pusher] = [p for p in (first, second) if p.server.app[WALLBOARD].last is not None]

    await pusher.server.app[WALLBOARD].stop()  # its push loop ends, as in a process that died ...
    client = aioredis.from_url(REDIS_URL)
    await client.delete(f"{redis_settings.redis_prefix}wallboard:pusher")  # ... and its lease ran out
    await client.aclose()
    clock.advance(seconds=1)  # (boards are ordered by their time: the manual clock must move)
    await sms_queued(first, "+14155550128")
    # the other process looks at the lease again within a third of its length, takes it, and pushes
    await until(
        lambda: merged(board)["queues"].get("general/sms", {}).get("waiting") == 2,
        seconds=PUSHER_LEASE_SECONDS / 3 + 3,
    )
