"""The agents' socket.io namespace /agent: the console's events in both directions (docs/agent-protocol.md).

A socket is accepted only for a logged-in user: the session cookie of the console, or `auth={"token":
<API token>}`. Each user's sockets share the room `agent-<id>`, so every open tab gets the same events, and
each new socket is sent the agent's whole `state`, so a console that reconnects is up to date at once.
An agent may write only in conversations assigned to them; supervisors and admins anywhere. The handlers
stay thin: routing, the channels and agent_work do the work.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import socketio
from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from agent_ui import agent_views, agent_work
from agent_ui.agent_presence import ConsolePresence
from agent_ui.socket_auth import socket_user
from agent_ui.socket_events import answer
from channels import chat
from contact_center.auth.roles import Role
from contact_center.customers.view360 import customer_360
from contact_center.db.models import Conversation, User
from contact_center.errors import DomainError, InvalidInput, NotFound, PermissionDenied
from contact_center.rate_limit import RateLimiter
from contact_center.routing_service.config import TransferIn
from contact_center.web.appkeys import CLOCK, CUSTOMERS, ROUTING
from contact_center.web.endpoints import huge_integers
from routing.model import Presence

log = logging.getLogger(__name__)

NAMESPACE = "/agent"
CONSOLES = web.AppKey("console_presence", ConsolePresence)
Session = dict[str, Any]
M = TypeVar("M", bound=BaseModel)


def room(user_id: int) -> str:
    """The room of one user's sockets."""
    return f"agent-{user_id}"


class PresenceIn(BaseModel):
    """Available, away with a reason code, or offline."""

    model_config = ConfigDict(extra="forbid")
    state: Presence
    reason: str | None = Field(default=None, max_length=64)


class OfferIn(BaseModel):
    """An offer made to the agent."""

    model_config = ConfigDict(extra="forbid")
    reservation_id: str = Field(pattern=r"^[0-9a-f]{32}$")


class ConversationIn(BaseModel):
    """A conversation the event is about."""

    model_config = ConfigDict(extra="forbid")
    conversation_id: int


class TypingIn(ConversationIn):
    """The agent started or stopped typing."""

    typing: bool = False


class ReadIn(ConversationIn):
    """The agent has seen the customer's messages up to `message_id`."""

    message_id: int


class TaskIn(BaseModel):
    """A task the agent holds."""

    model_config = ConfigDict(extra="forbid")
    task_id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")


class TaskTransferIn(TransferIn):
    """A task the agent holds, to a queue or to an agent, with a note for them."""

    task_id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")


def parse(model: type[M], data: Any) -> M:
    """The payload as `model`, or InvalidInput naming the first problem."""
    try:
        parsed = model.model_validate(data)
    except ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(str(part) for part in error["loc"]) or "payload"
        raise InvalidInput(f"{where}: {error['msg']}") from None
    for where in huge_integers(parsed.model_dump()):
        raise InvalidInput(f"{where}: must fit in 64 bits")
    return parsed


