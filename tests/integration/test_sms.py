"""SMS through Twilio at Twilio's edge: signed webhooks in, TwiML out, messages sent to the stand-in."""

from __future__ import annotations

import asyncio
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from sqlalchemy import func, select, update

from channels import sms
from channels.twilio_webhooks import INBOX
from contact_center.db.models import Conversation, Message, SmsOptOut
from contact_center.errors import InvalidInput
from contact_center.web.appkeys import ENGINE, EVENTS, SESSIONS, SETTINGS
from tests.conftest import bearer
from tests.twilio_standin import ACCOUNT_SID, OUR_NUMBER, PUBLIC_URL, signature, signed_post

CUSTOMER = "+14155550100"


def take_away(database: Path) -> None:
    """The database file disappears: every new connection finds an empty database (no tables)."""
    shutil.move(database, database.with_suffix(".away"))


def bring_back(database: Path) -> None:
    database.unlink(missing_ok=True)
    shutil.move(database.with_suffix(".away"), database)


def parse(text: str) -> ET.Element:
    root = ET.fromstring(text)  # noqa: S314 (our own TwiML)
    assert root.tag == "Response"
    return root


async def inbound(client, sid: str, body: str = "hi", **extra: str) -> ET.Element:
    form = {"MessageSid": sid, "From": CUSTOMER, "To": OUR_NUMBER, "Body": body, **extra}
    response = await signed_post(client, "/twilio/sms", form)
    assert response.status == 200, await response.text()
    assert response.content_type == "application/xml"
    return parse(await response.text())


async def count(app, model) -> int:
    async with app[SESSIONS]() as db:
        return (await db.execute(select(func.count()).select_from(model))).scalar_one()


async def messages(app) -> list[Message]:
    async with app[SESSIONS]() as db:
        return list((await db.execute(select(Message).order_by(Message.id))).scalars())


async def assign(app, agent_id: int) -> int:
    """Give the (only) conversation to the agent; its id."""
    async with app[SESSIONS].begin() as db:
        await db.execute(update(Conversation).values(agent_id=agent_id))
        return (await db.execute(select(Conversation.id))).scalar_one()


async def reply(client, token: str, conversation_id: int, body: str = "Hello from us"):
    return await client.post(
        f"/api/conversations/{conversation_id}/sms", json={"body": body}, headers=bearer(token)
    )


async def test_an_sms_becomes_one_conversation_and_message_even_when_retried(twilio_client):
    app = twilio_client.app
    root = await inbound(twilio_client, "SM1")
    assert list(root) == []
    await inbound(twilio_client, "SM1")
    assert await count(app, Conversation) == 1
    [message] = await messages(app)
    assert (message.channel, message.direction, message.body) == ("sms", "in", "hi")
    assert message.external_id == "SM1"


async def test_unsigned_and_tampered_webhooks_are_refused(twilio_client):
    form = {"AccountSid": ACCOUNT_SID, "MessageSid": "SM1", "From": CUSTOMER, "To": OUR_NUMBER, "Body": "hi"}
    unsigned = await twilio_client.post("/twilio/sms", data=form)
    assert unsigned.status == 403
    signed = signature(PUBLIC_URL + "/twilio/sms", form)
    tampered = await twilio_client.post(
        "/twilio/sms", data={**form, "Body": "changed"}, headers={"X-Twilio-Signature": signed}
    )
    assert tampered.status == 403
    status = await twilio_client.post("/twilio/sms/status", data={"MessageSid": "SM1"})
    assert status.status == 403
    assert await count(twilio_client.app, Message) == 0


async def test_help_answers_with_a_message(twilio_client):
    root = await inbound(twilio_client, "SM1", body="  help ")
    [message] = root.findall("Message")
    assert "STOP" in (message.text or "")
    assert await count(twilio_client.app, Message) == 0


