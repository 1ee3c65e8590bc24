"""The awkward-mail corpus (tests/data/email_corpus/): every message is delivered by SMTP, none crashes
the listener or is lost: each becomes a conversation's message, a delivery report, a duplicate of one
already stored, or is refused with the 5xx code expected.json names and a reason that says why."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from contact_center.db.models import Message
from tests.email_fixtures import (  # noqa: F401 (fixtures)
    count,
    deliver,
    email_client,
    email_settings,
    mail,
    sink,
)

CORPUS = Path(__file__).parent.parent / "data" / "email_corpus"
EXPECTED = json.loads((CORPUS / "expected.json").read_text())


def test_the_corpus_holds_at_least_thirty_awkward_messages_each_with_an_expected_answer():
    files = sorted(p.name for p in CORPUS.glob("*.eml"))
    assert len(files) >= 30
    assert files == sorted(EXPECTED)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_every_corpus_message_is_stored_or_refused_with_a_reason(email_client, sink):
    app = email_client.app
    answers = {}
    for name in sorted(EXPECTED):
        expected = EXPECTED[name]
        before = await count(app, Message, Message.direction == "in")
        raw = (CORPUS / name).read_bytes()
        code, text = await deliver(
            email_client, raw, mail_from=expected.get("mail_from", "corpus@corpus.example")
        )
        answers[name] = (code, text)
        after = await count(app, Message, Message.direction == "in")
        assert code == expected["code"], (name, code, text)
        if expected["kind"] == "conversation":
            assert after == before + 1, (name, text)
            assert "conversation C-" in text
        else:
            assert after == before, (name, text)
        if expected["kind"] == "rejected":
            assert text.startswith("5.") and expected["reason"] in text, (name, text)
        if expected["kind"] == "duplicate":
            assert "already received" in text
        if expected["kind"] == "bounce":
            assert "delivery report" in text
    # the listener is still up and well
    assert (await deliver(email_client, mail("still there?", sender="last@corpus.example")))[0] == 250
    kinds = [e["kind"] for e in EXPECTED.values()]
    stored = kinds.count("conversation") + 1
    assert await count(app, Message, Message.direction == "in") == stored
