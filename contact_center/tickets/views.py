"""Tickets as the API and the console show them: the list with its filters, and one ticket in full."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Select, String, cast, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from contact_center.auth.roles import Role
from contact_center.db.models import (
    Conversation,
    Customer,
    Ticket,
    TicketConversation,
    TicketEscalation,
    TicketEvent,
    TicketSla,
    TicketSurvey,
    TicketView,
    User,
)
from contact_center.errors import NotFound
from contact_center.knowledge.links import articles_of_ticket
from contact_center.tickets.sla import clock_view

MAX_PAGE = 200


class TicketQuery(BaseModel):
    """Filters of the ticket list; a saved view's filters apply first, the query's on top."""

    model_config = ConfigDict(extra="forbid")
    status: str | None = Field(default=None, max_length=100, description="Comma-separated states.")
    category: str | None = Field(default=None, max_length=32)
    priority: str | None = Field(default=None, max_length=40, description="Comma-separated priorities.")
    severity: str | None = Field(default=None, max_length=40)
    assignee: str | None = Field(default=None, pattern=r"^(me|none|\d{1,18})$")
    team_id: int | None = Field(default=None, ge=1)
    tier: int | None = Field(default=None, ge=1, le=9)
    customer_id: int | None = Field(default=None, ge=1)
    tag: str | None = Field(default=None, max_length=40)
    breached: bool | None = None
    q: str | None = Field(default=None, max_length=200, description="Words in the subject.")
    view: int | None = Field(default=None, ge=1, description="A saved view's id.")
    limit: int = Field(default=50, ge=1, le=MAX_PAGE)
    offset: int = Field(default=0, ge=0, le=100_000)


def visible_to(user: User) -> Any:
    """Tickets a user may see: supervisors and admins all; agents their own, their team's and unteamed."""
    if user.role in (Role.SUPERVISOR, Role.ADMIN):
        return Ticket.id.is_not(None)
    mine = [Ticket.assignee_id == user.id, Ticket.team_id.is_(None)]
    if user.team_id is not None:
        mine.append(Ticket.team_id == user.team_id)
    return or_(*mine)


async def visible_ticket(db: AsyncSession, user: User, ticket_id: int) -> Ticket:
    """The ticket if the user may see it; NotFound otherwise (another team's ticket does not exist)."""
    ticket = (
        await db.execute(select(Ticket).where(Ticket.id == ticket_id, visible_to(user)))
    ).scalar_one_or_none()
    if ticket is None:
        raise NotFound(f"ticket {ticket_id} does not exist")
    return ticket


async def list_tickets(db: AsyncSession, user: User, query: TicketQuery, now: datetime) -> dict[str, Any]:
    """One page of the tickets the user may see, newest change first, with their SLA clocks."""
    filters = dict(await _view_filters(db, user, query.view))
    filters.update(query.model_dump(exclude_none=True, exclude={"view", "limit", "offset"}))
    statement = _filtered(select(Ticket).where(visible_to(user)), filters, user)
    statement = statement.order_by(Ticket.updated_at.desc(), Ticket.id.desc())
    rows = list((await db.execute(statement.limit(query.limit + 1).offset(query.offset))).scalars())
    page = rows[: query.limit]
    clocks = await _clocks(db, [t.id for t in page])
    names = await _customer_names(db, {t.customer_id for t in page})
    return {
        "tickets": [ticket_json(t, clocks.get(t.id, []), now, names.get(t.customer_id)) for t in page],
        "more": len(rows) > query.limit,
    }


def _filtered(statement: Select[Any], filters: dict[str, Any], user: User) -> Select[Any]:
    for name, column in (
        ("status", Ticket.status),
        ("priority", Ticket.priority),
        ("severity", Ticket.severity),
    ):
        if filters.get(name):
            statement = statement.where(column.in_(str(filters[name]).split(",")))
    for name, column in (
        ("category", Ticket.category),
        ("team_id", Ticket.team_id),
        ("tier", Ticket.tier),
        ("customer_id", Ticket.customer_id),
    ):
        if filters.get(name) is not None:
            statement = statement.where(column == filters[name])
    assignee = filters.get("assignee")
    if assignee == "me":
        statement = statement.where(Ticket.assignee_id == user.id)
    elif assignee == "none":
        statement = statement.where(Ticket.assignee_id.is_(None))
    elif assignee is not None:
        statement = statement.where(Ticket.assignee_id == int(assignee))
    if filters.get("q"):
        statement = statement.where(Ticket.subject.icontains(str(filters["q"]), autoescape=True))
    if filters.get("tag"):
        # tags are a short sorted list: a text match on the JSON is enough and works on both databases
        tag = f'"{str(filters["tag"]).lower()}"'
        statement = statement.where(cast(Ticket.tags, String).contains(tag, autoescape=True))
    if filters.get("breached") is not None:
        breached = select(TicketSla.ticket_id).where(
            TicketSla.breached_at.is_not(None), TicketSla.met_at.is_(None)
        )
        column = Ticket.id.in_(breached)
        statement = statement.where(column if filters["breached"] else ~column)
    return statement


