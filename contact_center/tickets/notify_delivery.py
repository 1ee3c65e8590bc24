"""Sending recorded notifications: to the console (a bus event the /agent namespace pushes), by email and by
SMS, and as one digest per user and channel when quiet hours end.

Every process may run `deliver_due`: a row is claimed by a compare-and-set of its status (queued or held to
sending), so no two processes send it. A passing failure (a relay or Twilio briefly away, a 4xx from the
relay, a 5xx or 429 from Twilio) puts the row back to wait for its next attempt, after 1, 2, 5, 10 and 20
minutes; a permanent one (a refused address, nothing configured), or the last attempt, fails it. A row left
in "sending" by a process that stopped mid-send is failed after LEASE rather than sent again: a notice
missed is visible in the console's list, a duplicate SMS at night is not undone.

The email and SMS senders are the channels' (channels/notification_senders.py), handed in by whoever builds
this, so the ticket code does not depend on the channels.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from contact_center.clock import Clock
from contact_center.db.models import Notification, User
from contact_center.events import EventBus
from contact_center.tickets.notify import preferences

log = logging.getLogger(__name__)

TOPIC = "notification.created"
LEASE = timedelta(minutes=10)
BATCH = 100
SMS_LIMIT = 320  # two segments: a title and the start of the body
ERROR_LIMIT = 300  # the column's length
EMAIL_OFF = "email is not configured (no SMTP relay: CC_SMTP_RELAY_HOST and CC_EMAIL_ADDRESS)"
SMS_OFF = "SMS is not configured (Twilio: TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN, TWILIO_PHONE_NUMBER)"
ABANDONED = "interrupted while sending (the process stopped?); not sent again, to avoid a duplicate"
RETRY_DELAYS = tuple(timedelta(minutes=m) for m in (1, 2, 5, 10, 20))  # after each passing failure


class NotSent(Exception):
    """A channel did not take a notification; the message says why and is kept on the row. `permanent`:
    trying again would not help (otherwise the notification waits for its next attempt)."""

    def __init__(self, message: str, *, permanent: bool = True) -> None:
        super().__init__(message)
        self.permanent = permanent


class EmailSender(Protocol):
    """Sends one plain-text email to a user; raises NotSent (or anything) when it could not."""

    async def __call__(self, to: str, subject: str, body: str) -> None: ...


class SmsSender(Protocol):
    """Sends one SMS to a user's phone (E.164); raises NotSent (or anything) when it could not."""

    async def __call__(self, to: str, text: str) -> None: ...


@dataclass(frozen=True)
class _Item:
    id: int
    ticket_id: int | None
    kind: str
    title: str
    body: str
    created_at: datetime
    attempts: int


@dataclass(frozen=True)
class _Failure:
    error: str
    permanent: bool


@dataclass(frozen=True)
class _Outgoing:
    channel: str
    user_id: int
    address: str | None
    zone: ZoneInfo
    items: tuple[_Item, ...]
    digest: bool


