"""The supervisors' wallboard: the socket.io namespace /wallboard, its pushes, and supervisors' actions.

Only supervisors and administrators may connect. Each socket gets `wallboard:snapshot` (the whole board) on
connecting and `wallboard:delta` (the queue and agent rows that changed) after routing events, at most
`MAX_UPDATES_PER_SECOND` times a second: events close together are computed once, and nothing is computed
while no wallboard is open (embedded; scaled out, the process cannot see other processes' sockets). Every
`FULL_REFRESH_SECONDS` a fresh snapshot goes out anyway, so a board stays right when another process pushed
the last change. The board is computed by the process that published the event (`mine`), from the shared
routing store and database, so all processes agree. Scaled out, a process with wallboards open marks it in
Redis (`<prefix>wallboard:watched`, renewed while they stay), and the other processes compute boards only
while that mark is there: a centre with nobody watching spends nothing on boards.

Actions: `agent:presence` (set an agent's state), `task:transfer` (move a contact to a queue or agent),
`whisper` (a private message to an agent's console), `conversation:watch` / `conversation:unwatch`
(read a live conversation: its transcript now, then each new message as `conversation:message`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any
from zoneinfo import ZoneInfo

import socketio
from aiohttp import web
from prometheus_client import Counter
from pydantic import BaseModel, ConfigDict, Field
from redis.exceptions import RedisError
from sqlalchemy import select

from agent_ui import agent_views
from agent_ui.agent_namespace import NAMESPACE as AGENT_NAMESPACE
from agent_ui.agent_namespace import parse
from agent_ui.agent_namespace import room as agent_room
from agent_ui.realtime import SIO, mine
from agent_ui.socket_auth import socket_user
from agent_ui.socket_events import answer
from contact_center.auth.roles import Role
from contact_center.db.models import Conversation, Message, User
from contact_center.errors import NotFound
from contact_center.events import Event
from contact_center.rate_limit import RateLimiter
from contact_center.reports.live import BoardInputs, board, delta
from contact_center.routing_service.config import TransferIn
from contact_center.users import service as users
from contact_center.web.appkeys import CLOCK, EVENTS, METRICS, REDIS, ROUTING, SESSIONS, SETTINGS
from routing.model import Presence

log = logging.getLogger(__name__)
NAMESPACE = "/wallboard"
ROOM = "wallboard"
MAX_UPDATES_PER_SECOND = 4
FULL_REFRESH_SECONDS = 10.0
WATCHED_MARK_SECONDS = 3 * FULL_REFRESH_SECONDS  # the mark outlives two missed renewals
WATCHED_CHECK_SECONDS = 2.0  # how often a process without wallboards looks for the mark
RECENT_SECONDS = 1.0  # a board this fresh is sent as it is to a wallboard that connects
OPENED_TOPIC = "wallboard.opened"
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


class Wallboard:
    """Computes the board when routing changes and pushes what changed to the wallboard room."""

    def __init__(self, app: web.Application) -> None:
        self.app = app
        self.last: dict[str, Any] | None = None
        self.viewers = 0  # wallboard sockets on this process
        self._changed = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._watched_elsewhere = False
        self._checked_at = float("-inf")
        self._recent: tuple[float, dict[str, Any]] | None = None  # (loop time, the newest board computed)
        self._computing: asyncio.Future[dict[str, Any]] | None = None
        self.computed = Counter(
            "cc_wallboard_boards_computed", "Boards computed by this process", registry=app[METRICS].registry
        )

    async def current(self) -> dict[str, Any]:
        """The board now, computed from the routing store and the database."""
        self.computed.inc()
        app, routing = self.app, self.app[ROUTING]
        store = routing.engine.store
        queues = await store.queues()
        inputs = BoardInputs(
            now=app[CLOCK].now(),
            zone=ZoneInfo(app[SETTINGS].timezone),
            queues=queues,
            waiting={config.name: await store.waiting(config.name) for config in queues},
            agents=await store.agents(),
            wait_alert_seconds=app[SETTINGS].wallboard_wait_alert_seconds,
        )
        async with agent_views.reading(app) as db:
            return await board(db, inputs)

    def changed(self) -> None:
        """Something on the board may have changed: push it soon (if anyone watches, here or elsewhere)."""
        if self.viewers > 0 or self.app.get(REDIS) is not None:
            self._changed.set()

    async def opened(self) -> None:
        """A wallboard socket connected to this process. Scaled out, the first one tells the other processes
        at once (they compute boards from now on) and the push loop sets the mark in Redis."""
        self.viewers += 1
        if self.viewers == 1 and self.app.get(REDIS) is not None:
            self._checked_at = float("-inf")
            self._changed.set()
            await self.app[EVENTS].publish(OPENED_TOPIC, {})

    def opened_elsewhere(self) -> None:
        """Another process has wallboards open now."""
        self._watched_elsewhere = True
        self._checked_at = asyncio.get_running_loop().time()

    def closed(self) -> None:
        """A wallboard socket of this process went away; with none left, the next board is sent whole."""
        self.viewers = max(0, self.viewers - 1)
        if self.viewers == 0 and self.app.get(REDIS) is None:
            self.last = None

    async def push(self, *, full: bool = False) -> None:
        """Compute the board and emit what changed (or all of it) to every wallboard."""
        now = await self.current()
        change = delta(None if full else self.last, now)
        self.last = now
        self._recent = (asyncio.get_running_loop().time(), now)
        if change is not None:
            name = "wallboard:snapshot" if change.pop("full", False) else "wallboard:delta"
            await self.app[SIO].emit(name, change, room=ROOM, namespace=NAMESPACE)

    async def for_new_viewer(self) -> dict[str, Any]:
        """The board for a socket that just connected: the newest board computed if it is under
        RECENT_SECONDS old, else a fresh one, computed once for all the sockets connecting meanwhile.

        Either way it is no older than `last`, so the next delta (from `last`) brings the socket up to date.
        """
        loop = asyncio.get_running_loop()
        if self._recent is not None and loop.time() - self._recent[0] < RECENT_SECONDS:
            return self._recent[1]
        if self._computing is None or self._computing.done():
            self._computing = asyncio.ensure_future(self._compute_recent())
        board_now = await asyncio.shield(self._computing)
        if self.last is None:
            self.last = board_now  # later pushes are deltas from what this socket was sent
        return board_now

    async def _compute_recent(self) -> dict[str, Any]:
        board_now = await self.current()
        self._recent = (asyncio.get_running_loop().time(), board_now)
        return board_now

    def start(self) -> None:
        """Run the push loop."""
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        """Stop the push loop."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def watched(self) -> bool:
        """Whether a wallboard is open on this process or, scaled out, on another (the mark in Redis, looked
        at every WATCHED_CHECK_SECONDS; while Redis does not answer, the last answer stands)."""
        redis = self.app.get(REDIS)
        if redis is None:
            return self.viewers > 0
        key = self.app[SETTINGS].redis_prefix + "wallboard:watched"
        now = asyncio.get_running_loop().time()
        try:
            if self.viewers > 0:
                if now - self._checked_at >= FULL_REFRESH_SECONDS / 2:
                    await redis.set(key, "1", ex=int(WATCHED_MARK_SECONDS))
                    self._checked_at = now
                return True
            if now - self._checked_at >= WATCHED_CHECK_SECONDS:
                self._watched_elsewhere = bool(await redis.exists(key))
                self._checked_at = now
        except (RedisError, OSError):
            log.warning("could not reach Redis for the wallboard mark", exc_info=True)
        return self._watched_elsewhere

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        refresh_at = loop.time() + FULL_REFRESH_SECONDS
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(max(0.0, refresh_at - loop.time())):
                    await self._changed.wait()
            full = loop.time() >= refresh_at
            self._changed.clear()
            try:
                if await self.watched():
                    await self.push(full=full)
            except Exception:
                log.exception("the wallboard could not be computed")
            if full:
                refresh_at = loop.time() + FULL_REFRESH_SECONDS
            await asyncio.sleep(1 / MAX_UPDATES_PER_SECOND)


BOARD = web.AppKey("wallboard", Wallboard)


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
        if mine(app, event):
            wallboard.changed()

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
