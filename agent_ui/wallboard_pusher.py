"""Computing the wallboard and pushing it to the /wallboard room: by one process, only while someone watches.

The board (contact_center/reports/live.py) is computed from the routing store and the database after routing
events, at most `MAX_UPDATES_PER_SECOND` times a second (events close together are computed once), and only
what changed goes out (`wallboard:delta`); every `FULL_REFRESH_SECONDS` the whole board goes out anyway
(`wallboard:snapshot`).

Scaled out (Redis), one process computes and pushes for all: the pusher, which holds the lease
`<prefix>wallboard:pusher` (renewed every PUSHER_LEASE_SECONDS / 3; another process takes over within
PUSHER_LEASE_SECONDS when it dies). It hears every process's routing events on the bus, so there is one
sequence of deltas, from one previous board. Boards are computed only while a wallboard is open somewhere:
a process with wallboards open keeps the mark `<prefix>wallboard:watched` and announces its first one on the
bus, so a centre with nobody watching spends nothing on boards.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web
from prometheus_client import Counter
from redis.exceptions import RedisError

from agent_ui import agent_views
from agent_ui.realtime import SIO
from contact_center.reports.live import BoardInputs, board, delta
from contact_center.web.appkeys import CLOCK, EVENTS, METRICS, REDIS, ROUTING, SETTINGS

log = logging.getLogger(__name__)
NAMESPACE = "/wallboard"
ROOM = "wallboard"
MAX_UPDATES_PER_SECOND = 4
FULL_REFRESH_SECONDS = 30.0
PUSHER_LEASE_SECONDS = 15.0
WATCHED_MARK_SECONDS = 3 * PUSHER_LEASE_SECONDS  # the mark outlives two missed renewals
WATCHED_CHECK_SECONDS = 2.0  # how often the pusher looks for the mark when it has no wallboard itself
OPENED_TOPIC = "wallboard.opened"


class Wallboard:
    """This process's part of the wallboard: its viewers, and the pushes while it is the pusher."""

    def __init__(self, app: web.Application) -> None:
        self.app = app
        self.last: dict[str, Any] | None = None  # the board the last push left every wallboard with
        self.viewers = 0  # wallboard sockets on this process
        self.computed = Counter(
            "cc_wallboard_boards_computed", "Boards computed by this process", registry=app[METRICS].registry
        )
        self._changed = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._pusher = app.get(REDIS) is None  # embedded, the one process pushes; scaled out, by lease
        self._lease_at = float("-inf")
        self._watched_elsewhere = False
        self._marked_at = self._looked_at = float("-inf")
        self._computing: asyncio.Future[dict[str, Any]] | None = None

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
        """The board may have changed: push it soon (if this process pushes and anyone watches)."""
        if self.viewers > 0 or self.app.get(REDIS) is not None:
            self._changed.set()

    async def opened(self) -> None:
        """A wallboard socket connected to this process. Scaled out, the first one is announced at once, so
        the pusher starts computing boards."""
        self.viewers += 1
        if self.viewers == 1 and self.app.get(REDIS) is not None:
            self._marked_at = float("-inf")
            self._changed.set()
            try:
                await self.app[EVENTS].publish(OPENED_TOPIC, {})
            except Exception:  # the mark in Redis tells the pusher a little later
                log.warning("could not announce an open wallboard", exc_info=True)

    def opened_elsewhere(self) -> None:
        """Another process has wallboards open now."""
        self._watched_elsewhere = True
        self._looked_at = asyncio.get_running_loop().time()
        self._changed.set()

    def closed(self) -> None:
        """A wallboard socket of this process went away."""
        self.viewers = max(0, self.viewers - 1)

    async def for_new_viewer(self) -> dict[str, Any]:
        """The board for a socket that just connected (and already joined the room).

        The pusher sends the board of its last push: the next delta is computed from that very board. Another
        process computes a fresh one, once for all the sockets connecting meanwhile; the pusher's next delta
        (from an older board) covers it, as rows are sent whole.
        """
        if self._pusher and self.last is not None:
            return self.last
        if self._computing is None or self._computing.done():
            self._computing = asyncio.ensure_future(self._fresh_board())
            self._computing.add_done_callback(_retrieved)  # its error reaches the waiters, or is dropped
        return await asyncio.shield(self._computing)

    async def _fresh_board(self) -> dict[str, Any]:
        fresh = await self.current()
        if self._pusher and self.last is None:
            self.last = fresh  # the next delta is from this board, which every socket connected by now has
        return fresh

    async def push(self, *, full: bool = False) -> None:
        """Compute the board and emit what changed (or all of it) to every wallboard."""
        now = await self.current()
        change = delta(None if full else self.last, now)
        self.last = now
        if change is not None:
            name = "wallboard:snapshot" if change.pop("full", False) else "wallboard:delta"
            await self.app[SIO].emit(name, change, room=ROOM, namespace=NAMESPACE)

    async def pushing(self) -> bool:
        """Whether this process is the pusher: always embedded; scaled out, while it holds the lease."""
        redis = self.app.get(REDIS)
        if redis is None:
            return True
        now = asyncio.get_running_loop().time()
        if now - self._lease_at < PUSHER_LEASE_SECONDS / 3:
            return self._pusher
        key, me = self._key("pusher"), self.app[EVENTS].origin
        try:
            holds = bool(await redis.set(key, me, nx=True, ex=int(PUSHER_LEASE_SECONDS)))
            if not holds and await redis.get(key) == me:
                holds = bool(await redis.expire(key, int(PUSHER_LEASE_SECONDS)))
        except (RedisError, OSError):
            log.warning("could not reach Redis for the wallboard's pusher lease", exc_info=True)
            return self._pusher
        if holds and not self._pusher:
            self.last = None  # taking over: the first push is the whole board
        self._pusher, self._lease_at = holds, now
        return holds

    async def watched(self) -> bool:
        """Whether a wallboard is open on this process or, scaled out, on another (the mark in Redis, looked
        at every WATCHED_CHECK_SECONDS; while Redis does not answer, the last answer stands)."""
        redis = self.app.get(REDIS)
        if redis is None:
            return self.viewers > 0
        now = asyncio.get_running_loop().time()
        try:
            if self.viewers > 0:
                if now - self._marked_at >= PUSHER_LEASE_SECONDS / 3:
                    await redis.set(self._key("watched"), "1", ex=int(WATCHED_MARK_SECONDS))
                    self._marked_at = now
                return True
            if now - self._looked_at >= WATCHED_CHECK_SECONDS:
                self._watched_elsewhere = bool(await redis.exists(self._key("watched")))
                self._looked_at = now
        except (RedisError, OSError):
            log.warning("could not reach Redis for the wallboard mark", exc_info=True)
        return self._watched_elsewhere

    def start(self) -> None:
        """Run the push loop."""
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        """Stop the push loop."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def _key(self, name: str) -> str:
        return f"{self.app[SETTINGS].redis_prefix}wallboard:{name}"

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        refresh_at = loop.time() + FULL_REFRESH_SECONDS
        unpushed = False  # a change seen while another process held the lease (it may have died since)
        while True:
            wake_at = refresh_at
            if unpushed:  # look at the lease again when it is due, not only at the next change
                wake_at = min(refresh_at, self._lease_at + PUSHER_LEASE_SECONDS / 3)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(max(0.0, wake_at - loop.time())):
                    await self._changed.wait()
            full = loop.time() >= refresh_at
            self._changed.clear()
            try:
                watched = await self.watched()  # (keeps this process's mark fresh, pusher or not)
                if await self.pushing() and watched:
                    await self.push(full=full)
                    unpushed = False
                else:
                    self.last = None  # nobody watches (or another process pushes): start afresh later
                    unpushed = watched
            except Exception:
                log.exception("the wallboard could not be computed")
            if full:
                refresh_at = loop.time() + FULL_REFRESH_SECONDS
            await asyncio.sleep(1 / MAX_UPDATES_PER_SECOND)


def _retrieved(future: asyncio.Future[Any]) -> None:
    if not future.cancelled():
        future.exception()


BOARD = web.AppKey("wallboard", Wallboard)
