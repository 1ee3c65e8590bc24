"""Reading mail: headers in any state, bodies, HTML, quoted replies, attachment names, loop signs."""

from __future__ import annotations

from pathlib import Path

import pytest

from channels.email_files import safe_name
from channels.email_ids import (
    make_message_id,
    referenced_ids,
    reply_subject,
    tag_in_subject,
    verified_conversation,
)
from channels.email_loops import automatic_reason
from channels.email_outbound import backoff
from channels.email_parse import parse
from channels.email_text import html_to_text, sanitise_html, strip_quoted
from contact_center.language import detect_language

CORPUS = Path(__file__).parent.parent / "data" / "email_corpus"


def corpus(name: str):
    return parse((CORPUS / name).read_bytes())


def test_raw_8bit_headers_are_read_as_utf8_or_windows_1252():
    assert corpus("16-8bit-utf8-headers.eml").subject == "Pedido número 5 — ¿dónde está?"
    assert corpus("16-8bit-utf8-headers.eml").from_name == "José Müller"
    assert corpus("17-8bit-latin1-headers.eml").subject == "Réclamation été"


def test_bodies_in_unknown_or_wrong_charsets_are_still_read():
    assert "qapla" in corpus("14-unknown-charset.eml").text
    assert corpus("15-latin1-body-declared-utf8.eml").text == "Café crème brûlée"
    assert corpus("40-utf16-body.eml").text == "Hallo Welt"


def test_nesting_beyond_the_limit_is_a_defect_not_a_crash():
    parsed = corpus("09-nested-40-levels.eml")
    assert any("nested" in defect for defect in parsed.defects)


def test_a_delivery_report_names_the_failed_recipient():
    parsed = corpus("32-delivery-status-notification.eml")
    assert parsed.is_dsn and parsed.dsn_failed == ["gone@corpus.example"]


def test_attachments_keep_their_claimed_names_only_as_clean_file_names():
    [attachment] = corpus("26-attachment-path-traversal.eml").attachments
    assert attachment.filename == "../../../etc/passwd"
    assert safe_name(attachment.filename, 1, attachment.content_type) == "01-passwd"
    [cv] = corpus("27-attachment-rfc2231-name.eml").attachments
    assert safe_name(cv.filename, 2, cv.content_type) == "02-résumé final.txt"
    [blob] = corpus("28-attachment-without-name.eml").attachments
    assert safe_name(blob.filename, 3, blob.content_type) == "03-attachment.bin"
    assert safe_name("C:\\Users\\x\\..\\evil.exe", 4, "") == "04-evil.exe"
    assert safe_name("." * 5, 5, "text/plain") == "05-attachment.txt"


def test_html_is_sanitised_and_flattened():
    html = '<p onclick="x()">Hi <script>bad()</script><a href="javascript:x">l</a><img src="http://t/p"></p>'
    clean = sanitise_html(html)
    assert "script" not in clean and "onclick" not in clean and "javascript" not in clean
    assert "<img" not in clean
    assert html_to_text("<style>p{}</style><p>One &amp; two</p><div>three<br>four</div>") == (
        "One & two\nthree\nfour"
    )


@pytest.mark.parametrize(
    "reply",
    [
        "Thanks!\n\nOn Mon, 5 Jan 2026 at 09:00, Support <s@example.com> wrote:\n> old text\n",
        "Thanks!\n\nLe lun. 5 janv. 2026 à 09:00, Support <s@example.com> a écrit :\n> old text\n",
        "Thanks!\n\n-----Original Message-----\nFrom: Support\nold text\n",
        "Thanks!\n> old text\n> more old text\n",
    ],
)
def test_quoted_replies_are_cut(reply):
    assert strip_quoted(reply) == "Thanks!"


def test_a_message_that_is_only_a_quote_keeps_its_text():
    assert strip_quoted("> everything quoted") == "> everything quoted"


def test_signed_message_ids_verify_and_forgeries_do_not():
    key = b"secret"
    genuine = make_message_id(key, 42, "example.com")
    assert verified_conversation(key, genuine) == 42
    assert verified_conversation(b"other key", genuine) is None
    assert verified_conversation(key, genuine.replace("cc.42.", "cc.43.")) is None
    assert verified_conversation(key, "<random@example.com>") is None


def test_references_and_tags():
    assert referenced_ids("<c@x>", "<a@x> <b@x> <c@x>") == ["<c@x>", "<b@x>", "<a@x>"]
    assert tag_in_subject("Re: Where is it? [#C-17]") == ("C", 17)
    assert tag_in_subject("About [#t-9]") == ("T", 9)
    assert tag_in_subject("No tag") is None
    assert reply_subject("RE: Fwd: Re: Parcel [#C-3]", 3) == "Re: Parcel [#C-3]"
    assert reply_subject("", 4) == "Re: Your message [#C-4]"


@pytest.mark.parametrize(
    ("name", "sender", "automatic"),
    [
        ("01-plain-ascii.eml", "x@corpus.example", False),
        ("33-out-of-office.eml", "x@corpus.example", True),
        ("34-mailing-list.eml", "x@corpus.example", True),
        ("32-delivery-status-notification.eml", "", True),
        ("01-plain-ascii.eml", "", True),
    ],
)
def test_loop_signs(name, sender, automatic):
    assert (automatic_reason(corpus(name), sender, "support@example.com") is not None) is automatic


def test_mail_from_a_system_mailbox_or_ourselves_gets_no_automatic_answer():
    parsed = parse(b"From: MAILER-DAEMON@mx.example\n\nhi\n")
    assert "system mailbox" in automatic_reason(parsed, "x@y.example", "")
    ours = parse(b"From: support@example.com\n\nhi\n")
    assert "loop" in automatic_reason(ours, "support@example.com", "support@example.com")


def test_retry_backoff_grows_and_stops_growing():
    waits = [backoff(n).total_seconds() for n in range(1, 11)]
    assert waits[:4] == [60, 300, 900, 3600]
    assert waits == sorted(waits) and waits[-1] == waits[-2] == 24 * 3600


def test_language_detection_among_the_candidates():
    candidates = ["en", "es", "fr", "de"]
    assert detect_language("Hola, mi pedido no ha llegado todavía", candidates) == "es"
    assert detect_language("Bonjour, ma commande est en retard", candidates) == "fr"
    assert detect_language("ok", candidates) is None
