"""Tickets and what runs around them: categories with escalation tiers, the history, SLA policies and
business-hours calendars, the SLA clocks of each ticket, notifications, surveys and saved views.

The workflow (which action moves a ticket from which state to which) is contact_center.tickets.workflow.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint, false, true
from sqlalchemy.orm import Mapped, mapped_column

from contact_center.db.base import Base, JSONType, UTCDateTime


class TicketCategory(Base):
    """A kind of ticket (complaint, service request, inquiry, repair, or one an admin defines) with its
    escalation tiers: [{"tier": 1, "name": "L1 agent", "queue": "general", "notify": ["assignee"]}, ...]."""

    __tablename__ = "ticket_categories"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    label: Mapped[str] = mapped_column(String(120))
    tiers: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list, server_default="[]")
    default_priority: Mapped[str] = mapped_column(String(16), default="normal", server_default="normal")
    builtin: Mapped[bool] = mapped_column(default=False, server_default=false())
    active: Mapped[bool] = mapped_column(default=True, server_default=true())


class Ticket(Base):
    """A complaint or service request about a customer, worked through the workflow against SLA clocks."""

    __tablename__ = "tickets"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    subject: Mapped[str] = mapped_column(String(300))
    category: Mapped[str] = mapped_column(String(32), default="service_request")
    status: Mapped[str] = mapped_column(String(16), default="new")
    priority: Mapped[str] = mapped_column(String(16), default="normal")
    severity: Mapped[str] = mapped_column(String(16), default="minor", server_default="minor")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    conversation_id: Mapped[int | None] = mapped_column(ForeignKey("conversations.id"))
    description: Mapped[str] = mapped_column(Text, default="", server_default="")
    source: Mapped[str] = mapped_column(String(16), default="agent", server_default="agent")
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id"))
    tier: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    customer_tier: Mapped[str | None] = mapped_column(String(16))
    tags: Mapped[list[str]] = mapped_column(JSONType, default=list, server_default="[]")
    custom_fields: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict, server_default="{}")
    escalation_causes: Mapped[list[str]] = mapped_column(JSONType, default=list, server_default="[]")
    sla_policy_id: Mapped[int | None] = mapped_column(ForeignKey("sla_policies.id"))
    queue: Mapped[str | None] = mapped_column(String(64))
    task_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    first_responded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    pending_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reopened_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    __table_args__ = (
        Index("ix_tickets_customer_status", "customer_id", "status"),
        Index("ix_tickets_status_updated", "status", "updated_at"),
    )


class TicketEvent(Base):
    """One line of a ticket's history: a workflow change (action, from, to), a field change, an internal
    note or a public reply, with who did it, when and why."""

    __tablename__ = "ticket_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    action: Mapped[str] = mapped_column(String(32))
    from_state: Mapped[str | None] = mapped_column(String(16))
    to_state: Mapped[str | None] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(Text, default="", server_default="")
    body: Mapped[str] = mapped_column(Text, default="", server_default="")
    message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id"))
    data: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict, server_default="{}")


class TicketConversation(Base):
    """A conversation on any channel linked to a ticket."""

    __tablename__ = "ticket_conversations"

    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id"), primary_key=True, index=True)
    linked_at: Mapped[datetime] = mapped_column(UTCDateTime)
    linked_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class TicketEscalation(Base):
    """An escalation of a ticket for one cause; the unique key makes a second one for that cause impossible,
    whichever process tries."""

    __tablename__ = "ticket_escalations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"))
    cause: Mapped[str] = mapped_column(String(64))
    from_tier: Mapped[int] = mapped_column(Integer)
    to_tier: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    reason: Mapped[str] = mapped_column(Text, default="", server_default="")

    __table_args__ = (UniqueConstraint("ticket_id", "cause", name="uq_ticket_escalations_ticket_cause"),)


class BusinessCalendar(Base):
    """Working hours by weekday in a time zone, with holidays (listed dates, and a country's public
    holidays from the `holidays` package). hours: {"mon": [["09:00", "17:00"]], ...}."""

    __tablename__ = "business_calendars"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    hours: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    holidays: Mapped[list[str]] = mapped_column(JSONType, default=list, server_default="[]")
    holiday_country: Mapped[str | None] = mapped_column(String(8))
    holiday_subdivision: Mapped[str | None] = mapped_column(String(16))


class SlaPolicy(Base):
    """Targets for tickets of a category, priority and customer tier (None matches any), counted in the
    calendar's business time (None: around the clock). The first active match by position wins."""

    __tablename__ = "sla_policies"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    position: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    category: Mapped[str | None] = mapped_column(String(32))
    priority: Mapped[str | None] = mapped_column(String(16))
    customer_tier: Mapped[str | None] = mapped_column(String(16))
    first_response_minutes: Mapped[int | None] = mapped_column(Integer)
    next_response_minutes: Mapped[int | None] = mapped_column(Integer)
    resolution_minutes: Mapped[int | None] = mapped_column(Integer)
    warn_before_minutes: Mapped[int] = mapped_column(Integer, default=30, server_default="30")
    calendar_id: Mapped[int | None] = mapped_column(ForeignKey("business_calendars.id"))
    breach_action: Mapped[str] = mapped_column(String(16), default="escalate", server_default="escalate")
    active: Mapped[bool] = mapped_column(default=True, server_default=true())