async def test_stop_refuses_replies_and_start_allows_them(twilio_client, twilio, staff):
    app, token = twilio_client.app, staff["agent"]["token"]
    await inbound(twilio_client, "SM1")
    conversation_id = await assign(app, staff["agent"]["id"])
    assert list(await inbound(twilio_client, "SM2", body="Stop")) == []
    assert await count(app, SmsOptOut) == 1
    refused = await reply(twilio_client, token, conversation_id)
    assert refused.status == 409, await refused.text()
    assert twilio.messages() == []

    await inbound(twilio_client, "SM3", body="START")
    assert await count(app, SmsOptOut) == 0
    sent = await reply(twilio_client, token, conversation_id)
    assert sent.status == 201, await sent.text()
    [form] = twilio.messages()
    assert form["To"] == CUSTOMER
    assert form["From"] == OUR_NUMBER
    assert form["Body"] == "Hello from us"
    assert form["StatusCallback"] == PUBLIC_URL + "/twilio/sms/status"
    data = await sent.json()
    assert data["delivery_status"] == "queued"
    assert data["external_id"].startswith("SM")
    stored = (await messages(app))[-1]
    assert (stored.direction, stored.author_kind, stored.author_id) == ("out", "agent", staff["agent"]["id"])


async def test_status_callbacks_move_the_delivery_status_forward_only(twilio_client, staff):
    app = twilio_client.app
    heard: list[dict] = []

    async def listen(event) -> None:
        heard.append(event.payload)

    app[EVENTS].subscribe("message.status", listen)
    await inbound(twilio_client, "SM1")
    conversation_id = await assign(app, staff["agent"]["id"])
    sent = await reply(twilio_client, staff["agent"]["token"], conversation_id)
    sid = (await sent.json())["external_id"]
    for status, error in (("sent", ""), ("undelivered", "30003"), ("sent", ""), ("queued", "")):
        response = await signed_post(
            twilio_client,
            "/twilio/sms/status",
            {"MessageSid": sid, "MessageStatus": status, "ErrorCode": error},
        )
        assert response.status in (200, 204)
    outbound = (await messages(app))[-1]
    assert outbound.delivery_status == "undelivered"
    await app[EVENTS].drain()
    assert [(e["status"], e["error_code"]) for e in heard] == [("sent", None), ("undelivered", "30003")]
    assert heard[0]["message_id"] == outbound.id and heard[0]["conversation_id"] == conversation_id
    unknown = await signed_post(
        twilio_client, "/twilio/sms/status", {"MessageSid": "SMnone", "MessageStatus": "delivered"}
    )
    assert unknown.status in (200, 204)


async def test_a_status_that_comes_before_the_reply_is_stored_is_kept_for_it(twilio_client, twilio, staff):
    app = twilio_client.app
    await inbound(twilio_client, "SM1")
    conversation_id = await assign(app, staff["agent"]["id"])
    next_sid = f"SM{1:032d}"  # the stand-in's first message sid: Twilio may call back that fast
    for status in ("sent", "delivered"):
        response = await signed_post(
            twilio_client, "/twilio/sms/status", {"MessageSid": next_sid, "MessageStatus": status}
        )
        assert response.status == 204
    sent = await reply(twilio_client, staff["agent"]["token"], conversation_id)
    assert (await sent.json())["external_id"] == next_sid
    assert (await messages(app))[-1].delivery_status == "delivered"


async def test_only_the_assigned_agent_or_a_supervisor_may_reply(twilio_client, staff):
    app = twilio_client.app
    await inbound(twilio_client, "SM1")
    conversation_id = await assign(app, staff["supervisor"]["id"])
    denied = await reply(twilio_client, staff["agent"]["token"], conversation_id)
    assert denied.status == 403
    assert (await reply(twilio_client, staff["supervisor"]["token"], conversation_id)).status == 201
    missing = await reply(twilio_client, staff["admin"]["token"], conversation_id + 1)
    assert missing.status == 404


