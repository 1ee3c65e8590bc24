"""The event bus: in-process by default, Redis pub/sub when CC_REDIS_URL is set.

Publishers call `publish(topic, payload)`; subscribers register a handler for a topic or a prefix pattern
("ticket.*"). With Redis every process hears every event, its own included, exactly once.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, Generic, Protocol, TypeVar

from contact_center.clock import Clock, SystemClock

log = logging.getLogger(__name__)
T = TypeVar("T")

CHANNEL_PREFIX = "cc:events:"
HEARTBEAT_TOPIC = "bus.heartbeat"  # the bus's own, never dispatched to subscribers
LISTEN_WAIT_SECONDS = 1.0  # the longest the listener waits on one subscription before looking again


@dataclass(frozen=True)
class Event:
    """Something that happened: a topic such as "contact.received", a JSON payload, and where it came from."""

    topic: str
    payload: dict[str, Any]
    id: str = field(default_factory=lambda: uuid.uuid4().hex)
    occurred_at: str = ""
    origin: str = ""


Handler = Callable[[Event], Awaitable[None]]


def published_here(bus: EventBus, event: Event) -> bool:
    """True for an event this process published. With Redis every process hears every event; side effects
    (emits, database changes) belong to the one process that published it."""
    return event.origin == bus.origin


class EventBus(Protocol):
    """What publishers and subscribers rely on, whichever transport carries the events."""

    async def publish(self, topic: str, payload: dict[str, Any]) -> Event: ...

    @property
    def origin(self) -> str: ...

    def subscribe(self, pattern: str, handler: Handler) -> Callable[[], None]: ...

    async def start(self) -> None: ...

    async def close(self) -> None: ...


class _Subscriptions:
    """Handlers by pattern, and their dispatch; a failing handler is logged and does not stop the others."""

    def __init__(self) -> None:
        self._handlers: list[tuple[str, Handler]] = []
        self._running: set[asyncio.Task[None]] = set()

    def add(self, pattern: str, handler: Handler) -> Callable[[], None]:
        entry = (pattern, handler)
        self._handlers.append(entry)
        return lambda: self._handlers.remove(entry) if entry in self._handlers else None

    def dispatch(self, event: Event) -> None:
        for pattern, handler in list(self._handlers):
            if _matches(pattern, event.topic):
                task = asyncio.create_task(self._call(handler, event))
                self._running.add(task)
                task.add_done_callback(self._running.discard)

    async def drain(self) -> None:
        """Wait for handlers already started (tests and shutdown)."""
        while self._running:
            await asyncio.gather(*list(self._running), return_exceptions=True)

    @staticmethod
    async def _call(handler: Handler, event: Event) -> None:
        try:
            await handler(event)
        except Exception:
            log.exception("event handler %r failed on %s", handler, event.topic)


class Gathering(Generic[T]):
    """Handlers of events published at one moment (the routing-event writer publishes a batch at once) doing
    their work together: the first to join gives the loop one turn, in which the handlers of the other events
    join, and then takes them all (to read the database once for all, say); the others take nothing."""

    def __init__(self) -> None:
        self._joined: list[T] = []

    async def join(self, item: T) -> list[T]:
        """Every item gathered (this one first) for the first to join; [] for the others."""
        self._joined.append(item)
        if len(self._joined) > 1:
            return []
        await asyncio.sleep(0)  # the handlers already scheduled run now, and join
        gathered, self._joined = self._joined, []
        return gathered


def _matches(pattern: str, topic: str) -> bool:
    if pattern in {"*", topic}:
        return True
    return pattern.endswith(".*") and topic.startswith(pattern[:-1])


class InProcessBus:
    """Events delivered to handlers in this process only (the embedded default)."""

    def __init__(self, clock: Clock | None = None, origin: str = "local") -> None:
        self._clock = clock or SystemClock()
        self._origin = origin
        self._subscriptions = _Subscriptions()

    async def publish(self, topic: str, payload: dict[str, Any]) -> Event:
        """Deliver an event to every matching handler."""
        event = Event(topic, payload, occurred_at=self._clock.now().isoformat(), origin=self._origin)
        self._subscriptions.dispatch(event)
        return event

    @property
    def origin(self) -> str:
        """This process's name on its events."""
        return self._origin

    def subscribe(self, pattern: str, handler: Handler) -> Callable[[], None]:
        """Call `handler` for each event whose topic matches; returns a function that unsubscribes."""
        return self._subscriptions.add(pattern, handler)

    async def start(self) -> None:
        """Nothing to connect."""

    async def drain(self) -> None:
        """Wait until handlers of published events have run."""
        await self._subscriptions.drain()

    async def close(self) -> None:
        """Let running handlers finish."""
        await self.drain()


