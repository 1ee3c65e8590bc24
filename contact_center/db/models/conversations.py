"""Conversations on any channel, their messages and their routing events.

The customer record moves them on merge and shows them in the screen-pop; tickets are in tickets.py.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint, false
from sqlalchemy.orm import Mapped, mapped_column

from contact_center.db.base import Base, JSONType, UTCDateTime


class Conversation(Base):
    """A contact on one channel (a call, an SMS thread, an email thread, a chat)."""

    __tablename__ = "conversations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    channel: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default="open")
    subject: Mapped[str] = mapped_column(String(300), default="")
    snippet: Mapped[str] = mapped_column(String(300), default="")
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_activity_at: Mapped[datetime] = mapped_column(UTCDateTime)
    queue: Mapped[str | None] = mapped_column(String(64))
    task_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    routing_state: Mapped[str | None] = mapped_column(String(16), index=True)
    priority: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    language: Mapped[str | None] = mapped_column(String(16))
    complaint: Mapped[bool] = mapped_column(default=False, server_default=false())
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    wait_seconds: Mapped[float | None] = mapped_column(Float)
    handle_seconds: Mapped[float | None] = mapped_column(Float)
    disposition: Mapped[str | None] = mapped_column(String(64))
    contact_reason: Mapped[str | None] = mapped_column(String(64))
    wrap_up_note: Mapped[str] = mapped_column(Text, default="", server_default="")
    wrapped_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    wrapped_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (Index("ix_conversations_customer_activity", "customer_id", "last_activity_at"),)


class Message(Base):
    """One message of a conversation (or a call's record); `external_id` makes a retried webhook harmless."""

    __tablename__ = "messages"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id"), index=True)
    channel: Mapped[str] = mapped_column(String(16))
    direction: Mapped[str] = mapped_column(String(8))
    author_kind: Mapped[str] = mapped_column(String(16))
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    body: Mapped[str] = mapped_column(Text, default="")
    external_id: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    delivery_status: Mapped[str | None] = mapped_column(String(16))
    media: Mapped[list[Any]] = mapped_column(JSONType, default=list, server_default="[]")
    attributes: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict, server_default="{}")

    __table_args__ = (UniqueConstraint("channel", "external_id", name="uq_messages_channel_external_id"),)


class RoutingEventRecord(Base):
    """A stored routing event (task queued, offered, accepted...) for reports and a contact's audit."""

    __tablename__ = "routing_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    task_id: Mapped[str | None] = mapped_column(String(64), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    agent_id: Mapped[int | None] = mapped_column(Integer)
    queue: Mapped[str | None] = mapped_column(String(64))
    data: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
