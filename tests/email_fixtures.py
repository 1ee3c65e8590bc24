"""Email test parts: a local SMTP sink that receives what we send, the app with its SMTP listener on, and
a real SMTP client (smtplib, in a thread) that delivers to it."""

from __future__ import annotations

import asyncio
import email
import re
import smtplib
from email import policy
from email.message import EmailMessage
from email.utils import make_msgid

import pytest
from aiosmtpd.smtp import SMTP
from sqlalchemy import func, select

from channels import email_outbound
from channels.email import SMTP_SERVER
from contact_center.web.appkeys import SESSIONS

SUPPORT = "support@example.com"
CUSTOMER = "ana@example.org"


class Sink:
    """An SMTP server standing for the relay: keeps what it is given, or answers `answer` instead."""

    def __init__(self) -> None:
        self.received: list[tuple[str, list[str], bytes]] = []
        self.answer: str | None = None
        self.port = 0

    async def handle_DATA(self, server, session, envelope) -> str:
        if self.answer:
            return self.answer
        self.received.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content))
        return "250 2.0.0 OK"

    def messages(self) -> list[EmailMessage]:
        return [email.message_from_bytes(raw, policy=policy.default) for _, _, raw in self.received]


@pytest.fixture
async def sink():
    """The local SMTP sink, listening on a free port."""
    keeper = Sink()
    server = await asyncio.get_running_loop().create_server(
        lambda: SMTP(keeper, hostname="sink.test"), "127.0.0.1", 0
    )
    keeper.port = server.sockets[0].getsockname()[1]
    yield keeper
    server.close()


@pytest.fixture
def email_settings(settings, sink):
    """Settings with the SMTP listener on a free port and the relay pointed at the sink."""
    return settings.model_copy(
        update={
            "smtp_listen": "127.0.0.1:0",
            "email_address": SUPPORT,
            "email_recipients": f"{SUPPORT},@help.example.com",
            "smtp_relay_host": "127.0.0.1",
            "smtp_relay_port": sink.port,
            "smtp_relay_starttls": False,
            "smtp_relay_timeout": 5.0,
            "email_auto_replies_per_day": 3,
            "email_max_attachments": 3,
            "email_max_attachment_bytes": 50_000,
            "email_max_message_bytes": 3_000_000,
        }
    )


@pytest.fixture
async def email_client(aiohttp_client, email_settings, clock):
    """The whole application with its SMTP listener, on the manual clock."""
    from contact_center.app import create_app

    return await aiohttp_client(create_app(email_settings, clock=clock, tick_interval=None))


def listener_port(app) -> int:
    return app[SMTP_SERVER].sockets[0].getsockname()[1]


def _smtp_exchange(port: int, raw: bytes, mail_from: str, rcpt: list[str]) -> tuple[int, str]:
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as client:
        client.ehlo("client.test")
        code, reply = client.mail(mail_from)
        if code >= 400:
            return code, reply.decode()
        accepted = 0
        for address in rcpt:
            code, reply = client.rcpt(address)
            if code >= 400 and len(rcpt) == 1:
                return code, reply.decode()
            accepted += code < 400
        if not accepted:
            return code, reply.decode()
        try:
            code, reply = client.data(raw)
        except smtplib.SMTPDataError as exc:
            return exc.smtp_code, exc.smtp_error.decode()
        return code, reply.decode()


async def deliver(client, raw: bytes | EmailMessage, mail_from: str = CUSTOMER, rcpt=(SUPPORT,)):
    """Deliver a message to the app's listener with smtplib; (code, text) of the final reply."""
    data = raw.as_bytes() if isinstance(raw, EmailMessage) else raw
    data = re.sub(rb"\r?\n", b"\r\n", data)  # on the wire, as every MTA sends it (smtplib does not for bytes)
    result = await asyncio.to_thread(_smtp_exchange, listener_port(client.app), data, mail_from, list(rcpt))
    await email_outbound.drain(client.app)
    return result


def mail(
    body: str = "Hello, my order 1234 has not arrived yet. Can you help me please?",
    *,
    sender: str = CUSTOMER,
    subject: str = "Order 1234",
    to: str = SUPPORT,
    **headers: str,
) -> EmailMessage:
    """A plain message from a customer; extra headers by keyword (underscores become hyphens)."""
    message = EmailMessage()
    message["From"] = f"Ana Lopez <{sender}>"
    message["To"] = to
    message["Subject"] = subject
    message["Message-ID"] = make_msgid(domain="example.org")
    for name, value in headers.items():
        message[name.replace("_", "-")] = value
    message.set_content(body)
    return message


async def count(app, model, *where) -> int:
    async with app[SESSIONS]() as db:
        query = select(func.count()).select_from(model)
        for condition in where:
            query = query.where(condition)
        return (await db.execute(query)).scalar_one()


async def rows(app, model, *where, order=None) -> list:
    async with app[SESSIONS]() as db:
        query = select(model)
        for condition in where:
            query = query.where(condition)
        return list((await db.execute(query.order_by(order or model.id))).scalars())
