"""Web chat: what a chat customer does (start, write, type, read, rate, ask for the transcript, leave a
message when nobody is there) and what an agent sends back, turned into the core's terms.

The socket.io transport (agent_ui/chat_namespace.py) calls these functions; they store through intake and
publish `chat.*` events on the bus, which the transport turns into socket events for the customer's tabs
and the agent's console. A chat belongs to the visitor's customer record (identity kind "chat"), or, for a
website's logged-in user proven by HMAC, to that user's record (identity kind "crm").
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from channels import email_outbound
from channels.chat_tokens import identity_proven
from contact_center.customers.identity import normalise_email
from contact_center.db.models import (
    Conversation,
    Customer,
    CustomerIdentity,
    Message,
    SatisfactionRating,
    Ticket,
)
from contact_center.errors import Conflict, InvalidInput, NotFound
from contact_center.intake import SNIPPET, InboundContact
from contact_center.language import detect_language
from contact_center.reports.store import count_rating
from contact_center.web.appkeys import CLOCK, EVENTS, INTAKE, ROUTING, SESSIONS, SETTINGS, TICKETS

log = logging.getLogger(__name__)

MAX_TEXT = 4000
ROUTED_STATES = ("queued", "offered", "assigned")


class ChatStart(BaseModel):
    """The pre-chat form, with the first message."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str = Field(min_length=1, max_length=100)
    email: str | None = Field(default=None, max_length=320)
    topic: str = Field(default="", max_length=100)
    text: str = Field(min_length=1, max_length=MAX_TEXT)
    user_id: str | None = Field(default=None, max_length=100, pattern=r"^[A-Za-z0-9._:@-]+$")
    user_hash: str | None = Field(default=None, max_length=128)

    _email = field_validator("email")(lambda value: _email_address(value) if value else None)


class ChatText(BaseModel):
    """A message from the customer; `client_id` makes a resend after a reconnect harmless."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    text: str = Field(min_length=1, max_length=MAX_TEXT)
    client_id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")


class ChatRating(BaseModel):
    """The satisfaction rating at the end of a chat."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    score: int = Field(ge=1, le=5)
    comment: str = Field(default="", max_length=2000)


class OfflineMessage(BaseModel):
    """The form a customer fills in when nobody can chat: it becomes a ticket and an email."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str = Field(min_length=1, max_length=100)
    email: str = Field(max_length=320)
    text: str = Field(min_length=1, max_length=MAX_TEXT)

    _email = field_validator("email")(lambda value: _email_address(value))


def _email_address(value: str) -> str:
    """A usable email address, normalised (ValueError for anything else)."""
    try:
        return normalise_email(value)
    except InvalidInput as exc:
        raise ValueError(str(exc)) from None


def parse(model: type[BaseModel], data: object) -> Any:
    """`data` as `model`, or InvalidInput naming the first problem."""
    try:
        return model.model_validate(data if isinstance(data, dict) else {})
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "payload"
        raise InvalidInput(f"{where}: {first['msg']}") from None


@dataclass(frozen=True)
class Topic:
    """A choice of the pre-chat form and the queue it leads to."""

    label: str
    queue: str


def topics(app: web.Application) -> list[Topic]:
    """The pre-chat form's topics (CC_CHAT_TOPICS: "Label=queue,...")."""
    return [Topic(label, queue) for label, queue in app[SETTINGS].chat_topic_pairs]


# the customer's side -------------------------------------------------------------------------------


async def availability(app: web.Application) -> str | None:
    """Why a chat cannot start now ("closed", "no_agents"), or None when it can."""
    from channels.voice import IVR  # the same opening hours and holidays as the phone line

    if IVR in app and not app[IVR].is_open(app[CLOCK].now()):
        return "closed"
    if await app[ROUTING].agents_staffed() == 0:
        return "no_agents"
    return None


async def open_conversation(app: web.Application, visitor: str) -> Conversation | None:
    """The visitor's chat that is still open (an agent may have finished it: a new message reopens it)."""
    async with app[SESSIONS]() as db:
        customer_id = await _customer_of_visitor(db, visitor)
        if customer_id is None:
            return None
        query = (
            select(Conversation)
            .where(
                Conversation.customer_id == customer_id,
                Conversation.channel == "chat",
                Conversation.status == "open",
            )
            .order_by(Conversation.id.desc())
            .limit(1)
        )
        return (await db.execute(query)).scalar_one_or_none()


