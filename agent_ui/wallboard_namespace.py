"""The supervisors' wallboard: the socket.io namespace /wallboard, its pushes, and supervisors' actions.

Only supervisors and administrators may connect. Each socket gets `wallboard:snapshot` (the whole board) on
connecting and `wallboard:delta` (the queue and agent rows that changed) after routing events; how boards are
computed and pushed, by one process for all, is in agent_ui/wallboard_pusher.py.

Actions: `agent:presence` (set an agent's state), `task:transfer` (move a contact to a queue or agent),
`whisper` (a private message to an agent's console), `conversation:watch` / `conversation:unwatch`
(read a live conversation: its transcript now, then each new message as `conversation:message`).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

import socketio
from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from agent_ui import agent_views
from agent_ui.agent_namespace import NAMESPACE as AGENT_NAMESPACE
from agent_ui.agent_namespace import parse
from agent_ui.agent_namespace import room as agent_room
from agent_ui.realtime import SIO, mine
from agent_ui.socket_auth import socket_user
from agent_ui.socket_events import answer
from agent_ui.wallboard_pusher import BOARD, NAMESPACE, OPENED_TOPIC, ROOM, Wallboard
from contact_center.auth.roles import Role
from contact_center.db.models import Conversation, Message, User
from contact_center.errors import NotFound
from contact_center.events import Event
from contact_center.rate_limit import RateLimiter
from contact_center.routing_service.config import TransferIn
from contact_center.users import service as users
from contact_center.web.appkeys import CLOCK, EVENTS, ROUTING, SESSIONS
from routing.model import Presence

log = logging.getLogger(__name__)
WATCHED_MESSAGES = ("message.received", "message.sent", "message.written", "chat.message")


def watch_room(conversation_id: int) -> str:
    """The room of the supervisors reading one conversation."""
    return f"watch-{conversation_id}"


class AgentPresenceIn(BaseModel):
    """A supervisor sets an agent's state."""

    model_config = ConfigDict(extra="forbid")
    agent_id: int = Field(ge=1)
    state: Presence
    reason: str | None = Field(default=None, max_length=64)


class SupervisorTransferIn(TransferIn):
    """A supervisor moves a contact to a queue or an agent."""

    task_id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")


