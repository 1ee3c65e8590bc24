"""Tickets over HTTP: the list with filters and saved views, one ticket with its history, the workflow's
actions, notes, public replies, links, escalation, and the categories with their escalation tiers."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from pydantic import ValidationError
from sqlalchemy import select

from contact_center.api.common import caller, path_id
from contact_center.auth.roles import Access, Role
from contact_center.db.models import AuditEntry, TicketCategory, TicketView
from contact_center.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from contact_center.tickets.schemas import (
    ActionIn,
    CategoryIn,
    EscalateIn,
    LinkIn,
    TextIn,
    TicketCreate,
    TicketUpdate,
    ViewIn,
)
from contact_center.tickets.service import TicketService
from contact_center.tickets.views import (
    TicketQuery,
    list_tickets,
    ticket_detail,
    view_json,
    visible_ticket,
)
from contact_center.tickets.workflow import ActionKind
from contact_center.web.appkeys import CLOCK, SESSIONS, TICKETS
from contact_center.web.endpoints import EndpointTable

api = EndpointTable("tickets")


def _service(request: web.Request) -> TicketService:
    return request.app[TICKETS]


async def _detail(request: web.Request, ticket_id: int) -> dict[str, Any]:
    async with request.app[SESSIONS]() as db:
        ticket = await visible_ticket(db, caller(request), ticket_id)
        return await ticket_detail(db, ticket, request.app[CLOCK].now())


async def _check_visible(request: web.Request) -> int:
    ticket_id = path_id(request)
    async with request.app[SESSIONS]() as db:
        await visible_ticket(db, caller(request), ticket_id)
    return ticket_id


@api.get(
    "/api/tickets", access=Access.AGENT, query=TicketQuery, summary="Tickets, filtered, newest change first"
)
async def list_all_tickets(request: web.Request, query: TicketQuery) -> dict[str, Any]:
    """Agents see their own, their team's and unteamed tickets; supervisors and admins every ticket."""
    async with request.app[SESSIONS]() as db:
        return await list_tickets(db, caller(request), query, request.app[CLOCK].now())


@api.post("/api/tickets", access=Access.AGENT, body=TicketCreate, status=201, summary="Open a ticket")
async def create_ticket(request: web.Request, body: TicketCreate) -> dict[str, Any]:
    """The SLA clocks start; without an assignee the ticket is routed to its category's first tier."""
    ticket_id = await _service(request).create(body, actor_id=caller(request).id, source="agent")
    return await _detail(request, ticket_id)


@api.get("/api/tickets/{id}", access=Access.AGENT, summary="One ticket with its history and SLA clocks")
async def get_ticket(request: web.Request) -> dict[str, Any]:
    """Fields, clocks, history timeline, conversations, escalations, surveys and linked articles."""
    return await _detail(request, path_id(request))


@api.patch("/api/tickets/{id}", access=Access.AGENT, body=TicketUpdate, summary="Change a ticket's fields")
async def update_ticket(request: web.Request, body: TicketUpdate) -> dict[str, Any]:
    """Priority, severity, category, assignee, team, tags, custom fields; each change is in the history."""
    ticket_id = await _check_visible(request)
    await _service(request).update(ticket_id, caller(request).id, body)
    return await _detail(request, ticket_id)


@api.post(
    "/api/tickets/{id}/actions",
    access=Access.AGENT,
    body=ActionIn,
    summary="Move the ticket through its workflow (start, wait, resume, resolve, reopen, close)",
    responses={409: "The action does not apply to the ticket as it is (the message says why)"},
)
async def act_on_ticket(request: web.Request, body: ActionIn) -> dict[str, Any]:
    """Waiting, resolving and reopening need a reason."""
    ticket_id = await _check_visible(request)
    await _service(request).act(
        ticket_id, ActionKind(body.action), actor_id=caller(request).id, reason=body.reason
    )
    return await _detail(request, ticket_id)


@api.post(
    "/api/tickets/{id}/escalate",
    access=Access.AGENT,
    body=EscalateIn,
    summary="Escalate the ticket to the next tier (or a named one), with a reason",
    responses={409: "Escalated manually already, or at the highest tier"},
)
async def escalate_ticket(request: web.Request, body: EscalateIn) -> dict[str, Any]:
    """The ticket is routed to the tier's queue and the tier's people are notified."""
    ticket_id = await _check_visible(request)
    user = caller(request)
    cause = "manual" if body.to_tier is None else f"manual:L{body.to_tier}"
    await _service(request).escalate(
        ticket_id, actor_id=user.id, reason=body.reason, cause=cause, to_tier=body.to_tier
    )
    return await _detail(request, ticket_id)


@api.post(
    "/api/tickets/{id}/notes", access=Access.AGENT, body=TextIn, status=201, summary="Add an internal note"
)
async def add_ticket_note(request: web.Request, body: TextIn) -> dict[str, Any]:
    """Colleagues see it in the history; the customer never does."""
    ticket_id = await _check_visible(request)
    return await _service(request).note(ticket_id, caller(request).id, body.text)


@api.post(
    "/api/tickets/{id}/replies",
    access=Access.AGENT,
    body=TextIn,
    status=201,
    summary="Reply to the customer through the ticket's latest written conversation",
    responses={409: "No conversation can carry the reply, or the channel refused it"},
)
async def reply_on_ticket(request: web.Request, body: TextIn) -> dict[str, Any]:
    """Meets the first- and next-response clocks."""
    ticket_id = await _check_visible(request)
    return await _service(request).reply(ticket_id, caller(request).id, body.text, body.subject)


