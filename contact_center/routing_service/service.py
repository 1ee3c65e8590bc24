"""RoutingService: the routing engine of this process, fed from the database, its events stored and published.

Embedded it uses the in-memory store; with CC_REDIS_URL the Redis store, shared by every process. Events are
written by a background writer (a routing decision never waits for the database) in small batches: one row
per event in `routing_events`, and the conversation's queue, state, wait and handle times kept up to date.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Boolean, bindparam, case, insert, select, update
from sqlalchemy.exc import DBAPIError, IntegrityError, InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.orm import selectinload

from contact_center.clock import Clock
from contact_center.db.models import Conversation, Queue, RoutingEventRecord, User
from contact_center.errors import Conflict, NotFound, PermissionDenied
from contact_center.events import EventBus
from contact_center.reports.counters import counters_of, merge
from contact_center.reports.store import add_counters
from contact_center.routing_service.config import ROUTED_ROLES, agent_profile, queue_config
from routing.engine import NewTask, RoutingEngine
from routing.model import Presence, RoutingEvent, Task, TaskState
from routing.stats import LiveStatistics
from routing.store import Conflict as RoutingConflict
from routing.store import RoutingError, RoutingStore

log = logging.getLogger(__name__)
DEFAULT_QUEUE = "general"
UTC_ZONE = ZoneInfo("UTC")
PENDING_GRACE = timedelta(seconds=5)
STORE_ATTEMPTS = 4  # tries at storing a batch of routing events (a deadlock, a dropped connection)
PASSING_SQLSTATES = {"40001", "40P01"}  # serialization failure, deadlock detected
STAFFED_FOR = timedelta(seconds=1)  # how long a count of staffed agents stands (counting reads every agent)
STATE_BY_EVENT = {
    "task.queued": "queued",
    "task.offered": "offered",
    "task.accepted": "assigned",
    "task.completed": "wrapping",
    "task.wrapped": "done",
    "task.abandoned": "abandoned",
    "task.fell_back": "fell_back",
    "task.transferred": "queued",
    "task.rejected": "queued",
    "task.timed_out": "queued",
    "task.withdrawn": "queued",
}


async def _default_queue(db: AsyncSession) -> Queue:
    """Create the default queue; processes starting together on an empty database may race, so the
    loser reads the winner's row."""
    try:
        async with db.begin_nested():
            default = Queue(name=DEFAULT_QUEUE, description="Everything", channels=[], required_skills={})
            db.add(default)
    except IntegrityError:
        winner = (await db.execute(select(Queue).where(Queue.name == DEFAULT_QUEUE))).scalar_one_or_none()
        if winner is None:
            raise  # another constraint failed: not the race
        return winner
    return default