async def test_empty_and_overlong_replies_are_refused(twilio_client, twilio, staff):
    app = twilio_client.app
    await inbound(twilio_client, "SM1")
    conversation_id = await assign(app, staff["agent"]["id"])
    for body in ("", "x" * 1601):
        response = await reply(twilio_client, staff["agent"]["token"], conversation_id, body)
        assert response.status == 422
    try:
        await sms.send_sms(app, conversation_id, staff["agent"]["id"], "   ")
    except InvalidInput:
        pass
    else:
        raise AssertionError("a blank message was accepted")
    assert twilio.messages() == []


async def test_mms_from_an_allowed_host_is_kept_and_other_hosts_are_refused(twilio_client, twilio):
    app = twilio_client.app
    limit = app[SETTINGS].max_media_bytes
    twilio.media["ME1"] = (b"\x89PNG picture", "image/png")
    twilio.media["ME2"] = (b"x" * (limit + 1), "image/jpeg")
    foreign = f"{twilio.base_url}/media/ME1".replace("127.0.0.1", "localhost")
    await inbound(
        twilio_client,
        "MM1",
        body="see photo",
        NumMedia="4",
        MediaUrl0=f"{twilio.base_url}/media/ME1",
        MediaContentType0="image/png",
        MediaUrl1=foreign,
        MediaContentType1="image/png",
        MediaUrl2=f"{twilio.base_url}/media/ME2",
        MediaContentType2="image/jpeg",
        MediaUrl3="file:///etc/passwd",
        MediaContentType3="text/plain",
    )
    await sms.drain(app)
    [message] = await messages(app)
    kept, other_host, too_big, other_scheme = message.media
    assert kept["status"] == "stored", kept
    path = app[SETTINGS].data_dir / kept["path"]
    assert path.read_bytes() == b"\x89PNG picture"
    assert path.parent.name == str(message.conversation_id)
    assert other_host["status"] == "refused" and "localhost" in other_host["reason"]
    assert too_big["status"] == "refused" and "larger" in too_big["reason"]
    assert other_scheme["status"] == "refused"
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_a_message_that_arrives_while_the_database_is_down_is_stored_once_it_is_back(
    twilio_client, settings
):
    app = twilio_client.app
    database = Path(settings.effective_database_url.split("///", 1)[1])
    await app[ENGINE].dispose()
    take_away(database)
    try:
        assert list(await inbound(twilio_client, "SM1")) == []  # answered: the inbox has it on disk
        assert await app[INBOX].settled() == 1  # waiting for storage
    finally:
        await app[ENGINE].dispose()
        bring_back(database)
    app[INBOX].wake()
    assert await app[INBOX].settled() == 0
    await inbound(twilio_client, "SM1")  # a retry by Twilio changes nothing
    [message] = await messages(app)
    assert message.external_id == "SM1"


async def test_when_the_inbox_cannot_keep_a_message_the_answer_is_503_and_twilio_retries(twilio_client):
    app = twilio_client.app
    app[INBOX].pause()
    app[INBOX].max_waiting = 1
    await inbound(twilio_client, "SM1")
    form = {"MessageSid": "SM2", "From": CUSTOMER, "To": OUR_NUMBER, "Body": "hi"}
    response = await signed_post(twilio_client, "/twilio/sms", form)
    assert response.status == 503  # Twilio retries a failed SMS webhook
    assert "Traceback" not in await response.text()
    app[INBOX].resume()
    assert await app[INBOX].settled() == 0
    await inbound(twilio_client, "SM2")  # the retry
    assert [message.external_id for message in await messages(app)] == ["SM1", "SM2"]


async def test_a_reply_goes_from_the_number_the_customer_wrote_to(twilio_client, twilio, staff):
    second_number = "+15005550007"
    await inbound(twilio_client, "SM1", To=second_number)
    conversation_id = await assign(twilio_client.app, staff["agent"]["id"])
    sent = await reply(twilio_client, staff["agent"]["token"], conversation_id)
    assert sent.status == 201, await sent.text()
    [form] = twilio.messages()
    assert (form["To"], form["From"]) == (CUSTOMER, second_number)


