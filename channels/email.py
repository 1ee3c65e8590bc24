"""Email: the adapter's surface (the agents' reply endpoint, and starting and stopping its parts).

In: the SMTP listener (`email_smtp`) and IMAP mailboxes (`email_imap`) hand each message to
`email_inbound.receive`: parsed (`email_parse`), threaded (`email_threading`, signed Message-IDs from
`email_ids`), kept on disk (`email_files`) and stored through intake, with loop rules (`email_loops`).
Out: `email_outbound` stores each email in a queue in the database and sends it through the relay,
retrying with backoff. See docs/email.md.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from channels import email_imap, email_outbound, email_smtp
from channels.email_ids import reply_subject
from channels.email_loops import is_undeliverable
from contact_center.api.common import path_id
from contact_center.auth.roles import Access, Role
from contact_center.background import BackgroundJobs
from contact_center.db.models import Conversation, CustomerIdentity, Message
from contact_center.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from contact_center.web.appkeys import CLOCK, EVENTS, SESSIONS, SETTINGS, TICK_INTERVAL
from contact_center.web.endpoints import EndpointTable

api = EndpointTable("email")
SMTP_SERVER = web.AppKey("email_smtp_server", object)
MAX_BODY = 100_000
WORKER_INTERVAL = 30.0


class EmailIn(BaseModel):
    """An agent's reply by email."""

    model_config = ConfigDict(extra="forbid")
    body: str = Field(min_length=1, max_length=MAX_BODY)
    subject: str | None = Field(default=None, max_length=300, description="Default: Re: the thread's.")


@api.post(
    "/api/conversations/{conversation_id}/email",
    access=Access.AGENT,
    body=EmailIn,
    status=201,
    summary="Reply by email to the customer of an email conversation",
    responses={
        403: "Another agent's conversation",
        404: "No such conversation",
        409: "Not an email conversation, email sending not configured, or the address bounced",
    },
)
async def reply_by_email(request: web.Request, body: EmailIn) -> dict[str, Any]:
    """Queue and send an email; an agent may reply only in a conversation assigned to them."""
    conversation_id = path_id(request, "conversation_id")
    user = request["user"]
    async with request.app[SESSIONS]() as db:
        conversation = await _conversation(db, conversation_id)
    if conversation.agent_id != user.id and user.role not in (Role.SUPERVISOR, Role.ADMIN):
        raise PermissionDenied("this conversation is assigned to another agent")
    message = await send_reply(request.app, conversation_id, user.id, body.body, body.subject)
    return message_json(message)


async def send_reply(
    app: web.Application,
    conversation_id: int,
    author_id: int | None,
    body: str,
    subject: str | None = None,
    *,
    cc: Sequence[str] = (),
) -> Message:
    """Store an agent's reply in the outbound queue and start sending it (to the customer and `cc`);
    Conflict when it cannot go."""
    if not body.strip():
        raise InvalidInput("the message is empty")
    settings = app[SETTINGS]
    if not settings.email_sending_enabled:
        raise Conflict("email sending is not configured (CC_SMTP_RELAY_HOST and CC_EMAIL_ADDRESS)")
    now = app[CLOCK].now()
    async with app[SESSIONS].begin() as db:
        conversation = await _conversation(db, conversation_id)
        target = await email_outbound.reply_target(db, conversation_id)
        to = target.get("to") or await _customer_address(db, conversation.customer_id)
        if not to:
            raise Conflict("the customer has no email address to reply to")
        if await is_undeliverable(db, to):
            raise Conflict(f"mail to {to} bounced; nothing was sent")
        message, row = await email_outbound.queue_email(
            db,
            settings,
            conversation_id=conversation_id,
            kind="reply",
            author_id=author_id,
            to=to,
            subject=reply_subject(subject or target.get("subject") or conversation.subject, conversation_id),
            body=body,
            now=now,
            in_reply_to=target.get("in_reply_to"),
            references=target.get("references", []),
            cc=cc,
        )
    email_outbound.start_delivery(app, row.id)
    await app[EVENTS].publish(
        "message.sent",
        {
            "channel": "email",
            "conversation_id": conversation_id,
            "message_id": message.id,
            "author_id": author_id,
            "delivery_status": message.delivery_status,
        },
    )
    return message


async def _conversation(db: AsyncSession, conversation_id: int) -> Conversation:
    conversation = await db.get(Conversation, conversation_id)
    if conversation is None:
        raise NotFound(f"conversation {conversation_id} does not exist")
    if conversation.channel != "email":
        raise Conflict(f"conversation {conversation_id} is a {conversation.channel} conversation, not email")
    return conversation


async def _customer_address(db: AsyncSession, customer_id: int) -> str | None:
    return (
        await db.execute(
            select(CustomerIdentity.value)
            .where(CustomerIdentity.customer_id == customer_id, CustomerIdentity.kind == "email")
            .order_by(CustomerIdentity.id)
            .limit(1)
        )
    ).scalar_one_or_none()


def message_json(message: Message) -> dict[str, Any]:
    """A stored email message as the API shows it."""
    return {
        "id": message.id,
        "conversation_id": message.conversation_id,
        "direction": message.direction,
        "body": message.body,
        "subject": message.attributes.get("subject"),
        "to": message.attributes.get("to"),
        "external_id": message.external_id,
        "delivery_status": message.delivery_status,
        "created_at": message.created_at.isoformat(),
    }


# wiring -------------------------------------------------------------------------------------------------


async def start(app: web.Application) -> Callable[[], Awaitable[None]]:
    """Start the SMTP listener, the IMAP pollers and the sending worker; returns what stops them."""
    settings = app[SETTINGS]
    app[email_outbound.SEND_JOBS] = BackgroundJobs("sending an email failed; the queue will retry it")
    server = await email_smtp.start_listener(app, settings)
    app[SMTP_SERVER] = server
    background: list[asyncio.Task[None]] = []
    if app[TICK_INTERVAL] is not None:  # tests drive the queue and the mailboxes themselves
        if settings.email_sending_enabled:
            background.append(asyncio.create_task(email_outbound.deliver_forever(app, WORKER_INTERVAL)))
        for mailbox in settings.imap_mailboxes:
            background.append(asyncio.create_task(email_imap.poll_forever(app, mailbox)))

    async def stop() -> None:
        await email_smtp.stop_listener(server)
        for task in background:
            task.cancel()
        await asyncio.gather(*background, return_exceptions=True)
        await email_outbound.drain(app)

    return stop