class RoutingService:
    """Owns the engine for this process and everything the application does around it."""

    def __init__(
        self,
        store: RoutingStore,
        sessions: async_sessionmaker[AsyncSession],
        bus: EventBus,
        clock: Clock,
        zone: ZoneInfo = UTC_ZONE,
    ) -> None:
        self.sessions, self.bus, self.clock, self.zone = sessions, bus, clock, zone
        self._engine: AsyncEngine = sessions.kw["bind"]
        self.engine = RoutingEngine(store, lambda: clock.now().timestamp())
        self.statistics = LiveStatistics(target_seconds=self._target_seconds)
        self._targets: dict[str, float] = {}
        self._staffed: tuple[datetime, int] | None = None  # (counted at, agents staffed)
        self._pending: asyncio.Queue[RoutingEvent] = asyncio.Queue()
        self._tasks: list[asyncio.Task[None]] = []
        self._writer_db: AsyncConnection | None = None  # the event writer's connection, between batches
        self.engine.subscribe(self.statistics)
        self.engine.subscribe(self._pending.put_nowait)

    async def start(self, *, tick_interval: float | None = 0.5) -> None:
        """Load queues and agents, then run the writer (and the tick loop unless tick_interval is None)."""
        await self.reload()
        self._tasks.append(asyncio.create_task(self._write_events()))
        if tick_interval is not None:
            self._tasks.append(asyncio.create_task(self._tick_forever(tick_interval)))

    async def stop(self) -> None:
        """Finish writing events and stop the loops."""
        await self.flush()
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
        if self._writer_db is not None:
            await self._writer_db.close()
            self._writer_db = None

    async def flush(self) -> None:
        """Wait until every event so far is stored and published."""
        if self._tasks:
            await self._pending.join()

    async def reload(self) -> None:
        """Read every queue and routed user from the database into the engine (a default queue if none)."""
        async with self.sessions.begin() as db:
            queues = list((await db.execute(select(Queue))).scalars())
            if not queues:
                queues = [await _default_queue(db)]
            users = list(
                (
                    await db.execute(
                        select(User).where(User.role.in_(ROUTED_ROLES)).options(selectinload(User.skills))
                    )
                ).scalars()
            )
        for row in queues:
            await self._configure(row)
        for user in users:
            await self.engine.register_agent(agent_profile(user))
            if not user.is_active:
                await self.engine.set_presence(str(user.id), Presence.OFFLINE)

    async def sync_queue(self, name: str) -> None:
        """Reload one queue after an administrator changed it."""
        async with self.sessions() as db:
            row = (await db.execute(select(Queue).where(Queue.name == name))).scalar_one_or_none()
        if row is not None:
            await self._configure(row)

    async def sync_agent(self, user_id: int) -> None:
        """Reload one user's skills, languages and capacity (and log them off if deactivated)."""
        async with self.sessions() as db:
            user = (
                await db.execute(select(User).where(User.id == user_id).options(selectinload(User.skills)))
            ).scalar_one_or_none()
        if user is None or user.role not in ROUTED_ROLES:
            return
        await self.engine.register_agent(agent_profile(user))
        self._staffed = None
        if not user.is_active:
            await self.engine.set_presence(str(user.id), Presence.OFFLINE)

    async def route(
        self,
        conversation_id: int,
        *,
        channel: str,
        queue: str,
        priority: int = 0,
        language: str | None = None,
        skills: dict[str, int] | None = None,
        preferred_agent: int | None = None,
        attributes: dict[str, Any] | None = None,
    ) -> str:
        """Queue a stored conversation as a routing task (idempotent: its task id is kept on it)."""
        async with self.sessions.begin() as db:
            conversation = await db.get(Conversation, conversation_id)
            if conversation is None:
                raise NotFound(f"conversation {conversation_id} does not exist")
            task_id, queue_name = await self.claim_task(conversation, queue, priority, language)
        await self.submit(
            conversation_id,
            task_id,
            channel=channel,
            queue=queue_name,
            priority=priority,
            language=language,
            skills=skills,
            preferred_agent=preferred_agent,
            attributes=attributes,
        )
        return task_id

    async def claim_task(
        self, conversation: Conversation, queue: str, priority: int, language: str | None
    ) -> tuple[str, str]:
        """Inside the caller's transaction: give the conversation its task id and queue, state "pending".

        Committed before `submit`, so a process that dies in between leaves a pending conversation, which
        the sweep queues again under the same task id.
        """
        conversation.queue = queue if await self.engine.queue(queue) else DEFAULT_QUEUE
        if conversation.task_id is None or conversation.routing_state in ("done", "abandoned", "fell_back"):
            conversation.task_id = f"conv{conversation.id}-{uuid.uuid4().hex[:10]}"
        conversation.routing_state = "pending"
        conversation.priority, conversation.language = priority, language
        return conversation.task_id, conversation.queue

    async def submit(
        self,
        conversation_id: int,
        task_id: str,
        *,
        channel: str,
        queue: str,
        priority: int = 0,
        language: str | None = None,
        skills: dict[str, int] | None = None,
        preferred_agent: int | None = None,
        attributes: dict[str, Any] | None = None,
    ) -> None:
        """Hand a claimed task to the engine (the same task id twice changes nothing)."""
        await self.engine.submit(
            NewTask(
                id=task_id,
                channel=channel,
                queue=queue,
                priority=priority,
                skills=skills or {},
                language=language,
                preferred_agent=str(preferred_agent) if preferred_agent else None,
                attributes={**(attributes or {}), "conversation_id": conversation_id},
            )
        )

    # agent actions --------------------------------------------------------------------------------

    async def set_presence(self, user_id: int, presence: Presence, reason: str | None = None) -> None:
        """An agent chooses available, away (with a reason) or offline."""
        await self._known_agent(user_id)
        try:
            await self._guard(self.engine.set_presence(str(user_id), presence, reason))
        finally:
            self._staffed = None  # after the change: a count taken meanwhile would miss it

    async def accept(self, user_id: int, reservation_id: str) -> Task:
        """The agent accepts their own offer; a second accept is a Conflict."""
        await self._own_reservation(user_id, reservation_id)
        return await self._guard(self.engine.accept(reservation_id))

    async def reject(self, user_id: int, reservation_id: str) -> None:
        """The agent declines their own offer."""
        await self._own_reservation(user_id, reservation_id)
        await self._guard(self.engine.reject(reservation_id))

    async def complete(self, user_id: int, task_id: str, *, supervisor: bool = False) -> None:
        """The agent ends the contact; wrap-up starts."""
        await self._own_task(user_id, task_id, supervisor)
        await self._guard(self.engine.complete(task_id))

    async def end_wrap_up(self, user_id: int, task_id: str, *, supervisor: bool = False) -> None:
        """The agent is done with after-contact work."""
        await self._own_task(user_id, task_id, supervisor)
        await self._guard(self.engine.end_wrap_up(task_id))

    async def finish(self, user_id: int, task_id: str, *, supervisor: bool = False) -> None:
        """Take the contact to its end whatever step it is at: complete it if it is still assigned, end
        its wrap-up if wrapping, nothing if the wrap-up timer already ended it."""
        await self._own_task(user_id, task_id, supervisor)
        task = await self._guard(self.engine.store.get_task(task_id))
        if task.state is TaskState.ASSIGNED:
            await self._guard(self.engine.complete(task_id))
            task = await self._guard(self.engine.store.get_task(task_id))
        if task.state is TaskState.WRAPPING:
            await self._guard(self.engine.end_wrap_up(task_id))

    async def transfer(
        self,
        user_id: int,
        task_id: str,
        *,
        queue: str | None = None,
        agent_id: int | None = None,
        note: str = "",
        supervisor: bool = False,
    ) -> None:
        """Hand the contact to another queue or agent, with a note."""
        await self._own_task(user_id, task_id, supervisor)
        await self._guard(
            self.engine.transfer(
                task_id, queue=queue, agent_id=str(agent_id) if agent_id else None, note=note
            )
        )

    async def cancel(self, task_id: str, reason: str) -> None:
        """The customer left (hung up, closed the chat) while waiting."""
        await self._guard(self.engine.cancel(task_id, reason))

    # views ----------------------------------------------------------------------------------------

    async def agent_view(self, user_id: int) -> dict[str, Any]:
        """An agent's routing state: presence, current tasks, open offer."""
        await self._known_agent(user_id)
        agent = await self._guard(self.engine.store.get_agent(str(user_id)))
        return {
            "agent_id": user_id,
            "presence": agent.presence.value,
            "reason": agent.away_reason,
            "tasks": agent.tasks,
            "offer": agent.offer,
            "idle_since": _iso(agent.idle_since),
        }

    async def queue_view(self) -> list[dict[str, Any]]:
        """Per queue: waiting count, longest wait, and this process's counters since start."""
        now = self.clock.now().timestamp()
        views = []
        for config in await self.engine.store.queues():
            waiting = await self.engine.store.waiting(config.name)
            figures = self.statistics.queues.get(config.name)
            views.append(
                {
                    "queue": config.name,
                    "waiting": len(waiting),
                    "longest_wait_seconds": round(max((now - t.created_at for t in waiting), default=0.0), 1),
                    "target_service_level": config.target_service_level,
                    "target_seconds": config.target_seconds,
                    **({k: v for k, v in asdict(figures).items()} if figures else {}),
                    "service_level": figures.service_level if figures else None,
                    "average_speed_of_answer": figures.average_speed_of_answer if figures else None,
                    "average_handle_time": figures.average_handle_time if figures else None,
                }
            )
        return views

    async def place_in_line(self, task_id: str) -> tuple[int, float] | None:
        """A waiting task's position in its queue (1 = next) and the estimated wait in seconds.

        The estimate is the position times the queue's average handle time (live figures; 180 s before
        there are any) shared among the agents who are not offline: the usual first-order estimate.
        """
        try:
            task = await self.engine.store.get_task(task_id)
        except RoutingError:
            return None
        if task.state.value not in ("queued", "reserved"):
            return None
        waiting = await self.engine.store.waiting(task.queue)
        ids = [t.id for t in waiting]
        position = ids.index(task_id) + 1 if task_id in ids else 1
        figures = self.statistics.queues.get(task.queue)
        handle = (figures.average_handle_time if figures else None) or 180.0
        return position, position * handle / max(1, await self.agents_staffed())

    async def presences(self) -> dict[int, dict[str, Any]]:
        """Every agent routing knows: presence and away reason, by user id."""
        return {
            int(agent.id): {"presence": agent.presence.value, "reason": agent.away_reason}
            for agent in await self.engine.store.agents()
        }

    async def agents_staffed(self) -> int:
        """Agents who are not offline (available, busy, away or wrapping up). Counted at most once per
        STAFFED_FOR (each chat visitor asks, and counting reads every agent), and afresh after a presence
        change made through this process."""
        now = self.clock.now()
        if self._staffed is None or not timedelta(0) <= now - self._staffed[0] < STAFFED_FOR:
            agents = await self.engine.store.agents()
            self._staffed = (now, sum(1 for agent in agents if agent.presence != Presence.OFFLINE))
        return self._staffed[1]

    # internals ------------------------------------------------------------------------------------

    async def _configure(self, row: Queue) -> None:
        config = queue_config(row)
        self._targets[config.name] = config.target_seconds
        await self.engine.configure_queue(config)

    def _target_seconds(self, queue: str) -> float:
        return self._targets.get(queue, 20.0)

    async def _guard(self, step: Any) -> Any:
        """Routing errors as domain errors: 409 for a step that no longer applies, 404 for unknown ids."""
        try:
            return await step
        except RoutingConflict as exc:
            raise Conflict(str(exc)) from None
        except RoutingError as exc:
            raise NotFound(str(exc)) from None

    async def _known_agent(self, user_id: int) -> None:
        """Users created while this process runs (by another process or the CLI) are loaded on first use."""
        try:
            await self.engine.store.get_agent(str(user_id))
        except RoutingError:
            await self.sync_agent(user_id)

    async def handled_by(self, user_id: int, task_id: str) -> bool:
        """Whether routing has the task assigned to this agent (its events may not be stored yet)."""
        try:
            task = await self.engine.store.get_task(task_id)
        except RoutingError:
            return False
        return task.agent_id == str(user_id)

    async def _own_reservation(self, user_id: int, reservation_id: str) -> None:
        reservation = await self._guard(self.engine.store.get_reservation(reservation_id))
        if reservation.agent_id != str(user_id):
            raise PermissionDenied("this offer was made to another agent")

    async def _own_task(self, user_id: int, task_id: str, supervisor: bool) -> None:
        task = await self._guard(self.engine.store.get_task(task_id))
        if task.agent_id != str(user_id) and not supervisor:
            raise PermissionDenied("this contact is handled by another agent")

    async def _tick_forever(self, interval: float) -> None:
        sweep_every, count = max(1, int(5 / interval)), 0
        while True:
            try:
                await self.engine.tick()
                count += 1
                if count % sweep_every == 0:
                    await self._resubmit_pending()
            except Exception:
                log.exception("routing tick failed")
            await asyncio.sleep(interval)

    async def _resubmit_pending(self) -> None:
        """Conversations stored but never queued (the process died in between) are queued now."""
        cutoff = self.clock.now() - PENDING_GRACE
        async with self.sessions() as db:
            rows = (
                await db.execute(
                    select(Conversation)
                    .where(Conversation.routing_state == "pending", Conversation.last_activity_at < cutoff)
                    .limit(100)
                )
            ).scalars()
            pending = [(c.id, c.channel, c.queue or DEFAULT_QUEUE, c.priority, c.language) for c in rows]
        for conversation_id, channel, queue, priority, language in pending:
            await self.route(
                conversation_id, channel=channel, queue=queue, priority=priority, language=language
            )

    async def _write_events(self) -> None:
        """Store and publish the events in batches. The events are published even when they could not be
        stored: routing has happened (the offer is out), and the agents must hear of it."""
        while True:
            batch = [await self._pending.get()]
            while not self._pending.empty() and len(batch) < 200:
                batch.append(self._pending.get_nowait())
            try:
                await self._store_retrying(batch)
            except Exception:
                log.exception("could not store %d routing events; publishing them all the same", len(batch))
            try:
                for event in batch:
                    await self.bus.publish(f"routing.{event.kind}", _event_payload(event))
            except Exception:
                log.exception("could not publish %d routing events", len(batch))
            finally:
                for _ in batch:
                    self._pending.task_done()

    async def _store_retrying(self, batch: list[RoutingEvent]) -> None:
        """Store the batch, trying again (a few times) when the transaction failed before its COMMIT for a
        passing reason (a deadlock with another process, a dropped connection): it rolled back whole. A
        failed COMMIT is not tried again, as it may have been applied."""
        for attempt in range(STORE_ATTEMPTS):
            try:
                await self._store(batch)
                return
            except DBAPIError as exc:
                if not _passing(exc) or attempt == STORE_ATTEMPTS - 1:
                    raise
                log.warning("storing %d routing events failed (%s); trying again", len(batch), exc.orig)
                await asyncio.sleep(0.05 * 2**attempt)

    async def _store(self, batch: list[RoutingEvent]) -> None:
        """The batch's rows, the conversations' routing state and the interval counters, in one transaction of
        three statements built once (the events, the conversations in task order, the counter rows), on a
        connection the writer keeps: the ORM's session and unit of work, building statements per row and a
        checkout with its ping per batch cost more than the rest of routing on the offer path. After any
        failure the connection is closed, and the next try takes a fresh one."""
        db = self._writer_db or await self._engine.connect()
        self._writer_db = None
        try:
            await db.begin()
            await db.execute(_INSERT_EVENTS, [_event_row(event) for event in batch])
            changes = _conversation_changes(batch)
            if changes:
                # in task order: two processes updating the same conversations lock them in the same order
                await db.execute(_UPDATE_CONVERSATION, [changes[task_id] for task_id in sorted(changes)])
            await add_counters(db, merge(self._counter_changes(batch)))
            try:
                await db.commit()
            except DBAPIError as exc:
                raise _CommitUncertain(str(exc.orig)) from exc
        except BaseException:
            with contextlib.suppress(Exception):
                await db.close()
            raise
        self._writer_db = db

    def _counter_changes(self, batch: list[RoutingEvent]) -> list[Any]:
        changes = []
        for event in batch:
            changes += counters_of(
                event.kind,
                event.at,
                event.queue,
                event.agent_id,
                event.data,
                target_seconds=self._target_seconds,
                zone=self.zone,
            )
        return changes


