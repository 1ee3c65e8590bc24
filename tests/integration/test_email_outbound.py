"""Email out: agents' replies through the API, the retry queue on the injected clock, bounces."""

from __future__ import annotations

from sqlalchemy import update

from channels import email_outbound
from channels.email_ids import verified_conversation
from contact_center.db.models import Conversation, EmailOutbox, EmailSuppression, Message
from contact_center.web.appkeys import SESSIONS, SETTINGS
from tests.conftest import bearer
from tests.email_fixtures import (  # noqa: F401 (fixtures)
    CUSTOMER,
    SUPPORT,
    count,
    deliver,
    email_client,
    email_settings,
    mail,
    rows,
    sink,
)


async def conversation_for(client, agent_id: int, **mail_options) -> tuple[int, str]:
    """A customer's first email, assigned to the agent; (conversation id, the customer's Message-ID)."""
    message = mail(**mail_options)
    assert (await deliver(client, message))[0] == 250
    async with client.app[SESSIONS].begin() as db:
        await db.execute(update(Conversation).values(agent_id=agent_id))
    [conversation] = await rows(client.app, Conversation)
    return conversation.id, message["Message-ID"]


async def reply(client, token: str, conversation_id: int, body: str = "Your parcel leaves today."):
    return await client.post(
        f"/api/conversations/{conversation_id}/email", json={"body": body}, headers=bearer(token)
    )


async def test_an_agents_reply_goes_out_threaded_signed_and_tagged(email_client, sink, staff):
    app = email_client.app
    conversation_id, customer_id = await conversation_for(email_client, staff["agent"]["id"])
    [ack] = sink.messages()
    response = await reply(email_client, staff["agent"]["token"], conversation_id)
    assert response.status == 201, await response.text()
    await email_outbound.drain(app)
    sent = sink.messages()[-1]
    assert sink.received[-1][:2] == (SUPPORT, [CUSTOMER])
    assert sent["To"] == CUSTOMER and sent["From"] == SUPPORT
    assert sent["Subject"] == f"Re: Order 1234 [#C-{conversation_id}]"
    assert sent["In-Reply-To"] == customer_id
    assert customer_id in sent["References"]
    assert "Auto-Submitted" not in sent
    assert verified_conversation(app[SETTINGS].signing_key(), sent["Message-ID"]) == conversation_id
    assert sent.get_content().strip() == "Your parcel leaves today."
    data = await response.json()
    assert data["external_id"] == sent["Message-ID"] and data["delivery_status"] == "queued"
    [stored] = await rows(app, Message, Message.external_id == sent["Message-ID"])
    assert (stored.author_kind, stored.author_id, stored.delivery_status) == (
        "agent",
        staff["agent"]["id"],
        "sent",
    )
    # the customer's answer to it threads back by its signed Message-ID
    answer = mail("Thanks!", subject=sent["Subject"], In_Reply_To=sent["Message-ID"])
    assert (await deliver(email_client, answer))[0] == 250
    assert len(await rows(app, Conversation)) == 1
    assert ack["Message-ID"] != sent["Message-ID"]


async def test_only_the_assigned_agent_or_a_supervisor_may_reply(email_client, staff):
    conversation_id, _ = await conversation_for(email_client, staff["supervisor"]["id"])
    assert (await reply(email_client, staff["agent"]["token"], conversation_id)).status == 403
    assert (await reply(email_client, staff["supervisor"]["token"], conversation_id)).status == 201
    assert (await reply(email_client, staff["admin"]["token"], conversation_id + 1)).status == 404
    blank = await reply(email_client, staff["admin"]["token"], conversation_id, body="")
    assert blank.status == 422


