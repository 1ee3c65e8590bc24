"""What an agent does from the console: replies on any channel, internal notes, and the wrap-up.

The socket namespace checks who may act; these functions do the work through the channels and the core.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal
from zoneinfo import ZoneInfo

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from agent_ui.agent_views import conversation_of_task
from channels.replies import send_to_customer
from contact_center.console.codes import active_code
from contact_center.customers.identity import normalise_email
from contact_center.db.models import Conversation, Message, Ticket, TicketConversation
from contact_center.errors import Conflict, InvalidInput, NotFound
from contact_center.events import EventBus
from contact_center.reports.store import count_wrap_up
from contact_center.web.appkeys import CLOCK, EVENTS, ROUTING, SESSIONS, SETTINGS, TICKETS

MAX_TEXT = 20_000


class ReplyIn(BaseModel):
    """A reply to the customer; `subject`, `cc` and `quote` are for email."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    conversation_id: int
    text: str = Field(min_length=1, max_length=MAX_TEXT)
    subject: str | None = Field(default=None, max_length=300)
    cc: list[str] = Field(default_factory=list, max_length=10)
    quote: bool = False

    @field_validator("cc")
    @classmethod
    def _addresses(cls, values: list[str]) -> list[str]:
        try:
            return [normalise_email(value) for value in values]
        except InvalidInput as exc:
            raise ValueError(f"cc: {exc}") from None


class NoteIn(BaseModel):
    """An internal note: colleagues see it, the customer never does."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    conversation_id: int
    text: str = Field(min_length=1, max_length=MAX_TEXT)


class TicketIn(BaseModel):
    """A ticket (or complaint) opened at wrap-up."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    category: Literal["complaint", "service_request", "inquiry", "repair"]
    subject: str = Field(min_length=1, max_length=300)
    description: str = Field(default="", max_length=MAX_TEXT)
    priority: Literal["low", "normal", "high", "urgent"] = "normal"


class WrapUpIn(BaseModel):
    """The agent's after-contact work: how it ended, why the customer came, a note, maybe a ticket."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    task_id: str = Field(min_length=1, max_length=64)
    disposition: str = Field(min_length=1, max_length=64)
    reason: str | None = Field(default=None, max_length=64)
    note: str = Field(default="", max_length=MAX_TEXT)
    ticket: TicketIn | None = None


@dataclass(frozen=True)
class WrapUpResult:
    """What wrap-up stored."""

    conversation_id: int
    ticket_id: int | None


async def reply(app: web.Application, user_id: int, body: ReplyIn) -> Message:
    """Send the reply through the conversation's own channel."""
    async with app[SESSIONS]() as db:
        conversation = await db.get(Conversation, body.conversation_id)
    if conversation is None:
        raise NotFound(f"no conversation {body.conversation_id}")
    text = body.text
    if conversation.channel == "email" and body.quote:
        text = text + "\n\n" + await _quoted_last_message(app, conversation.id)
    return await send_to_customer(app, conversation, user_id, text, body.subject or None, cc=body.cc)


async def add_note(app: web.Application, user_id: int, body: NoteIn) -> Message:
    """Store an internal note on the conversation and tell the agent's other tabs."""
    now = app[CLOCK].now()
    async with app[SESSIONS].begin() as db:
        conversation = await db.get(Conversation, body.conversation_id)
        if conversation is None:
            raise NotFound(f"no conversation {body.conversation_id}")
        note = Message(
            conversation_id=conversation.id,
            channel=conversation.channel,
            direction="internal",
            author_kind="agent",
            author_id=user_id,
            body=body.text,
            created_at=now,
            media=[],
            attributes={},
        )
        db.add(note)
        await db.flush()
    await announce_sent(app[EVENTS], conversation.id, note.id, user_id)
    return note


