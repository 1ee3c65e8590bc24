"""Load across processes: three application processes on one PostgreSQL and one Redis, 1,000 agents on their
consoles, inbound contacts on every channel at rising rates; and 5,000 wallboards on one process.

What is measured:

- **Servers.** `--processes` (3) child processes (`python -m bench.load --serve ...`) each run the whole
  application (`create_app`, access log off like `contact-center serve`) on its own port and SMTP port, all
  on one fresh PostgreSQL database and one Redis (routing, events and socket.io through Redis, under a
  key prefix of this run, deleted at the end). Twilio's REST API is a local stand-in in a child process of
  its own (it records what it is sent; nothing reaches Twilio's cloud). The servers trust 127.0.0.0/8 as
  their proxy, so each chat visitor's `X-Forwarded-For` counts as its own address, as behind the
  compose file's proxy. A plain aiohttp process (one handler parsing the same form, bench/webhooks.py)
  is the baseline.
- **Agents.** `--agents` (1,000) agents, each with a socket on /agent of process `i % processes` (the
  small engine.io client of bench/chat.py), available. Each offer is accepted at once, the contact
  completed (`task:complete`) and wrapped up (`wrapup:submit`, disposition `resolved`), so agents stay
  free and the load is whole contacts, not offers piling up. Memory per connected agent: the servers'
  resident memory after the agents connected and went available, less before, over the number of agents.
- **Contacts.** For each rate (`--rates`, contacts/s, default 25, 50, 75, 100, 150) for `--seconds` (10),
  contact i is scheduled at start + i/rate (open loop), on process `i % processes`, on the channels in
  turn: SMS (a signed `POST /twilio/sms`), voice (signed `POST /twilio/voice`, then the IVR's language and
  menu choices, each a signed webhook as Twilio would send it after the caller pressed a key), web chat (a
  /chat socket: `hello`, `start` with a name, an e-mail address and the first message) and e-mail (an SMTP
  exchange with the process's listener). Each contact has a new phone number or address. **Offer latency**
  runs from the request that queues the contact (the SMS webhook's scheduled time, the voice webhook
  carrying the menu choice, the chat's `start`, the SMTP exchange) to the `offer` naming that customer on
  any agent's socket, on any process. **Webhook latency** is each HTTP webhook's answer time (for SMS from
  its scheduled time); the SMTP exchange's time is reported apart. Contacts not offered within
  `--timeout` (10 s) after the step are lost. Rates rise until the offer p99 passes 1 s.
- **Event-loop lag.** Every process samples it (`cc_event_loop_lag_seconds` on /metrics, a timer every 50
  ms); the step's p99 is read from the histogram's buckets over the step (interpolated like Prometheus's
  histogram_quantile), for all processes together and for the worst one.
- **Plain handler.** Before each step, the plain aiohttp process gets the same rate of form posts for the
  same time: the floor of webhook latency on this machine at that moment.
- **Wallboard.** After the steps, `--wallboards` (5,000) supervisor sockets on /wallboard of process 0.
  An agent's presence is changed `--wallboard-rounds` (5) times; each time, the latency from the change
  being sent to each wallboard receiving the board that shows it; per round the p50, the p99 and the last
  wallboard (the time for the update to reach them all). Memory per wallboard socket likewise.
- **CPU.** Each server's CPU time (from /proc) over each step, in shares of one core, and the load
  generator's. Everything shares the machine's cores (2 on the reference machine): servers, PostgreSQL,
  Redis and the load generator.

Run (progress on stderr, JSON on stdout, pretty unless `--json`; needs PostgreSQL and Redis):

    python -m bench.load                                   # 3 processes, 1,000 agents, 5,000 wallboards
    python -m bench.load --agents 100 --rates 10 --seconds 3 --wallboards 200   # a quick look

Goals (issue 9): at 100 contacts/s across the three processes, offer p99 under 500 ms and event-loop lag
p99 under 20 ms; at least 5,000 wallboards on one process, an update reaching all of them within 500 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import platform
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ElementTree
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import aiohttp
import aiosmtplib
from aiohttp import web
from twilio.request_validator import RequestValidator

from bench.chat import Socket, free_port, in_batches, log, percentile, rss_kib, stop
from bench.offers import seed_agents
from bench.webhooks import (
    ACCOUNT_SID,
    AUTH_TOKEN,
    OUR_NUMBER,
    PUBLIC_URL,
    Forms,
    cpu_seconds,
    fresh_postgres,
    open_loop,
    plain_app,
)

GOAL_RATE, GOAL_OFFER_P99_MS, GOAL_LAG_P99_MS, GOAL_WALLBOARDS, GOAL_WALLBOARD_MS = (
    100.0,
    500.0,
    20.0,
    5000,
    500,
)
CHANNELS = ("sms", "voice", "chat", "email")
SUPPORT_ADDRESS = "support@bench.example"
DISPOSITION = "resolved"
LANGUAGE_URL, MENU_URL = "/twilio/voice/language", "/twilio/voice/menu"
SECRET_KEY = "bench-secret-key-0123456789abcdef0123456789"  # noqa: S105 - a throwaway database


# the child processes -------------------------------------------------------------------------------------


def server_settings(args: argparse.Namespace) -> Any:
    from contact_center.settings import load_settings

    return load_settings(
        database_url=args.database_url,
        redis_url=args.redis_url,
        redis_prefix=args.redis_prefix,
        data_dir=Path(args.data_dir),
        secret_key=SECRET_KEY,
        public_url=PUBLIC_URL,
        trusted_proxies="127.0.0.0/8",
        twilio_account_sid=ACCOUNT_SID,
        twilio_auth_token=AUTH_TOKEN,
        twilio_phone_number=OUR_NUMBER,
        twilio_api_base_url=args.standin_url or "http://127.0.0.1:9",
        smtp_listen=f"127.0.0.1:{args.smtp_port}" if args.smtp_port else "",
        email_address=SUPPORT_ADDRESS,
    )


async def serve(args: argparse.Namespace) -> None:
    """Run one application process (or the stand-in, or the plain handler) until SIGTERM."""
    if args.serve == "app":
        from contact_center.app import create_app
        from contact_center.web.gc_tuning import tune_for_serving

        app = create_app(server_settings(args))
        tune_for_serving()  # as `contact-center serve` does
    elif args.serve == "standin":
        from contact_center.demo.standins import TwilioStandIn

        app = TwilioStandIn().app()
    else:
        app = plain_app()
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", args.port).start()
    print(json.dumps({"port": args.port}), flush=True)
    stop = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(signum, stop.set)
    await stop.wait()
    await runner.cleanup()


async def seed(args: argparse.Namespace) -> dict[str, Any]:
    """Agents (bench/offers.py's), one supervisor with a token, and the disposition agents wrap up with."""
    from contact_center.auth.roles import Role
    from contact_center.auth.sessions import issue_token
    from contact_center.clock import SystemClock
    from contact_center.console.codes import CodeIn, create_code
    from contact_center.db.engine import create_engine, session_factory
    from contact_center.users import service
    from contact_center.users.schemas import UserIn

    settings = server_settings(args)
    agents = await seed_agents(settings, args.agents, capacity=20)
    engine = create_engine(settings.effective_database_url)
    now = SystemClock().now()
    async with session_factory(engine).begin() as db:
        user = await service.create_user(
            db,
            UserIn(username="supervisor", display_name="Supervisor", password="x" * 12, role=Role.SUPERVISOR),
            now,
        )
        _, supervisor_token = await issue_token(db, user, "bench", now)
        await create_code(db, "disposition", CodeIn(code=DISPOSITION, label="Resolved"), None, now)
    await engine.dispose()
    return {"agents": agents, "supervisor_token": supervisor_token}


def start_child(args: argparse.Namespace, kind: str, port: int, **extra: Any) -> subprocess.Popen[str]:
    """A child process of this module serving `kind` on `port`; returns once it listens."""
    command = [sys.executable, "-m", "bench.load", "--serve", kind, "--port", str(port)]
    command += ["--database-url", args.database_url, "--redis-url", args.redis_url]
    command += ["--redis-prefix", args.redis_prefix]
    for name, value in extra.items():
        command += [f"--{name.replace('_', '-')}", str(value)]
    process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
        command, stdout=subprocess.PIPE, text=True, cwd=Path(__file__).resolve().parent.parent
    )
    assert process.stdout is not None
    if not process.stdout.readline():
        process.wait()
        raise SystemExit(
            f"the {kind} process on port {port} ended with {process.returncode} before listening"
        )
    return process


