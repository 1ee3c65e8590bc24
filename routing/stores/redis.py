"""The Redis routing store: the state of many processes in one Redis, every decision one atomic Lua call.

Behaviour is MemoryStore's, rule for rule (the contract and property tests run on both, and an integration
test drives both in lockstep and compares every event and every state); the rules are written once more in
Lua (`lua/lib.lua`, one file per operation beside it) because they must run inside Redis to be atomic.

Atomicity
    Every mutating method is one round trip running one Lua operation, which Redis runs alone: a decision
    reads and writes all the state it needs with nothing interleaved. `offer()` claims the task and the
    agent's capacity in the same step (the task turns reserved, the agent holds it and leaves the ready
    set) and reports the win as its `task.offered` event: no event, no win. `accept()` turns a pending
    reservation accepted exactly once; a second accept, from any process, finds it accepted: Conflict.
    Reads are one command, one MULTI pipeline or one read-only Lua call: each is a consistent snapshot.

Functions or scripts
    On Redis 7 the operations are one function library (FUNCTION LOAD, FCALL): the shared helpers of
    `lua/lib.lua` are built once when the library loads. Sent as EVAL scripts they would be rebuilt on
    every call (some 80 closures: dearer than a bare round trip), which no decision rate could afford.
    The library is named after a digest of its code, so processes on different versions never mix, and it
    is loaded on first use (or `load_scripts()`) and again if Redis lost it. Where functions are missing
    (Redis 6, or not allowed), `functions=None` falls back to one EVALSHA script per operation (SCRIPT LOAD,
    reloaded on NOSCRIPT), with the same code and behaviour.

Time and processes
    Time comes from the caller (`now`), sent as Python's repr so Lua parses the very same double; times are
    stored as that text or with %.17g, never through cjson (which keeps 14 digits). State lives only in
    Redis: a new RedisStore on the same prefix (a restarted process) sees everything, and an offer whose
    process died is timed out by the next `tick()` of any process. Reservation ids are uuid4, made in
    Python.

Key layout (all under `prefix`, one store per prefix; each call names the `seq` key, so on Redis Cluster a
prefix with a hash tag keeps a store on one node; Cluster itself is untested)
    queues                 hash   queue name -> QueueConfig JSON
    queue_names            list   queue names in creation order (queues())
    task:<id>              hash   one task: scalar fields as text, targets / declined_by / history /
                                  attributes as JSON, `only` (only_agent, JSON), `dver` (the deadline
                                  version, surfaced as attributes["_deadline_version"] as MemoryStore does),
                                  `score` (order key), `seq` + `entered` (its line entry, the targets it
                                  entered with)
    task_ids               list   task ids in submission order (tasks())
    agent:<id>             hash   profile JSON, presence, away_reason, presence_since, idle_since,
                                  tasks (JSON task -> channel), offer, missed_offers, last_offered_at,
                                  lines (JSON copy of fits:<agent>, read with the agent)
    agent_ids              list   agent ids in creation order (agents())
    res:<id>               hash   one reservation
    line:<queue>           zset   the queue's waiting tasks, all at score 0, members
                                  "<order key><16-digit seq>:<task id>": the order key (`order_key`, 20
                                  digits) sorts like policies.score, the seq keeps submission order among
                                  equal scores, as MemoryStore's (score, seq) entries
    heads                  hash   "=<queue>" -> the line's first member ('' when empty), kept by every
                                  line change; "!extra" -> '1' while open_lines or lenient_lines hold a
                                  line, else '0'; "!queues" -> a token renewed by every put_queue
    line_names             set    every queue that has a line (configured, or named by a target)
    seq                    string counter of line entries
    ready                  set    agents available with no open offer
    skill:<skill>          set    agents with the skill (narrowing candidates by the rarest required skill)
    needs                  hash   skill -> [[queue, number of skills it requires], ...]
    fits:<agent>           set    queues whose required skills the agent all has
    open_lines             set    lines requiring no skill
    lenient                hash   line -> entries asking less than their queue (WaitingLines' "lenient")
    lenient_lines          set    lines with lenient entries
    offer_due              zset   open reservation ids by expiry (an offer leaves when it closes)
    wrap_due               zset   task id by end of wrap-up
    deadlines              zset   "<16-digit version>:<task id>" by next escalation step / maximum wait

Cost
    An operation touches only the documents its decision needs, and every Redis command inside a call
    costs a few microseconds, so the decision for a freed agent (the hot path) is eight: the agent (HMGET,
    with its fit lines), the heads of those lines with the two flags (HMGET), the first task (HMGET), then
    the reservation, its expiry, the task, the agent and the ready set. The lines an agent may serve are
    its fit lines, plus (only while the extra flag is set) the open and lenient lines, as WaitingLines
    skips lines by skill; when the first entry does not fit, the line scan is a lazy k-way merge that reads
    a line's next entry only when the merge needs it, bounded by MemoryStore.SCAN_LIMIT like MemoryStore's;
    candidates for a task come from SINTER of the ready set and the rarest required skill. Queue
    configurations decoded by one call serve the next ones while the "!queues" token read with the heads
    is unchanged (put_queue renews it with the server's time and a counter, so it never repeats). `tick()`
    handles at most `tick_budget` due entries per call and calls again while more are due, so no single call
    blocks Redis for long.

Versions
    Processes on one prefix must run the same version of this store: the Lua code keeps indexes (heads,
    lines, the flags) that an older version would not maintain. A store written before heads and lines
    existed still reads correctly (a missing head is read from its line, a missing lines field from
    fits:<agent>, a missing flag counts as set).

Limits
    Task attributes must be JSON (tuples come back as lists). Nothing is ever expired or deleted, as in
    MemoryStore. Operations return their events as JSON, turned into the very RoutingEvents MemoryStore
    returns (Python adds `at`, the `now` it sent).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
import struct
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict
from functools import cache
from importlib import resources
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.connection import AbstractConnection
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError, ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from routing import policies
from routing.model import (
    Agent,
    AgentProfile,
    EscalationStep,
    Fallback,
    Presence,
    QueueConfig,
    Reservation,
    ReservationState,
    RoutingEvent,
    Strategy,
    Target,
    Task,
    TaskState,
)
from routing.store import Conflict, RoutingError, UnknownAgent, UnknownQueue, UnknownTask, new_reservation_id
from routing.stores.memory import SCAN_LIMIT

OPERATIONS = (
    "put_queue",
    "put_agent",
    "set_presence",
    "submit",
    "offer",
    "accept",
    "reject",
    "cancel",
    "complete",
    "end_wrap_up",
    "transfer",
    "tick",
    "read_waiting",
    "read_all",
)
ERRORS: dict[str, type[RoutingError]] = {
    "UnknownTask": UnknownTask,
    "UnknownAgent": UnknownAgent,
    "UnknownQueue": UnknownQueue,
    "Conflict": Conflict,
}
TICK_BUDGET = 1000
CALL_TIMEOUT = 10.0  # seconds without a reply before a call gives up (one normally takes well under 1 ms)
MAX_TICK_ROUNDS = 1000


def _sha1(text: str) -> str:
    return hashlib.sha1(text.encode(), usedforsecurity=False).hexdigest()


def _lua(name: str) -> str:
    return (resources.files("routing.stores") / "lua" / f"{name}.lua").read_text("utf-8")


def script_source(operation: str) -> str:
    """One operation as a script of its own: the prelude, then the operation."""
    return f"{_lua('lib')}\nbegin(ARGV)\n{_lua(operation)}\n"


@cache
def library_source(name: str) -> str:
    """Every operation as a function `<name>_<operation>` of one Redis function library, over one prelude."""
    parts = [f"#!lua name={name}", _lua("lib")]
    for operation in OPERATIONS:
        parts.append(
            f"redis.register_function('{name}_{operation}', function(KEYS, ARGV)\n"
            f"begin(ARGV)\n{_lua(operation)}\nend)"
        )
    return "\n".join(parts) + "\n"


# The library's name carries a digest of its code: processes running different versions never mix them.
LIBRARY = "routing_" + _sha1(library_source(""))[:16]
VERSIONED_LIBRARY = re.compile(r"routing_[0-9a-f]{16}")
SCRIPTS = {operation: script_source(operation) for operation in OPERATIONS}


class RedisStore:
    """Routing state in Redis under `prefix`, shared by every process that uses the same prefix.

    `functions`: True runs the operations as a Redis function library (Redis 7), False as EVALSHA scripts
    (any Redis), None (the default) picks functions when the server has them. `call_timeout`: seconds an
    operation waits for its reply before it raises TimeoutError.
    """

    def __init__(
        self,
        redis: Redis,
        prefix: str,
        *,
        aging_seconds: float = policies.DEFAULT_AGING_SECONDS,
        exclusive_channels: frozenset[str] = policies.EXCLUSIVE_CHANNELS,
        tick_budget: int = TICK_BUDGET,
        functions: bool | None = None,
        new_id: Callable[[], str] = new_reservation_id,
        call_timeout: float = CALL_TIMEOUT,
    ) -> None:
        self.redis = redis
        self.new_id = new_id
        self.prefix = prefix
        self.aging_seconds = aging_seconds
        self.exclusive = exclusive_channels
        self.tick_budget = tick_budget
        self.functions = functions
        self.call_timeout = call_timeout
        self._exclusive_json = json.dumps(sorted(exclusive_channels))
        # Every call names one key of the store, so that a cluster client sends it where the prefix lives.
        self._key_named = prefix + "seq"
        self._shas = {operation: _sha1(text) for operation, text in SCRIPTS.items()}
        self._connection: AbstractConnection | None = None
        self._connection_lock = asyncio.Lock()

    async def load_scripts(self) -> None:
        """Load the code now (FUNCTION LOAD, or SCRIPT LOAD of each script) rather than at first use."""
        if self.functions is not False:
            await self._load_library()
        if self.functions is False:
            for operation, text in SCRIPTS.items():
                self._shas[operation] = _text(await self.redis.script_load(text))

    async def drop_other_versions(self) -> list[str]:
        """Delete the function libraries of other versions of this store (routing_<digest>); their names.

        For operators once every process runs this version: Redis keeps every library ever loaded, with
        the caches its code holds, and a larger Lua heap makes every function call slower (more garbage
        collection). A process still on another version would load its library again on its next call.
        """
        dropped = []
        for entry in await self.redis.function_list(library="routing_*"):
            fields = entry if isinstance(entry, dict) else dict(zip(entry[::2], entry[1::2], strict=True))
            name = _text(fields.get(b"library_name", fields.get("library_name")))
            if name == LIBRARY or not VERSIONED_LIBRARY.fullmatch(name):
                continue
            try:
                await self.redis.function_delete(name)
            except ResponseError:  # deleted meanwhile by another process
                continue
            dropped.append(name)
        return dropped

    # configuration ------------------------------------------------------------------------------------------

    async def put_queue(self, config: QueueConfig) -> None:
        """Create or replace a queue's configuration."""
        await self._change("put_queue", 0.0, config.name, _queue_json(config))

    async def put_agent(self, profile: AgentProfile, now: float) -> list[RoutingEvent]:
        """Create an agent (offline) or replace its profile."""
        return await self._change("put_agent", now, profile.id, _profile_json(profile))

    # decisions ----------------------------------------------------------------------------------------------

    async def set_presence(
        self, agent_id: str, presence: Presence, reason: str | None, now: float
    ) -> list[RoutingEvent]:
        """Change the agent's chosen state; leaving 'available' withdraws an open offer."""
        return await self._change("set_presence", now, agent_id, Presence(presence).value, json.dumps(reason))

    async def submit(self, task: Task, now: float) -> list[RoutingEvent]:
        """Queue a new task; the same id twice changes nothing."""
        return await self._change("submit", now, task.id, task.queue, *self._task_fields(task))

    async def offer(
        self, now: float, *, task_id: str | None = None, agent_id: str | None = None
    ) -> list[RoutingEvent]:
        """One matching decision; [] when nothing can be offered."""
        if task_id is not None:
            mode, subject = "task", task_id
        elif agent_id is not None:
            mode, subject = "agent", agent_id
        else:
            mode, subject = "best", ""
        return await self._change("offer", now, mode, subject, self.new_id())

    async def accept(self, reservation_id: str, now: float) -> list[RoutingEvent]:
        """The agent takes the task; Conflict unless the offer is still open."""
        return await self._change("accept", now, reservation_id)

    async def reject(self, reservation_id: str, now: float) -> list[RoutingEvent]:
        """The agent declines; the task keeps its place."""
        return await self._change("reject", now, reservation_id)

    async def cancel(self, task_id: str, reason: str, now: float) -> list[RoutingEvent]:
        """The customer left while waiting (abandoned); any open offer is withdrawn."""
        return await self._change("cancel", now, task_id, reason)

    async def complete(self, task_id: str, now: float) -> list[RoutingEvent]:
        """The contact ended: wrap-up starts (or the task finishes if the queue has none)."""
        return await self._change("complete", now, task_id)

    async def end_wrap_up(self, task_id: str, now: float) -> list[RoutingEvent]:
        """Wrap-up done early or on time."""
        return await self._change("end_wrap_up", now, task_id)

    async def transfer(
        self,
        task_id: str,
        now: float,
        *,
        queue: str | None = None,
        agent_id: str | None = None,
        note: str = "",
    ) -> list[RoutingEvent]:
        """Hand an assigned task to another queue or a named agent; it waits again, keeping its history."""
        target = json.dumps({"queue": queue, "agent_id": agent_id, "note": note})
        return await self._change("transfer", now, task_id, target)

    async def tick(self, now: float) -> list[RoutingEvent]:
        """Offers that timed out, wrap-ups that ended, escalation steps and maximum waits that fell due."""
        events: list[RoutingEvent] = []
        for _ in range(MAX_TICK_ROUNDS):
            reply = await self._call("tick", now, self.tick_budget)
            events += _events(reply.removeprefix("+"), now)
            if not reply.startswith("+"):  # nothing more is due
                break
        return events

    # reads --------------------------------------------------------------------------------------------------

    async def get_task(self, task_id: str) -> Task:
        """One task."""
        fields = _texts(await self.redis.hgetall(self._key("task", task_id)))
        if not fields:
            raise UnknownTask(f"task {task_id} does not exist")
        return _task(fields)

    async def get_agent(self, agent_id: str) -> Agent:
        """One agent."""
        fields = _texts(await self.redis.hgetall(self._key("agent", agent_id)))
        if not fields:
            raise UnknownAgent(f"agent {agent_id} does not exist")
        return _agent(fields)

    async def get_reservation(self, reservation_id: str) -> Reservation:
        """One reservation."""
        fields = _texts(await self.redis.hgetall(self._key("res", reservation_id)))
        if not fields:
            raise Conflict(f"offer {reservation_id} does not exist")
        return _reservation(fields)

    async def waiting(self, queue: str) -> list[Task]:
        """Tasks waiting in a queue (queued or offered), in serving order."""
        return [_task(_pairs(row)) for row in await self._call("read_waiting", 0.0, queue)]

    async def agents(self) -> list[Agent]:
        """Every agent, in the order they were created."""
        return [_agent(_pairs(row)) for row in await self._call("read_all", 0.0, "agent")]

    async def queues(self) -> list[QueueConfig]:
        """Every queue, in the order they were created."""
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.lrange(self.prefix + "queue_names", 0, -1)
            pipe.hgetall(self.prefix + "queues")
            names, configs = await pipe.execute()
        configs = _texts(configs)
        return [_queue(configs[_text(name)]) for name in names]

    async def tasks(self) -> list[Task]:
        """Every task this store knows, finished ones included, in submission order."""
        return [_task(_pairs(row)) for row in await self._call("read_all", 0.0, "task")]

    # internals ----------------------------------------------------------------------------------------------

    def _key(self, kind: str, ident: str) -> str:
        return f"{self.prefix}{kind}:{ident}"

    async def _call(self, operation: str, now: float, *args: Any) -> Any:
        """Run one operation (one round trip): its reply text, or rows for a read; a refusal raises the
        RoutingError MemoryStore would raise."""
        argv = (self._key_named, self.prefix, repr(float(now)), self._exclusive_json, SCAN_LIMIT, *args)
        reply = await self._fcall(operation, argv) if self.functions is not False else None
        if reply is None:  # scripts: chosen, or functions turned out to be missing
            reply = await self._evalsha(operation, argv)
        if isinstance(reply, list):  # the rows of a read
            return reply
        reply = _text(reply)
        if reply.startswith("!"):
            kind, _, message = reply[1:].partition(" ")
            raise ERRORS[kind](message)
        return reply

    async def _execute(self, *args: Any) -> Any:
        """One command on the store's own connection, one call at a time: the reply, or ResponseError.

        The client's command path (pool bookkeeping, observability hooks, retry wrappers, response callbacks)
        costs more Python than a routing decision's own, so the store keeps one connection of the client's
        pool for its operations: reopened when Redis closed it while idle (anything to read before a call
        means that) or asked the client to reconnect, with the client's retry policy, and closed with the
        pool when the client closes. A call cancelled half-way, or without a reply after `call_timeout`
        seconds (TimeoutError), drops the connection (redis-py disconnects), so no reply is ever read by the
        wrong call and a dead peer holds the store's calls for that long at most (the connection's own
        socket_timeout is turned off: one timer per call is enough). Clients without a pool of
        their own (cluster, a single connection, a pool of one) take their own path.
        """
        pool = getattr(self.redis, "connection_pool", None)
        if pool is None or self.redis.single_connection_client or pool.max_connections < 2:
            return await self.redis.execute_command(*args)
        async with self._connection_lock:
            if self._connection is None:
                self._connection = await pool.get_connection()
                # The store bounds each whole call itself (call_timeout); the connection's own timeouts would
                # add a task for every write and a timer for every read of the hot path.
                self._connection.socket_timeout = None
            connection = self._connection
            if connection.is_connected and (connection.should_reconnect() or await _stale(connection)):
                await connection.disconnect()  # closed by Redis while idle, or told to move: opened anew

            async def round_trip() -> Any:
                async with asyncio.timeout(self.call_timeout):  # a dead peer must not hold every call
                    await connection.send_packed_command(connection.pack_command(*args), check_health=False)
                    return await connection.read_response()

            if connection.retry.get_retries() > 0:
                return await connection.retry.call_with_retry(
                    round_trip, lambda _error: connection.disconnect()
                )
            try:  # no retries (redis-py's default): the same, without the retry loop's cost on every call
                return await round_trip()
            except (RedisConnectionError, RedisTimeoutError):
                await connection.disconnect()
                raise

    async def _fcall(self, operation: str, argv: tuple[Any, ...]) -> Any:
        try:
            return await self._execute("FCALL", f"{LIBRARY}_{operation}", 1, *argv)
        except ResponseError as exc:
            if "function not found" not in str(exc).lower() and not _unknown_command(exc):
                raise
        await self._load_library()  # first use, or Redis lost its functions (restart without persistence)
        if self.functions is False:
            return None
        return await self._execute("FCALL", f"{LIBRARY}_{operation}", 1, *argv)

    async def _load_library(self) -> None:
        try:
            await self.redis.function_load(library_source(LIBRARY))
            self.functions = True
        except ResponseError as exc:
            if "already exists" in str(exc):
                self.functions = True
            elif self.functions is None:
                self.functions = False  # no functions here (Redis before 7, or not allowed): scripts
            else:
                raise

    async def _evalsha(self, operation: str, argv: tuple[Any, ...]) -> Any:
        try:
            return await self._execute("EVALSHA", self._shas[operation], 1, *argv)
        except NoScriptError:
            self._shas[operation] = _text(await self.redis.script_load(SCRIPTS[operation]))
            return await self._execute("EVALSHA", self._shas[operation], 1, *argv)

    async def _change(self, name: str, now: float, *args: Any) -> list[RoutingEvent]:
        return _events(await self._call(name, now, *args), now)

    def _task_fields(self, task: Task) -> list[str]:
        """The new task as hash fields (name, value, ...); the scripts never decode attributes or history."""
        attributes = dict(task.attributes)
        only = attributes.pop("only_agent", None)
        version = attributes.pop("_deadline_version", 0)
        fields: dict[str, Any] = {
            "id": task.id,
            "channel": task.channel,
            "queue": task.queue,
            "targets": json.dumps([_target_json(t) for t in task.targets]),
            "created_at": repr(float(task.created_at)),
            "priority": json.dumps(task.priority),
            "score": order_key(policies.score(task, self.aging_seconds)),
            "attributes": json.dumps(attributes),
            "preferred_agent": task.preferred_agent,
            "only": None if only is None else json.dumps(only),
            "state": TaskState.QUEUED.value,
            "escalation_step": str(task.escalation_step),
            "dver": str(version),
            "agent_id": task.agent_id,
            "reservation_id": task.reservation_id,
            "declined_by": json.dumps(task.declined_by),
            "queued_at": repr(float(task.queued_at)),
            "end_reason": task.end_reason,
            "history": json.dumps(task.history),
        }
        for name in ("assigned_at", "completed_at", "wrap_up_until", "ended_at"):
            value = getattr(task, name)
            fields[name] = None if value is None else repr(float(value))
        return [part for name, value in fields.items() if value is not None for part in (name, value)]


