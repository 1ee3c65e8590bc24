"""The customer-facing socket.io namespace /chat: the widget's transport (docs/agent-protocol.md lists
every event).

A socket connects with `auth={"token": ...}` (a visitor token from an earlier visit) or without one; a
token we did not sign is refused. Every client event answers through its acknowledgement: `{"ok": true,
...}` or `{"ok": false, "error": code, "message": text}`. The server pushes `message`, `typing`, `read`,
`agent_joined`, `agent_left`, `queue` and `ended` to the room of the visitor's conversation, so every tab of
the visitor sees the same.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import socketio
from aiohttp import web
from sqlalchemy import select

from agent_ui.agent_views import reading
from agent_ui.realtime import SIO, mine
from channels import chat
from channels.chat_tokens import new_visitor_token, visitor_of
from contact_center.db.models import Conversation, User
from contact_center.errors import DomainError, InvalidInput, NotFound
from contact_center.events import Event
from contact_center.rate_limit import RateLimiter
from contact_center.web.appkeys import CLOCK, EVENTS, ROUTING, SESSIONS, SETTINGS
from contact_center.web.client_address import client_address

log = logging.getLogger(__name__)
CUSTOMER_SEES = ("task.accepted", "task.completed", "task.transferred")  # agent joined, agent left

NAMESPACE = "/chat"
QUEUE_ANNOUNCE_SECONDS = 10.0


def room(conversation_id: int) -> str:
    """The room of one conversation's customer sockets."""
    return f"conversation-{conversation_id}"