# the servers as seen from the load generator -------------------------------------------------------------


@dataclass
class Server:
    """One application process: its pid, web base URL and SMTP port."""

    pid: int
    base: str
    smtp_port: int

    async def lag_buckets(self, session: aiohttp.ClientSession) -> dict[float, float]:
        """The event-loop lag histogram's cumulative buckets now: upper bound -> count."""
        async with session.get(self.base + "/metrics") as response:
            text = await response.text()
        prefix = "cc_event_loop_lag_seconds_bucket{le="
        buckets = {}
        for line in text.splitlines():
            if line.startswith(prefix):
                bound = line[len(prefix) :].split('"')[1]
                buckets[float("inf") if bound == "+Inf" else float(bound)] = float(line.rsplit(" ", 1)[1])
        return buckets


def histogram_quantile(share: float, before: dict[float, float], after: dict[float, float]) -> float | None:
    """The `share` quantile of what was observed between two readings of a cumulative histogram, in the
    histogram's unit, interpolated linearly inside its bucket (as Prometheus's histogram_quantile)."""
    bounds = sorted(after)
    counts = [after[b] - before.get(b, 0.0) for b in bounds]
    total = counts[-1] if counts else 0
    if total <= 0:
        return None
    rank, lower, below = share * total, 0.0, 0.0
    for bound, count in zip(bounds, counts, strict=True):
        if count >= rank:
            if bound == float("inf"):
                return lower
            return lower + (bound - lower) * (rank - below) / max(count - below, 1e-9)
        lower, below = bound, count
    return lower


