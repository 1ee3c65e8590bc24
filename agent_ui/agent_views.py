"""What the console is sent: conversation summaries, messages, offers with the screen-pop, the agent's state.

Plain JSON-ready dictionaries; the shapes are documented in docs/agent-protocol.md.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

from aiohttp import web
from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from contact_center.customers.view360 import customer_360, screen_pops
from contact_center.db.engine import reading as read_only
from contact_center.db.models import Conversation, Customer, Message, Ticket, User
from contact_center.tickets.routing_link import is_ticket_task
from contact_center.web.appkeys import CLOCK, CUSTOMERS, ROUTING, SESSIONS, SETTINGS
from routing.store import RoutingError

HELD_STATES = ("assigned", "wrapping")
TRANSCRIPT_LENGTH = 200


@asynccontextmanager
async def reading(app: web.Application) -> AsyncIterator[AsyncSession]:
    """A session of the app's database that only reads (contact_center.db.engine.reading)."""
    async with read_only(app[SESSIONS]) as db:
        yield db


def iso(moment: datetime | float | None) -> str | None:
    """ISO 8601 of a datetime or of seconds since the epoch."""
    if moment is None:
        return None
    if isinstance(moment, int | float):
        moment = datetime.fromtimestamp(moment, UTC)
    return moment.isoformat()


def message_view(message: Message) -> dict[str, Any]:
    """A message of any channel as the console shows it."""
    return {
        "id": message.id,
        "conversation_id": message.conversation_id,
        "channel": message.channel,
        "direction": message.direction,
        "author_kind": message.author_kind,
        "author_id": message.author_id,
        "body": message.body,
        "created_at": iso(message.created_at),
        "delivery_status": message.delivery_status,
        "media": message.media,
        "attributes": message.attributes,
    }


def conversation_view(
    conversation: Any, customer_name: str, wrap_up_until: float | None = None
) -> dict[str, Any]:
    """A conversation summary (a tab of the workspace), of a Conversation or a row of its columns."""
    return {
        "id": conversation.id,
        "channel": conversation.channel,
        "status": conversation.status,
        "subject": conversation.subject,
        "snippet": conversation.snippet,
        "customer_id": conversation.customer_id,
        "customer_name": customer_name,
        "agent_id": conversation.agent_id,
        "queue": conversation.queue,
        "task_id": conversation.task_id,
        "routing_state": conversation.routing_state,
        "language": conversation.language,
        "complaint": conversation.complaint,
        "started_at": iso(conversation.started_at),
        "answered_at": iso(conversation.answered_at),
        "wrap_up_until": iso(wrap_up_until),
        "disposition": conversation.disposition,
        "contact_reason": conversation.contact_reason,
    }


# Built once (the offer path reuses their compiled form): a conversation's columns and its customer's name.
_SUMMARY = select(Conversation.__table__, Customer.display_name.label("customer_name")).join(
    Customer, Customer.id == Conversation.customer_id
)
_SUMMARY_BY_ID = _SUMMARY.where(Conversation.id == bindparam("key"))
_SUMMARIES_BY_TASK = _SUMMARY.where(Conversation.task_id.in_(bindparam("task_ids", expanding=True)))
_CONVERSATIONS_BY_TASK = select(Conversation.__table__).where(
    Conversation.task_id.in_(bindparam("task_ids", expanding=True))
)


async def conversation_summary(app: web.Application, conversation_id: int) -> dict[str, Any] | None:
    """The summary of one conversation read now (None when it does not exist)."""
    return await _summary_where(app, _SUMMARY_BY_ID, conversation_id)


async def summary_of_task(app: web.Application, task_id: str) -> dict[str, Any] | None:
    """The summary of the conversation a routing task belongs to (None when there is none)."""
    return (await summaries_of_tasks(app, [task_id])).get(task_id)