class TicketSla(Base):
    """One SLA clock of a ticket (first response, next response or resolution), in business seconds.

    A running clock has `running_since`; pausing adds the business time since then to `consumed_seconds`.
    `due_at` and `warn_at` are wall-clock instants recomputed whenever the clock starts again; the scheduler
    looks only at these. `warned_at`, `breached_at` and `met_at` are each set once (compare-and-set), which
    is what makes a warning or a breach happen once across processes. `cycle` counts next-response rounds.
    """

    __tablename__ = "ticket_slas"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"))
    metric: Mapped[str] = mapped_column(String(16))
    cycle: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    target_seconds: Mapped[float] = mapped_column(Float)
    consumed_seconds: Mapped[float] = mapped_column(Float, default=0, server_default="0")
    running_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    warn_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    warned_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    breached_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    met_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (UniqueConstraint("ticket_id", "metric", name="uq_ticket_slas_ticket_metric"),)


class Notification(Base):
    """A notice to a user by one channel (console, email, sms). `dedupe_key` is unique, so the same notice
    is recorded once whichever process raises it. During the user's quiet hours it waits (`deliver_after`)
    and goes out in a digest; after a passing failure it waits there too, for its next attempt."""

    __tablename__ = "notifications"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    channel: Mapped[str] = mapped_column(String(8))
    title: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text, default="", server_default="")
    dedupe_key: Mapped[str] = mapped_column(String(200), unique=True)
    status: Mapped[str] = mapped_column(String(16), default="queued")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    deliver_after: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    error: Mapped[str] = mapped_column(String(300), default="", server_default="")
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    __table_args__ = (Index("ix_notifications_status_deliver", "status", "deliver_after"),)


class TicketSurvey(Base):
    """A satisfaction survey sent when a ticket was resolved (round n of that ticket), and its answer."""

    __tablename__ = "ticket_surveys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"))
    round: Mapped[int] = mapped_column(Integer, default=1)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    channel: Mapped[str] = mapped_column(String(16))
    conversation_id: Mapped[int | None] = mapped_column(ForeignKey("conversations.id"))
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    score: Mapped[int | None] = mapped_column(Integer)
    comment: Mapped[str] = mapped_column(Text, default="", server_default="")

    __table_args__ = (UniqueConstraint("ticket_id", "round", name="uq_ticket_surveys_ticket_round"),)


class TicketView(Base):
    """A saved ticket list filter, the user's own or shared with everyone."""

    __tablename__ = "ticket_views"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(80))
    filters: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    shared: Mapped[bool] = mapped_column(default=False, server_default=false())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class TicketArticle(Base):
    """A knowledge-base article linked to a ticket (it counts as a use of the article)."""

    __tablename__ = "ticket_articles"

    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), primary_key=True)
    article_id: Mapped[int] = mapped_column(
        ForeignKey("kb_articles.id", ondelete="CASCADE"), primary_key=True
    )
    linked_at: Mapped[datetime] = mapped_column(UTCDateTime)
    linked_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