def merged(readings: list[dict[float, float]]) -> dict[float, float]:
    total: dict[float, float] = defaultdict(float)
    for reading in readings:
        for bound, count in reading.items():
            total[bound] += count
    return dict(total)


# contacts ------------------------------------------------------------------------------------------------


@dataclass
class Contact:
    """One inbound contact: its channel, the identity its offer will show, and when it was queued."""

    channel: str
    key: str
    server: Server
    queued_at: float | None = None
    conversation_id: int | None = None  # a chat's, from its `start` (a chat's e-mail is unproven: not shown)
    offered_ms: float | None = None


@dataclass
class Load:
    """The contacts sent, the offers seen, and the webhook timings, for the whole run."""

    validator: RequestValidator = field(default_factory=lambda: RequestValidator(AUTH_TOKEN))
    serial: Any = field(default_factory=lambda: itertools.count(1))
    run_id: str = field(default_factory=lambda: f"{os.getpid():x}{int(time.time()) & 0xFFFF:04x}")
    by_key: dict[str, Contact] = field(default_factory=dict)
    offered_at: dict[str, float] = field(default_factory=dict)  # identity -> first offer seen (loop time)
    offered_chat_at: dict[int, float] = field(default_factory=dict)  # conversation id -> first offer seen
    webhook_ms: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: Counter[str] = field(default_factory=Counter)

    def new_contact(self, index: int, servers: list[Server]) -> Contact:
        n = next(self.serial)
        channel = CHANNELS[index % len(CHANNELS)]
        if channel in ("sms", "voice"):
            key = f"+1{312 + n // 8_000_000 * 100}{2_000_000 + n % 8_000_000:07d}"
        else:
            key = f"customer.{self.run_id}.{n}@load.example"
        contact = Contact(channel, key, servers[index % len(servers)])
        self.by_key[key] = contact
        return contact

    def on_offer(self, offer: dict[str, Any], now: float) -> None:
        if offer.get("channel") == "chat":
            self.offered_chat_at.setdefault(offer.get("conversation_id"), now)
            return
        for identity in (offer.get("customer") or {}).get("identities") or []:
            key = identity.get("value")
            if key in self.by_key and key not in self.offered_at:
                self.offered_at[key] = now

    def offered(self, contact: Contact) -> float | None:
        """When the contact's first offer was seen (loop time), or None."""
        if contact.channel == "chat":
            return self.offered_chat_at.get(contact.conversation_id)
        return self.offered_at.get(contact.key)

    def signed(self, path: str, form: dict[str, str]) -> dict[str, str]:
        return {"X-Twilio-Signature": self.validator.compute_signature(PUBLIC_URL + path, form)}


async def post_webhook(
    session: aiohttp.ClientSession, load: Load, server: Server, path: str, form: dict[str, str], since: float
) -> str | None:
    """A signed Twilio webhook; its body, or None (counted as an error)."""
    loop = asyncio.get_running_loop()
    try:
        async with asyncio.timeout(10):
            async with session.post(
                server.base + path, data=form, headers=load.signed(path, form)
            ) as response:
                body = await response.text()
                status = response.status
    except (TimeoutError, aiohttp.ClientError) as exc:
        load.errors[f"{path}: {type(exc).__name__}"] += 1
        return None
    if status != 200:
        load.errors[f"{path}: {status}"] += 1
        return None
    load.webhook_ms[path.split("?")[0]].append((loop.time() - since) * 1000)
    return body