async def summaries_of_tasks(app: web.Application, task_ids: list[str]) -> dict[str, dict[str, Any]]:
    """The summaries of the conversations of several routing tasks, read together, by task id (a task
    without a conversation is left out)."""
    async with reading(app) as db:
        rows = (await db.execute(_SUMMARIES_BY_TASK, {"task_ids": task_ids})).all()
    return {
        row.task_id: conversation_view(row, row.customer_name, await _wrap_up_until(app, row.task_id))
        for row in rows
    }


async def _summary_where(app: web.Application, query: Any, key: int | str) -> dict[str, Any] | None:
    async with reading(app) as db:
        row = (await db.execute(query, {"key": key})).first()
    if row is None:
        return None
    return conversation_view(row, row.customer_name, await _wrap_up_until(app, row.task_id))


async def conversation_of_task(db: AsyncSession, task_id: str) -> Conversation | None:
    """The conversation a routing task belongs to."""
    return (
        await db.execute(select(Conversation).where(Conversation.task_id == task_id))
    ).scalar_one_or_none()


async def transcript(db: AsyncSession, conversation_id: int) -> list[dict[str, Any]]:
    """The last messages of a conversation, oldest first (internal notes included)."""
    rows = (
        await db.execute(
            select(Message)
            .where(Message.conversation_id == conversation_id)
            .order_by(Message.id.desc())
            .limit(TRANSCRIPT_LENGTH)
        )
    ).scalars()
    return [message_view(m) for m in reversed(list(rows))]


async def offer_view(app: web.Application, event: dict[str, Any]) -> dict[str, Any] | None:
    """The `offer` of a `routing.task.offered` event: the task, its conversation (or ticket) and the
    screen-pop."""
    [offer] = await offer_views(app, [event])
    return offer


async def offer_views(app: web.Application, events: list[dict[str, Any]]) -> list[dict[str, Any] | None]:
    """The offers of several `routing.task.offered` events (those published at one moment), in their order;
    the conversations and screen-pops are read together, one query per part for all of them. None for an
    offer whose conversation or customer is gone."""
    task_ids = [event["task_id"] for event in events if not is_ticket_task(event["task_id"])]
    async with reading(app) as db:
        rows = (await db.execute(_CONVERSATIONS_BY_TASK, {"task_ids": task_ids})).all() if task_ids else []
        conversations = {row.task_id: row for row in rows}
        pops = await screen_pops(db, app[CUSTOMERS], [row.customer_id for row in rows])
    offers = []
    for event in events:
        if is_ticket_task(event["task_id"]):
            offers.append(await _ticket_offer(app, event))
            continue
        conversation = conversations.get(event["task_id"])
        pop = pops.get(conversation.customer_id) if conversation is not None else None
        if conversation is None or pop is None:
            offers.append(None)
            continue
        offers.append(
            {
                **await _offer_envelope(app, event),
                "conversation_id": conversation.id,
                "channel": conversation.channel,
                "priority": conversation.priority,
                "conversation": conversation_view(conversation, pop["customer"]["display_name"]),
                "customer": pop,
            }
        )
    return offers


async def ticket_of_task(app: web.Application, task_id: str) -> dict[str, Any] | None:
    """The ticket an agent just accepted (`ticket:assigned`), with where to open it."""
    async with reading(app) as db:
        ticket = await _ticket_of_task(db, task_id)
    if ticket is None:
        return None
    return {
        "ticket_id": ticket.id,
        "reference": f"T-{ticket.id}",
        "subject": ticket.subject,
        "tier": ticket.tier,
        "task_id": task_id,
        "url": f"/tickets/{ticket.id}",
    }


async def _ticket_offer(app: web.Application, event: dict[str, Any]) -> dict[str, Any] | None:
    """The offer of a ticket's routing task: the ticket in place of a conversation, and the screen-pop."""
    async with reading(app) as db:
        ticket = await _ticket_of_task(db, event["task_id"])
        if ticket is None:
            return None
        pop = await customer_360(db, app[CUSTOMERS], ticket.customer_id)
    return {
        **await _offer_envelope(app, event),
        "conversation_id": None,
        "ticket_id": ticket.id,
        "channel": "ticket",
        "priority": ticket.priority,
        "conversation": {
            "id": None,
            "channel": "ticket",
            "subject": f"T-{ticket.id} (L{ticket.tier}): {ticket.subject}",
            "snippet": ticket.description[:280],
            "customer_name": pop["customer"]["display_name"],
        },
        "ticket": {
            "id": ticket.id,
            "reference": f"T-{ticket.id}",
            "tier": ticket.tier,
            "url": f"/tickets/{ticket.id}",
        },
        "customer": pop,
    }