async def start(app: web.Application, visitor: str, form: ChatStart) -> Conversation:
    """The pre-chat form: the customer record (the website's user when proven), the conversation, the
    first message, and the routing task for the topic's queue (language detected from the text)."""
    settings = app[SETTINGS]
    identities = [("chat", visitor)]
    proven = form.user_id is not None and identity_proven(
        settings.chat_identity_secret.get_secret_value(), form.user_id, form.user_hash
    )
    if form.user_id is not None and not proven:
        raise InvalidInput("user_hash does not prove user_id")
    if proven:
        identities.insert(0, ("crm", str(form.user_id)))
        if form.email:
            identities.append(("email", str(form.email)))
    queue = next((t.queue for t in topics(app) if t.label == form.topic or t.queue == form.topic), None)
    await app[INTAKE].receive(
        InboundContact(
            channel="chat",
            identities=identities,
            external_id=f"chat:{visitor}:start",
            name=form.name,
            text=form.text,
            subject=form.topic or None,
            queue=queue,
            language=detect_language(form.text, settings.language_candidate_list),
            complaint=queue == "complaints",
            attributes={"visitor": visitor, "name": form.name, "email": form.email, "verified": proven},
        )
    )
    conversation = await open_conversation(app, visitor)
    if conversation is None:
        raise Conflict("the chat could not be opened")
    await _published_message(app, conversation.id, f"chat:{visitor}:start")
    return conversation


async def customer_writes(
    app: web.Application, visitor: str, message: ChatText, known_conversation: int | None = None
) -> Message:
    """A message from the customer into their open chat (the same `client_id` twice is one message).

    While the chat is in routing's hands (waiting or with an agent) the message is simply added to it
    (`known_conversation`: the visitor's chat as the transport already knows it); otherwise it goes
    through intake, which routes the chat again.
    """
    external_id = f"chat:{visitor}:{message.client_id}"
    if known_conversation is not None:
        stored = await _add_message(app, known_conversation, external_id, message.text)
        if stored is not None:
            return stored
    conversation = await open_conversation(app, visitor)
    if conversation is None:
        raise NotFound("no chat is open; fill in the form to start one")
    stored = await _add_message(app, conversation.id, external_id, message.text)
    if stored is not None:
        return stored
    result = await app[INTAKE].receive(
        InboundContact(
            channel="chat",
            identities=[("chat", visitor)],
            external_id=external_id,
            text=message.text,
            conversation_id=conversation.id,
            attributes={"visitor": visitor},
        )
    )
    return await _published_message(app, conversation.id, external_id, publish=not result.duplicate)


async def _add_message(
    app: web.Application, conversation_id: int, external_id: str, text: str
) -> Message | None:
    """The customer's message added to an open chat routing holds, and announced (a resend finds the
    first); None when routing does not hold the chat (intake must take the message).

    The busiest write of a chat, so it is three plain statements rather than the ORM's unit of work.
    """
    now = app[CLOCK].now()
    async with app[SESSIONS].begin() as db:
        found = (
            await db.execute(
                select(Conversation.status, Conversation.routing_state, Conversation.agent_id).where(
                    Conversation.id == conversation_id
                )
            )
        ).first()
        if found is None or found.status != "open" or found.routing_state not in ROUTED_STATES:
            return None
        values = {
            "conversation_id": conversation_id,
            "channel": "chat",
            "direction": "in",
            "author_kind": "customer",
            "body": text,
            "external_id": external_id,
            "created_at": now,
            "media": [],
            "attributes": {},
        }
        inserted = await db.execute(_insert_new(db, Message).values(**values).returning(Message.id))
        new_id = inserted.scalar_one_or_none()
        if new_id is None:  # a resend: the first one stands
            query = select(Message).where(Message.channel == "chat", Message.external_id == external_id)
            return (await db.execute(query)).scalar_one()
        await db.execute(
            update(Conversation)
            .where(Conversation.id == conversation_id)
            .values(snippet=text[:SNIPPET], last_activity_at=now)
        )
    stored = Message(id=new_id, author_id=None, delivery_status=None, **values)
    await announce(app, stored, found.agent_id)
    return stored