async def send_sms(session: aiohttp.ClientSession, load: Load, contact: Contact, due: float) -> None:
    sid = "SM" + f"{load.run_id}{next(load.serial):012x}".rjust(32, "0")[-32:]
    form = {"AccountSid": ACCOUNT_SID, "MessageSid": sid, "From": contact.key, "To": OUR_NUMBER}
    form["Body"] = "Hello, my order has not arrived yet, could you check it for me please?"
    if await post_webhook(session, load, contact.server, "/twilio/sms", form, due) is not None:
        contact.queued_at = due


async def send_call(session: aiohttp.ClientSession, load: Load, contact: Contact, due: float) -> None:
    """The call, then the keys the caller presses at the IVR's language and menu prompts."""
    loop = asyncio.get_running_loop()
    sid = "CA" + f"{load.run_id}{next(load.serial):012x}".rjust(32, "0")[-32:]
    base_form = {"AccountSid": ACCOUNT_SID, "CallSid": sid, "From": contact.key, "To": OUR_NUMBER}
    base_form["CallStatus"] = "in-progress"
    path, form, since = "/twilio/voice", dict(base_form), due
    for _ in range(4):
        if path.startswith(MENU_URL):
            contact.queued_at = since  # the caller's choice queues the call
        body = await post_webhook(session, load, contact.server, path, form, since)
        if body is None:
            return
        gather = ElementTree.fromstring(body).find(".//Gather")  # noqa: S314 - our own server's TwiML
        action = gather.get("action", "") if gather is not None else ""
        if not action.startswith((LANGUAGE_URL, MENU_URL)):
            return  # queued: the caller hears the wait loop now
        digit = "1" if action.startswith(LANGUAGE_URL) else "2"  # English; technical support
        path, form, since = action, {**base_form, "Digits": digit}, loop.time()
    load.errors["voice: the IVR never queued the call"] += 1


async def send_chat(
    session: aiohttp.ClientSession, load: Load, contact: Contact, visitors: list[Socket], address: str
) -> None:
    visitor = Socket("/chat")
    try:
        await visitor.connect(session, contact.server.base, headers={"X-Forwarded-For": address})
        await visitor.call("hello", {})
    except (ConnectionError, aiohttp.ClientError, TimeoutError) as exc:
        load.errors[f"chat connect: {type(exc).__name__}"] += 1
        return
    visitors.append(visitor)
    contact.queued_at = asyncio.get_running_loop().time()
    form = {"name": "Load Visitor", "email": contact.key, "text": "Hello, I need help with my last order"}
    answer = await visitor.call("start", form)
    if not (answer and answer.get("ok")):
        load.errors[f"chat start: {answer.get('error') if answer else answer}"] += 1
        contact.queued_at = None
        return
    contact.conversation_id = answer["conversation_id"]


async def send_email(load: Load, contact: Contact) -> None:
    loop = asyncio.get_running_loop()
    message = EmailMessage()
    message["From"], message["To"] = contact.key, SUPPORT_ADDRESS
    message["Subject"] = "My order has not arrived"
    message["Message-ID"] = f"<{contact.key.replace('@', '.')}@load.example>"
    message.set_content("Hello,\n\nmy order has not arrived yet. Could you check it for me please?\n")
    started = loop.time()
    contact.queued_at = started
    try:
        await aiosmtplib.send(message, hostname="127.0.0.1", port=contact.server.smtp_port, timeout=10)
    except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
        load.errors[f"smtp: {type(exc).__name__}"] += 1
        contact.queued_at = None
        return
    load.webhook_ms["smtp"].append((loop.time() - started) * 1000)


# agents and wallboards -----------------------------------------------------------------------------------


async def connect_agents(
    session: aiohttp.ClientSession, servers: list[Server], agents: list[dict[str, Any]], load: Load
) -> tuple[list[Socket], Counter[str]]:
    """One /agent socket per agent, spread over the processes, available; each works every offer at once."""
    loop = asyncio.get_running_loop()
    problems: Counter[str] = Counter()
    working: set[asyncio.Task[Any]] = set()

    async def work(socket: Socket, offer: dict[str, Any]) -> None:
        for event, data in (
            ("offer:accept", {"reservation_id": offer["reservation_id"]}),
            ("task:complete", {"task_id": offer["task_id"]}),
            ("wrapup:submit", {"task_id": offer["task_id"], "disposition": DISPOSITION}),
        ):
            answer = await socket.call(event, data)
            if not (answer and answer.get("ok")):
                problems[f"{event}: {answer.get('error') if answer else answer}"] += 1
                return

    async def open_one(index: int, agent: dict[str, Any]) -> Socket:
        socket = Socket("/agent")

        def on_offer(offer: dict[str, Any]) -> None:
            load.on_offer(offer, loop.time())
            task = asyncio.create_task(work(socket, offer))
            working.add(task)
            task.add_done_callback(working.discard)

        socket.handlers["offer"] = on_offer
        await socket.connect(session, servers[index % len(servers)].base, {"token": agent["token"]})
        answer = await socket.call("presence:set", {"state": "available"})
        if not (answer and answer.get("ok")):
            raise SystemExit(f"agent {agent['id']} could not go available: {answer}")
        return socket

    sockets = await in_batches([open_one(i, agent) for i, agent in enumerate(agents)], 50)
    return sockets, problems