async def _offer_envelope(app: web.Application, event: dict[str, Any]) -> dict[str, Any]:
    """What every offer carries whatever is offered: the reservation, the task, its timing and queue."""
    data = event["data"]
    offered_at = datetime.fromisoformat(event["at"]).timestamp()
    expires_at = float(data.get("expires_at") or offered_at)
    return {
        "reservation_id": data["reservation_id"],
        "task_id": event["task_id"],
        "queue": event.get("queue"),
        "offered_at": iso(offered_at),
        "expires_at": iso(expires_at),
        "timeout_seconds": round(max(0.0, expires_at - offered_at), 1),
        "transfer_note": await _transfer_note(app, event["task_id"]),
    }


async def _ticket_of_task(db: AsyncSession, task_id: str) -> Ticket | None:
    return (await db.execute(select(Ticket).where(Ticket.task_id == task_id))).scalar_one_or_none()


async def state_view(app: web.Application, user: User) -> dict[str, Any]:
    """Everything a console needs to draw itself: presence, the open offer, the conversations held."""
    routing = app[ROUTING]
    view = await routing.agent_view(user.id)
    offers = []
    if view["offer"]:
        offer = await _open_offer(app, view["offer"])
        if offer is not None:
            offers.append(offer)
    async with reading(app) as db:
        rows = (
            await db.execute(
                select(Conversation, Customer.display_name)
                .join(Customer, Customer.id == Conversation.customer_id)
                .where(Conversation.agent_id == user.id, Conversation.routing_state.in_(HELD_STATES))
                .order_by(Conversation.answered_at)
            )
        ).all()
    agent = await routing.engine.store.get_agent(str(user.id))
    settings = app[SETTINGS]
    return {
        "agent": {"id": user.id, "name": user.display_name, "role": user.role},
        "presence": presence_view(view["presence"], view["reason"], agent.presence_since),
        "offers": offers,
        "conversations": [
            conversation_view(row[0], row[1], await _wrap_up_until(app, row[0].task_id)) for row in rows
        ],
        "capacity": agent.profile.capacity,
        "twilio_voice": bool(settings.twilio_enabled and settings.twilio_twiml_app_sid),
        "server_time": iso(app[CLOCK].now()),
    }


def presence_view(state: str, reason: str | None, since: float) -> dict[str, Any]:
    """The `presence` payload."""
    return {"state": state, "reason": reason, "since": iso(since)}


async def _open_offer(app: web.Application, reservation_id: str) -> dict[str, Any] | None:
    store = app[ROUTING].engine.store
    try:
        reservation = await store.get_reservation(reservation_id)
        task = await store.get_task(reservation.task_id)
    except RoutingError:
        return None
    event = {
        "task_id": task.id,
        "queue": task.queue,
        "at": iso(reservation.created_at),
        "data": {"reservation_id": reservation.id, "expires_at": reservation.expires_at},
    }
    return await offer_view(app, event)


async def _transfer_note(app: web.Application, task_id: str) -> str | None:
    try:
        task = await app[ROUTING].engine.store.get_task(task_id)
    except RoutingError:
        return None
    transfers = [step for step in task.history if "from_agent" in step]  # not escalations or fallbacks
    return (transfers[-1].get("note") or None) if transfers else None


async def _wrap_up_until(app: web.Application, task_id: str | None) -> float | None:
    if task_id is None:
        return None
    try:
        task = await app[ROUTING].engine.store.get_task(task_id)
    except RoutingError:
        return None
    return task.wrap_up_until
