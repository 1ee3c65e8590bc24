"""Which agents have a console open, and the grace period after the last one closes.

A reload or a short network drop must not log an agent off, but an agent who really left must not keep
offers waiting. So when an agent's last socket goes, the agent is marked "gone" with the time; `sweep()`
(run every second, or by tests after moving the clock) sets agents gone for longer than the grace period
offline, which withdraws an open offer so it goes to the next agent. A socket that comes back in time
clears the mark.

Embedded, sockets are counted in the process. With Redis every process keeps its sockets as leases in a
sorted set per agent (renewed by the sweep), so a socket on any process counts, and the sockets of a process
that died stop counting when their leases (30 s, renewed every 10 s) run out; the agent is then marked gone.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Awaitable, Callable
from typing import Any

from contact_center.clock import Clock

LEASE_SECONDS = 30.0
RENEW_EVERY_SECONDS = 10.0
SetOffline = Callable[[int], Awaitable[None]]


class MemorySockets:
    """Sockets of this process only (the embedded default)."""

    def __init__(self) -> None:
        self._sockets: dict[int, set[str]] = defaultdict(set)
        self._gone: dict[int, float] = {}

    async def opened(self, agent_id: int, sid: str, now: float) -> None:
        self._sockets[agent_id].add(sid)
        self._gone.pop(agent_id, None)

    async def closed(self, agent_id: int, sid: str, now: float) -> None:
        sockets = self._sockets[agent_id]
        sockets.discard(sid)
        if not sockets:
            del self._sockets[agent_id]
            self._gone[agent_id] = now

    async def renew(self, now: float) -> None:
        """Nothing to renew in one process."""

    async def gone_since(self, now: float) -> dict[int, float]:
        return dict(self._gone)

    async def forget(self, agent_id: int) -> bool:
        return self._gone.pop(agent_id, None) is not None

    async def count(self, agent_id: int, now: float) -> int:
        return len(self._sockets.get(agent_id, ()))


class RedisSockets:
    """Sockets of every process, as leases in Redis (`<prefix>sockets:<agent>` sorted by expiry)."""

    def __init__(self, redis: Any, prefix: str) -> None:
        self.redis, self.prefix = redis, prefix
        self.process = uuid.uuid4().hex[:12]
        self._local: dict[int, set[str]] = defaultdict(set)
        self._renewed_at = float("-inf")

    def _key(self, agent_id: int) -> str:
        return f"{self.prefix}sockets:{agent_id}"

    async def opened(self, agent_id: int, sid: str, now: float) -> None:
        self._local[agent_id].add(sid)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.zadd(self._key(agent_id), {f"{self.process}:{sid}": now + LEASE_SECONDS})
            pipe.sadd(f"{self.prefix}agents", agent_id)
            pipe.hdel(f"{self.prefix}gone", agent_id)
            await pipe.execute()

    async def closed(self, agent_id: int, sid: str, now: float) -> None:
        self._local[agent_id].discard(sid)
        if not self._local[agent_id]:
            del self._local[agent_id]
        await self.redis.zrem(self._key(agent_id), f"{self.process}:{sid}")
        if await self.count(agent_id, now) == 0:
            await self.redis.hset(f"{self.prefix}gone", agent_id, now)

    async def renew(self, now: float) -> None:
        """Every ten seconds: extend this process's leases, and mark agents whose every lease ran out (their
        process died) as gone."""
        if now - self._renewed_at < RENEW_EVERY_SECONDS:
            return
        self._renewed_at = now
        async with self.redis.pipeline(transaction=False) as pipe:
            for agent_id, sids in self._local.items():
                pipe.zadd(self._key(agent_id), {f"{self.process}:{sid}": now + LEASE_SECONDS for sid in sids})
            await pipe.execute()
        for agent in await self.redis.smembers(f"{self.prefix}agents"):
            if await self.count(int(agent), now) == 0:
                await self.redis.srem(f"{self.prefix}agents", agent)
                await self.redis.hsetnx(f"{self.prefix}gone", agent, now)

    async def gone_since(self, now: float) -> dict[int, float]:
        return {
            int(agent): float(since)
            for agent, since in (await self.redis.hgetall(f"{self.prefix}gone")).items()
        }

    async def forget(self, agent_id: int) -> bool:
        """Clear the mark; True for the one process that cleared it (so one process acts)."""
        return bool(await self.redis.hdel(f"{self.prefix}gone", agent_id))

    async def count(self, agent_id: int, now: float) -> int:
        key = self._key(agent_id)
        await self.redis.zremrangebyscore(key, "-inf", now)
        return int(await self.redis.zcard(key))


class ConsolePresence:
    """Counts agents' consoles and sets those gone past the grace period offline."""

    def __init__(self, sockets: MemorySockets | RedisSockets, clock: Clock, grace_seconds: float) -> None:
        self.sockets, self.clock, self.grace_seconds = sockets, clock, grace_seconds

    def _now(self) -> float:
        return self.clock.now().timestamp()

    async def opened(self, agent_id: int, sid: str) -> None:
        """A console socket of the agent connected."""
        await self.sockets.opened(agent_id, sid, self._now())

    async def closed(self, agent_id: int, sid: str) -> None:
        """A console socket of the agent went away (the grace period starts with the last one)."""
        await self.sockets.closed(agent_id, sid, self._now())

    async def sweep(self, set_offline: SetOffline) -> list[int]:
        """Set agents offline whose consoles have been gone longer than the grace period; their ids."""
        now = self._now()
        await self.sockets.renew(now)
        offline = []
        for agent_id, since in (await self.sockets.gone_since(now)).items():
            if now - since < self.grace_seconds:
                continue
            if await self.sockets.count(agent_id, now) > 0:
                await self.sockets.forget(agent_id)
                continue
            if await self.sockets.forget(agent_id):
                await set_offline(agent_id)
                offline.append(agent_id)
        return offline
