"""Notifications about tickets: who is told (`recipients`), and recording each notice once per user and
channel (`record`), held during the user's quiet hours. Sending is notify_delivery.NotificationDelivery.

A notice is one occurrence (`Notice.key`, e.g. "sla_breach:12:first_response:1"); its rows' `dedupe_key` is
unique in the database, so when several processes raise the same notice at once, one row per user and
channel is stored and the others are skipped without disturbing the callers' transactions.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from contact_center.db.models import Notification, Team, Ticket, User

log = logging.getLogger(__name__)

CHANNELS = ("console", "email", "sms")
DEFAULT_CHANNELS = ("console", "email")
UTC_ZONE = ZoneInfo("UTC")
ROLES = ("assignee", "team_lead", "supervisors")
MAX_KEY = 200  # the column's length
KEPT_OF_LONG_KEY = 130  # a longer key keeps this much, then "#" and its SHA-256


@dataclass(frozen=True)
class Notice:
    """Something to tell people about a ticket; `key` names this occurrence (the same key is told once)."""

    kind: str
    ticket_id: int | None
    title: str
    body: str
    key: str


@dataclass(frozen=True)
class Preferences:
    """A user's notification preferences as stored in `User.notify`, read leniently."""

    channels: tuple[str, ...] = DEFAULT_CHANNELS
    quiet_start: time | None = None
    quiet_end: time | None = None
    zone: ZoneInfo = UTC_ZONE

    def quiet_until(self, now: datetime) -> datetime | None:
        """The end of the quiet period `now` falls in (aware UTC), or None outside quiet hours."""
        start, end = self.quiet_start, self.quiet_end
        if start is None or end is None or start == end:
            return None
        local = now.astimezone(self.zone)
        clock_time = local.time()
        quiet = start <= clock_time < end if start < end else clock_time >= start or clock_time < end
        if not quiet:
            return None
        day = local.date() if clock_time < end else local.date() + timedelta(days=1)
        return datetime.combine(day, end, tzinfo=self.zone).astimezone(UTC)


def preferences(notify: dict[str, Any] | None) -> Preferences:
    """The preferences in a user's `notify` JSON; anything unreadable falls back to the default (console
    and email, no quiet hours, UTC) rather than stop a notice."""
    notify = notify or {}
    channels = notify.get("channels")
    if isinstance(channels, list):
        chosen = tuple(c for c in CHANNELS if c in channels)
    else:
        chosen = DEFAULT_CHANNELS
    zone = UTC_ZONE
    if isinstance(notify.get("timezone"), str):
        try:
            zone = ZoneInfo(notify["timezone"])
        except (ZoneInfoNotFoundError, ValueError):
            log.warning("unknown time zone %r in notification preferences; using UTC", notify["timezone"])
    quiet = notify.get("quiet_hours")
    start = end = None
    if isinstance(quiet, dict):
        start, end = parse_hhmm(quiet.get("start")), parse_hhmm(quiet.get("end"))
    return Preferences(chosen, start, end, zone)


def parse_hhmm(value: Any) -> time | None:
    """A time of day from "HH:MM" (00:00-23:59), or None."""
    if not isinstance(value, str) or len(value) != 5 or value[2] != ":":
        return None
    hours, minutes = value[:2], value[3:]
    if not (hours.isdigit() and minutes.isdigit()) or int(hours) > 23 or int(minutes) > 59:
        return None
    return time(int(hours), int(minutes))


def dedupe_key(key: str, user_id: int, channel: str) -> str:
    """The row's unique key: the notice's key, the user and the channel (hashed when too long)."""
    full = f"{key}:{user_id}:{channel}"
    if len(full) <= MAX_KEY:
        return full
    return f"{full[:KEPT_OF_LONG_KEY]}#{hashlib.sha256(full.encode()).hexdigest()}"


async def recipients(db: AsyncSession, ticket: Ticket, roles: Sequence[str]) -> list[User]:
    """The active users in `roles` for the ticket ("assignee", "team_lead", "supervisors"), each once."""
    assignee = await db.get(User, ticket.assignee_id) if ticket.assignee_id is not None else None
    team_id = ticket.team_id if ticket.team_id is not None else (assignee.team_id if assignee else None)
    found: dict[int, User] = {}
    for role in roles:
        if role == "assignee":
            users = [assignee] if assignee is not None else []
        elif role == "team_lead":
            users = await _team_lead(db, team_id)
        elif role == "supervisors":
            users = await _supervisors(db, team_id)
        else:  # a tier's list is an administrator's configuration: a typo must not stop an escalation
            log.warning("unknown notification role %r for ticket %s; ignored", role, ticket.id)
            continue
        for user in users:
            if user.is_active:
                found.setdefault(user.id, user)
    return list(found.values())


async def _team_lead(db: AsyncSession, team_id: int | None) -> list[User]:
    if team_id is None:
        return []
    team = await db.get(Team, team_id)
    if team is None or team.lead_id is None:
        return []
    lead = await db.get(User, team.lead_id)
    return [lead] if lead is not None else []


async def _supervisors(db: AsyncSession, team_id: int | None) -> list[User]:
    query = select(User).where(User.role == "supervisor", User.is_active.is_(True)).order_by(User.id)
    if team_id is not None:
        in_team = list((await db.scalars(query.where(User.team_id == team_id))).all())
        if in_team:
            return in_team
    return list((await db.scalars(query)).all())


def _rows(notice: Notice, users: Sequence[User], now: datetime) -> list[dict[str, Any]]:
    rows = []
    for user in users:
        wanted = preferences(user.notify)
        for channel in wanted.channels:
            if (channel == "email" and not user.email) or (channel == "sms" and not user.phone):
                continue
            held_until = wanted.quiet_until(now) if channel != "console" else None
            rows.append(
                {
                    "user_id": user.id,
                    "ticket_id": notice.ticket_id,
                    "kind": notice.kind[:32],
                    "channel": channel,
                    "title": notice.title[:300],
                    "body": notice.body,
                    "dedupe_key": dedupe_key(notice.key, user.id, channel),
                    "status": "held" if held_until else "queued",
                    "created_at": now,
                    "deliver_after": held_until,
                    "error": "",
                }
            )
    # The same notice raised by two processes inserts its keys in the same order in both, so on
    # PostgreSQL the second waits for the first instead of the two deadlocking.
    return sorted(rows, key=lambda row: row["dedupe_key"])


async def record(
    db: AsyncSession, notice: Notice, users: Sequence[User], now: datetime
) -> list[Notification]:
    """Store the notice for each user on each channel they chose and can be reached by, in the caller's
    transaction; rows recorded before (by anyone) are skipped. Returns the rows created."""
    rows = _rows(notice, users, now)
    if not rows:
        return []
    dialect = db.get_bind().dialect.name
    if dialect == "postgresql":
        statement = postgresql.insert(Notification)
    elif dialect == "sqlite":
        statement = sqlite.insert(Notification)
    else:
        raise NotImplementedError(f"recording notifications on {dialect} is not supported")
    inserted = (
        statement.values(rows)
        .on_conflict_do_nothing(index_elements=[Notification.dedupe_key])
        .returning(Notification)
    )
    created = list((await db.scalars(inserted)).all())
    return sorted(created, key=lambda row: row.id)