def _insert_new(db: AsyncSession, model: Any) -> Any:
    """An INSERT that does nothing on a conflict with a unique constraint (SQLite or PostgreSQL)."""
    dialect = db.bind.dialect.name
    statement = sqlite_insert(model) if dialect == "sqlite" else postgresql_insert(model)
    return statement.on_conflict_do_nothing()


async def announce(app: web.Application, message: Message, agent_id: int | None) -> None:
    """Publish a new chat message (with the agent holding the chat, so nobody has to look it up)."""
    await app[EVENTS].publish(
        "chat.message",
        {"conversation_id": message.conversation_id, "agent_id": agent_id, "message": message_json(message)},
    )


async def typing(app: web.Application, conversation_id: int, who: str, is_typing: bool) -> None:
    """Someone started or stopped typing."""
    await app[EVENTS].publish(
        "chat.typing", {"conversation_id": conversation_id, "who": who, "typing": bool(is_typing)}
    )


async def mark_read(app: web.Application, conversation_id: int, reader: str, message_id: int) -> None:
    """The reader ("customer" or "agent") has seen the messages up to `message_id`."""
    now = app[CLOCK].now()
    async with app[SESSIONS].begin() as db:
        query = select(Message).where(
            Message.conversation_id == conversation_id,
            Message.id <= message_id,
            Message.channel == "chat",
            Message.author_kind != reader,
        )
        for message in (await db.execute(query)).scalars():
            if not message.attributes.get("read_at"):
                message.attributes = {**message.attributes, "read_at": now.isoformat()}
    await app[EVENTS].publish(
        "chat.read", {"conversation_id": conversation_id, "who": reader, "message_id": message_id}
    )


async def end(app: web.Application, visitor: str) -> int | None:
    """The customer leaves: a chat still waiting leaves the queue; one with an agent goes to wrap-up."""
    conversation = await open_conversation(app, visitor)
    if conversation is None:
        return None
    now = app[CLOCK].now()
    async with app[SESSIONS].begin() as db:
        row = await db.get(Conversation, conversation.id)
        assert row is not None
        row.ended_at, row.status = row.ended_at or now, "closed"
        task_id, state, agent_id = row.task_id, row.routing_state, row.agent_id
    if task_id is not None:
        try:
            if state in ("pending", "queued", "offered"):
                await app[ROUTING].cancel(task_id, "customer left the chat")
            elif state == "assigned" and agent_id is not None:
                await app[ROUTING].complete(agent_id, task_id)
        except (Conflict, NotFound):
            pass  # routing already moved on (it timed out, or the agent completed it)
    await app[EVENTS].publish("chat.ended", {"conversation_id": conversation.id, "by": "customer"})
    return conversation.id


async def rate(app: web.Application, visitor: str, conversation_id: int, rating: ChatRating) -> None:
    """Keep the customer's rating of a chat of theirs (the last one given counts)."""
    now = app[CLOCK].now()
    async with app[SESSIONS].begin() as db:
        conversation = await _visitors_conversation(db, visitor, conversation_id)
        row = (
            await db.execute(
                select(SatisfactionRating).where(SatisfactionRating.conversation_id == conversation.id)
            )
        ).scalar_one_or_none()
        zone = ZoneInfo(app[SETTINGS].timezone)
        where = {
            "queue": conversation.queue,
            "agent_id": conversation.agent_id,
            "channel": "chat",
            "zone": zone,
        }
        if row is None:
            row = SatisfactionRating(
                conversation_id=conversation.id, customer_id=conversation.customer_id, channel="chat"
            )
            db.add(row)
        else:
            await count_rating(db, at=row.created_at, score=row.score, withdraw=True, **where)
        row.score, row.comment, row.created_at = rating.score, rating.comment, now
        await count_rating(db, at=now, score=rating.score, **where)
    await app[EVENTS].publish(
        "satisfaction.rated",
        {"conversation_id": conversation_id, "score": rating.score, "channel": "chat"},
    )


