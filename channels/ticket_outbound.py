"""The channels' side of tickets: public replies and satisfaction surveys sent through the conversation's
own channel (the ticket service calls this through contact_center.tickets.ports.Outbound)."""

from __future__ import annotations

from aiohttp import web

from channels import chat, sms
from channels import email as email_channel
from channels.replies import send_to_customer
from contact_center.db.models import Conversation
from contact_center.errors import NotFound
from contact_center.tickets.ports import SurveyInvite
from contact_center.web.appkeys import EVENTS, SESSIONS

SMS_SURVEY = "How did we do with your request T-{ticket}? Reply with a number from 1 (poor) to 5 (great)."
CHAT_SURVEY = "How did we do with your request T-{ticket}? Rate us from 1 to 5: {url}"
EMAIL_SURVEY = (
    "Hello,\n\nyour request T-{ticket} has been resolved. How did we do? It takes ten seconds:\n\n{url}\n\n"
    "If something is still wrong, just reply to this email and we will pick it up again.\n"
)


class ChannelOutbound:
    """Sends a ticket's replies and surveys through the channels of this app."""

    def __init__(self, app: web.Application) -> None:
        self.app = app

    async def reply(self, conversation_id: int, author_id: int, text: str, subject: str | None) -> int:
        """A public reply through the conversation's channel; the stored message's id."""
        async with self.app[SESSIONS]() as db:
            conversation = await db.get(Conversation, conversation_id)
        if conversation is None:
            raise NotFound(f"conversation {conversation_id} does not exist")
        return (await send_to_customer(self.app, conversation, author_id, text, subject)).id

    async def survey(self, invite: SurveyInvite) -> None:
        """Inline in a live chat (a message with the rating link, and a `chat.survey` event the widget
        shows as buttons), "reply 1-5" by SMS, a link by email."""
        app, ticket = self.app, invite.ticket_id
        if invite.channel == "chat":
            text = CHAT_SURVEY.format(ticket=ticket, url=invite.url)
            message = await chat.system_writes(app, invite.conversation_id, text)
            if message is not None:
                payload = {
                    "conversation_id": invite.conversation_id,
                    "survey_id": invite.survey_id,
                    "ticket_id": ticket,
                    "url": invite.url,
                }
                await app[EVENTS].publish("chat.survey", payload)
        elif invite.channel == "sms":
            await sms.send_sms(app, invite.conversation_id, None, SMS_SURVEY.format(ticket=ticket))
        elif invite.channel == "email":
            body = EMAIL_SURVEY.format(ticket=ticket, url=invite.url)
            await email_channel.send_reply(
                app, invite.conversation_id, None, body, f"How did we do? [T-{ticket}]"
            )
