"""Writes the awkward-mail corpus (run once; the .eml files and expected.json are committed).

Each file is a message as it might reach an MX: broken structure, encodings and headers. expected.json
says what the SMTP listener must answer for each: 250 and a new conversation, 250 as a delivery report,
or the 5xx code and a word of the reason.
"""

import base64
import json
from pathlib import Path

HERE = Path(__file__).parent
files: dict[str, bytes] = {}
expected: dict[str, dict] = {}


def add(name: str, data: bytes | str, outcome: str = "conversation", code: int = 250, **extra) -> None:
    files[name] = data.encode("utf-8") if isinstance(data, str) else data
    expected[name] = {"code": code, "kind": outcome, **extra}


def head(n: int, subject: str = "Help please", extra: str = "") -> str:
    return (
        f"From: Sender {n} <sender{n}@corpus.example>\nTo: support@example.com\nSubject: {subject}\n"
        f"Date: Mon, 5 Jan 2026 09:00:00 +0000\nMessage-ID: <corpus-{n}@corpus.example>\n{extra}"
    )


add("01-plain-ascii.eml", head(1) + "\nMy order has not arrived.\n")
add("02-no-message-id.eml", head(2).replace("Message-ID: <corpus-2@corpus.example>\n", "") + "\nNo id.\n")
add(
    "03-no-from-header.eml",
    "To: support@example.com\nSubject: no from\nMessage-ID: <corpus-3@c>\n\nHi\n",
    mail_from="envelope3@corpus.example",
)
add(
    "04-no-sender-at-all.eml",
    "To: support@example.com\nSubject: nobody\nMessage-ID: <corpus-4@c>\n\nHi\n",
    outcome="rejected",
    code=550,
    mail_from="",
    reason="no usable sender",
)
add("05-no-subject.eml", head(5).replace("Subject: Help please\n", "") + "\nNo subject here.\n")
add("06-no-date-no-to.eml", "From: sender6@corpus.example\nMessage-ID: <corpus-6@c>\n\nBare.\n")
add("07-headers-only.eml", head(7))
add(
    "08-nested-multipart.eml",
    head(8, extra="MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=A\n")
    + "\n--A\nContent-Type: multipart/alternative; boundary=B\n\n--B\nContent-Type: text/plain\n\nplain"
    "\n--B\nContent-Type: multipart/related; boundary=C\n\n--C\nContent-Type: text/html\n\n<p>html "
    '<img src="cid:x"></p>\n--C\nContent-Type: image/png\nContent-ID: <x>\nContent-Transfer-Encoding: '
    "base64\n\niVBORw0KGgo=\n--C--\n--B--\n--A--\n",
)
deep = head(9, extra="MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=L0\n") + "\n"
for level in range(1, 40):
    deep += f"--L{level - 1}\nContent-Type: multipart/mixed; boundary=L{level}\n\n"
deep += "--L39\nContent-Type: text/plain\n\ndeep inside\n"
for level in range(39, -1, -1):
    deep += f"--L{level}--\n"
