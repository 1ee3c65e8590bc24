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
from typing import Any, Protocol

from contact_center.clock import Clock, SystemClock

log = logging.getLogger(__name__)

CHANNEL_PREFIX = "cc:events:"


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
    """Events carried by Redis pub/sub, so subscribers in every process hear them."""

    def __init__(
        self, redis: Any, clock: Clock | None = None, origin: str | None = None, prefix: str = CHANNEL_PREFIX
    ) -> None:
        self._redis = redis
        self._prefix = prefix
        self._clock = clock or SystemClock()
        self._origin = origin or uuid.uuid4().hex[:12]
        self._subscriptions = _Subscriptions()
        self._pubsub: Any = None
        self._listener: asyncio.Task[None] | None = None
        self._ready = asyncio.Event()

    async def start(self) -> None:
        """Subscribe to every event channel and start listening."""
        self._pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
        await self._pubsub.psubscribe(f"{self._prefix}*")
        self._listener = asyncio.create_task(self._listen())

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
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listener
        if self._pubsub is not None:
            await self._pubsub.aclose()
        await self._subscriptions.drain()

    async def _listen(self) -> None:
        while True:
            try:
                message = await self._pubsub.get_message(timeout=1.0)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("lost the Redis event subscription; retrying")
                await asyncio.sleep(1)
                continue
            if message is None or message.get("type") != "pmessage":
                continue
            try:
                data = json.loads(message["data"])
                event = Event(data["topic"], data["payload"], data["id"], data["occurred_at"], data["origin"])
            except (ValueError, KeyError, TypeError):
                log.warning("ignored a malformed event on %s", message.get("channel"))
                continue
            self._subscriptions.dispatch(event)


def occurred(event: Event) -> datetime:
    """When an event happened, as a datetime."""
    return datetime.fromisoformat(event.occurred_at)