class _CommitUncertain(Exception):
    """The COMMIT itself failed: the transaction may or may not have been applied."""


def _passing(exc: DBAPIError) -> bool:
    """A failure that trying again may cure: a deadlock or serialisation failure, a lost connection."""
    if exc.connection_invalidated or isinstance(exc, (OperationalError, InterfaceError)):
        return True
    return getattr(exc.orig, "pgcode", None) in PASSING_SQLSTATES


# Built once: a conversation's new routing state, and each of its other columns only when an event gives it
# (`give_<column>`), so one statement serves every kind of event and a batch updates in one round trip.
_CHANGEABLE = ("queue", "agent_id", "answered_at", "wait_seconds", "handle_seconds", "ended_at")
_INSERT_EVENTS = insert(RoutingEventRecord)
_UPDATE_CONVERSATION = (
    update(Conversation)
    .where(Conversation.task_id == bindparam("b_task_id"))
    .values(
        routing_state=bindparam("b_routing_state"),
        **{
            name: case(
                (bindparam(f"give_{name}", type_=Boolean), bindparam(f"b_{name}", type_=column.type)),
                else_=column,
            )
            for name in _CHANGEABLE
            for column in [Conversation.__table__.c[name]]
        },
    )
)
_GIVE_NOTHING = {f"give_{name}": False for name in _CHANGEABLE} | {f"b_{name}": None for name in _CHANGEABLE}


