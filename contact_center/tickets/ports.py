"""What the ticket service needs from the channels, as interfaces the composition root fills in.

The core never imports `channels`; the app factory hands it an Outbound that sends through them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class SurveyInvite:
    """A satisfaction survey to send: through `conversation_id`'s channel, answerable at `url`."""

    survey_id: int
    ticket_id: int
    conversation_id: int
    channel: str
    url: str


class Outbound(Protocol):
    """Sends to a customer through the channel of one of their conversations."""

    async def reply(self, conversation_id: int, author_id: int, text: str, subject: str | None) -> int:
        """Send a public reply; the stored message's id. Conflict when the channel cannot take it."""
        ...

    async def survey(self, invite: SurveyInvite) -> None:
        """Ask the customer to rate the ticket (inline in a chat, 1-5 by SMS, a link by email)."""
        ...


class NoOutbound:
    """For a service without channels (unit tests, tools): refuses to send anything."""

    async def reply(self, conversation_id: int, author_id: int, text: str, subject: str | None) -> int:
        from contact_center.errors import Conflict

        raise Conflict("no channel is configured to reach the customer")

    async def survey(self, invite: SurveyInvite) -> None:
        return None