class AgentNamespace(socketio.AsyncNamespace):
    """Agents' events; the work is done by routing, the channels and the core."""

    def __init__(self, app: web.Application) -> None:
        super().__init__(NAMESPACE)
        self.app = app
        self.limiter = RateLimiter(app[CLOCK], per_second=10, burst=30)

    # connection -------------------------------------------------------------------------------------

    async def on_connect(self, sid: str, environ: dict[str, Any], auth: Any = None) -> None:
        """Accept a socket of a logged-in user (session cookie or API token); refuse anyone else."""
        user = await socket_user(self.app, environ, auth)
        if user is None:
            raise socketio.exceptions.ConnectionRefusedError("log in first")
        await self.save_session(sid, {"user_id": user.id, "role": user.role})
        await self.enter_room(sid, room(user.id))
        await self.app[CONSOLES].opened(user.id, sid)
        self.server.start_background_task(self._send_state, sid, user)

    async def on_disconnect(self, sid: str, *_: Any) -> None:
        """Forget the socket; the agent's grace period starts when it was their last."""
        self.limiter.forget(sid)
        session = await self.get_session(sid)
        if session:
            await self.app[CONSOLES].closed(session["user_id"], sid)

    async def trigger_event(self, event: str, *args: Any) -> Any:
        """Events are named `offer:accept` etc. on the wire; their handlers `on_offer_accept`."""
        return await super().trigger_event(event.replace(":", "_"), *args)

    # client events ------------------------------------------------------------------------------------

    async def on_state(self, sid: str, data: Any = None) -> dict[str, Any]:
        """`state` {}: everything the console shows."""
        return await self._answer(sid, data, self._state)

    async def on_presence_set(self, sid: str, data: Any = None) -> dict[str, Any]:
        """`presence:set` {state, reason?}."""
        return await self._answer(sid, data, self._presence)

    async def on_offer_accept(self, sid: str, data: Any = None) -> dict[str, Any]:
        """`offer:accept` {reservation_id}: the conversation is the agent's."""
        return await self._answer(sid, data, self._accept)

    async def on_offer_reject(self, sid: str, data: Any = None) -> dict[str, Any]:
        """`offer:reject` {reservation_id}: the contact goes to the next agent."""
        return await self._answer(sid, data, self._reject)

    async def on_conversation_open(self, sid: str, data: Any = None) -> dict[str, Any]:
        """`conversation:open` {conversation_id}: its summary, transcript and the customer's screen-pop."""
        return await self._answer(sid, data, self._open)

    async def on_reply(self, sid: str, data: Any = None) -> dict[str, Any]:
        """`reply` {conversation_id, text, subject?, cc?, quote?}: through the conversation's channel."""
        return await self._answer(sid, data, self._reply)

    async def on_note_add(self, sid: str, data: Any = None) -> dict[str, Any]:
        """`note:add` {conversation_id, text}: an internal note."""
        return await self._answer(sid, data, self._note)

    async def on_typing(self, sid: str, data: Any = None) -> dict[str, Any]:
        """`typing` {conversation_id, typing}: shown to a chat customer."""
        return await self._answer(sid, data, self._typing)

    async def on_read(self, sid: str, data: Any = None) -> dict[str, Any]:
        """`read` {conversation_id, message_id}: the chat customer sees their messages were read."""
        return await self._answer(sid, data, self._read)

    async def on_task_complete(self, sid: str, data: Any = None) -> dict[str, Any]:
        """`task:complete` {task_id}: the contact ends; wrap-up starts."""
        return await self._answer(sid, data, self._complete)

    async def on_wrapup_submit(self, sid: str, data: Any = None) -> dict[str, Any]:
        """`wrapup:submit` {task_id, disposition, reason?, note?, ticket?}: wrap-up done."""
        return await self._answer(sid, data, self._wrap_up)

    async def on_task_transfer(self, sid: str, data: Any = None) -> dict[str, Any]:
        """`task:transfer` {task_id, queue | agent_id, note?}."""
        return await self._answer(sid, data, self._transfer)

    async def on_chat_send(self, sid: str, data: Any = None) -> dict[str, Any]:
        """`chat:send` {conversation_id, text}: `reply` for chats (kept for older clients)."""
        return await self._answer(sid, data, self._reply)

    async def on_chat_typing(self, sid: str, data: Any = None) -> dict[str, Any]:
        """`chat:typing`: as `typing`."""
        return await self._answer(sid, data, self._typing)

    async def on_chat_read(self, sid: str, data: Any = None) -> dict[str, Any]:
        """`chat:read`: as `read`."""
        return await self._answer(sid, data, self._read)

    # the work -----------------------------------------------------------------------------------------

    async def _state(self, session: Session, data: dict[str, Any]) -> dict[str, Any]:
        return await agent_views.state_view(self.app, await self._session_user(session))

    async def _presence(self, session: Session, data: dict[str, Any]) -> dict[str, Any]:
        body = parse(PresenceIn, data)
        routing = self.app[ROUTING]
        await routing.set_presence(session["user_id"], body.state, body.reason)
        view = await routing.agent_view(session["user_id"])
        agent = await routing.engine.store.get_agent(str(session["user_id"]))
        return {"presence": agent_views.presence_view(view["presence"], view["reason"], agent.presence_since)}

    async def _accept(self, session: Session, data: dict[str, Any]) -> dict[str, Any]:
        body = parse(OfferIn, data)
        routing = self.app[ROUTING]
        task = await routing.accept(session["user_id"], body.reservation_id)
        await routing.flush()  # the conversation row says who holds it before we read it
        if "ticket_id" in task.attributes:  # ticket work: the console points to the ticket
            return {"conversation": None, "ticket": await agent_views.ticket_of_task(self.app, task.id)}
        conversation = await agent_views.conversation_summary(self.app, task.attributes["conversation_id"])
        return {"conversation": conversation}

    async def _reject(self, session: Session, data: dict[str, Any]) -> dict[str, Any]:
        body = parse(OfferIn, data)
        await self.app[ROUTING].reject(session["user_id"], body.reservation_id)
        return {}

    async def _open(self, session: Session, data: dict[str, Any]) -> dict[str, Any]:
        body = parse(ConversationIn, data)
        summary = await agent_views.conversation_summary(self.app, body.conversation_id)
        if summary is None:
            raise NotFound(f"no conversation {body.conversation_id}")
        async with agent_views.reading(self.app) as db:
            messages = await agent_views.transcript(db, body.conversation_id)
            customer = await customer_360(db, self.app[CUSTOMERS], summary["customer_id"])
        return {"conversation": summary, "messages": messages, "customer": customer}

    async def _reply(self, session: Session, data: dict[str, Any]) -> dict[str, Any]:
        body = parse(agent_work.ReplyIn, data)
        await self._held(session, body.conversation_id)
        message = await agent_work.reply(self.app, session["user_id"], body)
        return {"message": agent_views.message_view(message)}

    async def _note(self, session: Session, data: dict[str, Any]) -> dict[str, Any]:
        body = parse(agent_work.NoteIn, data)
        await self._held(session, body.conversation_id)
        note = await agent_work.add_note(self.app, session["user_id"], body)
        return {"message": agent_views.message_view(note)}

    async def _typing(self, session: Session, data: dict[str, Any]) -> dict[str, Any]:
        body = parse(TypingIn, data)
        if await self._held(session, body.conversation_id) == "chat":
            await chat.typing(self.app, body.conversation_id, "agent", body.typing)
        return {}

    async def _read(self, session: Session, data: dict[str, Any]) -> dict[str, Any]:
        body = parse(ReadIn, data)
        if await self._held(session, body.conversation_id) == "chat":
            await chat.mark_read(self.app, body.conversation_id, "agent", body.message_id)
        return {}

    async def _complete(self, session: Session, data: dict[str, Any]) -> dict[str, Any]:
        body = parse(TaskIn, data)
        await self.app[ROUTING].complete(session["user_id"], body.task_id, supervisor=_supervising(session))
        return {}

    async def _wrap_up(self, session: Session, data: dict[str, Any]) -> dict[str, Any]:
        body = parse(agent_work.WrapUpIn, data)
        done = await agent_work.wrap_up(self.app, session["user_id"], body, supervisor=_supervising(session))
        await self.app[ROUTING].flush()
        conversation = await agent_views.conversation_summary(self.app, done.conversation_id)
        return {
            "conversation": conversation,
            "ticket": {"id": done.ticket_id, "reference": f"T-{done.ticket_id}"} if done.ticket_id else None,
        }

    async def _transfer(self, session: Session, data: dict[str, Any]) -> dict[str, Any]:
        body = parse(TaskTransferIn, data)
        await self.app[ROUTING].transfer(
            session["user_id"],
            body.task_id,
            queue=body.queue,
            agent_id=body.agent_id,
            note=body.note,
            supervisor=_supervising(session),
        )
        return {}

    # helpers ------------------------------------------------------------------------------------------

    async def _held(self, session: Session, conversation_id: int) -> str:
        """The channel of the conversation, when this user may act in it."""
        for attempt in range(2):
            async with agent_views.reading(self.app) as db:
                conversation = await db.get(Conversation, conversation_id)
            if conversation is None:
                raise NotFound(f"no conversation {conversation_id}")
            if conversation.agent_id == session["user_id"] or _supervising(session):
                return conversation.channel
            if attempt == 0:  # the agent may have just accepted: let routing store what it decided
                await self.app[ROUTING].flush()
        raise PermissionDenied("this conversation is not assigned to you")

    async def _answer(
        self, sid: str, data: Any, work: Callable[[Session, dict[str, Any]], Awaitable[dict[str, Any]]]
    ) -> dict[str, Any]:
        return await answer(self, self.limiter, sid, data, work)

    async def _send_state(self, sid: str, user: User) -> None:
        try:
            state = await agent_views.state_view(self.app, user)
        except DomainError:
            return  # a user routing does not know (an admin): the console asks when it needs to
        await self.emit("state", state, to=sid)

    async def _session_user(self, session: Session) -> User:
        async with agent_views.reading(self.app) as db:
            user = await db.get(User, session["user_id"])
        if user is None:
            raise NotFound("your user no longer exists")
        return user


def _supervising(session: Session) -> bool:
    return session["role"] in (Role.SUPERVISOR, Role.ADMIN)