# documents <-> model ----------------------------------------------------------------------------------------


def order_key(score: float) -> str:
    """20 digits that sort (as text) like the number: a line's members sort by it, then by seq."""
    bits = struct.unpack(">Q", struct.pack(">d", score + 0.0))[0]  # + 0.0: -0.0 sorts as 0.0
    return f"{bits ^ 0xFFFF_FFFF_FFFF_FFFF if bits >> 63 else bits | 1 << 63:020d}"


def _events(payload: str, now: float) -> list[RoutingEvent]:
    """An operation's events (JSON from Lua) as the RoutingEvents MemoryStore makes; `at` is `now`."""
    if payload == "[]":
        return []
    return [
        RoutingEvent(e["kind"], now, e["task_id"], e["agent_id"], e["queue"], e["data"])
        for e in json.loads(payload)
    ]


async def _stale(connection: AbstractConnection) -> bool:
    """Whether an idle connection must be opened anew: something waits to be read, or Redis closed it.

    redis-py reports a closed connection as readable (5.x) or raises ConnectionError for it (8.x).
    """
    try:
        return await connection.can_read()
    except RedisConnectionError:
        return True


def _unknown_command(exc: ResponseError) -> bool:
    return "unknown command" in str(exc).lower()


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _texts(mapping: Mapping[Any, Any]) -> dict[str, str]:
    return {_text(k): _text(v) for k, v in mapping.items()}


