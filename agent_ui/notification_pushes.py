"""Notifications in the console: each "notification.created" on the bus becomes the socket.io event
"notification" in the user's room on /agent, so every open tab of theirs shows it.

As with agent_pushes, only the process that published the event emits it (with Redis, socket.io's manager
carries it to the sockets of every process), so it arrives once.
"""

from __future__ import annotations

from collections.abc import Callable

from aiohttp import web

from agent_ui.agent_namespace import NAMESPACE, room
from agent_ui.realtime import SIO, mine
from contact_center.events import Event
from contact_center.tickets.notify_delivery import TOPIC
from contact_center.web.appkeys import EVENTS

FIELDS = ("id", "user_id", "ticket_id", "kind", "title", "body", "created_at")


def attach(app: web.Application) -> Callable[[], None]:
    """Push notifications to users' consoles; returns what stops it."""
    server = app[SIO]

    async def on_created(event: Event) -> None:
        if not mine(app, event) or not event.payload.get("user_id"):
            return
        payload = {name: event.payload.get(name) for name in FIELDS}
        await server.emit("notification", payload, room=room(int(payload["user_id"])), namespace=NAMESPACE)

    return app[EVENTS].subscribe(TOPIC, on_created)
