"""Complaint intake: a complaint by the classifier or by the IVR raises priority and is announced once."""

from __future__ import annotations

from sqlalchemy import select, update

from contact_center.db.models import Conversation
from contact_center.events import Event
from contact_center.web.appkeys import EVENTS, ROUTING, SESSIONS
from tests.conftest import bearer
from tests.twilio_standin import OUR_NUMBER, signed_post

CUSTOMER = "+14155550100"


def complaints_heard(app) -> list[dict]:
    """The payloads of "conversation.complaint" events from now on."""
    heard: list[dict] = []

    async def listen(event: Event) -> None:
        heard.append(event.payload)

    app[EVENTS].subscribe("conversation.complaint", listen)
    return heard


async def sms(client, sid: str, body: str) -> None:
    form = {"MessageSid": sid, "From": CUSTOMER, "To": OUR_NUMBER, "Body": body}
    response = await signed_post(client, "/twilio/sms", form)
    assert response.status == 200, await response.text()


async def settle(app) -> None:
    await app[ROUTING].flush()
    await app[EVENTS].drain()


async def the_conversation(app) -> Conversation:
    async with app[SESSIONS]() as db:
        return (await db.execute(select(Conversation))).scalar_one()


async def test_an_sms_complaint_raises_priority_and_is_announced_once(twilio_client):
    app = twilio_client.app
    heard = complaints_heard(app)
    await sms(twilio_client, "SM1", "This is unacceptable, I want a refund now")
    await sms(twilio_client, "SM1", "This is unacceptable, I want a refund now")  # Twilio retries
    await sms(twilio_client, "SM2", "And I am complaining about the courier as well")
    await settle(app)
    conversation = await the_conversation(app)
    assert conversation.complaint and conversation.priority == 1
    assert heard == [
        {
            "conversation_id": conversation.id,
            "customer_id": conversation.customer_id,
            "channel": "sms",
            "source": "classifier",
            "reason": "keywords: unacceptable, refund now",
        }
    ]


async def test_a_plain_sms_is_not_a_complaint(twilio_client):
    app = twilio_client.app
    heard = complaints_heard(app)
    await sms(twilio_client, "SM1", "Hi, could you tell me when my parcel arrives?")
    await settle(app)
    conversation = await the_conversation(app)
    assert not conversation.complaint and conversation.priority == 0 and heard == []


async def test_an_angry_follow_up_in_an_assigned_conversation_is_announced(twilio_client, staff):
    app = twilio_client.app
    heard = complaints_heard(app)
    await sms(twilio_client, "SM1", "Hi, where is my order?")
    await settle(app)  # routing has queued it
    async with app[SESSIONS].begin() as db:
        await db.execute(update(Conversation).values(routing_state="assigned", agent_id=staff["agent"]["id"]))
    await sms(
        twilio_client, "SM2", "This is absolutely awful, you people have ruined my week and I am so angry"
    )
    await settle(app)
    conversation = await the_conversation(app)
    assert conversation.complaint and conversation.routing_state == "assigned"
    [event] = heard
    assert event["source"] == "classifier" and event["reason"].startswith("sentiment -0.")


async def test_the_ivr_complaint_option_is_announced_with_source_ivr(twilio_client):
    app = twilio_client.app
    heard = complaints_heard(app)
    await signed_post(twilio_client, "/twilio/voice", {"CallSid": "CA1", "From": CUSTOMER, "To": OUR_NUMBER})
    await signed_post(twilio_client, "/twilio/voice/language", {"CallSid": "CA1", "Digits": "1"})
    chosen = await signed_post(
        twilio_client, "/twilio/voice/menu?menu=main&attempt=1", {"CallSid": "CA1", "Digits": "9"}
    )
    assert chosen.status == 200, await chosen.text()
    await settle(app)
    conversation = await the_conversation(app)
    assert conversation.complaint and conversation.priority == 1
    assert heard == [
        {
            "conversation_id": conversation.id,
            "customer_id": conversation.customer_id,
            "channel": "voice",
            "source": "ivr",
            "reason": "complaint option chosen in the IVR",
        }
    ]


async def test_a_contact_flagged_by_its_channel_is_announced_with_source_channel(twilio_client, staff):
    app = twilio_client.app
    heard = complaints_heard(app)
    contact = {"channel": "chat", "identities": [["chat", "visitor-1"]], "text": "Hi", "complaint": True}
    created = await twilio_client.post(
        "/api/contacts", json=contact, headers=bearer(staff["supervisor"]["token"])
    )
    assert created.status == 201, await created.text()
    await settle(app)
    assert [(e["channel"], e["source"], e["reason"]) for e in heard] == [
        ("chat", "channel", "flagged as a complaint by the chat channel")
    ]
