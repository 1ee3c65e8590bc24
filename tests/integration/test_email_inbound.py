"""Email in: real SMTP deliveries to the listener; our answers caught by a local SMTP sink."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from sqlalchemy import update

from channels.email_ids import verified_conversation
from contact_center.db.models import Conversation, CustomerIdentity, Message
from contact_center.web.appkeys import ENGINE, SETTINGS
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


def take_away(database: Path) -> None:
    """The database file disappears: every new connection finds an empty database."""
    shutil.move(database, database.with_suffix(".away"))


def bring_back(database: Path) -> None:
    database.unlink(missing_ok=True)
    shutil.move(database.with_suffix(".away"), database)


async def conversations(app) -> list[Conversation]:
    return await rows(app, Conversation)


async def close_all(app) -> None:
    from contact_center.web.appkeys import SESSIONS

    async with app[SESSIONS].begin() as db:
        await db.execute(update(Conversation).values(status="closed"))


async def test_a_first_email_becomes_a_conversation_and_gets_an_acknowledgement_with_its_tag(
    email_client, sink
):
    app = email_client.app
    message = mail()
    code, text = await deliver(email_client, message)
    assert code == 250, text
    [conversation] = await conversations(app)
    assert (conversation.channel, conversation.subject) == ("email", "Order 1234")
    [stored] = await rows(app, Message, Message.direction == "in")
    assert stored.external_id == message["Message-ID"]
    assert stored.body.startswith("Hello, my order 1234")
    assert stored.attributes["from"] == CUSTOMER
    [identity] = await rows(app, CustomerIdentity)
    assert (identity.kind, identity.value) == ("email", CUSTOMER)
    [ack] = sink.messages()
    assert sink.received[0][1] == [CUSTOMER]
    assert ack["Subject"] == f"Re: Order 1234 [#C-{conversation.id}]"
    assert ack["In-Reply-To"] == message["Message-ID"]
    assert ack["Auto-Submitted"] == "auto-replied"
    assert ack["From"] == SUPPORT
    key = app[SETTINGS].signing_key()
    assert verified_conversation(key, ack["Message-ID"]) == conversation.id
    assert f"[#C-{conversation.id}]" in ack.get_content()
    outbound = await rows(app, Message, Message.direction == "out")
    assert [(m.author_kind, m.delivery_status) for m in outbound] == [("system", "sent")]


async def test_a_reply_carrying_our_signed_message_id_joins_its_conversation_from_any_address(
    email_client, sink
):
    app = email_client.app
    await deliver(email_client, mail())
    [ack] = sink.messages()
    colleague = "boss@partner.example.net"
    reply = mail(
        "Adding my manager here.",
        sender=colleague,
        subject="Re: Order 1234",
        In_Reply_To=ack["Message-ID"],
        References=ack["Message-ID"],
    )
    code, _ = await deliver(email_client, reply, mail_from=colleague)
    assert code == 250
    [conversation] = await conversations(app)
    assert await count(app, Message, Message.direction == "in") == 2
    [_, second] = await rows(app, Message, Message.direction == "in")
    assert second.attributes["thread"] == "signed reference"
    assert second.conversation_id == conversation.id


async def test_a_forged_message_id_does_not_attach(email_client, sink):
    app = email_client.app
    await deliver(email_client, mail())
    [ack] = sink.messages()
    genuine = ack["Message-ID"]
    conversation_id = (await conversations(app))[0].id
    local, domain = genuine.strip("<>").split("@")
    prefix, nonce, mac = local.rsplit(".", 2)
    forged = f"<{prefix}.{nonce}.{'0' * len(mac)}@{domain}>"
    other = f"<cc.{conversation_id}.0123456789.{'a' * 20}@{domain}>"
    intruder = "mallory@evil.example"
    for fake in (forged, other):
        code, _ = await deliver(
            email_client,
            mail("Let me in", sender=intruder, subject="Re: Order 1234", In_Reply_To=fake, References=fake),
            mail_from=intruder,
        )
        assert code == 250
    found = await conversations(app)
    assert len(found) == 2  # the intruder got a conversation of their own, once
    assert found[1].customer_id != found[0].customer_id
    assert (
        await count(app, Message, Message.conversation_id == conversation_id, Message.direction == "in") == 1
    )


async def test_the_subject_tag_threads_for_the_same_customer_only(email_client, sink, clock):
    app = email_client.app
    await deliver(email_client, mail())
    [first] = await conversations(app)
    clock.advance(days=10)  # beyond the reopen window: only the tag can thread now
    tagged = mail("Any news?", subject=f"Re: Order 1234 [#C-{first.id}]")
    assert (await deliver(email_client, tagged))[0] == 250
    assert len(await conversations(app)) == 1
    intruder = "mallory@evil.example"
    await deliver(
        email_client, mail("me too", sender=intruder, subject=f"[#C-{first.id}]"), mail_from=intruder
    )
    clock.advance(days=10)
    await deliver(email_client, mail("A new question", subject="Another thing"))
    found = await conversations(app)
    assert len(found) == 3
    assert await count(app, Message, Message.conversation_id == first.id, Message.direction == "in") == 2


async def test_quoted_text_is_cut_from_what_the_agent_sees_and_kept_in_the_original(email_client):
    app = email_client.app
    body = (
        "Yes, the parcel arrived today, thanks.\n\n"
        "On Mon, 5 Jan 2026 at 09:00, Support <support@example.com> wrote:\n"
        "> We have shipped your order.\n> Regards\n"
    )
    await deliver(email_client, mail(body))
    [message] = await rows(app, Message, Message.direction == "in")
    assert message.body == "Yes, the parcel arrived today, thanks."
    assert "We have shipped your order." in message.attributes["full_text"]
    original = app[SETTINGS].data_dir / message.attributes["original"]
    assert b"> We have shipped your order." in original.read_bytes()


@pytest.mark.parametrize(
    ("headers", "mail_from", "sender"),
    [
        ({"Auto_Submitted": "auto-replied"}, CUSTOMER, CUSTOMER),
        ({"Precedence": "bulk"}, CUSTOMER, CUSTOMER),
        ({"X_Autoreply": "yes"}, CUSTOMER, CUSTOMER),
        ({"List_Id": "<news.example.org>"}, CUSTOMER, CUSTOMER),
        ({}, "", CUSTOMER),
        ({}, "mailer-daemon@example.org", "mailer-daemon@example.org"),
    ],
    ids=["auto-submitted", "precedence", "x-autoreply", "list-id", "null-sender", "mailer-daemon"],
)
async def test_automatic_mail_is_stored_but_never_answered(email_client, sink, headers, mail_from, sender):
    message = mail("I am out of the office until Monday.", sender=sender, **headers)
    code, text = await deliver(email_client, message, mail_from=mail_from)
    assert code == 250, text
    assert await count(email_client.app, Message, Message.direction == "in") == 1
    assert sink.received == []


async def test_automatic_answers_are_capped_per_sender_per_day(email_client, sink, clock):
    app = email_client.app
    for index in range(5):
        await deliver(email_client, mail(f"Question number {index} about my order"))
        await close_all(app)  # each next email opens a new conversation
    assert len(sink.received) == 3  # email_auto_replies_per_day
    clock.advance(days=1, seconds=1)
    await deliver(email_client, mail("And one more question about my order"))
    assert len(sink.received) == 4


async def test_a_duplicate_message_id_is_dropped(email_client, sink):
    app = email_client.app
    message = mail()
    first = await deliver(email_client, message)
    again = await deliver(email_client, message)
    assert first[0] == again[0] == 250
    assert "already received" in again[1]
    assert await count(app, Message, Message.direction == "in") == 1
    assert len(sink.received) == 1


async def test_mail_for_an_address_we_do_not_serve_is_refused_at_rcpt(email_client):
    code, text = await deliver(email_client, mail(to="someone@else.example"), rcpt=("someone@else.example",))
    assert code == 550 and "5.1.1" in text
    assert (await deliver(email_client, mail(to="x@help.example.com"), rcpt=("x@help.example.com",)))[
        0
    ] == 250


async def test_attachments_are_stored_under_safe_names_and_limits_enforced(email_client):
    app = email_client.app
    message = mail("Invoice attached")
    message.add_attachment(
        b"%PDF-1.4 invoice", maintype="application", subtype="pdf", filename="../../etc/passwd"
    )
    message.add_attachment(b"\x89PNG", maintype="image", subtype="png", filename=".hidden\x00.png")
    assert (await deliver(email_client, message))[0] == 250
    [stored] = await rows(app, Message, Message.direction == "in")
    names = [entry["name"] for entry in stored.media]
    assert names == ["01-passwd", "02-hidden.png"]
    data_dir = app[SETTINGS].data_dir
    for entry in stored.media:
        path = (data_dir / entry["path"]).resolve()
        assert path.is_relative_to((data_dir / "email").resolve())
    assert (data_dir / stored.media[0]["path"]).read_bytes() == b"%PDF-1.4 invoice"

    too_many = mail("four files", subject="many")
    for index in range(4):
        too_many.add_attachment(b"x", maintype="text", subtype="plain", filename=f"f{index}.txt")
    code, text = await deliver(email_client, too_many)
    assert code == 552 and "4 attachments" in text
    too_big = mail("big file", subject="big")
    too_big.add_attachment(b"x" * 50_001, maintype="application", subtype="octet-stream", filename="big.bin")
    code, text = await deliver(email_client, too_big)
    assert code == 552 and "big.bin" in text and "50000" in text
    assert await count(app, Message, Message.direction == "in") == 1


async def test_html_is_sanitised_before_anyone_sees_it(email_client):
    app = email_client.app
    message = mail()
    message.set_content(
        '<p onclick="steal()">Hi <b>there</b><script>alert(1)</script>'
        '<img src="https://tracker.example/p.gif"></p>',
        subtype="html",
    )
    await deliver(email_client, message)
    [stored] = await rows(app, Message, Message.direction == "in")
    html = stored.attributes["html"]
    assert "<b>there</b>" in html
    assert "script" not in html and "onclick" not in html and "tracker" not in html
    assert stored.body == "Hi there"


async def test_the_first_message_language_becomes_the_conversations(email_client, sink):
    app = email_client.app
    spanish = mail("Hola, mi pedido todavía no ha llegado y necesito ayuda, por favor.", subject="Pedido")
    await deliver(email_client, spanish)
    [conversation] = await conversations(app)
    assert conversation.language == "es"
    [ack] = sink.messages()
    assert "Gracias por su mensaje" in ack.get_content()


async def test_long_lines_are_taken_and_oversized_messages_refused(email_client):
    app = email_client.app
    long_line = mail("word " * 60_000)  # one line of 300 kB
    del long_line["Content-Transfer-Encoding"]
    long_line.set_content("word " * 60_000, cte="8bit")
    assert (await deliver(email_client, long_line))[0] == 250
    huge = mail("x" * 70 + "\n" * 45_000, subject="huge")
    huge.set_content(("x" * 70 + "\n") * 45_000, cte="8bit")  # 3.2 MB, over the 3 MB limit
    code, text = await deliver(email_client, huge)
    assert code == 552, text
    endless = mail("one line", subject="endless")
    endless.set_content("y" * (1024 * 1024 + 10), cte="8bit")
    code, text = await deliver(email_client, endless)
    assert code == 500 and "Line too long" in text
    assert await count(app, Message, Message.direction == "in") == 1


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_a_storage_failure_answers_451_and_the_retry_is_stored(email_client, settings):
    app = email_client.app
    database = Path(settings.effective_database_url.split("///", 1)[1])
    message = mail()
    await app[ENGINE].dispose()
    take_away(database)
    try:
        code, text = await deliver(email_client, message)
        assert code == 451 and text.startswith("4.3.0"), text
    finally:
        await app[ENGINE].dispose()
        bring_back(database)
    assert (await deliver(email_client, message))[0] == 250
    assert await count(app, Message, Message.direction == "in") == 1
