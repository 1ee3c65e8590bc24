"""What the bus tells the consoles: offers with the screen-pop, their end, presence, conversations, messages.

Each reaction is emitted by the process that published the event (`mine`), to the agent's room, so every
tab of the agent gets it once, on whichever process its socket lives.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

from aiohttp import web
from sqlalchemy import select

from agent_ui import agent_views
from agent_ui.agent_namespace import CONSOLES, NAMESPACE, AgentNamespace, room
from agent_ui.agent_presence import ConsolePresence, MemorySockets, RedisSockets
from agent_ui.realtime import SIO, mine
from contact_center.db.models import Conversation, Message
from contact_center.events import Event, Gathering
from contact_center.tickets.routing_link import is_ticket_task
from contact_center.web.appkeys import CLOCK, EVENTS, REDIS, ROUTING, SETTINGS, TICK_INTERVAL
from routing.model import Presence

log = logging.getLogger(__name__)
OFFER_ENDS = {
    "routing.task.accepted": "accepted",
    "routing.task.rejected": "rejected",
    "routing.task.timed_out": "timed_out",
    "routing.task.withdrawn": "withdrawn",
}
MESSAGE_EVENTS = ("message.received", "message.sent", "message.written", "message.status", "chat.message")


def attach(app: web.Application) -> Callable[[], None]:
    """Register /agent, count consoles for the grace period, and push bus events to agents' rooms."""
    server = app[SIO]
    server.register_namespace(AgentNamespace(app))
    settings = app[SETTINGS]
    redis = app.get(REDIS)
    sockets = (
        RedisSockets(redis, settings.redis_prefix + "consoles:") if redis is not None else MemorySockets()
    )
    app[CONSOLES] = ConsolePresence(sockets, app[CLOCK], settings.agent_grace_seconds)

    async def emit(event_name: str, payload: Any, agent_id: int | str | None) -> None:
        if agent_id is not None:
            await server.emit(event_name, payload, room=room(int(agent_id)), namespace=NAMESPACE)

    offered_together: Gathering[dict[str, Any]] = Gathering()
    accepted_together: Gathering[dict[str, Any]] = Gathering()

    async def on_offered(event: Event) -> None:
        if not mine(app, event) or not event.payload.get("agent_id"):
            return
        offered = await offered_together.join(event.payload)
        if offered:
            for payload, offer in zip(offered, await agent_views.offer_views(app, offered), strict=True):
                if offer is not None:
                    await emit("offer", offer, payload["agent_id"])

    async def on_offer_end(event: Event) -> None:
        if not mine(app, event) or not event.payload.get("agent_id"):
            return
        payload = event.payload
        ended = {
            "reservation_id": payload["data"].get("reservation_id"),
            "task_id": payload["task_id"],
            "reason": OFFER_ENDS[event.topic],
        }
        await emit("offer:ended", ended, payload["agent_id"])
        if event.topic != "routing.task.accepted":
            return
        if is_ticket_task(payload["task_id"]):
            ticket = await agent_views.ticket_of_task(app, payload["task_id"])
            if ticket is not None:
                await emit("ticket:assigned", ticket, payload["agent_id"])
            return
        accepted = await accepted_together.join(payload)
        if accepted:
            summaries = await agent_views.summaries_of_tasks(app, [each["task_id"] for each in accepted])
            for each in accepted:
                if each["task_id"] in summaries:
                    await emit("conversation:assigned", summaries[each["task_id"]], each["agent_id"])

    async def on_agent_state(event: Event) -> None:
        if mine(app, event) and event.payload.get("agent_id"):
            data = event.payload["data"]
            since = event.payload["at"]
            await emit(
                "presence",
                {"state": data["presence"], "reason": data.get("reason"), "since": since},
                event.payload["agent_id"],
            )

    async def on_task_changed(event: Event) -> None:
        if not mine(app, event) or not event.payload.get("task_id"):
            return
        conversation = await agent_views.summary_of_task(app, event.payload["task_id"])
        if conversation is None:
            return
        agent_id = event.payload.get("agent_id") or conversation["agent_id"]
        removed = {"conversation_id": conversation["id"], "task_id": event.payload["task_id"]}
        if event.topic == "routing.task.transferred":
            await emit("conversation:removed", {**removed, "reason": "transferred"}, agent_id)
        elif event.topic == "routing.task.wrapped" and conversation["disposition"]:
            await emit("conversation:removed", {**removed, "reason": "wrapped"}, agent_id)
        else:  # wrap-up started, or its time ran out before the agent sent the form: the tab stays
            await emit("conversation:updated", conversation, agent_id)

    async def on_message(event: Event) -> None:
        if not mine(app, event) or event.payload.get("new_conversation"):
            return  # nobody holds a conversation that this message opened: it arrives with the offer
        payload = event.payload
        message_id = payload.get("message_id") or payload.get("message", {}).get("id")
        if message_id is None:
            return
        async with agent_views.reading(app) as db:
            row = (
                await db.execute(
                    select(Message, Conversation.agent_id)
                    .join(Conversation, Conversation.id == Message.conversation_id)
                    .where(Message.id == message_id)
                )
            ).first()
        if row is not None:
            message, agent_id = row
            pushed = {
                "conversation_id": message.conversation_id,
                "message": agent_views.message_view(message),
            }
            await emit("conversation:message", pushed, agent_id)
            if event.topic == "chat.message":  # the older chat-only event, for clients written before
                await emit("chat:message", payload["message"], agent_id)

    async def on_chat(event: Event) -> None:
        if not mine(app, event):
            return
        name = "chat:" + event.topic.removeprefix("chat.")
        if event.topic in ("chat.typing", "chat.read") and event.payload["who"] != "customer":
            return
        async with agent_views.reading(app) as db:
            conversation = await db.get(Conversation, event.payload["conversation_id"])
        if conversation is not None:
            await emit(name, event.payload, conversation.agent_id)

    bus = app[EVENTS]
    stops = [
        bus.subscribe("routing.task.offered", on_offered),
        *[bus.subscribe(topic, on_offer_end) for topic in OFFER_ENDS],
        bus.subscribe("routing.agent.state", on_agent_state),
        *[
            bus.subscribe(topic, on_task_changed)
            for topic in ("routing.task.completed", "routing.task.wrapped", "routing.task.transferred")
        ],
        *[bus.subscribe(topic, on_message) for topic in MESSAGE_EVENTS],
        *[bus.subscribe(topic, on_chat) for topic in ("chat.typing", "chat.read", "chat.ended")],
    ]
    sweeper = None
    if app[TICK_INTERVAL] is not None:
        sweeper = asyncio.create_task(_sweep_forever(app))

    def stop() -> None:
        for unsubscribe in stops:
            unsubscribe()
        if sweeper is not None:
            sweeper.cancel()

    return stop


async def sweep(app: web.Application) -> list[int]:
    """Set agents offline whose consoles have been gone past the grace period (tests call this directly)."""

    async def set_offline(agent_id: int) -> None:
        await app[ROUTING].set_presence(agent_id, Presence.OFFLINE, None)

    return await app[CONSOLES].sweep(set_offline)


async def _sweep_forever(app: web.Application) -> None:
    with contextlib.suppress(asyncio.CancelledError):
        while True:
            await asyncio.sleep(1.0)
            try:
                offline = await sweep(app)
                if offline:
                    log.info(
                        "agents %s set offline: their consoles have been gone past the grace period", offline
                    )
            except Exception:
                log.exception("the console presence sweep failed")