add("09-nested-40-levels.eml", deep)
add(
    "10-unclosed-boundary.eml",
    head(10, extra="MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=Q\n")
    + "\n--Q\nContent-Type: text/plain\n\nnever closed\n",
)
add(
    "11-multipart-without-boundary.eml",
    head(11, extra="MIME-Version: 1.0\nContent-Type: multipart/mixed\n") + "\njust text really\n",
)
add(
    "12-broken-base64.eml",
    head(
        12,
        extra="MIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\n"
        "Content-Transfer-Encoding: base64\n",
    )
    + "\nSGVsbG8gd29ybGQ!!!*&^\n",
)
add(
    "13-broken-quoted-printable.eml",
    head(
        13, extra="MIME-Version: 1.0\nContent-Type: text/plain\nContent-Transfer-Encoding: quoted-printable\n"
    )
    + "\nbroken =ZZ escape =\nand soft=\n",
)
add(
    "14-unknown-charset.eml",
    head(14, extra="MIME-Version: 1.0\nContent-Type: text/plain; charset=x-klingon\n").encode()
    + b"\nqapla\xe9 \xff\n",
)
add(
    "15-latin1-body-declared-utf8.eml",
    head(
        15,
        extra="MIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n",
    ).encode()
    + b"\nCaf\xe9 cr\xe8me br\xfbl\xe9e\n",
)
add(
    "16-8bit-utf8-headers.eml",
    "From: José Müller <sender16@corpus.example>\nTo: support@example.com\n"
    "Subject: Pedido número 5 — ¿dónde está?\nMessage-ID: <corpus-16@c>\n\nHola\n",
)
add(
    "17-8bit-latin1-headers.eml",
    b"From: Ren\xe9 <sender17@corpus.example>\nTo: support@example.com\n"
    b"Subject: R\xe9clamation \xe9t\xe9\nMessage-ID: <corpus-17@c>\n\nBonjour\n",
)
add(
    "18-broken-encoded-word.eml",
    head(18, subject="=?utf-8?B?!!!notbase64?= and =?utf-8?Q?caf=C3?=") + "\nbody\n",
)
add("19-encoded-word-unknown-charset.eml", head(19, subject="=?x-unknown?Q?hello?=") + "\nbody\n")
add("20-huge-single-line.eml", head(20) + "\n" + "lorem ipsum " * 20000 + "\n")
add(
    "21-thousands-of-received-headers.eml",
    "".join(
        f"Received: from hop{i}.example by hop{i + 1}.example; Mon, 5 Jan 2026 09:00:00 +0000\n"
        for i in range(2000)
    )
    + head(21)
    + "\nlong route\n",
)
add("22-very-long-subject.eml", head(22, subject="A" * 50000) + "\nlong subject\n")
add("23-nul-bytes-in-body.eml", (head(23) + "\nbefore").encode() + b"\x00\x00\x01 after\n")
add(
    "24-html-only-with-script.eml",
    head(24, extra="MIME-Version: 1.0\nContent-Type: text/html\n")
    + "\n<html><body><script>alert(1)</script><p onmouseover=x()>Hello</p></body></html>\n",
)
add(
    "25-malformed-html.eml",
    head(25, extra="MIME-Version: 1.0\nContent-Type: text/html\n")
    + "\n<div><p>unclosed <b>bold <table><tr><td>cell</div></i></html>\n",
)
add(
    "26-attachment-path-traversal.eml",
    head(26, extra="MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=Z\n")
    + "\n--Z\nContent-Type: text/plain\n\nsee file\n--Z\nContent-Type: application/pdf;"
    ' name="../../../etc/passwd"\nContent-Disposition: attachment; filename="../../../etc/passwd"\n'
    "Content-Transfer-Encoding: base64\n\nJVBERi0xLjQ=\n--Z--\n",
)
add(
    "27-attachment-rfc2231-name.eml",
    head(27, extra="MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=Z\n")
    + "\n--Z\nContent-Type: text/plain\n\nsee file\n--Z\nContent-Type: text/plain\n"
    "Content-Disposition: attachment; filename*=utf-8''r%C3%A9sum%C3%A9%20final.txt\n\nCV\n--Z--\n",
)
add(
    "28-attachment-without-name.eml",
    head(28, extra="MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=Z\n")
    + "\n--Z\nContent-Type: text/plain\n\nblob\n--Z\nContent-Type: application/"
    "octet-stream\nContent-Transfer-Encoding: base64\n\nAAECAwQ=\n--Z--\n",
)
add(
    "29-forwarded-message.eml",
    head(29, extra="MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=Z\n")
    + "\n--Z\nContent-Type: text/plain\n\nFYI below\n--Z\nContent-Type: message/rfc822"
    "\n\nFrom: someone@else.example\nSubject: inner\n\ninner body\n--Z--\n",
)
many = head(30, extra="MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=Z\n") + "\n"
many += "--Z\nContent-Type: text/plain\n\nmany files\n"
for index in range(25):
    many += f'--Z\nContent-Type: text/plain\nContent-Disposition: attachment; filename="f{index}.txt"\n\nx\n'
