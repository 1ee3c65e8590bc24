"""The caller's notifications and notification preferences over HTTP."""

from __future__ import annotations

from functools import cache
from typing import Any, Literal
from zoneinfo import available_timezones

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from sqlalchemy import select

from contact_center.api.common import caller, path_id
from contact_center.auth.roles import Access
from contact_center.customers.identity import normalise_phone
from contact_center.db.models import Notification, User
from contact_center.errors import InvalidInput, NotFound
from contact_center.tickets.notify import preferences
from contact_center.web.appkeys import CLOCK, SESSIONS
from contact_center.web.endpoints import EndpointTable

api = EndpointTable("notifications")
Channel = Literal["console", "email", "sms"]
HHMM = r"^([01]\d|2[0-3]):[0-5]\d$"


class NotificationQuery(BaseModel):
    """Which of the caller's notifications to list."""

    model_config = ConfigDict(extra="forbid")
    unread: bool = Field(default=False, description="Only those not marked read.")
    channel: Channel | None = Field(default=None, description="Only this channel's (the console: console).")
    limit: int = Field(default=50, ge=1, le=200)


class QuietHours(BaseModel):
    """A daily period in the user's time zone when email and SMS wait; it may cross midnight."""

    model_config = ConfigDict(extra="forbid")
    start: str = Field(pattern=HHMM, examples=["22:00"])
    end: str = Field(pattern=HHMM, examples=["07:00"])

    @model_validator(mode="after")
    def _not_empty(self) -> QuietHours:
        if self.start == self.end:
            raise ValueError("start and end are the same: leave quiet_hours out (null) for none")
        return self


class NotifyPreferencesIn(BaseModel):
    """How the caller wants to be told: channels, quiet hours, time zone and the phone for SMS."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    channels: list[Channel] = Field(default_factory=lambda: ["console", "email"], max_length=3)
    quiet_hours: QuietHours | None = None
    timezone: str = Field(default="UTC", max_length=64, examples=["Europe/London"])
    phone: str | None = Field(
        default=None,
        max_length=32,
        description="International (E.164) form, e.g. +447700900123; left out: unchanged; null: removed.",
    )

    @field_validator("channels")
    @classmethod
    def _each_once(cls, value: list[str]) -> list[str]:
        return list(dict.fromkeys(value))

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        if value not in _zones():
            raise ValueError(f"{value!r} is not a time zone of the IANA database (e.g. Europe/London)")
        return value

    @field_validator("phone")
    @classmethod
    def _e164(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not value.startswith("+"):
            raise ValueError("write the number in international form, starting with + and the country code")
        try:
            return normalise_phone(value)
        except InvalidInput as exc:
            raise ValueError(exc.message) from None


@cache
def _zones() -> frozenset[str]:
    return frozenset(available_timezones() | {"UTC"})


def notification_json(row: Notification) -> dict[str, Any]:
    """A notification as the API shows it."""
    return {
        "id": row.id,
        "ticket_id": row.ticket_id,
        "kind": row.kind,
        "channel": row.channel,
        "title": row.title,
        "body": row.body,
        "status": row.status,
        "created_at": row.created_at.isoformat(),
        "deliver_after": row.deliver_after.isoformat() if row.deliver_after else None,
        "sent_at": row.sent_at.isoformat() if row.sent_at else None,
        "read_at": row.read_at.isoformat() if row.read_at else None,
        "error": row.error or None,
        "attempts": row.attempts,
    }


def preferences_json(user: User) -> dict[str, Any]:
    """A user's preferences as they take effect (defaults filled in), with where they can be reached."""
    wanted = preferences(user.notify)
    quiet = None
    if wanted.quiet_start is not None and wanted.quiet_end is not None:
        quiet = {"start": wanted.quiet_start.strftime("%H:%M"), "end": wanted.quiet_end.strftime("%H:%M")}
    return {
        "channels": list(wanted.channels),
        "quiet_hours": quiet,
        "timezone": wanted.zone.key,
        "phone": user.phone,
        "email": user.email,
    }


@api.get(
    "/api/notifications",
    access=Access.AGENT,
    query=NotificationQuery,
    summary="The caller's notifications, newest first",
)
async def list_notifications(request: web.Request, query: NotificationQuery) -> list[dict[str, Any]]:
    """The caller's own notifications (every channel unless `channel` is given)."""
    statement = select(Notification).where(Notification.user_id == caller(request).id)
    if query.unread:
        statement = statement.where(Notification.read_at.is_(None))
    if query.channel is not None:
        statement = statement.where(Notification.channel == query.channel)
    statement = statement.order_by(Notification.created_at.desc(), Notification.id.desc()).limit(query.limit)
    async with request.app[SESSIONS]() as db:
        return [notification_json(row) for row in await db.scalars(statement)]


@api.post(
    "/api/notifications/{id}/read",
    access=Access.AGENT,
    summary="Mark one of the caller's notifications read",
    responses={404: "No such notification of the caller's"},
)
async def mark_read(request: web.Request) -> dict[str, Any]:
    """Set `read_at` (once; reading again keeps the first time)."""
    notification_id = path_id(request)
    async with request.app[SESSIONS].begin() as db:
        row = await db.get(Notification, notification_id)
        if row is None or row.user_id != caller(request).id:
            raise NotFound(f"notification {notification_id} does not exist")
        if row.read_at is None:
            row.read_at = request.app[CLOCK].now()
        return notification_json(row)


@api.get("/api/users/me/notify", access=Access.AGENT, summary="The caller's notification preferences")
async def get_preferences(request: web.Request) -> dict[str, Any]:
    """Channels, quiet hours, time zone, phone (and the email address, which administrators set)."""
    async with request.app[SESSIONS]() as db:
        user = await db.get(User, caller(request).id)
        assert user is not None
        return preferences_json(user)


@api.route(
    "PUT",
    "/api/users/me/notify",
    access=Access.AGENT,
    body=NotifyPreferencesIn,
    summary="Replace the caller's notification preferences",
    responses={422: "Unknown channel or time zone, a time not HH:MM, a phone not E.164, SMS without phone"},
)
async def put_preferences(request: web.Request, body: NotifyPreferencesIn) -> dict[str, Any]:
    """Store the preferences; the phone changes only when the body has the field."""
    async with request.app[SESSIONS].begin() as db:
        user = await db.get(User, caller(request).id)
        assert user is not None
        phone = body.phone if "phone" in body.model_fields_set else user.phone
        if "sms" in body.channels and not phone:
            raise InvalidInput("SMS needs a phone number: send phone too", field="phone")
        notify: dict[str, Any] = {"channels": body.channels, "timezone": body.timezone}
        if body.quiet_hours is not None:
            notify["quiet_hours"] = body.quiet_hours.model_dump()
        user.notify, user.phone = notify, phone
        return preferences_json(user)