class ChatNamespace(socketio.AsyncNamespace):
    """The widget's events; the work is done by channels.chat."""

    def __init__(self, app: web.Application) -> None:
        super().__init__(NAMESPACE)
        self.app = app
        settings, clock = app[SETTINGS], app[CLOCK]
        per_minute, per_hour = settings.chat_messages_per_minute, settings.chat_starts_per_hour
        self.messages = RateLimiter(clock, per_second=per_minute / 60, burst=max(10, per_minute // 3))
        self.starts = RateLimiter(clock, per_second=per_hour / 3600, burst=max(5, per_hour // 4))

    # connection --------------------------------------------------------------------------------------

    async def on_connect(self, sid: str, environ: dict[str, Any], auth: Any = None) -> None:
        """Accept a new visitor, or a returning one with a token we signed; refuse a forged token."""
        key = self.app[SETTINGS].signing_key()
        token = auth.get("token") if isinstance(auth, dict) else None
        if token:
            visitor = visitor_of(key, token)
            if visitor is None:
                raise socketio.exceptions.ConnectionRefusedError("invalid visitor token")
        else:
            visitor, token = new_visitor_token(key)
        request = environ.get("aiohttp.request")
        address = (client_address(request, self.app[SETTINGS]) if request is not None else None) or "unknown"
        await self.save_session(sid, {"visitor": visitor, "token": token, "address": address})

    async def on_disconnect(self, sid: str, *_: Any) -> None:
        """Forget the socket's rate limit."""
        self.messages.forget(sid)

    # client events -----------------------------------------------------------------------------------

    async def on_hello(self, sid: str, data: Any = None) -> dict[str, Any]:
        """The state to show: the token to keep, the open chat with its messages, or the form's topics
        and whether anyone can chat now."""
        return await self._answer(sid, self._hello)

    async def on_start(self, sid: str, data: Any = None) -> dict[str, Any]:
        """The pre-chat form with the first message."""
        return await self._answer(sid, lambda session: self._start(sid, session, data))

    async def on_message(self, sid: str, data: Any = None) -> dict[str, Any]:
        """A message from the customer."""

        async def write(session: dict[str, Any]) -> dict[str, Any]:
            if not self.messages.allow(sid):
                return _refusal("rate_limited", "too many messages; wait a moment")
            text = chat.parse(chat.ChatText, data)
            known = session.get("conversation_id")
            message = await chat.customer_writes(self.app, session["visitor"], text, known)
            return {"message": chat.message_json(message)}

        return await self._answer(sid, write)

    async def on_typing(self, sid: str, data: Any = None) -> dict[str, Any]:
        """The customer started or stopped typing."""

        async def typed(session: dict[str, Any]) -> dict[str, Any]:
            conversation = await self._conversation(session)
            if not self.messages.allow(f"typing-{sid}"):
                return {}
            await chat.typing(self.app, conversation.id, "customer", bool(_field(data, "typing")))
            return {}

        return await self._answer(sid, typed)

    async def on_read(self, sid: str, data: Any = None) -> dict[str, Any]:
        """The customer has seen the agent's messages up to `message_id`."""

        async def read(session: dict[str, Any]) -> dict[str, Any]:
            conversation = await self._conversation(session)
            await chat.mark_read(self.app, conversation.id, "customer", _int_field(data, "message_id"))
            return {}

        return await self._answer(sid, read)

    async def on_end(self, sid: str, data: Any = None) -> dict[str, Any]:
        """The customer closes the chat."""

        async def ended(session: dict[str, Any]) -> dict[str, Any]:
            return {"conversation_id": await chat.end(self.app, session["visitor"])}

        return await self._answer(sid, ended)

    async def on_rate(self, sid: str, data: Any = None) -> dict[str, Any]:
        """A satisfaction rating (1-5 and a comment) of one of the visitor's chats."""

        async def rated(session: dict[str, Any]) -> dict[str, Any]:
            conversation_id = _int_field(data, "conversation_id")
            fields = {k: v for k, v in (data or {}).items() if k in ("score", "comment")}
            rating = chat.parse(chat.ChatRating, fields)
            await chat.rate(self.app, session["visitor"], conversation_id, rating)
            return {}

        return await self._answer(sid, rated)

    async def on_transcript(self, sid: str, data: Any = None) -> dict[str, Any]:
        """Email the transcript of one of the visitor's chats to the address they gave."""

        async def sent(session: dict[str, Any]) -> dict[str, Any]:
            conversation_id = _int_field(data, "conversation_id")
            return {"outbox_id": await chat.send_transcript(self.app, session["visitor"], conversation_id)}

        return await self._answer(sid, sent)

    async def on_offline(self, sid: str, data: Any = None) -> dict[str, Any]:
        """The offline form: a ticket, and an email to the customer."""

        async def left(session: dict[str, Any]) -> dict[str, Any]:
            if not self.starts.allow(session["address"]):
                return _refusal("rate_limited", "too many messages from your address; try later")
            ticket_id = await chat.leave_message(
                self.app, session["visitor"], chat.parse(chat.OfflineMessage, data)
            )
            return {"ticket_id": ticket_id}

        return await self._answer(sid, left)

    # the work ----------------------------------------------------------------------------------------

    async def _hello(self, session: dict[str, Any]) -> dict[str, Any]:
        conversation = await chat.open_conversation(self.app, session["visitor"])
        answer: dict[str, Any] = {
            "token": session["token"],
            "topics": [topic.label for topic in chat.topics(self.app)],
            "conversation_id": None,
            "messages": [],
            "offline": await chat.availability(self.app),
        }
        if conversation is not None:
            await self._join(session, conversation.id)
            answer.update(
                conversation_id=conversation.id,
                messages=await chat.history(self.app, conversation.id),
                agent=await _agent_name(self.app, conversation),
                queue=await _place(self.app, conversation),
            )
        return answer

    async def _start(self, sid: str, session: dict[str, Any], data: Any) -> dict[str, Any]:
        form = chat.parse(chat.ChatStart, data)
        if await chat.open_conversation(self.app, session["visitor"]) is not None:
            return _refusal("conflict", "a chat is already open; send a message instead")
        reason = await chat.availability(self.app)
        if reason is not None:
            return _refusal("offline", "nobody can chat just now; leave us a message", reason=reason)
        if not self.starts.allow(session["address"]):
            return _refusal("rate_limited", "too many chats from your address; try later")
        conversation = await chat.start(self.app, session["visitor"], form)
        await self._join(session, conversation.id)
        return {
            "conversation_id": conversation.id,
            "messages": await chat.history(self.app, conversation.id),
            "queue": await _place(self.app, conversation),
        }

    async def _join(self, session: dict[str, Any], conversation_id: int) -> None:
        """The socket joins its conversation's room and remembers it."""
        await self.enter_room(session["sid"], room(conversation_id))
        kept = {key: value for key, value in session.items() if key != "sid"}
        await self.save_session(session["sid"], {**kept, "conversation_id": conversation_id})

    async def _conversation(self, session: dict[str, Any]) -> Conversation:
        conversation = await chat.open_conversation(self.app, session["visitor"])
        if conversation is None:
            raise NotFound("no chat is open")
        return conversation

    async def _answer(
        self, sid: str, work: Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]
    ) -> dict[str, Any]:
        """Run one client event; its acknowledgement says how it went (never a stack trace)."""
        session = {**await self.get_session(sid), "sid": sid}
        try:
            result = await work(session)
        except DomainError as exc:
            return _refusal(exc.code, str(exc))
        except Exception:
            log.exception("chat event failed")
            return _refusal("server_error", "something went wrong on our side; try again")
        return result if result.get("ok") is False else {"ok": True, **result}


def _refusal(code: str, message: str, **extra: Any) -> dict[str, Any]:
    return {"ok": False, "error": code, "message": message, **extra}


def _field(data: Any, name: str) -> Any:
    return data.get(name) if isinstance(data, dict) else None


def _int_field(data: Any, name: str) -> int:
    value = _field(data, name)
    if not isinstance(value, int) or isinstance(value, bool):
        raise InvalidInput(f"{name}: an integer is required")
    return value


async def _agent_name(app: web.Application, conversation: Conversation) -> str | None:
    if conversation.agent_id is None or conversation.routing_state not in ("assigned", "wrapping"):
        return None
    async with app[SESSIONS]() as db:
        user = await db.get(User, conversation.agent_id)
    return user.display_name if user is not None else None


async def _place(app: web.Application, conversation: Conversation) -> dict[str, Any] | None:
    if conversation.task_id is None:
        return None
    place = await app[ROUTING].place_in_line(conversation.task_id)
    if place is None:
        return None
    return {"position": place[0], "wait_seconds": round(place[1])}


# pushes from bus events ------------------------------------------------------------------------------


def attach(app: web.Application) -> Callable[[], None]:
    """Register /chat on the app's socket.io server and push bus events to the customers' sockets."""
    server = app[SIO]
    server.register_namespace(ChatNamespace(app))

    async def emit(event_name: str, payload: dict[str, Any], conversation_id: int) -> None:
        await server.emit(event_name, payload, room=room(conversation_id), namespace=NAMESPACE)

    async def on_message(event: Event) -> None:
        if mine(app, event):
            await emit("message", event.payload["message"], event.payload["conversation_id"])

    async def on_typing(event: Event) -> None:
        if mine(app, event) and event.payload["who"] == "agent":
            await emit("typing", {"typing": event.payload["typing"]}, event.payload["conversation_id"])

    async def on_read(event: Event) -> None:
        if mine(app, event) and event.payload["who"] == "agent":
            await emit("read", {"message_id": event.payload["message_id"]}, event.payload["conversation_id"])

    async def on_survey(event: Event) -> None:
        if mine(app, event):
            await emit("survey", event.payload, event.payload["conversation_id"])

    async def on_ended(event: Event) -> None:
        if mine(app, event):
            await emit("ended", {"by": event.payload["by"]}, event.payload["conversation_id"])

    async def on_routing(event: Event) -> None:
        if not mine(app, event) or not event.payload.get("task_id"):
            return
        kind, channel = event.payload["kind"], event.payload["data"].get("channel")
        if kind not in CUSTOMER_SEES or channel not in (None, "chat"):
            return  # most routing events mean nothing to a chat customer: no query for them
        async with reading(app) as db:
            query = select(Conversation).where(Conversation.task_id == event.payload["task_id"])
            conversation = (await db.execute(query)).scalar_one_or_none()
            agent_id = conversation.agent_id if conversation else None
            agent = await db.get(User, agent_id) if agent_id else None
        if conversation is None or conversation.channel != "chat":
            return
        kind = event.payload["kind"]
        if kind == "task.accepted" and agent is not None:
            await emit("agent_joined", {"name": agent.display_name}, conversation.id)
        elif kind in ("task.completed", "task.transferred"):
            await emit("agent_left", {"reason": kind.removeprefix("task.")}, conversation.id)

    stops = [
        app[EVENTS].subscribe("chat.message", on_message),
        app[EVENTS].subscribe("chat.typing", on_typing),
        app[EVENTS].subscribe("chat.read", on_read),
        app[EVENTS].subscribe("chat.ended", on_ended),
        app[EVENTS].subscribe("chat.survey", on_survey),
        app[EVENTS].subscribe("routing.task.*", on_routing),
    ]
    announcer = asyncio.create_task(_announce_places(app))

    def stop() -> None:
        announcer.cancel()
        for unsubscribe in stops:
            unsubscribe()

    return stop


async def _announce_places(app: web.Application) -> None:
    """Every few seconds: each waiting chat's position and estimated wait, to its room."""
    while True:
        await asyncio.sleep(QUEUE_ANNOUNCE_SECONDS)
        with contextlib.suppress(Exception):
            await announce_places(app)


async def announce_places(app: web.Application) -> int:
    """Push `queue` to the rooms of chats waiting in a queue; how many were told."""
    async with app[SESSIONS]() as db:
        query = select(Conversation).where(
            Conversation.channel == "chat", Conversation.routing_state.in_(("queued", "offered"))
        )
        waiting = list((await db.execute(query)).scalars())
    told = 0
    for conversation in waiting:
        place = await _place(app, conversation)
        if place is not None:
            await app[SIO].emit("queue", place, room=room(conversation.id), namespace=NAMESPACE)
            told += 1
    return told