class WhisperIn(BaseModel):
    """A private message to an agent; the customer never sees it."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    agent_id: int = Field(ge=1)
    text: str = Field(min_length=1, max_length=1000)


class WatchIn(BaseModel):
    """A conversation to read live."""

    model_config = ConfigDict(extra="forbid")
    conversation_id: int = Field(ge=1)


class WallboardNamespace(socketio.AsyncNamespace):
    """Supervisors' sockets: the board, and their actions on agents and contacts."""

    def __init__(self, app: web.Application) -> None:
        super().__init__(NAMESPACE)
        self.app = app
        self.limiter = RateLimiter(app[CLOCK], per_second=5, burst=20)

    async def on_connect(self, sid: str, environ: dict[str, Any], auth: Any = None) -> None:
        """Accept supervisors and administrators only."""
        user = await socket_user(self.app, environ, auth)
        if user is None:
            raise socketio.exceptions.ConnectionRefusedError("log in first")
        if user.role not in (Role.SUPERVISOR, Role.ADMIN):
            raise socketio.exceptions.ConnectionRefusedError("the wallboard is for supervisors")
        await self.save_session(sid, {"user_id": user.id, "name": user.display_name})
        await self.enter_room(sid, ROOM)
        await self.app[BOARD].opened()
        self.server.start_background_task(self._send_snapshot, sid)

    async def on_disconnect(self, sid: str, *_: Any) -> None:
        """Forget the socket and its rate limit."""
        self.limiter.forget(sid)
        if await self.get_session(sid):
            self.app[BOARD].closed()

    async def trigger_event(self, event: str, *args: Any) -> Any:
        """Events are named `agent:presence` etc. on the wire; their handlers `on_agent_presence`."""
        return await super().trigger_event(event.replace(":", "_"), *args)

    async def on_agent_presence(self, sid: str, data: Any = None) -> dict[str, Any]:
        """`agent:presence` {agent_id, state, reason?}."""

        async def work(session: dict[str, Any], data: dict[str, Any]) -> dict[str, Any]:
            body = parse(AgentPresenceIn, data)
            await self.app[ROUTING].set_presence(body.agent_id, body.state, body.reason)
            async with self.app[SESSIONS].begin() as db:
                users.audit(
                    db,
                    session["user_id"],
                    "agent.presence",
                    "user",
                    body.agent_id,
                    body.model_dump(mode="json", exclude={"agent_id"}),
                    self.app[CLOCK].now(),
                )
            self.app[BOARD].changed()
            return {}

        return await self._answer(sid, data, work)

    async def on_task_transfer(self, sid: str, data: Any = None) -> dict[str, Any]:
        """`task:transfer` {task_id, queue | agent_id, note?}."""

        async def work(session: dict[str, Any], data: dict[str, Any]) -> dict[str, Any]:
            body = parse(SupervisorTransferIn, data)
            await self.app[ROUTING].transfer(
                session["user_id"],
                body.task_id,
                queue=body.queue,
                agent_id=body.agent_id,
                note=body.note,
                supervisor=True,
            )
            return {}

        return await self._answer(sid, data, work)

    async def on_whisper(self, sid: str, data: Any = None) -> dict[str, Any]:
        """`whisper` {agent_id, text}: shown in the agent's console only."""

        async def work(session: dict[str, Any], data: dict[str, Any]) -> dict[str, Any]:
            body = parse(WhisperIn, data)
            async with agent_views.reading(self.app) as db:
                agent = await db.get(User, body.agent_id)
            if agent is None or not agent.is_active:
                raise NotFound(f"agent {body.agent_id} does not exist")
            whisper = {
                "from": session["name"],
                "from_id": session["user_id"],
                "text": body.text,
                "at": self.app[CLOCK].now().isoformat(),
            }
            await self.app[SIO].emit("whisper", whisper, room=agent_room(agent.id), namespace=AGENT_NAMESPACE)
            return {"whisper": whisper}

        return await self._answer(sid, data, work)

    async def on_conversation_watch(self, sid: str, data: Any = None) -> dict[str, Any]:
        """`conversation:watch` {conversation_id}: its transcript now, then its messages as they come."""

        async def work(session: dict[str, Any], data: dict[str, Any]) -> dict[str, Any]:
            body = parse(WatchIn, data)
            async with agent_views.reading(self.app) as db:
                conversation = await db.get(Conversation, body.conversation_id)
                if conversation is None:
                    raise NotFound(f"conversation {body.conversation_id} does not exist")
                messages = await agent_views.transcript(db, conversation.id)
            await self.enter_room(sid, watch_room(conversation.id))
            return {
                "conversation": {
                    "id": conversation.id,
                    "channel": conversation.channel,
                    "agent_id": conversation.agent_id,
                    "queue": conversation.queue,
                    "subject": conversation.subject,
                },
                "messages": messages,
            }

        return await self._answer(sid, data, work)

    async def on_conversation_unwatch(self, sid: str, data: Any = None) -> dict[str, Any]:
        """`conversation:unwatch` {conversation_id}."""

        async def work(session: dict[str, Any], data: dict[str, Any]) -> dict[str, Any]:
            body = parse(WatchIn, data)
            await self.leave_room(sid, watch_room(body.conversation_id))
            return {}

        return await self._answer(sid, data, work)

    async def _answer(
        self,
        sid: str,
        data: Any,
        work: Callable[[dict[str, Any], dict[str, Any]], Awaitable[dict[str, Any]]],
    ) -> dict[str, Any]:
        return await answer(self, self.limiter, sid, data, work)

    async def _send_snapshot(self, sid: str) -> None:
        try:
            snapshot = await self.app[BOARD].for_new_viewer()
        except Exception:
            log.exception("the wallboard could not be computed")
            return
        await self.emit("wallboard:snapshot", snapshot, to=sid)


def attach(app: web.Application) -> Callable[[], Awaitable[None]]:
    """Register /wallboard, push the board after routing events, forward watched conversations' messages."""
    server = app[SIO]
    server.register_namespace(WallboardNamespace(app))
    wallboard = app[BOARD] = Wallboard(app)
    wallboard.start()

    async def on_routing(event: Event) -> None:
        wallboard.changed()  # every process's events: the pusher computes for all of them

    async def on_message(event: Event) -> None:
        if not mine(app, event) or event.payload.get("new_conversation"):
            return  # nobody watches a conversation this message opened: a watch starts with its transcript
        payload = event.payload
        message_id = payload.get("message_id") or payload.get("message", {}).get("id")
        if message_id is None:
            return
        async with agent_views.reading(app) as db:
            message = (await db.execute(select(Message).where(Message.id == message_id))).scalar_one_or_none()
        if message is not None:
            view = agent_views.message_view(message)
            pushed = {"conversation_id": message.conversation_id, "message": view}
            await server.emit(
                "conversation:message", pushed, room=watch_room(message.conversation_id), namespace=NAMESPACE
            )

    async def on_opened(event: Event) -> None:
        if not mine(app, event):
            wallboard.opened_elsewhere()

    bus = app[EVENTS]
    stops = [bus.subscribe("routing.*", on_routing), bus.subscribe(OPENED_TOPIC, on_opened)]
    stops += [bus.subscribe(topic, on_message) for topic in WATCHED_MESSAGES]

    async def stop() -> None:
        for unsubscribe in stops:
            unsubscribe()
        await wallboard.stop()

    return stop
