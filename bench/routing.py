"""Routing decisions per second with 1,000 agents, 50 skills and 10,000 waiting tasks.

A decision is one `store.offer(...)` call for an agent who has just freed up: it picks that agent's best task
among the 10,000 waiting (priority, then age) and reserves it atomically. The loop keeps the floor busy: an
agent finishes, the decision gives them their next task, they accept, and a new contact arrives.

For Redis the same loop runs on the Redis store, and beside it a plain sequential EVALSHA loop of a trivial
script with the same client: the physical limit of one round trip per decision. The two alternate in rounds
(--rounds, 20 by default), so both meet the machine in the same state; the ratio of their rates is given over
the whole run and as the median of the rounds' ratios. Before measuring, the function
libraries of other versions of the store are deleted from that Redis (RedisStore.drop_other_versions), as an
operator does once an upgrade is complete.

With --bare, the same floor also runs a bare decision (bench/bare_decision.lua): one Redis function doing
only the reads and writes of the store's decision for a freed agent, with no routing rule, called with the
same client and its reply parsed the same way. It is the floor of any store on this machine, measured
beside the EVALSHA loop.

    python bench/routing.py --json                       # both stores
    python bench/routing.py --store redis --bare --json  # the Redis store and the bare decision
    python bench/routing.py --store memory --decisions 50000
"""

from __future__ import annotations

import sys
from pathlib import Path

# This script is named like the package it measures: keep its own folder off the import path.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import argparse
import asyncio
import json
import random
import statistics
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from routing.model import AgentProfile, Presence, QueueConfig, RoutingEvent, Target, Task
from routing.stores.memory import MemoryStore


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


class Floor:
    """A contact centre floor for the benchmark: queues per skill, agents, and a stream of tasks."""

    def __init__(self, store: Any, agents: int, skills: int, seed: int) -> None:
        self.store, self.rng = store, random.Random(seed)
        self.skills = [f"skill{n}" for n in range(skills)]
        self.agents = [f"agent{n}" for n in range(agents)]
        self.now, self.serial = 1_000_000.0, 0

    async def build(self, waiting: int) -> None:
        for skill in self.skills:
            await self.store.put_queue(
                QueueConfig(
                    skill,
                    skills={skill: 1},
                    wrap_up_seconds=0,
                    offer_timeout_seconds=3600,
                    missed_offers_limit=0,
                )
            )
        for agent_id in self.agents:
            skills = {s: self.rng.randint(3, 10) for s in self.rng.sample(self.skills, 5)}
            await self.store.put_agent(
                AgentProfile(agent_id, skills, frozenset({"en"}), {"voice": 1}), self.now
            )
        for agent_id in self.agents:
            await self.store.set_presence(agent_id, Presence.AVAILABLE, None, self.now)
        log(f"  submitting {len(self.agents) + waiting:,} tasks")
        for n in range(len(self.agents) + waiting):
            await self.submit()
            if n % 2000 == 0:
                log(f"    {n:,}")
        busy = 0
        for agent_id in self.agents:  # fill every agent so that the waiting tasks stay waiting
            events = await self.store.offer(self.now, agent_id=agent_id)
            if events:
                await self.store.accept(events[0].data["reservation_id"], self.now)
                busy += 1
        log(f"  {busy:,} agents busy")

    async def submit(self) -> None:
        self.serial += 1
        self.now += 0.001
        skill = self.rng.choice(self.skills)
        task = Task(
            id=f"t{self.serial}",
            channel="voice",
            queue=skill,
            created_at=self.now,
            targets=[Target(skill, {skill: self.rng.randint(1, 5)})],
            priority=self.rng.choice([0, 0, 0, 1]),
        )
        await self.store.submit(task, self.now)

    async def finish_someone(self) -> str:
        """A random busy agent finishes their contact."""
        while True:
            agent = await self.store.get_agent(self.rng.choice(self.agents))
            if agent.tasks and agent.offer is None:
                task_id = next(iter(agent.tasks))
                self.now += 0.001
                await self.store.complete(task_id, self.now)
                return agent.id


Decide = Callable[[str], Awaitable[list[RoutingEvent]]]


