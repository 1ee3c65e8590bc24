"""python-socketio's Redis manager with a watchdog: a listener that went deaf is noticed and subscribes again.

python-socketio's Redis manager has had listeners that stopped receiving without an error (a connection
left half-open after Redis or the network failed): the process then never hears the emits of the other
processes, and the agents connected to it miss their offers. This manager publishes a heartbeat of its own on
its channel every `heartbeat_seconds`; when its listener has heard nothing at all (no heartbeat, no emit) for
`deaf_after_seconds`, it replaces the library's listener with a new one, which connects and subscribes again.
Any message counts: a listener that is behind (a busy process working through a burst) is not deaf.
Heartbeats are dropped before the library sees them.

It also keeps emits to one socket of this process off Redis: the library publishes every emit, even one to a
socket it holds itself (a wallboard's first board, a console's state), and every other process then decodes
it to find the socket is not theirs.

What was emitted while a process was deaf is not replayed: a console that reconnects asks for its state again
(`state`), and offers and messages are read from the routing store and the database, not from the emits.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

import socketio

log = logging.getLogger(__name__)
HEARTBEAT_METHOD = "cc.heartbeat"  # an unknown method to python-socketio: never handled as an emit
HEARTBEAT_START = b'{"method": "cc.heartbeat"'  # how every process's heartbeat begins, as published


class WatchedRedisManager(socketio.AsyncRedisManager):
    """AsyncRedisManager that resubscribes when it stops hearing its own heartbeats."""

    def __init__(
        self,
        url: str,
        channel: str,
        *,
        heartbeat_seconds: float = 2.0,
        deaf_after_seconds: float = 6.0,
    ) -> None:
        super().__init__(url, channel=channel)
        self._heartbeat_seconds, self._deaf_after = heartbeat_seconds, deaf_after_seconds
        self._heartbeat = {"method": HEARTBEAT_METHOD, "host_id": self.host_id}
        self._last_heard = 0.0
        self._watchdog: asyncio.Future[Any] | None = None
        self.resubscriptions = 0

    def initialize(self) -> None:
        """Start the library's listener and, beside it, the watchdog."""
        super().initialize()
        if not self.write_only:
            self._last_heard = asyncio.get_running_loop().time()
            self._watchdog = self.server.start_background_task(self._watch)

    async def emit(
        self,
        event: str,
        data: Any,
        namespace: str | None = None,
        room: Any = None,
        skip_sid: Any = None,
        callback: Any = None,
        to: Any = None,
        **kwargs: Any,
    ) -> Any:
        """Emit; to one socket connected to this process, without going through Redis."""
        target = to or room
        if isinstance(target, str) and self.is_connected(target, namespace or "/"):
            kwargs["ignore_queue"] = True
        return await super().emit(
            event, data, namespace=namespace, room=room, skip_sid=skip_sid, callback=callback, to=to, **kwargs
        )

    async def _listen(self) -> AsyncIterator[Any]:
        loop = asyncio.get_running_loop()
        async for message in super()._listen():
            self._last_heard = loop.time()
            if isinstance(message, bytes) and message.startswith(HEARTBEAT_START):
                continue
            yield message

    async def _watch(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            # the library logs and gives up by itself while Redis is away; a reply that never comes is dropped
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._publish(self._heartbeat), self._heartbeat_seconds)
            await asyncio.sleep(self._heartbeat_seconds)
            if loop.time() - self._last_heard <= self._deaf_after:
                continue
            log.warning("socket.io's Redis listener deaf for %.0f s; subscribing again", self._deaf_after)
            self.resubscriptions += 1
            self._last_heard = loop.time()
            # a new listener connects and subscribes at once; cancelling the old one's read drops its socket
            self.thread.cancel()
            self.thread = self.server.start_background_task(self._thread)
