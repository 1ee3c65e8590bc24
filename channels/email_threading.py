"""Which conversation an inbound email belongs to.

In order: a reference (In-Reply-To, References) to one of our signed Message-IDs, which joins that
conversation whoever sends it; a reference to a message we stored (the customer's own earlier mail, or our
message to them); then the subject's tag `[#C-42]` (a conversation) or `[#T-7]` (a ticket's conversation).
The last two are hints anyone could write, so intake believes them only for the conversation's own
customer; failing all of them, intake joins the customer's open email conversation of the last days
(its reopen window) or opens a new one.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from channels.email_ids import referenced_ids, tag_in_subject, verified_conversation
from channels.email_parse import ParsedEmail
from contact_center.db.models import Conversation, Message, Ticket


@dataclass(frozen=True)
class Thread:
    """Where a message should go: a conversation (or None), whether that is proven, and how it was found."""

    conversation_id: int | None
    verified: bool
    how: str


async def find_thread(db: AsyncSession, key: bytes, parsed: ParsedEmail) -> Thread:
    """The conversation the message refers to, by signed header, stored reference or subject tag."""
    ids = referenced_ids(parsed.in_reply_to, parsed.references)
    for message_id in ids:
        conversation_id = verified_conversation(key, message_id)
        if conversation_id is not None and await _is_email_conversation(db, conversation_id):
            return Thread(conversation_id, True, "signed reference")
    if ids:
        found = (
            await db.execute(
                select(Message.conversation_id)
                .join(Conversation, Conversation.id == Message.conversation_id)
                .where(
                    Message.channel == "email",
                    Message.external_id.in_(ids),
                    Conversation.channel == "email",
                )
                .order_by(Message.id.desc())
                .limit(1)
            )
        ).scalar_one_or_none()
        if found is not None:
            return Thread(found, False, "reference")
    tag = tag_in_subject(parsed.subject)
    if tag is not None:
        kind, number = tag
        conversation_id = number
        if kind == "T":
            ticket = await db.get(Ticket, number)
            conversation_id = ticket.conversation_id if ticket is not None else None
        if conversation_id is not None and await _is_email_conversation(db, conversation_id):
            return Thread(conversation_id, False, "ticket tag" if kind == "T" else "subject tag")
    return Thread(None, False, "none")


async def _is_email_conversation(db: AsyncSession, conversation_id: int) -> bool:
    if not 0 < conversation_id < 2**63:
        return False
    conversation = await db.get(Conversation, conversation_id)
    return conversation is not None and conversation.channel == "email"