def rate(latencies: list[float]) -> float:
    """Calls per second over the calls' summed time."""
    return len(latencies) / sum(latencies)


def summary(latencies: list[float]) -> dict[str, Any]:
    """Rate (calls over their summed time) and latency percentiles of timed calls."""
    return {
        "decisions": len(latencies),
        "decisions_per_second": round(rate(latencies)),
        "p50_ms": round(percentile(latencies, 0.50) * 1000, 4),
        "p99_ms": round(percentile(latencies, 0.99) * 1000, 4),
        "mean_ms": round(statistics.fmean(latencies) * 1000, 4),
    }


async def decision_latencies(
    store: Any, floor: Floor, decisions: int, decide: Decide | None = None
) -> list[float]:
    """Time decisions for freed agents on a busy floor: `decide`, by default the store's offer.

    Only the bare decision ever gives up (its first task was not free): the store then decides, untimed.
    """
    decide = decide or (lambda agent_id: store.offer(floor.now, agent_id=agent_id))
    latencies = []
    for _ in range(decisions):
        agent_id = await floor.finish_someone()
        began = time.perf_counter()
        events = await decide(agent_id)
        elapsed = time.perf_counter() - began
        if events:
            latencies.append(elapsed)
        else:
            events = await store.offer(floor.now, agent_id=agent_id)
        if events:
            await store.accept(events[0].data["reservation_id"], floor.now)
        await floor.submit()
    return latencies