def _pairs(flat: Sequence[Any]) -> dict[str, str]:
    """A Lua HGETALL reply (name, value, ...) as a dict."""
    return {_text(flat[i]): _text(flat[i + 1]) for i in range(0, len(flat), 2)}


def _opt_float(fields: Mapping[str, str], name: str) -> float | None:
    return float(fields[name]) if name in fields else None


def _without_none(value: Any) -> Any:
    """JSON for Lua: a missing key reads as nil there, whereas null would read as cjson.null."""
    if isinstance(value, dict):
        return {k: _without_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, list | tuple):
        return [_without_none(v) for v in value]
    return value


def _target_json(target: Target) -> dict[str, Any]:
    return {"queue": target.queue, "skills": dict(target.skills), "language": target.language}


def _queue_json(config: QueueConfig) -> str:
    return json.dumps(_without_none(asdict(config)))


def _queue(raw: str) -> QueueConfig:
    data = json.loads(raw)
    return QueueConfig(
        **{
            **data,
            "strategy": Strategy(data["strategy"]),
            "escalation": tuple(EscalationStep(**step) for step in data.get("escalation", ())),
            "voice_fallback": Fallback(**data["voice_fallback"]) if "voice_fallback" in data else None,
            "text_fallback": Fallback(**data["text_fallback"]) if "text_fallback" in data else None,
        }
    )