add("30-too-many-attachments.eml", many + "--Z--\n", outcome="rejected", code=552, reason="attachments")
big = base64.encodebytes(b"\x00" * 60_000).decode()
add(
    "31-attachment-too-large.eml",
    head(31, extra="MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=Z\n")
    + "\n--Z\nContent-Type: text/plain\n\nbig\n--Z\nContent-Type: application/"
    'octet-stream\nContent-Disposition: attachment; filename="big.bin"\nContent-Transfer-Encoding: base64'
    f"\n\n{big}--Z--\n",
    outcome="rejected",
    code=552,
    reason="big.bin",
)
add(
    "32-delivery-status-notification.eml",
    "From: MAILER-DAEMON@mx.corpus.example\nTo: support@example.com"
    "\nSubject: Undeliverable\nMessage-ID: <corpus-32@c>\nMIME-Version: 1.0\nContent-Type: multipart/report;"
    " report-type=delivery-status; boundary=R\n\n--R\nContent-Type: text/plain\n\nfailed\n--R\n"
    "Content-Type: message/delivery-status\n\nReporting-MTA: dns; mx\n\nFinal-Recipient: rfc822; "
    "gone@corpus.example\nAction: failed\nStatus: 5.1.1\n\n--R--\n",
    outcome="bounce",
    mail_from="",
)
add(
    "33-out-of-office.eml",
    head(33, subject="Automatic reply: Help please", extra="Auto-Submitted: auto-replied\nX-Autoreply: yes\n")
    + "\nI am away until Monday.\n",
)
add(
    "34-mailing-list.eml",
    head(
        34,
        extra="List-Id: <news.corpus.example>\nPrecedence: list\n"
        "List-Unsubscribe: <mailto:leave@corpus.example>\n",
    )
    + "\nNewsletter\n",
)
add(
    "35-calendar-invite.eml",
    head(35, extra="MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=Z\n")
    + "\n--Z\nContent-Type: text/calendar; method=REQUEST\n\nBEGIN:VCALENDAR\n"
    "END:VCALENDAR\n--Z--\n",
)
add("36-bare-cr-line-endings.eml", head(36).replace("\n", "\r") + "\rcarriage returns only\r")
add(
    "37-message-id-over-255-chars.eml",
    head(37).replace("<corpus-37@corpus.example>", "<" + "x" * 400 + "@corpus.example>") + "\nlong id\n",
)
add(
    "38-garbage-from-envelope-ok.eml",
    "From: <<<not an address>>>\nTo: support@example.com\nSubject: g\n"
    "Message-ID: <corpus-38@c>\n\ngarbage from\n",
    mail_from="envelope38@corpus.example",
)
add("39-empty-message.eml", b"", mail_from="envelope39@corpus.example")
add(
    "40-utf16-body.eml",
    head(
        40,
        extra="MIME-Version: 1.0\nContent-Type: text/plain; charset=utf-16\n"
        "Content-Transfer-Encoding: base64\n",
    )
    + "\n"
    + base64.b64encode("Hallo Welt".encode("utf-16")).decode()
    + "\n",
)
add(
    "41-header-without-colon-and-continuation.eml",
    "From: sender41@corpus.example\nThis is not a header"
    "\n\tcontinuation\nSubject: odd\nMessage-ID: <corpus-41@c>\n\nbody\n",
)
add("42-duplicate-of-01.eml", head(1) + "\nMy order has not arrived.\n", outcome="duplicate")

for name, data in files.items():
    (HERE / name).write_bytes(data)
(HERE / "expected.json").write_text(json.dumps(expected, indent=1, sort_keys=True) + "\n")
print(f"{len(files)} messages")
