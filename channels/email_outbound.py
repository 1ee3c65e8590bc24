"""Sending email: composing replies and acknowledgements, and the outbound queue that retries them.

Every email we send is first stored: the conversation's message and a row of `email_outbox` holding the
whole MIME text, in one transaction. Delivery to the relay (aiosmtplib) is then tried at once in the
background, and again by the worker with a growing delay (1 min, 5 min, 15 min, 1 h, 3 h, 6 h, 12 h, 24 h)
after a temporary failure, until `CC_EMAIL_RETRY_ATTEMPTS`; a permanent refusal (5xx) fails at once. The
queue is in the database, so it survives a restart and is shared by every process: a process claims a row
by moving its next attempt forward (a lease), so two processes never send the same row at once.
"""

from __future__ import annotations

import asyncio
import email
import logging
from collections.abc import Sequence
from datetime import datetime, timedelta
from email import utils as email_utils
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY

import aiosmtplib
from aiohttp import web
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from channels.email_ids import make_message_id, referenced_ids, reply_subject, subject_tag
from channels.email_loops import AUTO_ANSWER_KIND, is_undeliverable
from contact_center.background import BackgroundJobs
from contact_center.db.models import Conversation, EmailOutbox, Message
from contact_center.settings import Settings
from contact_center.web.appkeys import CLOCK, EVENTS, SESSIONS, SETTINGS

log = logging.getLogger(__name__)

SEND_JOBS = web.AppKey("email_send_jobs", BackgroundJobs)
BACKOFF_SECONDS = (60, 300, 900, 3600, 3 * 3600, 6 * 3600, 12 * 3600, 24 * 3600)
LEASE = timedelta(minutes=10)
MAX_REFERENCES = 20
ACK_TEXTS = {
    "en": "Thank you for your message. We have received it and an agent will answer you soon.\n\n"
    "Please keep {tag} in the subject when you write to us about this.",
    "es": "Gracias por su mensaje. Lo hemos recibido y un agente le responderá pronto.\n\n"
    "Por favor, mantenga {tag} en el asunto cuando nos escriba sobre este tema.",
    "fr": "Merci pour votre message. Nous l'avons bien reçu et un conseiller vous répondra bientôt.\n\n"
    "Merci de garder {tag} dans l'objet lorsque vous nous écrivez à ce sujet.",
    "de": "Vielen Dank für Ihre Nachricht. Wir haben sie erhalten und antworten Ihnen bald.\n\n"
    "Bitte behalten Sie {tag} im Betreff, wenn Sie uns dazu schreiben.",
}


def compose(
    settings: Settings,
    message_id: str,
    *,
    to: str,
    subject: str,
    body: str,
    now: datetime,
    in_reply_to: str | None = None,
    references: list[str] | None = None,
    automatic: bool = False,
    cc: Sequence[str] = (),
) -> EmailMessage:
    """A plain-text email from our address, with our signed Message-ID and the thread's headers."""
    message = EmailMessage(policy=SMTP_POLICY)
    message["From"] = settings.email_address
    message["To"] = to
    if cc:
        message["Cc"] = ", ".join(cc)
    message["Subject"] = subject
    message["Date"] = email_utils.format_datetime(now)
    message["Message-ID"] = message_id
    if in_reply_to:
        message["In-Reply-To"] = in_reply_to
    if references:
        message["References"] = " ".join(references[-MAX_REFERENCES:])
    if automatic:  # RFC 3834: nobody should answer this automatically
        message["Auto-Submitted"] = "auto-replied"
        message["X-Auto-Response-Suppress"] = "All"
    message["X-Loop"] = settings.email_address
    message.set_content(body)
    return message