async def test_temporary_failures_are_retried_with_backoff_on_the_clock_and_survive_a_restart(
    aiohttp_client, email_client, email_settings, sink, staff, clock
):
    from contact_center.app import create_app

    app = email_client.app
    sink.answer = "451 4.3.0 try again later"
    conversation_id, _ = await conversation_for(email_client, staff["agent"]["id"])
    assert (await reply(email_client, staff["agent"]["token"], conversation_id)).status == 201
    await email_outbound.drain(app)
    [_, queued] = await rows(app, EmailOutbox)
    assert (queued.kind, queued.status, queued.attempts) == ("reply", "pending", 1)
    assert "451" in queued.last_error
    assert await email_outbound.deliver_due(app) == 0  # not yet due: nothing tried
    [_, row] = await rows(app, EmailOutbox)
    assert row.attempts == 1
    clock.advance(seconds=61)  # first backoff: 1 minute; the ack is retried too
    await email_outbound.deliver_due(app)
    [_, row] = await rows(app, EmailOutbox)
    assert row.attempts == 2 and row.next_attempt_at == clock.now() + email_outbound.backoff(2)

    await email_client.close()  # the process stops with mail still queued
    sink.answer = None
    restarted = await aiohttp_client(create_app(email_settings, clock=clock, tick_interval=None))
    clock.advance(minutes=5)
    assert await email_outbound.deliver_due(restarted.app) == 2
    assert [m["Subject"] for m in sink.messages()] == [f"Re: Order 1234 [#C-{conversation_id}]"] * 2
    statuses = {(r.kind, r.status, r.attempts) for r in await rows(restarted.app, EmailOutbox)}
    assert statuses == {("ack", "sent", 3), ("reply", "sent", 3)}


async def test_a_permanent_refusal_fails_at_once(email_client, sink, staff, clock):
    app = email_client.app
    conversation_id, _ = await conversation_for(email_client, staff["agent"]["id"])
    sink.answer = "550 5.1.1 no such user"
    assert (await reply(email_client, staff["agent"]["token"], conversation_id)).status == 201
    await email_outbound.drain(app)
    [_, row] = await rows(app, EmailOutbox)
    assert (row.status, row.attempts) == ("failed", 1)
    clock.advance(days=3)
    assert await email_outbound.deliver_due(app) == 0
    [message] = await rows(app, Message, Message.id == row.message_id)
    assert message.delivery_status == "failed"


def dsn(failed: str, original_id: str) -> bytes:
    return (
        "From: Mail Delivery System <MAILER-DAEMON@mx.example.org>\r\n"
        f"To: {SUPPORT}\r\n"
        "Subject: Undelivered Mail Returned to Sender\r\n"
        "Message-ID: <dsn-1@mx.example.org>\r\n"
        "MIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="B"\r\n\r\n'
        "--B\r\nContent-Type: text/plain\r\n\r\nYour message could not be delivered.\r\n"
        "--B\r\nContent-Type: message/delivery-status\r\n\r\n"
        "Reporting-MTA: dns; mx.example.org\r\n\r\n"
        f"Final-Recipient: rfc822; {failed}\r\nAction: failed\r\nStatus: 5.1.1\r\n\r\n"
        "--B\r\nContent-Type: text/rfc822-headers\r\n\r\n"
        f"From: {SUPPORT}\r\nTo: {failed}\r\nMessage-ID: {original_id}\r\nSubject: Re: Order\r\n\r\n"
        "--B--\r\n"
    ).encode()


async def test_a_bounce_marks_the_address_undeliverable_and_nothing_more_is_sent(email_client, sink, staff):
    app = email_client.app
    conversation_id, _ = await conversation_for(email_client, staff["agent"]["id"])
    [ack] = sink.messages()
    code, text = await deliver(email_client, dsn(CUSTOMER, ack["Message-ID"]), mail_from="")
    assert code == 250 and "delivery report" in text, text
    assert len(sink.received) == 1  # no answer to the bounce
    [suppressed] = await rows(app, EmailSuppression, order=EmailSuppression.address)
    assert suppressed.address == CUSTOMER
    [ack_row] = await rows(app, EmailOutbox)
    assert ack_row.status == "bounced"
    [ack_message] = await rows(app, Message, Message.direction == "out")
    assert ack_message.delivery_status == "bounced"
    assert await count(app, Message, Message.direction == "in") == 1  # the report is no conversation
    refused = await reply(email_client, staff["agent"]["token"], conversation_id)
    assert refused.status == 409 and "bounced" in (await refused.json())["error"]["message"]
    assert len(sink.received) == 1


async def test_replies_are_refused_when_sending_is_not_configured(aiohttp_client, settings, clock, staff):
    from contact_center.app import create_app

    client = await aiohttp_client(create_app(settings, clock=clock, tick_interval=None))
    from contact_center.intake import InboundContact
    from contact_center.web.appkeys import INTAKE

    result = await client.app[INTAKE].receive(
        InboundContact(channel="email", identities=[("email", CUSTOMER)], text="hello", route=False)
    )
    response = await reply(client, staff["admin"]["token"], result.conversation_id)
    assert response.status == 409
    assert "not configured" in (await response.json())["error"]["message"]
