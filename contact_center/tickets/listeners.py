"""What tickets hear on the event bus: complaints flagged on a conversation open a complaint ticket;
customers' and agents' messages in linked conversations move the ticket and its clocks; an accepted
ticket task makes its agent the assignee."""

from __future__ import annotations

import logging
from collections.abc import Callable

from sqlalchemy import select

from contact_center.db.models import Conversation, Message, Ticket, TicketConversation
from contact_center.events import Event, EventBus, Gathering, published_here
from contact_center.tickets.routing_link import is_ticket_task
from contact_center.tickets.schemas import TicketCreate
from contact_center.tickets.service import TicketService
from contact_center.tickets.workflow import TicketState

log = logging.getLogger(__name__)
SOURCES = {"ivr": "ivr", "classifier": "classifier", "channel": "channel"}


def subscribe(bus: EventBus, service: TicketService) -> Callable[[], None]:
    """Register the ticket service's handlers; the returned function removes them."""

    async def on_complaint(event: Event) -> None:
        if published_here(bus, event):
            await open_complaint(service, event.payload)

    async def on_customer_message(event: Event) -> None:
        # chat messages are heard as chat.message (an open chat's messages do not pass through intake);
        # a rating that answered a survey is no reply to the ticket; a conversation this message opened has
        # no ticket yet
        if (
            published_here(bus, event)
            and event.payload.get("conversation_id")
            and event.payload.get("channel") != "chat"
            and not event.payload.get("survey_answer")
            and not event.payload.get("new_conversation")
        ):
            await service.customer_wrote(event.payload["conversation_id"], event.payload.get("message_id"))

    async def on_agent_message(event: Event) -> None:
        # a message without an author is the service's own (a survey, an acknowledgement): no reply
        if (
            published_here(bus, event)
            and event.payload.get("conversation_id")
            and event.payload.get("author_id")
        ):
            await service.agent_replied(event.payload["conversation_id"], event.payload["author_id"])

    async def on_chat_message(event: Event) -> None:
        message = event.payload.get("message") or {}
        if not published_here(bus, event) or not event.payload.get("conversation_id"):
            return
        if message.get("author") == "customer":
            await service.customer_wrote(event.payload["conversation_id"], message.get("id"))
        elif message.get("author") == "agent":
            await service.agent_replied(event.payload["conversation_id"], message.get("author_id"))

    accepted_together: Gathering[tuple[str, int]] = Gathering()

    async def on_accepted(event: Event) -> None:
        task_id, agent_id = event.payload.get("task_id"), event.payload.get("agent_id")
        if not (published_here(bus, event) and task_id and agent_id):
            return
        if is_ticket_task(task_id):
            await service.task_accepted(task_id, int(agent_id))
            return
        accepted = await accepted_together.join((task_id, int(agent_id)))
        if accepted:
            await service.conversations_accepted(accepted)

    stops = [
        bus.subscribe("conversation.complaint", on_complaint),
        bus.subscribe("message.received", on_customer_message),
        bus.subscribe("message.sent", on_agent_message),
        bus.subscribe("chat.message", on_chat_message),
        bus.subscribe("routing.task.accepted", on_accepted),
    ]

    def stop() -> None:
        for remove in stops:
            remove()

    return stop


async def open_complaint(service: TicketService, payload: dict[str, object]) -> int | None:
    """A complaint ticket for the flagged conversation, unless a live one is linked to it already."""
    conversation_id = int(str(payload["conversation_id"]))
    async with service.sessions() as db:
        conversation = await db.get(Conversation, conversation_id)
        if conversation is None:
            return None
        live = [s.value for s in TicketState if s not in (TicketState.RESOLVED, TicketState.CLOSED)]
        existing = (
            await db.execute(
                select(Ticket.id)
                .join(TicketConversation, TicketConversation.ticket_id == Ticket.id)
                .where(
                    TicketConversation.conversation_id == conversation_id,
                    Ticket.category == "complaint",
                    Ticket.status.in_(live),
                )
                .limit(1)
            )
        ).scalar_one_or_none()
        if existing is not None:
            return None
        first = (
            await db.execute(
                select(Message.body)
                .where(Message.conversation_id == conversation_id, Message.direction == "in")
                .order_by(Message.id.desc())
                .limit(1)
            )
        ).scalar_one_or_none()
    form = TicketCreate(
        customer_id=conversation.customer_id,
        subject=(conversation.subject or f"Complaint by {conversation.channel}")[:300],
        description=(first or "")[:20_000],
        category="complaint",
        conversation_id=conversation_id,
        assignee_id=conversation.agent_id,
        tags=[f"via-{conversation.channel}"],
    )
    source = SOURCES.get(str(payload.get("source")), "channel")
    # a conversation waiting for an agent brings its ticket along: whoever takes it holds the ticket too
    live = conversation.routing_state in ("pending", "queued", "offered", "assigned", "wrapping")
    ticket_id = await service.create(form, actor_id=None, source=source, route=not live)
    log.info("complaint ticket %s opened for conversation %s (%s)", ticket_id, conversation_id, source)
    return ticket_id