class WallboardSocket(Socket):
    """A /wallboard socket that decodes a board only while a round waits for it: 5,000 sockets decoding every
    whole board would measure this load generator, not the server."""

    def __init__(self, boards: Wallboards, index: int) -> None:
        super().__init__("/wallboard")
        self.boards, self.index = boards, index

    async def _read(self) -> None:
        assert self.ws is not None
        loop = asyncio.get_running_loop()
        async for message in self.ws:
            text = message.data
            if text == "2":
                await self.ws.send_str("3")
            elif text.startswith('42/wallboard,["wallboard:') and self.boards.waiting_for(self.index):
                self.boards.arrived(self.index, json.loads(text[len("42/wallboard,") :])[1], loop.time())


class Wallboards:
    """Wallboard sockets that note when each first shows a given agent in a given presence."""

    def __init__(self) -> None:
        self.sockets: list[Socket] = []
        self.expect: tuple[str, str] | None = None  # (agent id, presence)
        self.seen: dict[int, float] = {}

    def waiting_for(self, index: int) -> bool:
        return self.expect is not None and index not in self.seen

    def arrived(self, index: int, board: dict[str, Any], at: float) -> None:
        assert self.expect is not None
        agent_id, presence = self.expect
        row = (board.get("agents") or {}).get(agent_id)
        if row is not None and row.get("presence") == presence:
            self.seen[index] = at

    async def connect(self, session: aiohttp.ClientSession, base: str, token: str, count: int) -> None:
        async def open_one(index: int) -> Socket:
            socket = WallboardSocket(self, index)
            await socket.connect(session, base, {"token": token})
            return socket

        for start in range(0, count, 250):
            self.sockets += await in_batches([open_one(i) for i in range(start, min(count, start + 250))], 50)
            log(f"wallboards: {len(self.sockets)}/{count} connected")


async def measure_wallboard(
    args: argparse.Namespace,
    session: aiohttp.ClientSession,
    server: Server,
    token: str,
    agent: Socket,
    agent_id: int,
) -> dict[str, Any]:
    """Many wallboards on one process; the time for a presence change to reach them all."""
    loop = asyncio.get_running_loop()
    await settle_all([server])
    memory_before = rss_kib(server.pid)
    boards = Wallboards()
    began = time.perf_counter()
    await boards.connect(session, server.base, token, args.wallboards)
    connected_in = time.perf_counter() - began
    await settle_all([server])
    per_board = (rss_kib(server.pid) - memory_before) / max(1, len(boards.sockets))
    rounds = []
    for number in range(args.wallboard_rounds):
        presence = "away" if number % 2 == 0 else "available"
        boards.expect, boards.seen = (str(agent_id), presence), {}
        sent = loop.time()
        data = {"state": presence, "reason": "bench"} if presence == "away" else {"state": presence}
        answer = await agent.call("presence:set", data)
        if not (answer and answer.get("ok")):
            raise SystemExit(f"presence change refused: {answer}")
        acknowledged = loop.time()
        deadline = sent + 10
        while len(boards.seen) < len(boards.sockets) and loop.time() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.01)
        latencies = [(at - sent) * 1000 for at in boards.seen.values()]
        row = {
            "reached": len(latencies),
            "acknowledged_ms": round((acknowledged - sent) * 1000, 1),  # the change answered
            "first_ms": round(min(latencies), 1) if latencies else None,  # the first wallboard reached
            "p50_ms": round(statistics.median(latencies), 1) if latencies else None,
            "p99_ms": round(percentile(latencies, 0.99) or 0, 1) if latencies else None,
            "all_ms": round(max(latencies), 1) if len(latencies) == len(boards.sockets) else None,
        }
        rounds.append(row)
        log(f"wallboard round {number + 1}: {row}")
        await asyncio.sleep(1)
    for socket in boards.sockets:
        await socket.close()
    complete = [r["all_ms"] for r in rounds if r["all_ms"] is not None]
    return {
        "wallboards": len(boards.sockets),
        "connected_in_seconds": round(connected_in, 1),
        "memory_kib_per_wallboard": round(per_board, 1),
        "rounds": rounds,
        "median_ms_to_reach_all": round(statistics.median(complete), 1) if complete else None,
    }