async def queue_email(
    db: AsyncSession,
    settings: Settings,
    *,
    conversation_id: int,
    kind: str,
    author_id: int | None,
    to: str,
    subject: str,
    body: str,
    now: datetime,
    in_reply_to: str | None,
    references: list[str],
    cc: Sequence[str] = (),
) -> tuple[Message, EmailOutbox]:
    """Store an outbound email as a message of the conversation and a row of the queue (caller commits)."""
    message_id = make_message_id(settings.signing_key(), conversation_id, settings.message_id_domain)
    mime = compose(
        settings,
        message_id,
        to=to,
        subject=subject,
        body=body,
        now=now,
        in_reply_to=in_reply_to,
        references=references,
        automatic=kind == AUTO_ANSWER_KIND,
        cc=cc,
    )
    message = Message(
        conversation_id=conversation_id,
        channel="email",
        direction="out",
        author_kind="agent" if author_id is not None else "system",
        author_id=author_id,
        body=body,
        external_id=message_id,
        created_at=now,
        delivery_status="queued",
        media=[],
        attributes={
            "to": to,
            "subject": subject,
            "message_id": message_id,
            "in_reply_to": in_reply_to,
            **({"cc": list(cc)} if cc else {}),
        },
    )
    db.add(message)
    await db.flush()
    row = EmailOutbox(
        conversation_id=conversation_id,
        message_id=message.id,
        kind=kind,
        rfc_message_id=message_id,
        sender=settings.email_address,
        recipient=to,
        mime=mime.as_string(),
        status="pending",
        attempts=0,
        next_attempt_at=now,
        created_at=now,
    )
    db.add(row)
    conversation = await db.get(Conversation, conversation_id)
    if conversation is not None:
        conversation.last_activity_at = now
    await db.flush()
    return message, row


async def reply_target(db: AsyncSession, conversation_id: int) -> dict:
    """Where a reply in the conversation goes: the address, subject and thread headers of the customer's
    latest email in it ({} when there is none)."""
    attributes = (
        await db.execute(
            select(Message.attributes)
            .where(
                Message.conversation_id == conversation_id,
                Message.direction == "in",
                Message.channel == "email",
            )
            .order_by(Message.id.desc())
            .limit(1)
        )
    ).scalar_one_or_none()
    if not attributes:
        return {}
    parent = attributes.get("message_id")
    references = referenced_ids("", attributes.get("references", ""))[::-1]
    if parent:
        references = [r for r in references if r != parent] + [parent]
    return {
        "to": attributes.get("reply_to") or attributes.get("from"),
        "subject": attributes.get("subject", ""),
        "in_reply_to": parent,
        "references": references,
    }


def acknowledgement_text(conversation_id: int, language: str | None) -> str:
    """The automatic answer to a first email, in the customer's language when we have it."""
    template = ACK_TEXTS.get(language or "en", ACK_TEXTS["en"])
    return template.format(tag=subject_tag(conversation_id))


async def queue_acknowledgement(
    app: web.Application, conversation_id: int, target: dict, language: str | None
) -> int | None:
    """Queue the automatic answer to a first email; returns the queue row's id."""
    settings, now = app[SETTINGS], app[CLOCK].now()
    async with app[SESSIONS].begin() as db:
        _, row = await queue_email(
            db,
            settings,
            conversation_id=conversation_id,
            kind=AUTO_ANSWER_KIND,
            author_id=None,
            to=target["to"],
            subject=reply_subject(target["subject"], conversation_id),
            body=acknowledgement_text(conversation_id, language),
            now=now,
            in_reply_to=target["in_reply_to"],
            references=target["references"],
        )
    start_delivery(app, row.id)
    return row.id


# delivery -----------------------------------------------------------------------------------------------


def backoff(attempts: int) -> timedelta:
    """The wait after the `attempts`-th failed attempt."""
    return timedelta(seconds=BACKOFF_SECONDS[min(attempts, len(BACKOFF_SECONDS)) - 1])


async def deliver_due(app: web.Application, limit: int = 100) -> int:
    """Try every queued email whose time has come; returns how many were sent."""
    now = app[CLOCK].now()
    async with app[SESSIONS]() as db:
        ids = (
            await db.execute(
                select(EmailOutbox.id)
                .where(EmailOutbox.status == "pending", EmailOutbox.next_attempt_at <= now)
                .order_by(EmailOutbox.next_attempt_at, EmailOutbox.id)
                .limit(limit)
            )
        ).scalars()
        due = list(ids)
    sent = 0
    for outbox_id in due:
        sent += await deliver(app, outbox_id) == "sent"
    return sent