async def _view_filters(db: AsyncSession, user: User, view_id: int | None) -> dict[str, Any]:
    if view_id is None:
        return {}
    view = await db.get(TicketView, view_id)
    if view is None or not (view.shared or view.user_id == user.id):
        raise NotFound(f"ticket view {view_id} does not exist")
    return dict(view.filters)


async def _clocks(db: AsyncSession, ticket_ids: list[int]) -> dict[int, list[TicketSla]]:
    found: dict[int, list[TicketSla]] = {}
    if ticket_ids:
        rows = (await db.execute(select(TicketSla).where(TicketSla.ticket_id.in_(ticket_ids)))).scalars()
        for row in rows:
            found.setdefault(row.ticket_id, []).append(row)
    return found


async def _customer_names(db: AsyncSession, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    rows = await db.execute(select(Customer.id, Customer.display_name).where(Customer.id.in_(ids)))
    return {row.id: row.display_name for row in rows}


def ticket_json(
    ticket: Ticket, clocks: list[TicketSla], now: datetime, customer_name: str | None
) -> dict[str, Any]:
    """A ticket's fields and the state of its SLA clocks."""
    return {
        "id": ticket.id,
        "reference": f"T-{ticket.id}",
        "subject": ticket.subject,
        "category": ticket.category,
        "status": ticket.status,
        "priority": ticket.priority,
        "severity": ticket.severity,
        "tier": ticket.tier,
        "customer_id": ticket.customer_id,
        "customer_name": customer_name,
        "customer_tier": ticket.customer_tier,
        "assignee_id": ticket.assignee_id,
        "team_id": ticket.team_id,
        "queue": ticket.queue,
        "source": ticket.source,
        "tags": ticket.tags,
        "custom_fields": ticket.custom_fields,
        "escalation_causes": ticket.escalation_causes,
        "created_at": ticket.created_at.isoformat(),
        "updated_at": ticket.updated_at.isoformat(),
        "first_responded_at": _iso(ticket.first_responded_at),
        "resolved_at": _iso(ticket.resolved_at),
        "closed_at": _iso(ticket.closed_at),
        "sla": [clock_view(c, now) for c in sorted(clocks, key=lambda c: c.metric)],
    }


async def ticket_detail(db: AsyncSession, ticket: Ticket, now: datetime) -> dict[str, Any]:
    """Everything about one ticket: fields, clocks, history, conversations, escalations, surveys, articles."""
    clocks = (await _clocks(db, [ticket.id])).get(ticket.id, [])
    names = await _customer_names(db, {ticket.customer_id})
    events = (
        await db.execute(
            select(TicketEvent, User.display_name)
            .outerjoin(User, User.id == TicketEvent.actor_id)
            .where(TicketEvent.ticket_id == ticket.id)
            .order_by(TicketEvent.at, TicketEvent.id)
        )
    ).all()
    conversations = (
        await db.execute(
            select(Conversation)
            .join(TicketConversation, TicketConversation.conversation_id == Conversation.id)
            .where(TicketConversation.ticket_id == ticket.id)
            .order_by(Conversation.started_at)
        )
    ).scalars()
    escalations = (
        await db.execute(
            select(TicketEscalation)
            .where(TicketEscalation.ticket_id == ticket.id)
            .order_by(TicketEscalation.id)
        )
    ).scalars()
    surveys = (
        await db.execute(
            select(TicketSurvey).where(TicketSurvey.ticket_id == ticket.id).order_by(TicketSurvey.round)
        )
    ).scalars()
    return {
        **ticket_json(ticket, clocks, now, names.get(ticket.customer_id)),
        "description": ticket.description,
        "history": [history_json(event, name) for event, name in events],
        "conversations": [
            {
                "id": c.id,
                "channel": c.channel,
                "subject": c.subject,
                "snippet": c.snippet,
                "started_at": c.started_at.isoformat(),
                "status": c.status,
            }
            for c in conversations
        ],
        "escalations": [
            {
                "cause": e.cause,
                "from_tier": e.from_tier,
                "to_tier": e.to_tier,
                "at": e.at.isoformat(),
                "actor_id": e.actor_id,
                "reason": e.reason,
            }
            for e in escalations
        ],
        "surveys": [
            {
                "id": s.id,
                "round": s.round,
                "channel": s.channel,
                "sent_at": s.sent_at.isoformat(),
                "answered_at": _iso(s.answered_at),
                "score": s.score,
                "comment": s.comment,
            }
            for s in surveys
        ],
        "articles": await articles_of_ticket(db, ticket.id),
    }


def history_json(event: TicketEvent, actor_name: str | None = None) -> dict[str, Any]:
    """One line of the history timeline."""
    return {
        "id": event.id,
        "at": event.at.isoformat(),
        "action": event.action,
        "from": event.from_state,
        "to": event.to_state,
        "actor_id": event.actor_id,
        "actor_name": actor_name or ("system" if event.actor_id is None else None),
        "reason": event.reason,
        "body": event.body,
        "data": event.data,
    }


def view_json(view: TicketView) -> dict[str, Any]:
    """A saved view."""
    return {
        "id": view.id,
        "name": view.name,
        "filters": view.filters,
        "shared": view.shared,
        "user_id": view.user_id,
    }


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None