# the steps -----------------------------------------------------------------------------------------------


async def settle_all(servers: list[Server], limit: float = 120.0) -> None:
    """Wait until every server process is idle (each under 10% of a core for 0.5 s)."""
    loop = asyncio.get_running_loop()
    start = loop.time()
    while loop.time() - start < limit:
        before = [cpu_seconds(s.pid) for s in servers]
        await asyncio.sleep(0.5)
        if all(cpu_seconds(s.pid) - b < 0.05 for s, b in zip(servers, before, strict=True)):
            return


async def run_step(
    args: argparse.Namespace, session: aiohttp.ClientSession, servers: list[Server], load: Load, rate: float
) -> dict[str, Any]:
    """Send rate*seconds contacts on schedule across channels and processes; wait for their offers."""
    loop = asyncio.get_running_loop()
    contacts = [load.new_contact(i, servers) for i in range(max(1, round(rate * args.seconds)))]
    load.webhook_ms.clear()
    visitors: list[Socket] = []
    tasks = []
    start = loop.time() + 0.05
    for i, contact in enumerate(contacts):
        due = start + i / rate
        delay = due - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        if contact.channel == "sms":
            job = send_sms(session, load, contact, due)
        elif contact.channel == "voice":
            job = send_call(session, load, contact, due)
        elif contact.channel == "chat":
            n = next(load.serial)  # a new visitor address for every chat of the run (each has its own limit)
            address = f"10.{(n >> 16) & 255}.{(n >> 8) & 255}.{n & 255}"
            job = send_chat(session, load, contact, visitors, address)
        else:
            job = send_email(load, contact)
        tasks.append(asyncio.create_task(job))
    await asyncio.gather(*tasks)
    queued = [c for c in contacts if c.queued_at is not None]
    deadline = loop.time() + args.timeout
    while loop.time() < deadline and any(load.offered(c) is None for c in queued):  # noqa: ASYNC110
        await asyncio.sleep(0.05)
    for contact in queued:
        offered_at = load.offered(contact)
        if offered_at is not None:
            contact.offered_ms = (offered_at - contact.queued_at) * 1000
    for visitor in visitors:
        await visitor.close()
    offered = [c.offered_ms for c in queued if c.offered_ms is not None]
    by_channel = {
        channel: figures([c.offered_ms for c in queued if c.channel == channel and c.offered_ms is not None])
        for channel in CHANNELS
    }
    webhooks = [ms for path, values in load.webhook_ms.items() if path != "smtp" for ms in values]
    return {
        "sent": len(contacts),
        "never_queued": len(contacts) - len(queued),  # a webhook, IVR step, chat start or SMTP that failed
        "queued": len(queued),
        "offered": len(offered),
        "lost": len(queued) - len(offered),
        "offer_ms": figures(offered),
        "offer_ms_by_channel": by_channel,
        "webhook_ms": figures(webhooks),
        "webhook_ms_by_path": {path: figures(values) for path, values in sorted(load.webhook_ms.items())},
    }


def figures(values: list[float]) -> dict[str, Any]:
    if not values:
        return {"n": 0, "p50": None, "p99": None, "max": None}
    return {
        "n": len(values),
        "p50": round(statistics.median(values), 1),
        "p99": round(percentile(values, 0.99) or 0, 1),
        "max": round(max(values), 1),
    }