async def wrap_up(app: web.Application, user_id: int, body: WrapUpIn, *, supervisor: bool) -> WrapUpResult:
    """Store the disposition, reason and note (and a ticket if asked), then end the wrap-up.

    Codes must be active entries of the administrators' lists. Submitting again corrects the codes; a
    ticket is opened once per conversation at wrap-up.
    """
    now = app[CLOCK].now()
    ticket_id, opened = None, None
    async with app[SESSIONS].begin() as db:
        if await active_code(db, "disposition", body.disposition) is None:
            raise InvalidInput(f"disposition: {body.disposition!r} is not an active disposition code")
        if body.reason and await active_code(db, "contact_reason", body.reason) is None:
            raise InvalidInput(f"reason: {body.reason!r} is not an active contact reason")
        conversation = await conversation_of_task(db, body.task_id)
        if conversation is None:
            raise NotFound(f"no contact with task {body.task_id}")
        # locked, so a form sent twice at once waits here and finds the first one's ticket
        await db.execute(select(Conversation.id).where(Conversation.id == conversation.id).with_for_update())
        # the stored agent comes with the accept's event, written in the background: routing knows first
        mine = conversation.agent_id == user_id or await app[ROUTING].handled_by(user_id, body.task_id)
        if not (mine or supervisor):
            raise Conflict("this contact is handled by another agent")
        await _count_codes(app, db, conversation, body, now)
        conversation.disposition, conversation.contact_reason = body.disposition, body.reason
        conversation.wrap_up_note, conversation.wrapped_by, conversation.wrapped_at = body.note, user_id, now
        if body.ticket is not None:
            ticket_id = await _wrap_up_ticket(db, conversation.id, body.ticket.category)
            if body.ticket.category == "complaint":
                conversation.complaint = True
            if ticket_id is None:
                ticket = _ticket_of_form(body.ticket, conversation, user_id, now)
                db.add(ticket)
                opened = await app[TICKETS].opened(db, ticket, actor_id=user_id)
                ticket_id = ticket.id
    await app[ROUTING].finish(user_id, body.task_id, supervisor=supervisor)
    if opened is not None:
        await app[TICKETS].after_commit_of(opened)
    return WrapUpResult(conversation.id, ticket_id)


async def _count_codes(
    app: web.Application, db: AsyncSession, conversation: Conversation, body: WrapUpIn, now: datetime
) -> None:
    """The wrap-up's codes in the contact-reason figures. A correction (a second wrap-up of the same contact:
    nothing answered since the first) takes the old codes back."""
    zone = ZoneInfo(app[SETTINGS].timezone)
    where = {"queue": conversation.queue, "channel": conversation.channel, "zone": zone}
    answered = conversation.answered_at
    if conversation.wrapped_at is not None and (answered is None or conversation.wrapped_at >= answered):
        old = {"disposition": conversation.disposition, "contact_reason": conversation.contact_reason}
        await count_wrap_up(db, at=conversation.wrapped_at, codes=old, withdraw=True, **where)
    new = {"disposition": body.disposition, "contact_reason": body.reason}
    await count_wrap_up(db, at=now, codes=new, **where)


def _ticket_of_form(form: TicketIn, conversation: Conversation, user_id: int, now: datetime) -> Ticket:
    """The ticket the wrap-up form asks for, held by the agent who wrapped up (complaints raised to high)."""
    complaint = form.category == "complaint"
    return Ticket(
        customer_id=conversation.customer_id,
        subject=form.subject,
        description=form.description,
        category=form.category,
        status="new",
        priority="high" if complaint and form.priority == "normal" else form.priority,
        severity="minor",
        conversation_id=conversation.id,
        source="wrap-up",
        assignee_id=user_id,
        tier=1,
        tags=[],
        custom_fields={},
        escalation_causes=[],
        created_at=now,
        updated_at=now,
    )


async def announce_sent(bus: EventBus, conversation_id: int, message_id: int, author_id: int) -> None:
    """Tell every console showing the conversation that a message was written there."""
    await bus.publish(
        "message.written",
        {"conversation_id": conversation_id, "message_id": message_id, "author_id": author_id},
    )


async def _wrap_up_ticket(db: AsyncSession, conversation_id: int, category: str) -> int | None:
    """The ticket this form would repeat: the one an earlier wrap-up of the conversation opened (a
    resubmitted form opens no second one), or, for a complaint, the live complaint already opened from
    the conversation."""
    earlier = (
        select(Ticket.id)
        .where(Ticket.conversation_id == conversation_id, Ticket.source == "wrap-up")
        .order_by(Ticket.id.desc())
    )
    found = (await db.execute(earlier.limit(1))).scalar_one_or_none()
    if found is not None or category != "complaint":
        return found
    complaint = (
        select(Ticket.id)
        .join(TicketConversation, TicketConversation.ticket_id == Ticket.id)
        .where(
            TicketConversation.conversation_id == conversation_id,
            Ticket.category == "complaint",
            Ticket.status.not_in(("resolved", "closed")),
        )
        .order_by(Ticket.id.desc())
    )
    return (await db.execute(complaint.limit(1))).scalar_one_or_none()


async def _quoted_last_message(app: web.Application, conversation_id: int) -> str:
    async with app[SESSIONS]() as db:
        last = (
            await db.execute(
                select(Message)
                .where(Message.conversation_id == conversation_id, Message.direction == "in")
                .order_by(Message.id.desc())
                .limit(1)
            )
        ).scalar_one_or_none()
    if last is None:
        return ""
    when = last.created_at.strftime("%d %b %Y %H:%M")
    sender = last.attributes.get("from") or "you"
    quoted = "\n".join(f"> {line}" for line in last.body.splitlines())
    return f"On {when} UTC, {sender} wrote:\n{quoted}"
