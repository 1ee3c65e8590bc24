"""The demo's simulated customers: contacts on every channel reach the demo agent's console, the agent's
replies go out through the demo's stand-ins (Twilio's REST API, a mail sink) without any account, and
customers write back in the same conversation."""

from __future__ import annotations

import asyncio
import random

import pytest
from sqlalchemy import func, select

from contact_center.app import create_app
from contact_center.auth.sessions import issue_token
from contact_center.customers.context import CustomerContext
from contact_center.db.models import Message, User
from contact_center.demo.seed import seed_demo
from contact_center.demo.standins import DEMO_ACCOUNT_SID, DemoStandIns
from contact_center.demo.traffic import DEMO_TRAFFIC, DemoTraffic, traffic
from contact_center.settings import load_settings
from contact_center.web.appkeys import SESSIONS
from tests.integration.test_chat import settle, sockets  # noqa: F401  (sockets is a fixture)

SQLITE = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # the demo's own database


async def wait_until(condition, seconds: float = 5.0) -> None:
    for _ in range(int(seconds / 0.02)):
        if await condition():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("condition not met in time")


@pytest.fixture
async def demo(aiohttp_client, settings, sessions, clock):
    """The app as `contact-center demo` runs it: stand-ins for what is not configured, demo data, and the
    traffic's follow-ups (always, at once); contacts are started by the test."""
    stand_ins = DemoStandIns.bind(settings)
    demo_settings = settings.model_copy(update=stand_ins.overrides)
    assert await seed_demo(sessions, CustomerContext.from_settings(demo_settings, clock), customers=4)
    app = create_app(demo_settings, clock=clock, tick_interval=None)
    app.cleanup_ctx.insert(0, stand_ins.run)
    app.cleanup_ctx.append(traffic(seed=3, follow_up_chance=1.0, follow_up_delay=0.02, arrivals=False))
    client = await aiohttp_client(app)
    async with sessions.begin() as db:
        alice = (await db.execute(select(User).where(User.username == "alice"))).scalar_one()
        _, token = await issue_token(db, alice, "tests", clock.now())
    return client, stand_ins, token


def test_stand_ins_only_replace_what_is_not_configured(tmp_path):
    bare = DemoStandIns.bind(load_settings(data_dir=tmp_path))
    assert bare.twilio is not None and bare.mail is not None
    assert bare.overrides["twilio_account_sid"] == DEMO_ACCOUNT_SID
    assert bare.overrides["twilio_api_base_url"].startswith("http://127.0.0.1:")
    configured = DemoStandIns.bind(
        load_settings(
            data_dir=tmp_path,
            twilio_account_sid="AC" + "1" * 32,
            twilio_auth_token="a-real-token",
            smtp_relay_host="mail.example.com",
            email_address="help@example.com",
        )
    )
    assert configured.twilio is None and configured.mail is None and configured.overrides == {}
    for sock in [*bare._sockets.values(), *configured._sockets.values()]:
        sock.close()


@SQLITE
async def test_replies_on_every_channel_go_out_and_customers_write_back(demo, sockets):  # noqa: F811
    client, stand_ins, token = demo
    app = client.server.app
    agent = await sockets(client, "/agent", auth={"token": token})
    await agent.wait_for("state")
    assert (await agent.call("presence:set", {"state": "available"}))["ok"]
    demo_traffic: DemoTraffic = app[DEMO_TRAFFIC]

    for n, channel in enumerate(("voice", "sms", "email", "chat"), start=1):
        contact = await demo_traffic.arrive(channel=channel, open_queues={"general", "billing", "sales"})
        assert contact is not None
        await settle(app)
        [*_, offer] = await agent.wait_for("offer", count=n)
        assert offer["conversation_id"] == contact.conversation_id and offer["channel"] == channel
        accepted = await agent.call("offer:accept", {"reservation_id": offer["reservation_id"]})
        assert accepted["ok"], accepted
        if channel == "voice":  # a simulated call takes notes, not replies, and ends with its wrap-up
            assert contact.conversation_id not in demo_traffic.origins
            note = {"conversation_id": contact.conversation_id, "text": "Quote for ten grinders sent."}
            assert (await agent.call("note:add", note))["ok"]
            assert (await agent.call("task:complete", {"task_id": offer["task_id"]}))["ok"]
            wrapped = await agent.call(
                "wrapup:submit", {"task_id": offer["task_id"], "disposition": "resolved"}
            )
            assert wrapped["ok"], wrapped
            await settle(app)
            continue
        text = f"Thanks for writing ({channel}), we are on it."
        answer = await agent.call(
            "reply", {"conversation_id": contact.conversation_id, "text": text, "quote": channel == "email"}
        )
        assert answer["ok"], answer

        if channel == "sms":
            [sent] = stand_ins.twilio.messages()
            assert sent["Body"] == text and sent["From"] == "+15005550006"
        if channel == "email":

            async def mailed() -> bool:
                return bool(stand_ins.mail.received)

            await wait_until(mailed)
            [mail] = stand_ins.mail.received
            assert text in mail.body and mail.subject.startswith("Re:")

        async def written_back(conversation_id: int = contact.conversation_id) -> bool:
            async with app[SESSIONS]() as db:
                count = await db.scalar(
                    select(func.count()).where(
                        Message.conversation_id == conversation_id, Message.direction == "in"
                    )
                )
            return count == 2

        await wait_until(written_back)
        await settle(app)

        async def pushed(conversation_id: int = contact.conversation_id) -> bool:
            # the server has emitted once settled; the socket still carries it to the client
            return any(
                m["conversation_id"] == conversation_id and m["message"]["direction"] == "in"
                for m in agent.received["conversation:message"]
            )

        await wait_until(pushed)  # the follow-up reaches the console

    assert len(demo_traffic.follow_ups) == 3
    assert {r.new_conversation for r in demo_traffic.follow_ups} == {False}


@SQLITE
async def test_follow_ups_stop_after_a_few_and_respect_the_chance(demo):
    client, _, _ = demo
    demo_traffic: DemoTraffic = client.server.app[DEMO_TRAFFIC]
    contact = await demo_traffic.arrive(channel="sms")
    origin = demo_traffic.origins[contact.conversation_id]
    reply = type(
        "Event", (), {"topic": "message.sent", "payload": {"conversation_id": contact.conversation_id}}
    )
    for _ in range(5):
        await demo_traffic._on_reply(reply)
    assert origin.follow_ups == 2
    quiet = DemoTraffic(client.server.app, random.Random(1), 20.0, 0.0, 0.01)
    quiet.origins = {contact.conversation_id: type(origin)("sms", origin.identity, None, None)}
    await quiet._on_reply(reply)
    assert quiet.origins[contact.conversation_id].follow_ups == 0