async def test_two_texts_at_once_from_a_new_number_make_one_customer(twilio_client):
    from contact_center.db.models import Customer

    async def text(sid: str):
        form = {"MessageSid": sid, "From": "+14155550177", "To": OUR_NUMBER, "Body": "are you open?"}
        return await signed_post(twilio_client, "/twilio/sms", form)

    first, second = await asyncio.gather(text("SM71"), text("SM72"))
    assert (first.status, second.status) == (200, 200), (await first.text(), await second.text())
    assert await count(twilio_client.app, Customer) == 1
    assert await count(twilio_client.app, Message) == 2


async def test_mms_follows_twilios_redirect_to_storage_without_the_credentials(twilio_client, twilio):
    app = twilio_client.app
    twilio.media["ME9"] = (b"GIF89a", "image/gif")
    await inbound(
        twilio_client,
        "MM9",
        NumMedia="1",
        MediaUrl0=f"{twilio.base_url}/media-redirect/ME9",
        MediaContentType0="image/gif",
    )
    await sms.drain(app)
    [message] = await messages(app)
    assert message.media[0]["status"] == "stored", message.media
    (asked, credentials), (storage, none) = twilio.media_requests
    assert asked == "/media-redirect/ME9" and credentials.startswith("Basic ")
    assert storage == "/storage/ME9" and none is None  # the credentials stay with Twilio's host


async def test_a_burst_waiting_in_the_inbox_is_stored_together_as_if_each_had_come_alone(twilio_client):
    from contact_center.db.models import Customer, RoutingEventRecord
    from contact_center.web.appkeys import INTAKE, ROUTING

    app, other = twilio_client.app, "+14155550188"
    runs: list[list[str]] = []
    receive_many = app[INTAKE].receive_many

    async def recorded(contacts):
        runs.append([contact.external_id for contact in contacts])
        return await receive_many(contacts)

    app[INTAKE].receive_many = recorded
    burst = [
        ("SM1", CUSTOMER, "my parcel is late"),
        ("SM2", other, "hello"),
        ("SM3", CUSTOMER, "any news?"),  # the same customer and conversation as SM1, stored before it
        ("SM1", CUSTOMER, "my parcel is late"),  # Twilio's retry of SM1
        ("SM4", "+14155550199", "STOP"),  # an opt-out keyword is taken alone, between runs
        ("SM5", other, "still there?"),
    ]
    app[INBOX].pause()
    for sid, sender, body in burst:
        form = {"MessageSid": sid, "From": sender, "To": OUR_NUMBER, "Body": body}
        assert (await signed_post(twilio_client, "/twilio/sms", form, settle=False)).status == 200
    app[INBOX].resume()
    assert await app[INBOX].settled() == 0
    await app[ROUTING].flush()

    assert runs == [["SM1", "SM2", "SM3", "SM1"], ["SM5"]]
    assert [(m.external_id, m.body) for m in await messages(app)] == [
        ("SM1", "my parcel is late"),
        ("SM2", "hello"),
        ("SM3", "any news?"),
        ("SM5", "still there?"),
    ]
    assert await count(app, Customer) == 2
    assert await count(app, SmsOptOut) == 1
    async with app[SESSIONS]() as db:
        conversations = (await db.execute(select(Conversation).order_by(Conversation.id))).scalars().all()
        by_message = dict((await db.execute(select(Message.external_id, Message.conversation_id))).all())
    assert len(conversations) == 2 and by_message["SM1"] == by_message["SM3"] != by_message["SM5"]
    # each conversation was queued once, under one task
    async with app[SESSIONS]() as db:
        query = select(RoutingEventRecord.task_id).where(RoutingEventRecord.kind == "task.queued")
        queued = (await db.execute(query)).scalars()
        assert sorted(queued) == sorted(c.task_id for c in conversations)
    for conversation in conversations:
        task = await app[ROUTING].engine.store.get_task(conversation.task_id)
        assert task.attributes["conversation_id"] == conversation.id
