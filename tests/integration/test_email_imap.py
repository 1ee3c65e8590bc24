"""IMAP polling against aioimaplib's own IMAP test server: unseen mail is stored once and marked seen."""

from __future__ import annotations

import pytest
from aioimaplib.imap_testing_server import Mail, MockImapServer
from pydantic import SecretStr

from channels import email_imap
from contact_center.db.models import Conversation, Message
from contact_center.settings import ImapMailbox
from tests.email_fixtures import (  # noqa: F401 (fixtures)
    count,
    email_client,
    email_settings,
    mail,
    rows,
    sink,
)

USER = "support@example.com"


@pytest.fixture
async def imap_server():
    server = MockImapServer()
    listening = await server.run_server(host="127.0.0.1", port=0)
    server.port = listening.sockets[0].getsockname()[1]
    yield server
    listening.close()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_unseen_mail_is_stored_once_and_marked_seen(email_client, imap_server, sink):
    app = email_client.app
    for index in range(2):
        message = mail(f"Question {index} about my order", sender=f"imap{index}@example.org", to=USER)
        imap_server.receive(Mail(message), imap_user=USER)
    mailbox = ImapMailbox(
        host="127.0.0.1", port=imap_server.port, user=USER, password=SecretStr("x"), ssl=False
    )
    client = await email_imap.connect(mailbox)
    try:
        # the test server knows no UNSEEN search; UNKEYWORD \Seen means the same to it
        unseen = "UNKEYWORD \\Seen"
        assert await email_imap.poll_once(app, client, "imap:test", unseen) == 2
        assert await email_imap.poll_once(app, client, "imap:test", unseen) == 0  # both are seen now
    finally:
        await client.logout()
    assert await count(app, Conversation) == 2
    stored = await rows(app, Message, Message.direction == "in")
    assert [m.attributes["source"] for m in stored] == ["imap:test", "imap:test"]
    assert {m.attributes["from"] for m in stored} == {"imap0@example.org", "imap1@example.org"}
