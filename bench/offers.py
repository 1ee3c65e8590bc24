"""Offer latency on one process: 500 agents on the console's socket.io namespace /agent, inbound SMS at
rising rates, time from the inbound webhook to the `offer` (with its screen-pop) on the agent's socket.

What is measured:

- **Server.** One child process (`python -m bench.offers --serve ...`) runs the whole application
  (`create_app`, SQLite in a temporary directory and routing in memory unless `--database-url` /
  `--redis-url` say otherwise, `tick_interval` 0.5 s, access log off like `contact-center serve`), Twilio
  configured with fake credentials (its REST base URL points at a closed local port: nothing reaches
  Twilio's cloud). It is seeded with `--agents` agents (English, SMS capacity `--capacity`, an API token
  each). Passwords are hashed once and the hash reused, so seeding 500 agents takes seconds.
- **Agents.** This (parent) process connects one socket per agent to /agent with `auth: {token}` (the
  small engine.io client of bench/chat.py, so 500 sockets cost little), waits for `state`, and sets every
  agent available with `presence:set`. Each agent accepts every offer at once (`offer:accept`). They do
  not complete or wrap up: their SMS capacity (default 20) is larger than the share of contacts each gets,
  so capacity never runs out and the measurement stays about offers, not about wrap-up traffic.
- **Contacts.** For each rate (default 25, 50, 100, 150 contacts/s) for `--seconds` (default 10), contact
  i is scheduled at start + i/rate and fired as its own task (open loop): a real `POST /twilio/sms`
  signed with the twilio library's RequestValidator, each from a new phone number, so each opens a new
  customer and conversation. Latency runs **from the scheduled send time** to the moment the `offer`
  whose screen-pop carries that phone number is read from the agent's socket (this process's loop clock
  for both ends). A contact whose webhook did not answer 200 is an error; one answered but offered to
  nobody within `--timeout` (10 s) after the step's end is lost. Webhook answer latency is reported too,
  and the largest backlog of the durable inbox seen during the step (acknowledged, not yet stored).
  A few untimed contacts warm the server up first; between steps the server is left to go idle (so the
  late ones of an overloaded step are offered before the next step starts). At the end, the contacts
  answered 200 but never offered at all are counted (`never_offered`).
- **CPU.** The server's CPU time (from /proc) during each step, as a share of one core, and per
  contact net of its idle CPU with the agents connected (measured for 5 s before the first step: pings,
  timers); the load generator's own CPU share likewise (it shares the machine's cores with the server).

Run (progress on stderr, JSON on stdout, pretty unless `--json`):

    python -m bench.offers                                # 500 agents; 25, 50, 100, 150 contacts/s, 10 s each
    python -m bench.offers --agents 50 --rates 25 --seconds 3     # a quick look

Goal (issue 6): p99 under 100 ms at 100 contacts/s on one process.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from twilio.request_validator import RequestValidator

from bench.chat import Socket, cpu_seconds, free_port, in_batches, log, percentile
from bench.webhooks import (
    ACCOUNT_SID,
    AUTH_TOKEN,
    OUR_NUMBER,
    PUBLIC_URL,
    fresh_postgres,
    inbox_figures,
    settle,
)

GOAL_RATE, GOAL_P99_MS = 100.0, 100.0
PATH = "/twilio/sms"


# the server (child process) -----------------------------------------------------------------------------


async def seed_agents(settings: Any, count: int, capacity: int) -> list[dict[str, Any]]:
    """English-speaking agents with room for `capacity` SMS each, and an API token each."""
    from contact_center.app import ensure_schema
    from contact_center.auth.sessions import issue_token
    from contact_center.clock import SystemClock
    from contact_center.db.engine import create_engine, session_factory
    from contact_center.users import service
    from contact_center.users.schemas import UserIn

    await ensure_schema(settings)
    password = "bench-password-1"  # noqa: S105 - a throwaway database
    hashed = service.hash_password(password)
    service.hash_password = lambda _: hashed  # one hash for all: seeding 500 agents in seconds
    engine = create_engine(settings.effective_database_url)
    now, agents = SystemClock().now(), []
    async with session_factory(engine).begin() as db:
        for n in range(count):
            user = await service.create_user(
                db,
                UserIn(username=f"agent{n}", display_name=f"Agent {n}", password=password, languages=["en"]),
                now,
            )
            user.capacity = {"voice": 1, "chat": 3, "email": 5, "sms": capacity}
            _, token = await issue_token(db, user, "bench", now)
            agents.append({"id": user.id, "token": token})
    await engine.dispose()
    return agents


async def serve(args: argparse.Namespace) -> None:
    """Seed the agents, run the app on a free port, print the port and the agents; run until killed."""
    from contact_center.app import create_app
    from contact_center.settings import load_settings

    settings = load_settings(
        database_url=args.database_url,
        redis_url=args.redis_url,
        data_dir=Path(args.data_dir),
        secret_key="bench-secret-key-0123456789abcdef0123456789",  # noqa: S106 - a throwaway database
        public_url=PUBLIC_URL,
        twilio_account_sid=ACCOUNT_SID,
        twilio_auth_token=AUTH_TOKEN,
        twilio_phone_number=OUR_NUMBER,
        twilio_api_base_url="http://127.0.0.1:9",  # nothing is sent; never Twilio's cloud
    )
    agents = await seed_agents(settings, args.agents, args.capacity)
    if args.sql_profile:
        sql_profile()
    if args.profile:
        profile_on_signals(Path(args.profile))
    runner = web.AppRunner(create_app(settings), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", args.port).start()
    print(json.dumps({"port": args.port, "agents": agents}), flush=True)
    stop = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(signum, stop.set)
    await stop.wait()
    await runner.cleanup()


def profile_on_signals(path: Path) -> None:
    """cProfile the server between SIGUSR1 and SIGUSR2 (the measured steps); its stats go to `path`."""
    import cProfile

    profiler = cProfile.Profile()

    def stop() -> None:
        profiler.disable()
        profiler.dump_stats(path)
        log(f"server profile of the measured steps written to {path}")

    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGUSR1, profiler.enable)
    loop.add_signal_handler(signal.SIGUSR2, stop)


def sql_profile() -> None:
    """On exit, print to stderr the statements that took the most time (wall, thread hand-over included)."""
    import atexit
    from collections import defaultdict

    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    totals: dict[str, list[float]] = defaultdict(lambda: [0, 0.0])

    @event.listens_for(Engine, "before_cursor_execute")
    def before(conn: Any, cursor: Any, statement: str, *_: Any) -> None:
        conn.info.setdefault("started", []).append(time.perf_counter())

    @event.listens_for(Engine, "after_cursor_execute")
    def after(conn: Any, cursor: Any, statement: str, *_: Any) -> None:
        entry = totals[" ".join(statement.split())[:160]]
        entry[0] += 1
        entry[1] += time.perf_counter() - conn.info["started"].pop()

    def report() -> None:
        for statement, (count, seconds) in sorted(totals.items(), key=lambda i: -i[1][0])[:45]:
            log(f"{seconds * 1000:9.0f} ms {count:6d}x {statement}")

    atexit.register(report)


# the load (parent process) ------------------------------------------------------------------------------


class Contacts:
    """Signed SMS webhooks, each from a new phone number, and what became of them."""

    def __init__(self) -> None:
        self.validator = RequestValidator(AUTH_TOKEN)
        self.serial = itertools.count(1)
        self.run_id = f"{os.getpid():x}{int(time.time()) & 0xFFFF:04x}"
        self.sent_at: dict[str, float] = {}  # phone -> scheduled send time (loop clock)
        self.offered: dict[str, float] = {}  # phone -> latency in ms, at the first offer
        self.answered: set[str] = set()  # phones whose webhook was answered 200

    def make(self) -> tuple[str, dict[str, str], dict[str, str]]:
        n = next(self.serial)
        phone = f"+1{212 + n // 8_000_000 * 100}{2_000_000 + n % 8_000_000:07d}"
        sid = "SM" + f"{self.run_id}{n:012x}".rjust(32, "0")[-32:]
        form = {"AccountSid": ACCOUNT_SID, "MessageSid": sid, "From": phone, "To": OUR_NUMBER}
        form["Body"] = f"Hello, I have a question about my order number {n}, it has not arrived yet"
        headers = {"X-Twilio-Signature": self.validator.compute_signature(PUBLIC_URL + PATH, form)}
        return phone, form, headers

    def on_offer(self, offer: dict[str, Any], now: float) -> str | None:
        """The phone of the contact offered (None for one we did not send), recording its latency."""
        identities = (offer.get("customer") or {}).get("identities") or []
        for identity in identities:
            phone = identity.get("value")
            if phone in self.sent_at and phone not in self.offered:
                self.offered[phone] = (now - self.sent_at[phone]) * 1000
                return phone
        return None


async def connect_agents(
    session: aiohttp.ClientSession, base: str, agents: list[dict[str, Any]], contacts: Contacts
) -> tuple[list[Socket], Counter[str]]:
    """One /agent socket per agent, available, accepting every offer at once."""
    loop = asyncio.get_running_loop()
    problems: Counter[str] = Counter()
    pending: set[asyncio.Task[Any]] = set()

    async def accept(socket: Socket, reservation_id: str) -> None:
        answer = await socket.call("offer:accept", {"reservation_id": reservation_id})
        if not (answer and answer.get("ok")):
            problems[f"accept: {answer.get('error') if answer else answer}"] += 1

    async def open_one(agent: dict[str, Any]) -> Socket:
        socket = Socket("/agent")

        def on_offer(offer: dict[str, Any]) -> None:
            contacts.on_offer(offer, loop.time())
            task = asyncio.create_task(accept(socket, offer["reservation_id"]))
            pending.add(task)
            task.add_done_callback(pending.discard)

        socket.handlers["offer"] = on_offer
        await socket.connect(session, base, {"token": agent["token"]})
        answer = await socket.call("presence:set", {"state": "available"})
        if not (answer and answer.get("ok")):
            raise SystemExit(f"agent {agent['id']} could not go available: {answer}")
        return socket

    sockets = await in_batches([open_one(agent) for agent in agents], 50)
    return sockets, problems


async def send(
    session: aiohttp.ClientSession,
    base: str,
    form: dict[str, str],
    headers: dict[str, str],
    due: float,
    answers: list[float],
    errors: Counter[str],
) -> bool:
    loop = asyncio.get_running_loop()
    try:
        async with asyncio.timeout(10):
            async with session.post(base + PATH, data=form, headers=headers) as response:
                await response.read()
                status = response.status
    except TimeoutError:
        errors["timeout"] += 1
        return False
    except aiohttp.ClientError as exc:
        errors[type(exc).__name__] += 1
        return False
    if status != 200:
        errors[str(status)] += 1
        return False
    answers.append((loop.time() - due) * 1000)
    return True


async def run_step(
    session: aiohttp.ClientSession,
    base: str,
    contacts: Contacts,
    rate: float,
    seconds: float,
    timeout: float,  # noqa: ASYNC109 - how long an offer may take, not this call's limit
) -> dict[str, Any]:
    """Send rate*seconds contacts on schedule; wait for their offers; the figures."""
    loop = asyncio.get_running_loop()
    prepared = [contacts.make() for _ in range(max(1, round(rate * seconds)))]
    answers: list[float] = []
    errors: Counter[str] = Counter()
    tasks = []
    inbox_waiting = [0.0]
    watcher = asyncio.create_task(watch_inbox(session, base, inbox_waiting))
    start = loop.time() + 0.05
    for i, (phone, form, headers) in enumerate(prepared):
        due = start + i / rate
        delay = due - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        contacts.sent_at[phone] = due
        tasks.append(asyncio.create_task(send(session, base, form, headers, due, answers, errors)))
    ok = await asyncio.gather(*tasks)
    accepted = [phone for (phone, _, _), good in zip(prepared, ok, strict=True) if good]
    contacts.answered.update(accepted)
    deadline = loop.time() + timeout
    while loop.time() < deadline and any(phone not in contacts.offered for phone in accepted):  # noqa: ASYNC110
        await asyncio.sleep(0.05)
    watcher.cancel()
    latencies = [contacts.offered[phone] for phone in accepted if phone in contacts.offered]
    return {
        "sent": len(prepared),
        "errors": sum(errors.values()),
        "error_kinds": dict(errors),
        "offers": len(latencies),
        "lost": len(accepted) - len(latencies),
        "offer_ms": figures(latencies),
        "webhook_ms": figures(answers),
        "inbox_waiting_max": int(max(inbox_waiting)),
    }


async def watch_inbox(session: aiohttp.ClientSession, base: str, seen: list[float]) -> None:
    """Every 0.25 s, the payloads acknowledged but not yet stored (the inbox's gauge on /metrics)."""
    while True:
        waiting, _ = await inbox_figures(session, base)
        seen.append(waiting)
        await asyncio.sleep(0.25)


def figures(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"p50": None, "p95": None, "p99": None, "max": None}
    return {
        "p50": round(statistics.median(values), 1),
        "p95": round(percentile(values, 0.95) or 0, 1),
        "p99": round(percentile(values, 0.99) or 0, 1),
        "max": round(max(values), 1),
    }


async def measure(args: argparse.Namespace, pid: int, port: int, agents: list[dict]) -> dict[str, Any]:
    base = f"http://127.0.0.1:{port}"
    contacts = Contacts()
    connector = aiohttp.TCPConnector(limit=args.connections, limit_per_host=args.connections)
    steps = []
    async with (
        aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as socket_session,
        aiohttp.ClientSession(connector=connector) as session,
    ):
        began = time.perf_counter()
        sockets, problems = await connect_agents(socket_session, base, agents, contacts)
        log(f"{len(sockets)} agents connected and available in {time.perf_counter() - began:.1f} s")
        await settle(pid)
        idle = cpu_seconds(pid)
        await asyncio.sleep(5)
        idle_share = (cpu_seconds(pid) - idle) / 5
        log(f"server idle with {len(sockets)} agents: {idle_share:.0%} of a core")
        warm = await run_step(session, base, contacts, 10, 2, args.timeout)
        log(f"warm-up: {warm['offers']} of {warm['sent']} offered, p50 {warm['offer_ms']['p50']} ms")
        if args.profile:
            await settle(pid)
            os.kill(pid, signal.SIGUSR1)
        for rate in args.rates:
            await settle(pid)
            cpu, own_cpu, wall = cpu_seconds(pid), time.process_time(), time.perf_counter()
            step = await run_step(session, base, contacts, rate, args.seconds, args.timeout)
            wall = time.perf_counter() - wall
            cpu, own_cpu = cpu_seconds(pid) - cpu, time.process_time() - own_cpu
            step = {"rate": rate, "seconds": args.seconds, **step}
            step["server_cpu_share"] = round(cpu / wall, 2)
            step["server_cpu_ms_per_contact"] = round(
                1000 * (cpu - idle_share * wall) / max(1, step["sent"]), 2
            )
            step["client_cpu_share"] = round(own_cpu / wall, 2)
            steps.append(step)
            offer = step["offer_ms"]
            log(
                f"{rate:>5g}/s: {step['offers']}/{step['sent']} offered, lost {step['lost']}, "
                f"errors {step['errors']} {step['error_kinds'] or ''}; offer p50 {offer['p50']} ms, "
                f"p95 {offer['p95']}, p99 {offer['p99']}, max {offer['max']}; webhook p99 "
                f"{step['webhook_ms']['p99']} ms, inbox backlog up to {step['inbox_waiting_max']}; "
                f"server CPU {step['server_cpu_share']:.0%} of a core "
                f"({step['server_cpu_ms_per_contact']} ms/contact), client {step['client_cpu_share']:.0%}"
            )
        await settle(pid)  # the backlog stored and offered, the last accepts made
        if args.profile:
            os.kill(pid, signal.SIGUSR2)
        never = len(contacts.answered - contacts.offered.keys())
        log(f"contacts answered 200 but never offered by the end of the run: {never}")
        for socket in sockets:
            await socket.close()
    return {
        "server_idle_cpu_share": round(idle_share, 3),
        "steps": steps,
        "never_offered": never,
        "agent_problems": dict(problems),
    }


def verdict(steps: list[dict[str, Any]]) -> dict[str, Any]:
    at_goal = [s for s in steps if s["rate"] == GOAL_RATE]
    if not at_goal:
        return {}
    step = at_goal[0]
    p99 = step["offer_ms"]["p99"]
    met = p99 is not None and p99 < GOAL_P99_MS and step["lost"] == 0 and step["errors"] == 0
    ratio = round(p99 / GOAL_P99_MS, 2) if p99 is not None else None
    return {"offer_p99_at_100_per_s_ms": {"value": p99, "limit": GOAL_P99_MS, "ratio": ratio, "met": met}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--agents", type=int, default=500)
    parser.add_argument("--rates", default="25,50,100,150", help="contacts per second, comma-separated")
    parser.add_argument("--seconds", type=float, default=10.0, help="duration of each step")
    parser.add_argument("--capacity", type=int, default=20, help="SMS each agent may hold at once")
    parser.add_argument("--timeout", type=float, default=10.0, help="an offer later than this is lost")
    parser.add_argument("--connections", type=int, default=256, help="client connection pool size")
    parser.add_argument("--database-url", default="", help="empty: a SQLite file in a temporary directory")
    parser.add_argument("--admin-database", default="test", help="PostgreSQL database to create it from")
    parser.add_argument("--redis-url", default="", help="Redis for routing, events and socket.io")
    parser.add_argument("--json", action="store_true", help="compact JSON on stdout")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--data-dir", default="", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--sql-profile", action="store_true", help="the server prints its slowest statements")
    parser.add_argument("--profile", default="", help="write a cProfile of the server's measured steps here")
    args = parser.parse_args()
    if args.serve:
        asyncio.run(serve(args))
        return

    rates = [float(r) for r in args.rates.split(",") if r.strip()]
    if rates and args.agents * args.capacity < sum(rates) * args.seconds + 20:
        parser.error("--agents x --capacity must exceed the number of contacts sent")
    database = "SQLite (file in a temporary directory, WAL)"
    if args.database_url:
        version = asyncio.run(fresh_postgres(args.database_url, args.admin_database))
        database = f"PostgreSQL {version} ({args.database_url.rsplit('@', 1)[-1]})"
    data_dir = tempfile.mkdtemp(prefix="cc-bench-offers-")
    command = [sys.executable, "-m", "bench.offers", "--serve", "--data-dir", data_dir]
    command += ["--port", str(free_port()), "--agents", str(args.agents), "--capacity", str(args.capacity)]
    command += ["--database-url", args.database_url, "--redis-url", args.redis_url]
    command += ["--sql-profile"] if args.sql_profile else []
    command += ["--profile", str(Path(args.profile).resolve())] if args.profile else []
    started = time.time()
    process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
        command, stdout=subprocess.PIPE, text=True, cwd=Path(__file__).resolve().parent.parent
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    if not line:
        process.wait()
        raise SystemExit(f"the server process ended with {process.returncode} before listening")
    info = json.loads(line)
    log(f"app listening on {info['port']} (pid {process.pid}), {args.agents} agents seeded; {database}")
    args.rates = rates
    try:
        results = asyncio.run(measure(args, process.pid, info["port"], info["agents"]))
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
        shutil.rmtree(data_dir, ignore_errors=True)
    report = {
        "machine": {
            "cpu_count": os.cpu_count(),
            "platform": platform.platform(),
            "processor": platform.processor() or platform.machine(),
            "python": platform.python_version(),
        },
        "database": database,
        "redis": bool(args.redis_url),
        "settings": {
            "agents": args.agents,
            "rates": rates,
            "seconds": args.seconds,
            "capacity": args.capacity,
            "timeout": args.timeout,
            "latency": "scheduled send of the SMS webhook to the offer read from the agent's socket",
        },
        **results,
        "goals": verdict(results["steps"]),
        "wall_seconds": round(time.time() - started, 1),
    }
    print(json.dumps(report) if args.json else json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
