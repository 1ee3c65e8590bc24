"""A written message to a customer through their conversation's own channel: the one place that knows which
channel sends how (the agent's composer and ticket replies both come here)."""

from __future__ import annotations

from collections.abc import Sequence

from aiohttp import web

from channels import chat, sms
from channels import email as email_channel
from contact_center.db.models import Conversation, Message
from contact_center.errors import InvalidInput


async def send_to_customer(
    app: web.Application,
    conversation: Conversation,
    author_id: int,
    text: str,
    subject: str | None = None,
    *,
    cc: Sequence[str] = (),
) -> Message:
    """Send `text` by chat, SMS or email (with `subject` and `cc`); a call takes no written message."""
    if conversation.channel == "chat":
        return await chat.agent_writes(app, conversation.id, author_id, text)
    if conversation.channel == "sms":
        return await sms.send_sms(app, conversation.id, author_id, text)
    if conversation.channel == "email":
        return await email_channel.send_reply(app, conversation.id, author_id, text, subject, cc=cc)
    raise InvalidInput("a call takes no written replies; add an internal note instead")