def _profile_json(profile: AgentProfile) -> str:
    data: dict[str, Any] = {
        "skills": dict(profile.skills),
        "languages": sorted(profile.languages),
        "capacity": dict(profile.capacity),
    }
    if profile.queues is not None:
        data["queues"] = sorted(profile.queues)
    return json.dumps(data)


def _agent(fields: Mapping[str, str]) -> Agent:
    raw = json.loads(fields["profile"])
    profile = AgentProfile(
        fields["id"],
        skills=raw["skills"],
        languages=frozenset(raw["languages"]),
        capacity=raw["capacity"],
        queues=frozenset(raw["queues"]) if "queues" in raw else None,
    )
    return Agent(
        profile=profile,
        presence=Presence(fields["presence"]),
        away_reason=fields.get("away_reason"),
        presence_since=float(fields["presence_since"]),
        idle_since=float(fields["idle_since"]),
        tasks=json.loads(fields["tasks"]),
        offer=fields.get("offer"),
        missed_offers=int(fields["missed_offers"]),
        last_offered_at=float(fields["last_offered_at"]),
    )


def _task(fields: Mapping[str, str]) -> Task:
    attributes = json.loads(fields["attributes"])
    if "only" in fields:
        attributes["only_agent"] = json.loads(fields["only"])
    attributes["_deadline_version"] = int(fields["dver"])
    return Task(
        id=fields["id"],
        channel=fields["channel"],
        queue=fields["queue"],
        targets=[Target(t["queue"], t["skills"], t.get("language")) for t in json.loads(fields["targets"])],
        created_at=float(fields["created_at"]),
        priority=json.loads(fields["priority"]),
        attributes=attributes,
        preferred_agent=fields.get("preferred_agent"),
        state=TaskState(fields["state"]),
        escalation_step=int(fields["escalation_step"]),
        agent_id=fields.get("agent_id"),
        reservation_id=fields.get("reservation_id"),
        declined_by=json.loads(fields["declined_by"]),
        queued_at=float(fields["queued_at"]),
        assigned_at=_opt_float(fields, "assigned_at"),
        completed_at=_opt_float(fields, "completed_at"),
        wrap_up_until=_opt_float(fields, "wrap_up_until"),
        ended_at=_opt_float(fields, "ended_at"),
        end_reason=fields.get("end_reason"),
        history=json.loads(fields["history"]),
    )


def _reservation(fields: Mapping[str, str]) -> Reservation:
    return Reservation(
        fields["id"],
        fields["task_id"],
        fields["agent_id"],
        float(fields["created_at"]),
        float(fields["expires_at"]),
        ReservationState(fields["state"]),
    )
