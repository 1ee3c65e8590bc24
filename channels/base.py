"""The surface every channel adapter shares (voice, SMS, email, chat), so knowing one means knowing all.

An adapter verifies and parses what arrives into an `InboundContact` and hands it to the core's intake,
sends replies out on its channel, and registers its own routes. It holds no business rule.
"""

from __future__ import annotations

from typing import Protocol

from aiohttp import web

from contact_center.intake import InboundContact, Intake, IntakeResult

__all__ = ["ChannelAdapter", "InboundContact", "IntakeResult", "OutboundMessage"]


class OutboundMessage(Protocol):
    """What an adapter sends: a reply in a conversation."""

    conversation_id: int
    body: str


class ChannelAdapter(Protocol):
    """One channel's adapter."""

    name: str

    def register(self, app: web.Application, intake: Intake) -> None:
        """Add the adapter's routes (webhooks, sockets) to the application."""

    async def send(self, message: OutboundMessage) -> str:
        """Send a reply; returns the channel's id for it."""