async def measure(
    args: argparse.Namespace, servers: list[Server], plain_base: str, seeded: dict[str, Any]
) -> dict[str, Any]:
    load = Load()
    steps = []
    connector = aiohttp.TCPConnector(limit=args.connections, limit_per_host=args.connections)
    async with (
        aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as sockets_session,
        aiohttp.ClientSession(connector=connector) as session,
    ):
        await settle_all(servers)
        memory_before = sum(rss_kib(s.pid) for s in servers)
        began = time.perf_counter()
        agents, problems = await connect_agents(sockets_session, servers, seeded["agents"], load)
        log(f"{len(agents)} agents connected and available in {time.perf_counter() - began:.1f} s")
        await settle_all(servers)
        per_agent = (sum(rss_kib(s.pid) for s in servers) - memory_before) / max(1, len(agents))
        log(f"server memory per connected agent: {per_agent:.1f} KiB")
        warm = await run_step(args, session, servers, load, 8)
        log(f"warm-up: {warm['offered']} of {warm['sent']} offered, errors {dict(load.errors)}")
        load.errors.clear()
        forms = Forms(random.Random(1))
        for rate in args.rates:
            await settle_all(servers)
            plain, _ = await open_loop(session, plain_base, forms, "plain", rate, args.seconds, args.timeout)
            await settle_all(servers)
            lag_before = [await s.lag_buckets(session) for s in servers]
            cpu = [cpu_seconds(s.pid) for s in servers]
            own_cpu, wall = time.process_time(), time.perf_counter()
            step = await run_step(args, session, servers, load, rate)
            wall = time.perf_counter() - wall
            used_cpu = [cpu_seconds(s.pid) - c for s, c in zip(servers, cpu, strict=True)]
            lag_after = [await s.lag_buckets(session) for s in servers]
            lags = [histogram_quantile(0.99, b, a) for b, a in zip(lag_before, lag_after, strict=True)]
            all_lag = histogram_quantile(0.99, merged(lag_before), merged(lag_after))
            step = {
                "rate": rate,
                **step,
                "errors": dict(load.errors),
                "plain_handler_ms": plain.summary(),
                "loop_lag_p99_ms": round(1000 * all_lag, 1) if all_lag is not None else None,
                "loop_lag_p99_ms_worst_process": round(1000 * max(x for x in lags if x is not None), 1)
                if any(x is not None for x in lags)
                else None,
                "server_cpu_shares": [round(used / wall, 2) for used in used_cpu],
                "server_cpu_ms_per_contact": round(1000 * sum(used_cpu) / step["sent"], 1),
                "client_cpu_share": round((time.process_time() - own_cpu) / wall, 2),
            }
            load.errors.clear()
            steps.append(step)
            offer = step["offer_ms"]
            log(
                f"{rate:>5g}/s: {step['offered']}/{step['sent']} offered, lost {step['lost']}, "
                f"never queued {step['never_queued']}, errors "
                f"{sum(step['errors'].values())}; offer p50 {offer['p50']} ms p99 {offer['p99']}; "
                f"webhook p99 {step['webhook_ms']['p99']} ms (plain {step['plain_handler_ms']['p99_ms']}); "
                f"loop lag p99 "
                f"{step['loop_lag_p99_ms']} ms (worst process {step['loop_lag_p99_ms_worst_process']}); "
                f"servers {step['server_cpu_shares']} of a core ({step['server_cpu_ms_per_contact']} ms per "
                f"contact), client {step['client_cpu_share']}"
            )
            if step["errors"]:
                log(f"        errors: {step['errors']}")
            if not args.keep_rising and (offer["p99"] is None or offer["p99"] > 1000):
                log("offer p99 passed 1 s: no higher rates")
                break
        await settle_all(servers)
        wallboard = None
        if args.wallboards:
            wallboard = await measure_wallboard(
                args,
                sockets_session,
                servers[0],
                seeded["supervisor_token"],
                agents[0],
                seeded["agents"][0]["id"],
            )
        for socket in agents:
            await socket.close()
    return {
        "memory_kib_per_agent": round(per_agent, 1),
        "agent_problems": dict(problems),
        "steps": steps,
        "wallboard": wallboard,
    }


def verdict(results: dict[str, Any]) -> dict[str, Any]:
    goals: dict[str, Any] = {}
    passed = [
        s["rate"] for s in results["steps"] if s["offer_ms"]["p99"] is None or s["offer_ms"]["p99"] > 1000
    ]
    goals["rate_where_offer_p99_passes_1s"] = passed[0] if passed else None
    hooks = [s["rate"] for s in results["steps"] if (s["webhook_ms"]["p99"] or 0) > 1000]
    goals["rate_where_webhook_p99_passes_1s"] = hooks[0] if hooks else None
    at_goal = [s for s in results["steps"] if s["rate"] == GOAL_RATE]
    if at_goal:
        step = at_goal[0]
        p99, lag = step["offer_ms"]["p99"], step["loop_lag_p99_ms_worst_process"]
        goals["offer_p99_ms_at_100_per_s"] = goal(
            p99, GOAL_OFFER_P99_MS, extra=step["lost"] == step["never_queued"] == 0
        )
        goals["loop_lag_p99_ms_at_100_per_s"] = goal(lag, GOAL_LAG_P99_MS)
    board = results["wallboard"]
    if board:
        goals["wallboards_on_one_process"] = {
            "value": board["wallboards"],
            "limit": GOAL_WALLBOARDS,
            "met": board["wallboards"] >= GOAL_WALLBOARDS,
        }
        goals["wallboard_update_to_all_ms"] = goal(board["median_ms_to_reach_all"], GOAL_WALLBOARD_MS)
    return goals