class NotificationDelivery:
    """Sends what is due: queued notifications at once, held ones as digests once quiet hours end."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        bus: EventBus,
        clock: Clock,
        *,
        email: EmailSender | None = None,
        sms: SmsSender | None = None,
        batch: int = BATCH,
    ) -> None:
        self._sessions = sessions
        self._bus = bus
        self._clock = clock
        self._email = email
        self._sms = sms
        self._batch = batch

    async def deliver_due(self) -> int:
        """Send the queued notifications and the digests whose time has come (up to a batch of each);
        returns how many notifications went out. Failures are kept on the rows, never raised."""
        delivered = 0
        try:
            now = self._clock.now()
            await self._give_up_abandoned(now)
            queued, digests = await self._due(now)
        except Exception:
            log.exception("looking for notifications to send failed; the next round tries again")
            return 0
        for row_id in queued:
            delivered += await self._guarded(self._deliver_one(row_id), f"notification {row_id}")
        for user_id, channel in digests:
            delivered += await self._guarded(
                self._deliver_digest(user_id, channel), f"the {channel} digest of user {user_id}"
            )
        return delivered

    async def _guarded(self, delivery: Any, what: str) -> int:
        try:
            return await delivery
        except Exception:  # the database failed between claim and finish: the row is given up after LEASE
            log.exception("delivering %s failed", what)
            return 0

    async def _give_up_abandoned(self, now: datetime) -> None:
        async with self._sessions.begin() as db:
            await db.execute(
                update(Notification)
                .where(Notification.status == "sending", Notification.sent_at < now - LEASE)
                .values(status="failed", sent_at=None, error=ABANDONED)
                .execution_options(synchronize_session=False)
            )

    async def _due(self, now: datetime) -> tuple[list[int], list[tuple[int, str]]]:
        async with self._sessions() as db:
            queued = await db.scalars(
                select(Notification.id)
                .where(
                    Notification.status == "queued",
                    or_(Notification.deliver_after.is_(None), Notification.deliver_after <= now),
                )
                .order_by(Notification.id)
                .limit(self._batch)
            )
            digests = await db.execute(
                select(Notification.user_id, Notification.channel)
                .where(Notification.status == "held", Notification.deliver_after <= now)
                .group_by(Notification.user_id, Notification.channel)
                .order_by(Notification.user_id, Notification.channel)
                .limit(self._batch)
            )
            return list(queued), [(user_id, channel) for user_id, channel in digests]

    async def _deliver_one(self, row_id: int) -> int:
        async with self._sessions.begin() as db:
            claimed = await db.execute(
                update(Notification)
                .where(Notification.id == row_id, Notification.status == "queued")
                .values(status="sending", sent_at=self._clock.now())
                .execution_options(synchronize_session=False)
            )
            if claimed.rowcount != 1:  # another process took it
                return 0
            row = await db.get(Notification, row_id)
            assert row is not None
            outgoing = await _outgoing(db, row.user_id, row.channel, [row], digest=False)
        return await self._finish(outgoing, "sent", await self._send(outgoing))

    async def _deliver_digest(self, user_id: int, channel: str) -> int:
        now = self._clock.now()
        async with self._sessions.begin() as db:
            claimed = await db.scalars(
                update(Notification)
                .where(
                    Notification.user_id == user_id,
                    Notification.channel == channel,
                    Notification.status == "held",
                    Notification.deliver_after <= now,
                )
                .values(status="sending", sent_at=now)
                .returning(Notification.id)
                .execution_options(synchronize_session=False)
            )
            ids = list(claimed)
            if not ids:  # another process sent it
                return 0
            rows = await db.scalars(
                select(Notification)
                .where(Notification.id.in_(ids))
                .order_by(Notification.created_at, Notification.id)
            )
            outgoing = await _outgoing(db, user_id, channel, list(rows), digest=True)
        return await self._finish(outgoing, "digested", await self._send(outgoing))

    async def _send(self, outgoing: _Outgoing) -> _Failure | None:
        """Hand the notification to its channel; why it did not go, else None."""
        try:
            if outgoing.channel == "console":
                for item in outgoing.items:
                    await self._bus.publish(TOPIC, console_payload(item, outgoing.user_id))
            elif outgoing.channel == "email":
                if self._email is None:
                    raise NotSent(EMAIL_OFF)
                if not outgoing.address:
                    raise NotSent("the user has no email address")
                subject, body = email_text(outgoing)
                await self._email(outgoing.address, subject, body)
            elif outgoing.channel == "sms":
                if self._sms is None:
                    raise NotSent(SMS_OFF)
                if not outgoing.address:
                    raise NotSent("the user has no phone number")
                await self._sms(outgoing.address, sms_text(outgoing))
            else:
                raise NotSent(f"unknown channel {outgoing.channel!r}")
        except NotSent as exc:
            failure = _Failure(str(exc), exc.permanent)
        except Exception as exc:  # unforeseen, maybe passing: tried again
            failure = _Failure(f"{type(exc).__name__}: {exc}", permanent=False)
        else:
            return None
        # the reason may name the address: it is kept on the row, not logged
        log.warning(
            "notification %s to user %s by %s not sent; the row says why",
            ",".join(str(item.id) for item in outgoing.items),
            outgoing.user_id,
            outgoing.channel,
        )
        return failure

    async def _finish(self, outgoing: _Outgoing, done: str, failure: _Failure | None) -> int:
        ids = [item.id for item in outgoing.items]
        now = self._clock.now()
        attempt = max(item.attempts for item in outgoing.items)
        values: dict[str, Any]
        if failure is None:
            values = {"status": done, "sent_at": now, "error": ""}
        elif failure.permanent or attempt >= len(RETRY_DELAYS):
            values = {"status": "failed", "sent_at": None, "error": failure.error[:ERROR_LIMIT]}
        else:  # wait for the next attempt: a digest stays a digest
            values = {
                "status": "held" if outgoing.digest else "queued",
                "sent_at": None,
                "deliver_after": now + RETRY_DELAYS[attempt],
                "attempts": Notification.attempts + 1,
                "error": failure.error[:ERROR_LIMIT],
            }
        async with self._sessions.begin() as db:
            await db.execute(
                update(Notification)
                .where(Notification.id.in_(ids), Notification.status == "sending")
                .values(**values)
                .execution_options(synchronize_session=False)
            )
        if failure is None:
            log.debug("notifications %s to user %s by %s: %s", ids, outgoing.user_id, outgoing.channel, done)
            return len(ids)
        return 0


async def _outgoing(
    db: AsyncSession, user_id: int, channel: str, rows: Sequence[Notification], *, digest: bool
) -> _Outgoing:
    user = await db.get(User, user_id)
    address = None
    if user is not None and user.is_active:
        address = user.email if channel == "email" else user.phone if channel == "sms" else None
    zone = preferences(user.notify if user is not None else None).zone
    items = tuple(_Item(r.id, r.ticket_id, r.kind, r.title, r.body, r.created_at, r.attempts) for r in rows)
    return _Outgoing(channel, user_id, address, zone, items, digest)


def console_payload(item: _Item, user_id: int) -> dict[str, Any]:
    """The "notification.created" event's payload (and the console's "notification" event)."""
    return {
        "id": item.id,
        "user_id": user_id,
        "ticket_id": item.ticket_id,
        "kind": item.kind,
        "title": item.title,
        "body": item.body,
        "created_at": item.created_at.isoformat(),
    }


def digest_title(count: int) -> str:
    """The first line of a digest."""
    return f"{count} ticket notification{'' if count == 1 else 's'} while you were away"


def email_text(outgoing: _Outgoing) -> tuple[str, str]:
    """Subject and body of the email: the notification's, or a digest listing each one."""
    if not outgoing.digest:
        item = outgoing.items[0]
        return item.title, item.body or item.title
    lines = [digest_title(len(outgoing.items)) + ":", ""]
    for item in outgoing.items:
        at = item.created_at.astimezone(outgoing.zone).strftime("%Y-%m-%d %H:%M")
        lines.append(f"- {at} {item.title}")
        if item.body:
            lines.append(f"  {_shortened(item.body, 500)}")
    return digest_title(len(outgoing.items)), "\n".join(lines) + "\n"


def sms_text(outgoing: _Outgoing) -> str:
    """The SMS: the title and the start of the body, or a digest of the titles."""
    if not outgoing.digest:
        item = outgoing.items[0]
        text = f"{item.title}: {item.body}" if item.body else item.title
    else:
        titles = "; ".join(item.title for item in outgoing.items)
        text = f"{digest_title(len(outgoing.items))}: {titles}"
    return _shortened(text, SMS_LIMIT)


def _shortened(text: str, limit: int) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"
