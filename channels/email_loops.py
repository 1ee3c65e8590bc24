"""Never loop: which messages get no automatic answer, how many automatic answers one sender may get, and
the addresses that bounced (nothing more is sent to them).

RFC 3834 asks responders not to answer automatic mail; we also leave mailing lists, bounces, null
senders and system mailboxes alone, and cap automatic answers per sender per day in case a responder
misses every one of these signs.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from channels.email_parse import ParsedEmail
from contact_center.db.models import EmailOutbox, EmailSuppression

SYSTEM_MAILBOXES = frozenset(
    {"mailer-daemon", "postmaster", "noreply", "no-reply", "do-not-reply", "donotreply", "bounce", "bounces"}
)
BULK_PRECEDENCE = frozenset({"bulk", "junk", "list", "auto_reply", "auto-reply"})
LIST_HEADERS = ("list-id", "list-unsubscribe", "list-post", "list-help")
AUTO_ANSWER_KIND = "ack"


def automatic_reason(parsed: ParsedEmail, envelope_sender: str | None, ours: str = "") -> str | None:
    """Why the message must get no automatic answer (an auto-reply, a bounce, a list...), or None."""
    if envelope_sender is not None and envelope_sender.strip("<> ") == "":
        return "null sender (a bounce or a notification)"
    if parsed.is_dsn or parsed.content_type == "multipart/report":
        return "a delivery or read report"
    auto_submitted = parsed.header("auto-submitted").split(";", 1)[0].strip().lower()
    if auto_submitted and auto_submitted != "no":
        return f"Auto-Submitted: {auto_submitted}"
    if parsed.header("precedence").strip().lower() in BULK_PRECEDENCE:
        return f"Precedence: {parsed.header('precedence').strip().lower()}"
    for name in ("x-autoreply", "x-autorespond", "x-auto-response"):
        if name in parsed.headers:
            return f"{name} header"
    suppress = parsed.header("x-auto-response-suppress").lower()
    if any(word in suppress for word in ("all", "autoreply", "oof")):
        return "X-Auto-Response-Suppress"
    for name in LIST_HEADERS:
        if name in parsed.headers:
            return f"a mailing list ({name})"
    address = parsed.from_address or (envelope_sender or "")
    local = address.split("@", 1)[0].lower()
    if local in SYSTEM_MAILBOXES or local.startswith(("mailer-daemon", "postmaster")):
        return f"a system mailbox ({local})"
    if ours and (address.lower() == ours.lower() or ours.lower() in parsed.header("x-loop").lower()):
        return "our own address (a loop)"
    return None


async def auto_answers_left(db: AsyncSession, address: str, now: datetime, per_day: int) -> int:
    """How many more automatic answers `address` may get in the 24 hours up to `now`."""
    sent = (
        await db.execute(
            select(func.count())
            .select_from(EmailOutbox)
            .where(
                EmailOutbox.recipient == address,
                EmailOutbox.kind == AUTO_ANSWER_KIND,
                EmailOutbox.created_at > now - timedelta(days=1),
            )
        )
    ).scalar_one()
    return max(0, per_day - sent)


async def is_undeliverable(db: AsyncSession, address: str) -> bool:
    """True when mail to `address` bounced."""
    return await db.get(EmailSuppression, address.casefold()) is not None


async def mark_undeliverable(db: AsyncSession, addresses: list[str], reason: str, now: datetime) -> list[str]:
    """Record addresses that bounced; returns those that were new."""
    added = []
    for address in {a.casefold() for a in addresses}:
        if await db.get(EmailSuppression, address) is not None:
            continue
        try:
            async with db.begin_nested():
                db.add(EmailSuppression(address=address, reason=reason[:1000], created_at=now))
            added.append(address)
        except IntegrityError:  # the same bounce, delivered twice at once
            pass
    return sorted(added)