async def send_transcript(app: web.Application, visitor: str, conversation_id: int) -> int:
    """Email the chat's transcript to the address given in the pre-chat form; the outbox row's id."""
    settings = app[SETTINGS]
    if not settings.email_sending_enabled:
        raise Conflict("email is not configured here")
    now = app[CLOCK].now()
    async with app[SESSIONS].begin() as db:
        conversation = await _visitors_conversation(db, visitor, conversation_id)
        messages = await _chat_messages(db, conversation.id)
        address = next((m.attributes.get("email") for m in messages if m.attributes.get("email")), None)
        if not address:
            raise InvalidInput("no email address was given for this chat")
        if any(m.attributes.get("transcript_sent") for m in messages if m.channel == "email"):
            raise Conflict("the transcript was sent already")
        lines = [
            f"[{m.created_at:%Y-%m-%d %H:%M} UTC] {_author(m)}: {m.body}"
            for m in messages
            if m.channel == "chat"
        ]
        _, row = await email_outbound.queue_email(
            db,
            settings,
            conversation_id=conversation.id,
            kind="transcript",
            author_id=None,
            to=address,
            subject=f"Your chat with us [#C-{conversation.id}]",
            body="Here is the transcript of your chat.\n\n" + "\n".join(lines) + "\n",
            now=now,
            in_reply_to=None,
            references=[],
        )
        sent = await db.get(Message, row.message_id)
        assert sent is not None
        sent.attributes = {**sent.attributes, "transcript_sent": True}
        outbox_id = row.id
    email_outbound.start_delivery(app, outbox_id)
    return outbox_id


async def leave_message(app: web.Application, visitor: str, form: OfflineMessage) -> int:
    """Nobody can chat now: the message becomes a ticket, and the customer gets an email saying so."""
    settings = app[SETTINGS]
    result = await app[INTAKE].receive(
        InboundContact(
            channel="chat",
            identities=[("chat", visitor)],
            external_id=f"chat:{visitor}:offline:{hashlib.sha256(form.text.encode()).hexdigest()[:16]}",
            name=form.name,
            text=form.text,
            subject="Offline message from the chat",
            route=False,
            attributes={"visitor": visitor, "name": form.name, "email": str(form.email), "offline": True},
        )
    )
    now = app[CLOCK].now()
    async with app[SESSIONS].begin() as db:
        query = select(Ticket).where(
            Ticket.conversation_id == result.conversation_id, Ticket.source == "chat"
        )
        existing = (await db.execute(query.limit(1))).scalar_one_or_none()
        if existing is not None:
            return existing.id
        ticket = Ticket(
            customer_id=result.customer_id,
            subject=f"Chat message from {form.name}",
            category="service_request",
            status="new",
            priority="normal",
            conversation_id=result.conversation_id,
            description=form.text,
            created_at=now,
            updated_at=now,
            source="chat",
        )
        db.add(ticket)
        opened = await app[TICKETS].opened(db, ticket, actor_id=None)
        conversation = await db.get(Conversation, result.conversation_id)
        assert conversation is not None
        conversation.ended_at, conversation.status = now, "closed"
        ticket_id, outbox_id = ticket.id, None
        if settings.email_sending_enabled:
            _, row = await email_outbound.queue_email(
                db,
                settings,
                conversation_id=result.conversation_id,
                kind="offline_ack",
                author_id=None,
                to=str(form.email),
                subject=f"We received your message [#T-{ticket_id}]",
                body=(
                    f"Hello {form.name},\n\nThank you for your message. Nobody could chat just then; "
                    f"we have opened ticket T-{ticket_id} and will answer you by email.\n\nYou wrote:\n\n"
                    + "\n".join(f"> {line}" for line in form.text.splitlines())
                    + "\n"
                ),
                now=now,
                in_reply_to=None,
                references=[],
            )
            outbox_id = row.id
    if outbox_id is not None:
        email_outbound.start_delivery(app, outbox_id)
    await app[TICKETS].after_commit_of(opened)
    return ticket_id


async def history(app: web.Application, conversation_id: int) -> list[dict[str, Any]]:
    """The chat's messages so far, as the widget shows them."""
    async with app[SESSIONS]() as db:
        return [message_json(m) for m in await _chat_messages(db, conversation_id) if m.channel == "chat"]


# the agent's side ----------------------------------------------------------------------------------


async def agent_writes(app: web.Application, conversation_id: int, agent_id: int, text: str) -> Message:
    """An agent's message into a chat they hold (PermissionDenied is the caller's check)."""
    return await _outgoing(app, conversation_id, agent_id, text)