@api.post(
    "/api/tickets/{id}/conversations",
    access=Access.AGENT,
    body=LinkIn,
    summary="Link one of the customer's conversations (any channel) to the ticket",
)
async def link_conversation(request: web.Request, body: LinkIn) -> dict[str, Any]:
    """Linking twice changes nothing."""
    ticket_id = await _check_visible(request)
    await _service(request).link(ticket_id, body.conversation_id, caller(request).id)
    return await _detail(request, ticket_id)


# categories --------------------------------------------------------------------------------------------


def category_json(row: TicketCategory) -> dict[str, Any]:
    """A category and its tiers."""
    return {
        "id": row.id,
        "code": row.code,
        "label": row.label,
        "tiers": row.tiers,
        "default_priority": row.default_priority,
        "builtin": row.builtin,
        "active": row.active,
    }


@api.get(
    "/api/ticket-categories", access=Access.AGENT, summary="Ticket categories and their escalation tiers"
)
async def list_ticket_categories(request: web.Request) -> list[dict[str, Any]]:
    """Active ones for agents; administrators also see deactivated ones."""
    async with request.app[SESSIONS]() as db:
        rows = (await db.execute(select(TicketCategory).order_by(TicketCategory.id))).scalars()
        admin = caller(request).role == Role.ADMIN
        return [category_json(r) for r in rows if r.active or admin]


@api.post(
    "/api/ticket-categories",
    access=Access.ADMIN,
    body=CategoryIn,
    status=201,
    summary="Add a ticket category with its tiers",
    responses={409: "The code exists"},
)
async def create_ticket_category(request: web.Request, body: CategoryIn) -> dict[str, Any]:
    """Audited."""
    now = request.app[CLOCK].now()
    async with request.app[SESSIONS].begin() as db:
        taken = (
            await db.execute(select(TicketCategory).where(TicketCategory.code == body.code))
        ).scalar_one_or_none()
        if taken is not None:
            raise Conflict(f"category {body.code!r} exists")
        row = TicketCategory(
            code=body.code,
            label=body.label,
            default_priority=body.default_priority,
            tiers=[t.model_dump() for t in body.tiers],
            builtin=False,
            active=body.active,
        )
        db.add(row)
        await db.flush()
        db.add(
            AuditEntry(
                actor_id=caller(request).id,
                action="ticket_category.created",
                target_type="ticket_category",
                target_id=str(row.id),
                details=body.model_dump(mode="json"),
                created_at=now,
            )
        )
        return category_json(row)


@api.route(
    "PUT",
    "/api/ticket-categories/{id}",
    access=Access.ADMIN,
    body=CategoryIn,
    summary="Change a category's label, tiers, default priority or active flag (its code stays)",
    responses={409: "The code cannot be changed"},
)
async def update_ticket_category(request: web.Request, body: CategoryIn) -> dict[str, Any]:
    """Audited; tickets keep their tier number and follow the new tiers from their next escalation."""
    now = request.app[CLOCK].now()
    async with request.app[SESSIONS].begin() as db:
        row = await db.get(TicketCategory, path_id(request))
        if row is None:
            raise NotFound("no such category")
        if body.code != row.code:
            raise Conflict("a category's code cannot change (tickets refer to it)")
        row.label, row.default_priority, row.active = body.label, body.default_priority, body.active
        row.tiers = [t.model_dump() for t in body.tiers]
        db.add(
            AuditEntry(
                actor_id=caller(request).id,
                action="ticket_category.updated",
                target_type="ticket_category",
                target_id=str(row.id),
                details=body.model_dump(mode="json"),
                created_at=now,
            )
        )
        return category_json(row)


# saved views -------------------------------------------------------------------------------------------


@api.get("/api/ticket-views", access=Access.AGENT, summary="The caller's saved ticket views and shared ones")
async def list_ticket_views(request: web.Request) -> list[dict[str, Any]]:
    """Own views first."""
    user = caller(request)
    async with request.app[SESSIONS]() as db:
        rows = (
            await db.execute(
                select(TicketView)
                .where((TicketView.user_id == user.id) | TicketView.shared.is_(True))
                .order_by(TicketView.name, TicketView.id)
            )
        ).scalars()
        views = [view_json(r) for r in rows]
    return sorted(views, key=lambda v: v["user_id"] != user.id)


@api.post("/api/ticket-views", access=Access.AGENT, body=ViewIn, status=201, summary="Save a ticket view")
async def create_ticket_view(request: web.Request, body: ViewIn) -> dict[str, Any]:
    """Only supervisors and admins share views with everyone."""
    user = caller(request)
    if body.shared and user.role == Role.AGENT:
        raise PermissionDenied("only supervisors and administrators share views")
    try:
        TicketQuery.model_validate(body.filters)  # the same filters as the list, checked now
    except ValidationError as exc:
        raise InvalidInput(f"filters: {exc.errors()[0]['msg']}") from None
    async with request.app[SESSIONS].begin() as db:
        row = TicketView(
            user_id=user.id,
            name=body.name,
            filters=body.filters,
            shared=body.shared,
            created_at=request.app[CLOCK].now(),
        )
        db.add(row)
        await db.flush()
        return view_json(row)


@api.delete(
    "/api/ticket-views/{id}", access=Access.AGENT, status=204, summary="Delete one of your saved views"
)
async def delete_ticket_view(request: web.Request) -> None:
    """Administrators may delete shared views of others."""
    user = caller(request)
    async with request.app[SESSIONS].begin() as db:
        row = await db.get(TicketView, path_id(request))
        if row is None or not (row.user_id == user.id or (row.shared and user.role == Role.ADMIN)):
            raise NotFound("no such view")
        await db.delete(row)