async def measure(store: Any, floor: Floor, decisions: int) -> dict[str, Any]:
    """The store's decisions in ten chunks, with progress."""
    log(f"  measuring {decisions:,} decisions")
    latencies: list[float] = []
    for n in range(10):
        latencies += await decision_latencies(store, floor, decisions // 10 + (n < decisions % 10))
        log(f"    {len(latencies):,}")
    return summary(latencies)


class EvalshaLoop:
    """A bare sequential EVALSHA loop: one round trip per call, nothing else.

    `call` sends one EVALSHA: by default through the client's command path (`client.evalsha`, what the
    goal names), or any other way of sending a command, such as the store's own connection.
    """

    def __init__(self, client: Any, call: Callable[..., Awaitable[Any]] | None = None) -> None:
        self.client, self.key = client, f"bench:{uuid.uuid4().hex}"
        self.call = call or (lambda sha, key: client.evalsha(sha, 1, key))

    async def __aenter__(self) -> EvalshaLoop:
        self.sha = await self.client.script_load("return redis.call('INCR', KEYS[1])")
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.client.delete(self.key)

    async def latencies(self, calls: int) -> list[float]:
        latencies = []
        for _ in range(calls):
            began = time.perf_counter()
            await self.call(self.sha, self.key)
            latencies.append(time.perf_counter() - began)
        return latencies


async def bare_decision(client: Any, floor: Floor) -> Decide:
    """The bare decision as a `decide`: its function loaded, called the way the store calls its own (the
    store's connection, the same arguments' shape, the reply parsed into events)."""
    from routing.stores.redis import _events

    await client.function_load((Path(__file__).parent / "bare_decision.lua").read_text(), replace=True)
    store = floor.store
    prefix = store.prefix

    async def decide(agent_id: str) -> list[RoutingEvent]:
        reply = await store._execute(
            "FCALL",
            "bench_bare_offer",
            1,
            prefix + "seq",
            prefix,
            repr(floor.now),
            agent_id,
            store.new_id(),
            3600,
        )
        return _events(reply.decode(), floor.now)

    return decide


async def interleaved(store: Any, floor: Floor, client: Any, args: argparse.Namespace) -> dict[str, Any]:
    """The store's decisions, the EVALSHA loops (and the bare decision) in alternating rounds.

    The machine's pace drifts from second to second (the other vCPU's load, how deeply an idle vCPU
    sleeps), and a loop measured a few seconds after another meets a different machine: alternating rounds
    of a few hundred calls put every loop on the same machine, so each round's ratio compares like with like.
    Two EVALSHA loops: through the client's command path (the goal's baseline) and through the store's own
    connection (the cheapest round trip this client makes: the floor of the floor).
    """
    decide = await bare_decision(client, floor) if args.bare else None
    per_round = max(1, args.decisions // args.rounds)
    names = ["store", "evalsha", "evalsha_store_connection", *(["bare"] if decide else [])]
    loops: dict[str, list[float]] = {name: [] for name in names}
    ratios: dict[str, list[float]] = {name: [] for name in ("store", "bare") if name in names}
    log(f"  {args.rounds} rounds of {per_round:,} calls of each loop")
    async with (
        EvalshaLoop(client) as loop,
        EvalshaLoop(client, lambda sha, key: store._execute("EVALSHA", sha, 1, key)) as own_loop,
    ):
        for n in range(args.rounds):
            rounds = {
                "store": await decision_latencies(store, floor, per_round),
                "evalsha": await loop.latencies(per_round),
                "evalsha_store_connection": await own_loop.latencies(per_round),
            }
            if decide:
                rounds["bare"] = await decision_latencies(store, floor, per_round, decide)
            for name, latencies in rounds.items():
                loops[name] += latencies
            for name in ratios:
                ratios[name].append(rate(rounds[name]) / rate(rounds["evalsha"]))
            log(f"    round {n + 1}: store / EVALSHA {ratios['store'][-1]:.3f}")
    result = summary(loops["store"])
    for name in ("evalsha", "evalsha_store_connection"):
        baseline = summary(loops[name])
        result[f"{name}_baseline"] = {
            "calls_per_second": baseline["decisions_per_second"],
            "p50_ms": baseline["p50_ms"],
            "p99_ms": baseline["p99_ms"],
        }
    if decide:
        result["bare_decision"] = summary(loops["bare"])
    for name, entry in (("store", result), ("bare", result.get("bare_decision"))):
        if entry is not None:
            entry["ratio_to_evalsha"] = round(rate(loops[name]) / rate(loops["evalsha"]), 3)
            entry["ratio_median_of_rounds"] = round(statistics.median(ratios[name]), 3)
            entry["ratio_to_evalsha_store_connection"] = round(
                rate(loops[name]) / rate(loops["evalsha_store_connection"]), 3
            )
    return result


async def run_redis(args: argparse.Namespace) -> dict[str, Any]:
    import redis.asyncio as aioredis

    from routing.stores.redis import RedisStore

    client = aioredis.from_url(args.redis_url)
    prefix = f"bench:routing:{uuid.uuid4().hex}:"
    try:
        store = RedisStore(client, prefix=prefix)
        # Libraries of earlier versions (left by earlier runs of the code) would slow every call: see docs.
        log(f"  dropped {len(await store.drop_other_versions())} function libraries of other versions")
        floor = Floor(store, args.agents, args.skills, args.seed)
        await floor.build(args.tasks)
        return await interleaved(store, floor, client, args)
    finally:
        async for key in client.scan_iter(match=f"{prefix}*", count=1000):
            await client.delete(key)
        if args.bare:
            await client.function_delete("bench_bare_decision")
        await client.aclose()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--store", choices=["memory", "redis", "both"], default="both")
    parser.add_argument("--agents", type=int, default=1000)
    parser.add_argument("--skills", type=int, default=50)
    parser.add_argument("--tasks", type=int, default=10_000, help="tasks kept waiting")
    parser.add_argument("--decisions", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/15")
    parser.add_argument("--rounds", type=int, default=20, help="Redis: alternating rounds of the loops")
    parser.add_argument("--bare", action="store_true", help="also time the bare decision (the floor)")
    parser.add_argument("--json", action="store_true", help="print only the JSON result")
    args = parser.parse_args()
    results: dict[str, Any] = {"agents": args.agents, "skills": args.skills, "waiting_tasks": args.tasks}
    if args.store in ("memory", "both"):
        log("memory store")
        store = MemoryStore()
        floor = Floor(store, args.agents, args.skills, args.seed)
        await floor.build(args.tasks)
        results["memory"] = await measure(store, floor, args.decisions)
    if args.store in ("redis", "both"):
        log("redis store")
        results["redis"] = await run_redis(args)
    print(json.dumps(results, indent=None if args.json else 2))


if __name__ == "__main__":
    asyncio.run(main())