async def deliver(app: web.Application, outbox_id: int) -> str:
    """One attempt at one queued email: "sent", "retry", "failed", "undeliverable" or "not due"."""
    settings, now = app[SETTINGS], app[CLOCK].now()
    async with app[SESSIONS].begin() as db:
        claimed = await db.execute(
            update(EmailOutbox)
            .where(
                EmailOutbox.id == outbox_id,
                EmailOutbox.status == "pending",
                EmailOutbox.next_attempt_at <= now,
            )
            .values(next_attempt_at=now + LEASE, attempts=EmailOutbox.attempts + 1)
        )
        if claimed.rowcount != 1:
            return "not due"
        row = await db.get(EmailOutbox, outbox_id)
        assert row is not None
        if await is_undeliverable(db, row.recipient):
            await _finish(db, row, "undeliverable", f"{row.recipient} bounced before; not sent", now)
            outcome = "undeliverable"
        else:
            outcome = ""
        sender, recipient, mime, attempts = row.sender, row.recipient, row.mime, row.attempts
    if outcome:
        await _published(app, outbox_id, outcome)
        return outcome
    error, permanent = await _send(settings, sender, recipient, mime)
    async with app[SESSIONS].begin() as db:
        row = await db.get(EmailOutbox, outbox_id)
        assert row is not None
        if error is None:
            outcome = "sent"
            await _finish(db, row, "sent", None, now)
        elif permanent or attempts >= settings.email_retry_attempts:
            outcome = "failed"
            await _finish(db, row, "failed", error, now)
        else:
            outcome = "retry"
            row.next_attempt_at, row.last_error = now + backoff(attempts), error
    if outcome == "retry":
        log.info(
            "email %s to %s not sent (%s); attempt %s, will retry", outbox_id, recipient, error, attempts
        )
    else:
        await _published(app, outbox_id, outcome)
    return outcome


async def _send(settings: Settings, sender: str, recipient: str, mime: str) -> tuple[str | None, bool]:
    """Hand the message to the relay: (None, False) when it took it, else (the error, whether permanent).

    The recipients are the queue row's address and the message's Cc header."""
    copied = [
        address for _, address in email_utils.getaddresses(email.message_from_string(mime).get_all("Cc", []))
    ]
    try:
        await aiosmtplib.send(
            mime.encode("utf-8"),
            sender=sender,
            recipients=[recipient, *[a for a in copied if a and a != recipient]],
            hostname=settings.smtp_relay_host,
            port=settings.smtp_relay_port,
            username=settings.smtp_relay_user or None,
            password=settings.smtp_relay_password.get_secret_value() or None,
            start_tls=settings.smtp_relay_starttls and not settings.smtp_relay_tls,
            use_tls=settings.smtp_relay_tls,
            timeout=settings.smtp_relay_timeout,
        )
    except aiosmtplib.SMTPRecipientsRefused as exc:
        codes = [refused.code for refused in exc.recipients]
        return f"recipient refused: {exc}", all(500 <= code < 600 for code in codes)
    except aiosmtplib.SMTPResponseException as exc:
        return f"{exc.code} {exc.message}", 500 <= exc.code < 600
    except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
        return f"{type(exc).__name__}: {exc}", False
    return None, False


async def _finish(db: AsyncSession, row: EmailOutbox, status: str, error: str | None, now: datetime) -> None:
    row.status, row.last_error = status, error
    if status == "sent":
        row.sent_at = now
    if row.message_id is not None:
        message = await db.get(Message, row.message_id)
        if message is not None:
            message.delivery_status = status


async def _published(app: web.Application, outbox_id: int, outcome: str) -> None:
    async with app[SESSIONS]() as db:
        row = await db.get(EmailOutbox, outbox_id)
    if row is None:
        return
    await app[EVENTS].publish(
        "message.status",
        {
            "conversation_id": row.conversation_id,
            "message_id": row.message_id,
            "status": outcome,
            "error_code": row.last_error,
        },
    )


def start_delivery(app: web.Application, outbox_id: int) -> None:
    """Try to send a queued email now, in the background (the worker retries it if this fails)."""
    app[SEND_JOBS].start(deliver(app, outbox_id))


async def drain(app: web.Application) -> None:
    """Wait for every send under way (tests; a graceful shutdown)."""
    if SEND_JOBS in app:
        await app[SEND_JOBS].drain()


async def deliver_forever(app: web.Application, interval: float = 30.0) -> None:
    """The worker: every `interval` seconds, send what is due."""
    while True:
        try:
            await deliver_due(app)
        except Exception:
            log.exception("the email queue failed; will try again")
        await asyncio.sleep(interval)