async def system_writes(app: web.Application, conversation_id: int, text: str) -> Message | None:
    """A message from the service itself (a survey, say) into a chat; None if the customer has left."""
    try:
        return await _outgoing(app, conversation_id, None, text)
    except Conflict:
        return None


async def _outgoing(app: web.Application, conversation_id: int, agent_id: int | None, text: str) -> Message:
    text = text.strip()
    if not text or len(text) > MAX_TEXT:
        raise InvalidInput(f"a chat message has 1 to {MAX_TEXT} characters")
    now = app[CLOCK].now()
    async with app[SESSIONS].begin() as db:
        conversation = await db.get(Conversation, conversation_id)
        if conversation is None or conversation.channel != "chat":
            raise NotFound(f"no chat {conversation_id}")
        if conversation.status != "open":
            raise Conflict("the customer has left this chat")
        message = Message(
            conversation_id=conversation_id,
            channel="chat",
            direction="out",
            author_kind="agent" if agent_id is not None else "system",
            author_id=agent_id,
            body=text,
            created_at=now,
            media=[],
            attributes={},
        )
        db.add(message)
        conversation.last_activity_at = now
        await db.flush()
        holder = conversation.agent_id
    await announce(app, message, holder)
    return message


# shared --------------------------------------------------------------------------------------------


def message_json(message: Message) -> dict[str, Any]:
    """A chat message as both sides see it (the text is plain text: the page escapes it)."""
    return {
        "id": message.id,
        "conversation_id": message.conversation_id,
        "author": message.author_kind,
        "author_id": message.author_id,
        "text": message.body,
        "at": message.created_at.isoformat(),
        "read_at": message.attributes.get("read_at"),
        "client_id": (message.external_id or "").rsplit(":", 1)[-1] if message.external_id else None,
        "files": [
            {
                "id": entry["id"],
                "name": entry["name"],
                "type": entry["type"],
                "size": entry["size"],
                "url": f"/chat/files/{message.id}/{entry['id']}",
            }
            for entry in message.media or []
            if "id" in entry
        ],
    }


def _author(message: Message) -> str:
    return {"customer": "You", "agent": "Agent"}.get(message.author_kind, "Us")


async def _published_message(
    app: web.Application, conversation_id: int, external_id: str, *, publish: bool = True
) -> Message:
    """The stored message with this external id, announced on the bus (once: not for a resend)."""
    async with app[SESSIONS]() as db:
        message = (
            await db.execute(
                select(Message).where(
                    Message.conversation_id == conversation_id, Message.external_id == external_id
                )
            )
        ).scalar_one()
        conversation = await db.get(Conversation, conversation_id)
        agent_id = conversation.agent_id if conversation is not None else None
    if publish:
        await announce(app, message, agent_id)
    return message


async def customer_of_visitor(app: web.Application, visitor: str) -> int | None:
    """The customer record a chat visitor belongs to (after merges), if any."""
    async with app[SESSIONS]() as db:
        return await _customer_of_visitor(db, visitor)


async def _customer_of_visitor(db: AsyncSession, visitor: str) -> int | None:
    query = select(CustomerIdentity.customer_id).where(
        CustomerIdentity.kind == "chat", CustomerIdentity.value == visitor
    )
    customer_id = (await db.execute(query)).scalar_one_or_none()
    if customer_id is None:
        return None
    customer = await db.get(Customer, customer_id)
    while customer is not None and customer.merged_into_id is not None:  # follow a merge
        customer = await db.get(Customer, customer.merged_into_id)
    return customer.id if customer is not None else None


async def _visitors_conversation(db: AsyncSession, visitor: str, conversation_id: int) -> Conversation:
    """The conversation, when it is a chat of this visitor's customer (NotFound otherwise, whoever's)."""
    customer_id = await _customer_of_visitor(db, visitor)
    conversation = await db.get(Conversation, conversation_id)
    if conversation is None or conversation.channel != "chat" or conversation.customer_id != customer_id:
        raise NotFound(f"no chat {conversation_id} of yours")
    return conversation


async def _chat_messages(db: AsyncSession, conversation_id: int) -> list[Message]:
    """What the customer may see of the chat: every message but the agents' internal notes."""
    query = (
        select(Message)
        .where(Message.conversation_id == conversation_id, Message.direction != "internal")
        .order_by(Message.id)
    )
    return list((await db.execute(query)).scalars())