def goal(value: float | None, limit: float, extra: bool = True) -> dict[str, Any]:
    met = value is not None and value < limit and extra
    ratio = round(value / limit, 2) if value is not None else None
    return {"value": value, "limit": limit, "ratio": ratio, "met": met}


def delete_redis_keys(url: str, prefix: str) -> None:
    import redis

    client = redis.Redis.from_url(url)
    for key in client.scan_iter(match=f"{prefix}*", count=1000):
        client.delete(key)
    client.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--processes", type=int, default=3)
    parser.add_argument("--agents", type=int, default=1000)
    parser.add_argument("--rates", default="25,50,75,100,150", help="contacts per second, comma-separated")
    parser.add_argument("--seconds", type=float, default=10.0, help="duration of each step")
    parser.add_argument("--timeout", type=float, default=10.0, help="an offer later than this is lost")
    parser.add_argument("--keep-rising", action="store_true", help="run every rate even after p99 passes 1 s")
    parser.add_argument(
        "--wallboards", type=int, default=5000, help="wallboard sockets on process 0 (0: none)"
    )
    parser.add_argument("--wallboard-rounds", type=int, default=5)
    parser.add_argument("--connections", type=int, default=256, help="client HTTP connection pool size")
    parser.add_argument(
        "--database-url",
        default="postgresql+asyncpg://postgres@127.0.0.1:5432/cc_bench_load",
        help="PostgreSQL database, dropped and recreated",
    )
    parser.add_argument("--admin-database", default="test", help="PostgreSQL database to create it from")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--json", action="store_true", help="compact JSON on stdout")
    parser.add_argument("--serve", choices=("app", "standin", "plain"), help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--smtp-port", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--data-dir", default="", help=argparse.SUPPRESS)
    parser.add_argument("--standin-url", default="", help=argparse.SUPPRESS)
    parser.add_argument("--redis-prefix", default="", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        asyncio.run(serve(args))
        return

    args.rates = [float(r) for r in args.rates.split(",") if r.strip()]
    args.redis_prefix = f"ccload{os.getpid()}:"
    started = time.time()
    version = asyncio.run(fresh_postgres(args.database_url, args.admin_database))
    data_root = Path(tempfile.mkdtemp(prefix="cc-bench-load-"))
    args.data_dir = str(data_root / "seed")
    seeded = asyncio.run(seed(args))
    log(f"PostgreSQL {version}: {args.agents} agents and a supervisor seeded")
    children: list[subprocess.Popen[str]] = []
    try:
        standin_port, plain_port = free_port(), free_port()
        children.append(start_child(args, "standin", standin_port))
        children.append(start_child(args, "plain", plain_port))
        servers = []
        for index in range(args.processes):
            port, smtp_port = free_port(), free_port()
            process = start_child(
                args,
                "app",
                port,
                smtp_port=smtp_port,
                data_dir=data_root / f"process{index}",
                standin_url=f"http://127.0.0.1:{standin_port}",
            )
            children.append(process)
            servers.append(Server(process.pid, f"http://127.0.0.1:{port}", smtp_port))
        log(f"{args.processes} application processes listening: {[s.base for s in servers]}")
        results = asyncio.run(measure(args, servers, f"http://127.0.0.1:{plain_port}", seeded))
    finally:
        for child in children:
            stop(child)
        shutil.rmtree(data_root, ignore_errors=True)
        delete_redis_keys(args.redis_url, args.redis_prefix)
    report = {
        "machine": {
            "cpu_count": os.cpu_count(),
            "platform": platform.platform(),
            "processor": platform.processor() or platform.machine(),
            "python": platform.python_version(),
        },
        "database": f"PostgreSQL {version}",
        "settings": {
            "processes": args.processes,
            "agents": args.agents,
            "rates": args.rates,
            "seconds": args.seconds,
            "channels": list(CHANNELS),
            "wallboards": args.wallboards,
        },
        **results,
        "goals": verdict(results),
        "wall_seconds": round(time.time() - started, 1),
    }
    print(json.dumps(report) if args.json else json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
