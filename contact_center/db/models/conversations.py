"""Conversations on any channel and tickets, as far as the customer record needs them.

The channel and ticket issues extend these tables; the customer record moves them on merge and shows
them in the screen-pop.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from contact_center.db.base import Base, UTCDateTime


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

    __table_args__ = (Index("ix_conversations_customer_activity", "customer_id", "last_activity_at"),)


class Ticket(Base):
    """A complaint or service request about a customer."""

    __tablename__ = "tickets"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    subject: Mapped[str] = mapped_column(String(300))
    category: Mapped[str] = mapped_column(String(32), default="service_request")
    status: Mapped[str] = mapped_column(String(16), default="new")
    priority: Mapped[str] = mapped_column(String(16), default="normal")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (Index("ix_tickets_customer_status", "customer_id", "status"),)
