"""What the Twilio channels keep: calls, SMS opt-outs, and the receipts that make webhooks idempotent."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Integer, String, Text, false
from sqlalchemy.orm import Mapped, mapped_column

from contact_center.db.base import Base, JSONType, UTCDateTime


class VoiceCall(Base):
    """One inbound call (or the callback we place for it) and where it stands."""

    __tablename__ = "voice_calls"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    call_sid: Mapped[str] = mapped_column(String(64), unique=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id"), index=True)
    from_number: Mapped[str] = mapped_column(String(32))
    to_number: Mapped[str] = mapped_column(String(32), default="")
    status: Mapped[str] = mapped_column(String(16), default="ivr")
    language: Mapped[str | None] = mapped_column(String(16))
    ivr_path: Mapped[list[Any]] = mapped_column(JSONType, default=list)
    callback_requested: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    callback_call_sid: Mapped[str | None] = mapped_column(String(64))
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    conference_sid: Mapped[str | None] = mapped_column(String(64))
    agent_legs: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    duration_seconds: Mapped[int | None] = mapped_column(Integer)
    recording_url: Mapped[str | None] = mapped_column(String(500))
    voicemail_url: Mapped[str | None] = mapped_column(String(500))
    transcription: Mapped[str | None] = mapped_column(Text)
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id"))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class SmsOptOut(Base):
    """A phone number that sent STOP to one of our numbers; START removes it."""

    __tablename__ = "sms_opt_outs"

    phone: Mapped[str] = mapped_column(String(32), primary_key=True)
    our_number: Mapped[str] = mapped_column(String(32), primary_key=True)
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime)


class WebhookReceipt(Base):
    """A webhook (or a one-time action) already handled, by its idempotency key, with the answer given."""

    __tablename__ = "webhook_receipts"

    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    response: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