def _event_row(event: RoutingEvent) -> dict[str, Any]:
    return {
        "task_id": event.task_id,
        "kind": event.kind,
        "at": datetime.fromtimestamp(event.at, UTC),
        "agent_id": int(event.agent_id) if event.agent_id else None,
        "queue": event.queue,
        "data": event.data,
    }


def _conversation_changes(batch: list[RoutingEvent]) -> dict[str, dict[str, Any]]:
    """The parameters of `_UPDATE_CONVERSATION` for each task a batch of events changes (in order: the last
    state wins)."""
    changes: dict[str, dict[str, Any]] = {}
    for event in batch:
        if event.task_id and event.kind in STATE_BY_EVENT:
            row = changes.setdefault(event.task_id, {**_GIVE_NOTHING, "b_task_id": event.task_id})
            for name, value in _changes_of(event).items():
                if name != "routing_state":
                    row[f"give_{name}"] = True
                row[f"b_{name}"] = value
    return changes


def _changes_of(event: RoutingEvent) -> dict[str, Any]:
    """The columns of a conversation that a routing event changes."""
    at = datetime.fromtimestamp(event.at, UTC)
    changes: dict[str, Any] = {"routing_state": STATE_BY_EVENT[event.kind]}
    if event.queue:
        changes["queue"] = event.queue
    if event.kind == "task.accepted":
        changes["agent_id"] = int(event.agent_id) if event.agent_id else None
        changes["answered_at"], changes["wait_seconds"] = at, event.data.get("wait")
    elif event.kind == "task.wrapped":
        changes["handle_seconds"], changes["ended_at"] = event.data.get("handle"), at
    elif event.kind in ("task.abandoned", "task.fell_back"):
        changes["ended_at"], changes["wait_seconds"] = at, event.data.get("wait")
    return changes


def _event_payload(event: RoutingEvent) -> dict[str, Any]:
    return {
        "kind": event.kind,
        "at": _iso(event.at),
        "task_id": event.task_id,
        "agent_id": event.agent_id,
        "queue": event.queue,
        "data": event.data,
    }


def _iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat()