class RedisBus:
    """Events carried by Redis pub/sub, so subscribers in every process hear them.

    A subscription can go deaf without an error (a connection a middlebox dropped silently, a subscription
    lost in a failover). So the bus publishes a heartbeat of its own every `heartbeat_seconds` and listens for
    it: when it has heard none for `deaf_after_seconds`, it subscribes again on a new connection (and counts
    it in `resubscriptions`). Events published while a subscription was deaf are not replayed: what must
    reach an agent is kept in the database and routing store, and a console that reconnects is sent its
    state again.
    """

    def __init__(
        self,
        redis: Any,
        clock: Clock | None = None,
        origin: str | None = None,
        prefix: str = CHANNEL_PREFIX,
        *,
        heartbeat_seconds: float = 3.0,
        deaf_after_seconds: float = 10.0,
    ) -> None:
        self._redis = redis
        self._prefix = prefix
        self._clock = clock or SystemClock()
        self._origin = origin or uuid.uuid4().hex[:12]
        self._subscriptions = _Subscriptions()
        self._pubsub: Any = None
        self._listener: asyncio.Task[None] | None = None
        self._watchdog: asyncio.Task[None] | None = None
        self._heartbeat_seconds, self._deaf_after = heartbeat_seconds, deaf_after_seconds
        self._last_heard = 0.0
        self.resubscriptions = 0

    async def start(self) -> None:
        """Subscribe to every event channel and start listening (and watching that we still hear)."""
        self._pubsub = await self._subscribe()
        self._last_heard = asyncio.get_running_loop().time()
        self._listener = asyncio.create_task(self._listen())
        self._watchdog = asyncio.create_task(self._watch())

    async def publish(self, topic: str, payload: dict[str, Any]) -> Event:
        """Send an event to every process (this one included)."""
        event = Event(topic, payload, occurred_at=self._clock.now().isoformat(), origin=self._origin)
        await self._redis.publish(self._prefix + topic, json.dumps(asdict(event), default=str))
        return event

    @property
    def origin(self) -> str:
        """This process's name on its events (to tell its own events from other processes')."""
        return self._origin

    def subscribe(self, pattern: str, handler: Handler) -> Callable[[], None]:
        """Call `handler` for each matching event from any process."""
        return self._subscriptions.add(pattern, handler)

    async def drain(self) -> None:
        """Wait until handlers of received events have run."""
        await self._subscriptions.drain()

    async def close(self) -> None:
        """Stop listening and release the connection."""
        for task in (self._watchdog, self._listener):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        if self._pubsub is not None:
            await self._pubsub.aclose()
        await self._subscriptions.drain()

    async def _subscribe(self) -> Any:
        pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
        await pubsub.psubscribe(f"{self._prefix}*")
        return pubsub

    async def _watch(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            with contextlib.suppress(Exception):  # Redis away: the listener logs it; try again next beat
                await self._redis.publish(
                    self._prefix + HEARTBEAT_TOPIC, json.dumps({"origin": self._origin})
                )
            await asyncio.sleep(self._heartbeat_seconds)
            if loop.time() - self._last_heard > self._deaf_after:
                log.warning(
                    "the Redis event subscription heard nothing for %.0f s; subscribing again",
                    self._deaf_after,
                )
                try:
                    fresh = await self._subscribe()
                except Exception:
                    log.exception("could not subscribe again; retrying")
                    continue
                self._pubsub = fresh  # the listener closes the old one when its wait on it ends
                self._last_heard = loop.time() + LISTEN_WAIT_SECONDS  # time for the listener to move over
                self.resubscriptions += 1

    async def _listen(self) -> None:
        while True:
            pubsub = self._pubsub
            try:
                message = await pubsub.get_message(timeout=LISTEN_WAIT_SECONDS)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("lost the Redis event subscription; retrying")
                await asyncio.sleep(1)
                continue
            if pubsub is not self._pubsub:  # the watchdog subscribed again: drop the deaf subscription
                with contextlib.suppress(Exception):
                    await pubsub.aclose()
            if message is None or message.get("type") != "pmessage":
                continue
            if _channel(message) == self._prefix + HEARTBEAT_TOPIC:
                if _heartbeat_origin(message) == self._origin:
                    self._last_heard = asyncio.get_running_loop().time()
                continue
            try:
                data = json.loads(message["data"])
                event = Event(data["topic"], data["payload"], data["id"], data["occurred_at"], data["origin"])
            except (ValueError, KeyError, TypeError):
                log.warning("ignored a malformed event on %s", message.get("channel"))
                continue
            self._subscriptions.dispatch(event)


def _channel(message: dict[str, Any]) -> str:
    channel = message.get("channel")
    return channel.decode() if isinstance(channel, bytes) else str(channel)


def _heartbeat_origin(message: dict[str, Any]) -> str | None:
    try:
        return json.loads(message["data"]).get("origin")
    except (ValueError, TypeError, AttributeError):
        return None


def occurred(event: Event) -> datetime:
    """When an event happened, as a datetime."""
    return datetime.fromisoformat(event.occurred_at)
