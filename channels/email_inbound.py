"""An inbound email, from the SMTP listener or an IMAP mailbox, to a stored conversation.

`receive` answers what an SMTP server must say: 250 once the message (its original on disk, the
conversation's message in the database) is stored; 451 when storage failed, so the sender tries again;
5xx, saying why, for mail we will never take (no sender, attachments over the limits). A delivery report
(bounce) marks the failed addresses undeliverable. A first email gets an automatic acknowledgement unless
the loop rules forbid it.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from dataclasses import dataclass

from aiohttp import web
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from channels import email_files
from channels.email_loops import auto_answers_left, automatic_reason, is_undeliverable, mark_undeliverable
from channels.email_outbound import queue_acknowledgement, reply_target
from channels.email_parse import ParsedEmail, normalise_address, parse
from channels.email_text import strip_quoted
from channels.email_threading import find_thread
from contact_center.db.models import EmailOutbox, Message
from contact_center.intake import InboundContact
from contact_center.language import detect_language
from contact_center.web.appkeys import CLOCK, EVENTS, INTAKE, SESSIONS, SETTINGS

log = logging.getLogger(__name__)

STORAGE_ERRORS = (SQLAlchemyError, OSError, asyncio.TimeoutError)
MAX_EXTERNAL_ID = 255


@dataclass(frozen=True)
class Outcome:
    """What became of a message, as an SMTP reply code and text."""

    code: int
    text: str
    kind: str  # conversation, duplicate, bounce, rejected, deferred
    conversation_id: int | None = None

    @property
    def reply(self) -> str:
        """The SMTP reply line."""
        return f"{self.code} {self.text}"


def external_id(parsed: ParsedEmail, raw: bytes) -> str:
    """The message's id for intake's idempotency: its Message-ID, or a hash of the bytes without one."""
    if parsed.message_id and len(parsed.message_id) <= MAX_EXTERNAL_ID:
        return parsed.message_id
    return "sha256:" + hashlib.sha256(raw).hexdigest()


async def receive(
    app: web.Application,
    raw: bytes,
    *,
    envelope_sender: str | None = None,
    recipients: list[str] | tuple[str, ...] = (),
    strict: bool = True,
    source: str = "smtp",
) -> Outcome:
    """Store one message (or refuse it, saying why). `strict=False` (IMAP, where refusing is not possible)
    keeps attachments over the limits as refused entries instead of rejecting the message."""
    settings = app[SETTINGS]
    parsed = await asyncio.to_thread(parse, raw)
    if parsed.is_dsn:
        return await _bounce(app, raw, parsed)
    sender = parsed.from_address or normalise_address(envelope_sender or "")
    if sender is None:
        return Outcome(
            550,
            "5.1.7 no usable sender address: From and the envelope sender are missing or malformed",
            "rejected",
        )
    limits = email_files.Limits(settings.email_max_attachments, settings.email_max_attachment_bytes)
    refused = email_files.refusal(parsed.attachments, limits)
    if refused and strict:
        return Outcome(552, f"5.3.4 {refused}", "rejected")
    key = external_id(parsed, raw)
    automatic = automatic_reason(parsed, envelope_sender, settings.email_address)
    try:
        media = await asyncio.to_thread(
            email_files.keep, settings.data_dir, key, raw, parsed.attachments, limits
        )
        async with app[SESSIONS]() as db:
            thread = await find_thread(db, settings.signing_key(), parsed)
        visible = strip_quoted(parsed.text)
        language = await asyncio.to_thread(
            detect_language, visible or parsed.subject, settings.language_candidate_list
        )
        result = await app[INTAKE].receive(
            InboundContact(
                channel="email",
                identities=[("email", sender)],
                external_id=key,
                name=parsed.from_name or None,
                text=visible,
                subject=parsed.subject or None,
                language=language,
                conversation_id=thread.conversation_id,
                conversation_verified=thread.verified,
                attributes=_attributes(
                    settings.data_dir,
                    key,
                    parsed,
                    sender,
                    envelope_sender,
                    recipients,
                    thread,
                    automatic,
                    source,
                ),
                media=media,
            )
        )
    except STORAGE_ERRORS:
        log.exception("an inbound email could not be stored; the sender is asked to retry")
        return Outcome(451, "4.3.0 the message could not be stored now; please try again later", "deferred")
    if result.duplicate:
        return Outcome(
            250,
            "2.0.0 already received (same Message-ID); nothing changed",
            "duplicate",
            result.conversation_id,
        )
    if result.new_conversation:
        await _acknowledge(app, result.conversation_id, sender, parsed, automatic, language)
    return Outcome(
        250,
        f"2.0.0 received, conversation C-{result.conversation_id}",
        "conversation",
        result.conversation_id,
    )


def _attributes(data_dir, key, parsed, sender, envelope_sender, recipients, thread, automatic, source):  # type: ignore[no-untyped-def]
    return {
        "from": sender,
        "from_name": parsed.from_name,
        "reply_to": parsed.reply_to,
        "to": parsed.to[:50],
        "cc": parsed.cc[:50],
        "subject": parsed.subject,
        "date": parsed.date,
        "message_id": parsed.message_id,
        "in_reply_to": parsed.in_reply_to[:2000],
        "references": parsed.references[:4000],
        "full_text": parsed.text,
        "html": parsed.safe_html,
        "original": email_files.original_path(data_dir, key),
        "envelope_sender": envelope_sender,
        "recipients": list(recipients)[:50],
        "thread": thread.how,
        "automatic": automatic,
        "source": source,
        "defects": parsed.defects[:20],
    }


async def _acknowledge(
    app: web.Application,
    conversation_id: int,
    sender: str,
    parsed: ParsedEmail,
    automatic: str | None,
    language: str | None,
) -> None:
    """Queue the acknowledgement of a first email, unless a loop rule says no; never fails the delivery."""
    settings = app[SETTINGS]
    if not (settings.email_auto_ack and settings.email_sending_enabled):
        return
    if automatic:
        log.info("no acknowledgement to %s: %s", sender, automatic)
        return
    try:
        async with app[SESSIONS]() as db:
            target = await reply_target(db, conversation_id)
            to = target.get("to") or sender
            if await is_undeliverable(db, to):
                log.info("no acknowledgement to %s: it bounced before", to)
                return
            left = await auto_answers_left(db, to, app[CLOCK].now(), settings.email_auto_replies_per_day)
        if left <= 0:
            log.info("no acknowledgement to %s: the daily cap of automatic answers is reached", to)
            return
        await queue_acknowledgement(app, conversation_id, {**target, "to": to}, language)
    except STORAGE_ERRORS:
        log.exception("the acknowledgement of conversation %s could not be queued", conversation_id)


async def _bounce(app: web.Application, raw: bytes, parsed: ParsedEmail) -> Outcome:
    """A delivery report: mark the failed addresses undeliverable and the bounced messages as bounced."""
    settings, now = app[SETTINGS], app[CLOCK].now()
    key = external_id(parsed, raw)
    try:
        await asyncio.to_thread(email_files.keep, settings.data_dir, key, raw, [], email_files.Limits(0, 0))
        async with app[SESSIONS].begin() as db:
            reason = f"bounce {parsed.message_id or key}: {parsed.subject}"[:1000]
            added = await mark_undeliverable(db, parsed.dsn_failed, reason, now)
            bounced = []
            if parsed.dsn_original_ids and parsed.dsn_failed:
                rows = await db.execute(
                    select(EmailOutbox).where(EmailOutbox.rfc_message_id.in_(parsed.dsn_original_ids))
                )
                for row in rows.scalars():
                    row.status, row.last_error = "bounced", reason
                    if row.message_id is not None:
                        message = await db.get(Message, row.message_id)
                        if message is not None:
                            message.delivery_status = "bounced"
                    bounced.append({"conversation_id": row.conversation_id, "message_id": row.message_id})
    except STORAGE_ERRORS:
        log.exception("a delivery report could not be stored; the sender is asked to retry")
        return Outcome(451, "4.3.0 the report could not be stored now; please try again later", "deferred")
    await app[EVENTS].publish(
        "email.bounced", {"addresses": parsed.dsn_failed, "new": added, "messages": bounced}
    )
    return Outcome(250, f"2.0.0 delivery report received ({len(parsed.dsn_failed)} failed)", "bounce")
