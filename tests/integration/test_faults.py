"""Faults: Redis killed and restarted with its append-only file; the queues and reservations routing keeps
there come back, and the contact is offered and answered once."""

from __future__ import annotations

import asyncio
import signal
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from contact_center.app import create_app
from contact_center.intake import InboundContact
from contact_center.web.appkeys import INTAKE, ROUTING
from tests.conftest import bearer
from tests.integration.test_chat import settle
from tests.services import redis_problem, require

pytestmark = pytest.mark.redis


class OwnRedis:
    """A redis-server of the test's own (append-only file, fsync on every write) that the test may kill."""

    def __init__(self, directory: Path) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.directory = directory
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        command = [
            "redis-server",
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--dir",
            str(self.directory),
        ]
        command += ["--appendonly", "yes", "--appendfsync", "always", "--save", ""]
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    async def ready(self) -> None:
        client = aioredis.from_url(self.url)
        try:
            for _ in range(200):
                try:
                    if await client.ping():
                        return
                except (ConnectionError, OSError, aioredis.ConnectionError):
                    await asyncio.sleep(0.05)
            raise AssertionError("redis-server did not start")
        finally:
            await client.aclose()

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[OwnRedis]:
    require(redis_problem())
    server = OwnRedis(tmp_path)
    server.start()
    yield server
    if server.process is not None and server.process.poll() is None:
        server.kill()


@pytest.fixture
async def on_own_redis(aiohttp_client, settings, own_redis, staff, clock):
    """The app on the test's own Redis, with the agent speaking English."""
    await own_redis.ready()
    app_settings = settings.model_copy(update={"redis_url": own_redis.url, "redis_prefix": "cc-faults:"})
    client = await aiohttp_client(create_app(app_settings, clock=clock, tick_interval=None))
    admin = bearer(staff["admin"]["token"])
    assert (
        await client.patch(f"/api/users/{staff['agent']['id']}", json={"languages": ["en"]}, headers=admin)
    ).ok
    return client


async def test_a_queued_contact_survives_redis_killed_and_restarted(on_own_redis, own_redis, staff):
    client = on_own_redis
    app, agent = client.server.app, bearer(staff["agent"]["token"])
    result = await app[INTAKE].receive(
        InboundContact(
            channel="sms", identities=[("phone", "+14155550140")], text="Where is my parcel?", language="en"
        )
    )
    await settle(app)
    assert [t.id for t in await app[ROUTING].engine.store.waiting("general")] == [result.task_id]

    own_redis.kill()  # no shutdown, no last save: only what the append-only file holds comes back
    own_redis.start()
    await own_redis.ready()

    assert [t.id for t in await app[ROUTING].engine.store.waiting("general")] == [result.task_id]
    ready = await client.post("/api/routing/presence", json={"presence": "available"}, headers=agent)
    assert ready.status == 200, await ready.text()
    me = await (await client.get("/api/routing/me", headers=agent)).json()
    assert me["offer"], "the task that waited through the restart is offered"
    accepted = await client.post(f"/api/routing/offers/{me['offer']}/accept", headers=agent)
    assert accepted.status == 200 and (await accepted.json())["conversation_id"] == result.conversation_id
    assert (await client.post(f"/api/routing/offers/{me['offer']}/accept", headers=agent)).status == 409
    await settle(app)
    assert await app[ROUTING].engine.store.waiting("general") == []


async def test_an_offer_out_when_redis_restarts_can_still_be_accepted_once(on_own_redis, own_redis, staff):
    client = on_own_redis
    app, agent = client.server.app, bearer(staff["agent"]["token"])
    assert (await client.post("/api/routing/presence", json={"presence": "available"}, headers=agent)).ok
    result = await app[INTAKE].receive(
        InboundContact(channel="sms", identities=[("phone", "+14155550141")], text="Hello", language="en")
    )
    await settle(app)
    offer = (await (await client.get("/api/routing/me", headers=agent)).json())["offer"]
    assert offer

    own_redis.kill()
    own_redis.start()
    await own_redis.ready()

    me = await (await client.get("/api/routing/me", headers=agent)).json()
    assert me["offer"] == offer and me["presence"] == "available"
    accepted = await client.post(f"/api/routing/offers/{offer}/accept", headers=agent)
    assert accepted.status == 200 and (await accepted.json())["conversation_id"] == result.conversation_id
    assert (await client.post(f"/api/routing/offers/{offer}/accept", headers=agent)).status == 409
    assert list((await app[ROUTING].agent_view(staff["agent"]["id"]))["tasks"]) == [result.task_id]


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
async def test_postgresql_connections_dropped_under_webhooks_lose_nothing(twilio_client, database_url):
    import asyncpg
    from sqlalchemy import select
    from sqlalchemy.engine import make_url

    from channels.twilio_webhooks import INBOX
    from contact_center.db.models import VoiceCall
    from contact_center.web.appkeys import SESSIONS
    from tests.integration.test_voice import CALLER, OUR_NUMBER, post

    app = twilio_client.app
    url = make_url(database_url)
    admin = await asyncpg.connect(
        url.set(drivername="postgresql", database="postgres").render_as_string(False)
    )

    async def drop_connections() -> int:
        rows = await admin.fetch(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = $1 AND pid <> pg_backend_pid()",
            url.database,
        )
        return len(rows)

    try:
        await post(twilio_client, "/twilio/voice", CallSid="CA80", From=CALLER, To=OUR_NUMBER)
        assert await app[INBOX].settled() == 0
        assert await drop_connections() >= 1  # the app's pooled connections are cut under it
        for n in range(1, 4):
            root = await post(twilio_client, "/twilio/voice", CallSid=f"CA8{n}", From=CALLER, To=OUR_NUMBER)
            assert root.tag == "Response"  # TwiML, never an application error
            await drop_connections()
        assert await app[INBOX].settled() == 0
    finally:
        await admin.close()
    async with app[SESSIONS]() as db:
        sids = sorted((await db.execute(select(VoiceCall.call_sid))).scalars())
    assert sids == ["CA80", "CA81", "CA82", "CA83"]  # each acknowledged call stored, once
