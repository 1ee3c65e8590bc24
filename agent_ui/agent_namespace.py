"""The agents' socket.io namespace /agent (the first events of it: chat; docs/agent-protocol.md).

A socket is accepted only for a logged-in user: the session cookie of the console, or `auth={"token":
<API token>}`. Each user's sockets share the room `agent-<id>`, so every open tab gets the same events.
An agent may write only in conversations assigned to them; supervisors and admins anywhere.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import socketio
from aiohttp import web

from agent_ui.realtime import SIO, mine
from channels import chat
from contact_center.auth import sessions as auth_sessions
from contact_center.auth.roles import Role
from contact_center.db.models import Conversation, User
from contact_center.errors import DomainError, InvalidInput, NotFound, PermissionDenied
from contact_center.events import Event
from contact_center.rate_limit import RateLimiter
from contact_center.web.appkeys import CLOCK, EVENTS, ROUTING, SESSIONS
from contact_center.web.middlewares import SESSION_COOKIE

log = logging.getLogger(__name__)

NAMESPACE = "/agent"


def room(user_id: int) -> str:
    """The room of one user's sockets."""
    return f"agent-{user_id}"


class AgentNamespace(socketio.AsyncNamespace):
    """Agents' events; the work is done by the channels and the core."""

    def __init__(self, app: web.Application) -> None:
        super().__init__(NAMESPACE)
        self.app = app
        self.limiter = RateLimiter(app[CLOCK], per_second=10, burst=30)

    async def on_connect(self, sid: str, environ: dict[str, Any], auth: Any = None) -> None:
        """Accept a socket of a logged-in user (session cookie or API token); refuse anyone else."""
        user = await self._user(environ, auth)
        if user is None:
            raise socketio.exceptions.ConnectionRefusedError("log in first")
        await self.save_session(sid, {"user_id": user.id, "role": user.role})
        await self.enter_room(sid, room(user.id))

    async def on_disconnect(self, sid: str, *_: Any) -> None:
        """Forget the socket's rate limit."""
        self.limiter.forget(sid)

    async def on_chat_send(self, sid: str, data: Any = None) -> dict[str, Any]:
        """`chat:send` {conversation_id, text}: a message to the customer of a chat."""
        return await self._answer(sid, data, self._send)

    async def on_chat_typing(self, sid: str, data: Any = None) -> dict[str, Any]:
        """`chat:typing` {conversation_id, typing}: shown to the customer."""
        return await self._answer(sid, data, self._typing)

    async def on_chat_read(self, sid: str, data: Any = None) -> dict[str, Any]:
        """`chat:read` {conversation_id, message_id}: the customer sees their messages were read."""
        return await self._answer(sid, data, self._read)

    async def trigger_event(self, event: str, *args: Any) -> Any:
        """Events are named `chat:send` etc. on the wire; their handlers `on_chat_send`."""
        return await super().trigger_event(event.replace(":", "_"), *args)

    async def _send(self, session: dict[str, Any], data: dict[str, Any]) -> dict[str, Any]:
        conversation_id = await self._held(session, data)
        text = data.get("text")
        if not isinstance(text, str):
            raise InvalidInput("text: a string is required")
        message = await chat.agent_writes(self.app, conversation_id, session["user_id"], text)
        return {"message": chat.message_json(message)}

    async def _typing(self, session: dict[str, Any], data: dict[str, Any]) -> dict[str, Any]:
        conversation_id = await self._held(session, data)
        await chat.typing(self.app, conversation_id, "agent", bool(data.get("typing")))
        return {}

    async def _read(self, session: dict[str, Any], data: dict[str, Any]) -> dict[str, Any]:
        conversation_id = await self._held(session, data)
        message_id = data.get("message_id")
        if not isinstance(message_id, int) or isinstance(message_id, bool):
            raise InvalidInput("message_id: an integer is required")
        await chat.mark_read(self.app, conversation_id, "agent", message_id)
        return {}

    async def _held(self, session: dict[str, Any], data: dict[str, Any]) -> int:
        """The conversation the event is about, when this user may act in it."""
        conversation_id = data.get("conversation_id")
        if not isinstance(conversation_id, int) or isinstance(conversation_id, bool):
            raise InvalidInput("conversation_id: an integer is required")
        supervising = session["role"] in (Role.SUPERVISOR, Role.ADMIN)
        for attempt in range(2):
            async with self.app[SESSIONS]() as db:
                conversation = await db.get(Conversation, conversation_id)
            if conversation is None:
                raise NotFound(f"no conversation {conversation_id}")
            if conversation.agent_id == session["user_id"] or supervising:
                return conversation_id
            if attempt == 0:  # the agent may have just accepted: let routing store what it decided
                await self.app[ROUTING].flush()
        raise PermissionDenied("this conversation is not assigned to you")

    async def _answer(self, sid: str, data: Any, work: Callable[..., Any]) -> dict[str, Any]:
        if not self.limiter.allow(sid):
            return {"ok": False, "error": "rate_limited", "message": "too many events; slow down"}
        if not isinstance(data, dict):
            return {"ok": False, "error": "invalid", "message": "the payload must be an object"}
        try:
            result = await work(await self.get_session(sid), data)
        except DomainError as exc:
            return {"ok": False, "error": exc.code, "message": str(exc)}
        except Exception:
            log.exception("agent event failed")
            return {"ok": False, "error": "server_error", "message": "something went wrong on our side"}
        return {"ok": True, **result}

    async def _user(self, environ: dict[str, Any], auth: Any) -> User | None:
        now = self.app[CLOCK].now()
        token = auth.get("token") if isinstance(auth, dict) else None
        request = environ.get("aiohttp.request")
        cookie = request.cookies.get(SESSION_COOKIE) if request is not None else None
        async with self.app[SESSIONS].begin() as db:
            if isinstance(token, str) and token:
                return await auth_sessions.token_user(db, token, now)
            if cookie:
                found = await auth_sessions.session_user(db, cookie, now)
                return found[0] if found else None
        return None


def attach(app: web.Application) -> Callable[[], None]:
    """Register /agent and push chat events to the assigned agent's sockets."""
    server = app[SIO]
    server.register_namespace(AgentNamespace(app))

    async def to_agent(event_name: str, event: Event, payload: dict[str, Any]) -> None:
        if not mine(app, event):
            return
        agent_id = event.payload.get("agent_id")
        if "agent_id" not in event.payload:  # the publisher did not know: look it up
            async with app[SESSIONS]() as db:
                conversation = await db.get(Conversation, event.payload["conversation_id"])
            agent_id = conversation.agent_id if conversation is not None else None
        if agent_id is not None:
            await server.emit(event_name, payload, room=room(agent_id), namespace=NAMESPACE)

    async def on_message(event: Event) -> None:
        await to_agent("chat:message", event, event.payload["message"])

    async def on_typing(event: Event) -> None:
        if event.payload["who"] == "customer":
            await to_agent("chat:typing", event, event.payload)

    async def on_read(event: Event) -> None:
        if event.payload["who"] == "customer":
            await to_agent("chat:read", event, event.payload)

    async def on_ended(event: Event) -> None:
        await to_agent("chat:ended", event, event.payload)

    stops = [
        app[EVENTS].subscribe("chat.message", on_message),
        app[EVENTS].subscribe("chat.typing", on_typing),
        app[EVENTS].subscribe("chat.read", on_read),
        app[EVENTS].subscribe("chat.ended", on_ended),
    ]
    return lambda: [stop() for stop in stops]
