"""Web chat at scale on one process: 2,000 concurrent chat customers talking to agents, against a plain
aiohttp websocket echo (the limit).

What is measured:

- **Servers.** Two child processes: the whole application (`create_app`, SQLite in a temporary directory,
  routing in memory, access log off), seeded with `--agents` agents (English, chat capacity enough for
  every customer, an API token each); and a plain aiohttp application whose one websocket handler echoes
  every text frame. Each prints its port; the load runs in this (parent) process, on the same machine.
- **Clients.** A small socket.io client (engine.io 4 over aiohttp websockets: connect, events, acks,
  pings) so that thousands of sockets fit in one process. Every customer connects to /chat, says `hello`
  and `start`s a chat; every agent connects to /agent with its token, goes available through the API and
  accepts offers until every chat is assigned.
- **Messages.** For `--seconds`, every customer sends a message every `--interval` seconds (the first at a
  random moment in the interval). The agent holding the chat answers each one at once (`chat:send`).
  Latency *customer to agent* runs from the customer's send to the agent's `chat:message`; *round trip*
  to the customer's `message` event with the agent's answer. The echo clients (as many as customers) send
  at the same rate; their latency is send to echo. All clocks are this process's loop.
- **Memory.** Resident memory of each server (from /proc) before and after the customers (or echo
  clients) connect, divided by their number.

Run (progress on stderr, JSON on stdout):

    python -m bench.chat                          # 2,000 customers, 40 agents, 30 s of messages
                                                  # (one every 20 s from each customer)
    python -m bench.chat --customers 200 --seconds 10
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
from collections import Counter
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

TEXT = "Hello, I need some help with the order I placed last week"


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def rss_kib(pid: int) -> int:
    """Resident memory of a process in KiB (Linux /proc)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def percentile(values: list[float], share: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered) + 0.5) - 1))]


def summary(values: list[float]) -> dict[str, Any]:
    return {
        "count": len(values),
        "p50_ms": round(statistics.median(values), 2) if values else None,
        "p99_ms": round(percentile(values, 0.99) or 0, 2) if values else None,
        "max_ms": round(max(values), 2) if values else None,
    }


# the servers (child processes) -------------------------------------------------------------------------


async def seed_agents(settings: Any, count: int, capacity: int) -> list[dict[str, Any]]:
    """Agents speaking English with room for `capacity` chats each, and an API token each."""
    from contact_center.app import ensure_schema
    from contact_center.auth.sessions import issue_token
    from contact_center.clock import SystemClock
    from contact_center.db.engine import create_engine, session_factory
    from contact_center.users import service
    from contact_center.users.schemas import UserIn

    await ensure_schema(settings)
    engine = create_engine(settings.effective_database_url)
    now, agents = SystemClock().now(), []
    async with session_factory(engine).begin() as db:
        for n in range(count):
            user = await service.create_user(
                db,
                UserIn(
                    username=f"agent{n}",
                    display_name=f"Agent {n}",
                    password="bench-password-1",  # noqa: S106 - a throwaway database
                    languages=["en"],
                ),
                now,
            )
            user.capacity = {"voice": 1, "chat": capacity, "email": 5, "sms": 3}
            _, token = await issue_token(db, user, "bench", now)
            agents.append({"id": user.id, "token": token})
    await engine.dispose()
    return agents


async def serve_app(data_dir: str, agents: int, capacity: int, port: int) -> None:
    from contact_center.app import create_app
    from contact_center.settings import load_settings

    settings = load_settings(
        data_dir=Path(data_dir),
        secret_key="bench-secret-key-0123456789abcdef0123456789",  # noqa: S106 - throwaway
        public_url=f"http://127.0.0.1:{port}",
        chat_messages_per_minute=100_000,
        chat_starts_per_hour=1_000_000,
    )
    seeded = await seed_agents(settings, agents, capacity)
    await run(create_app(settings), port, {"agents": seeded})


async def serve_echo(port: int) -> None:
    async def echo(request: web.Request) -> web.WebSocketResponse:
        socket = web.WebSocketResponse()
        await socket.prepare(request)
        async for message in socket:
            if message.type == aiohttp.WSMsgType.TEXT:
                await socket.send_str(message.data)
        return socket

    app = web.Application()
    app.router.add_get("/echo", echo)
    await run(app, port, {})


async def run(app: web.Application, port: int, extra: dict[str, Any]) -> None:
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    print(json.dumps({"port": port, **extra}), flush=True)
    stop = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(signum, stop.set)
    await stop.wait()
    await runner.cleanup()


# a small socket.io client -------------------------------------------------------------------------------


class Socket:
    """One socket.io connection on one namespace: events, acknowledgements, pings."""

    def __init__(self, namespace: str) -> None:
        self.namespace = namespace
        self.acks: dict[int, asyncio.Future[Any]] = {}
        self.ids = itertools.count(1)
        self.handlers: dict[str, Any] = {}
        self.ws: aiohttp.ClientWebSocketResponse | None = None
        self.reader: asyncio.Task[None] | None = None

    async def connect(
        self, session: aiohttp.ClientSession, base: str, auth: dict | None = None, headers: dict | None = None
    ) -> None:
        self.ws = await session.ws_connect(
            f"{base}/socket.io/?EIO=4&transport=websocket", heartbeat=None, headers=headers
        )
        opened = await self.ws.receive_str()
        assert opened.startswith("0"), opened
        await self.ws.send_str(f"40{self.namespace}," + json.dumps(auth or {}))
        connected = await self.ws.receive_str()
        if not connected.startswith(f"40{self.namespace},"):
            raise ConnectionError(connected)
        self.reader = asyncio.create_task(self._read())

    async def call(self, event: str, data: Any) -> Any:
        assert self.ws is not None
        ack = next(self.ids)
        answer = self.acks[ack] = asyncio.get_running_loop().create_future()
        try:
            await self.ws.send_str(f"42{self.namespace},{ack}" + json.dumps([event, data]))
            return await asyncio.wait_for(answer, 60)
        finally:
            self.acks.pop(ack, None)

    async def _read(self) -> None:
        assert self.ws is not None
        prefix = f"{self.namespace},"
        async for message in self.ws:
            text = message.data
            if text == "2":
                await self.ws.send_str("3")
                continue
            if not text.startswith("4"):
                continue
            kind, body = text[1], text[2:].removeprefix(prefix)
            digits = len(body) - len(body.lstrip("0123456789"))
            number, payload = body[:digits], json.loads(body[digits:])
            if kind == "3" and number:
                future = self.acks.get(int(number))
                if future is not None and not future.done():
                    future.set_result(payload[0] if payload else None)
            elif kind == "2" and payload and payload[0] in self.handlers:
                self.handlers[payload[0]](*payload[1:])

    async def close(self) -> None:
        if self.reader is not None:
            self.reader.cancel()
        if self.ws is not None:
            await self.ws.close()


# the run (parent process) -------------------------------------------------------------------------------


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_child(*arguments: str) -> tuple[subprocess.Popen[str], dict[str, Any]]:
    command = [sys.executable, "-m", "bench.chat", *arguments]
    process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
        command, stdout=subprocess.PIPE, text=True, cwd=Path(__file__).resolve().parent.parent
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    if not line:
        process.wait()
        raise SystemExit(f"a server process ended with {process.returncode} before listening")
    return process, json.loads(line)


async def in_batches(jobs: list[Any], size: int = 100) -> list[Any]:
    results = []
    for start in range(0, len(jobs), size):
        results += await asyncio.gather(*jobs[start : start + size])
    return results


async def measure_chat(args: argparse.Namespace, pid: int, port: int, agents: list[dict]) -> dict[str, Any]:
    base = f"http://127.0.0.1:{port}"
    loop = asyncio.get_running_loop()
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as session:
        agent_sockets = []
        for agent in agents:
            socket = Socket("/agent")
            await socket.connect(session, base, {"token": agent["token"]})
            await set_presence(session, base, agent, {"presence": "away", "reason": "bench set-up"})
            agent_sockets.append((agent, socket))
        memory_before = rss_kib(pid)
        customers = [Socket("/chat") for _ in range(args.customers)]
        await in_batches([c.connect(session, base) for c in customers])
        hellos = await in_batches([c.call("hello", {}) for c in customers])
        memory_connected = rss_kib(pid)
        grown = memory_connected - memory_before
        log(f"chat: {len(customers)} customers connected; server memory +{grown} KiB")
        started = await in_batches(
            [c.call("start", {"name": f"Customer {n}", "text": TEXT}) for n, c in enumerate(customers)], 50
        )
        failed = [s for s in started if not (s and s.get("ok"))]
        if failed:
            raise SystemExit(f"{len(failed)} chats did not start, e.g. {failed[0]}")
        by_conversation = {s["conversation_id"]: c for s, c in zip(started, customers, strict=True)}
        log(f"chat: {len(started)} chats started (offline={hellos[0].get('offline')}); agents accepting")
        for agent in agents:  # only now: offers made while chats were still starting would time out
            await set_presence(session, base, agent, {"presence": "available"})
        await accept_all(session, base, agents, len(started))
        log("chat: every chat is assigned")

        sent_at: dict[str, float] = {}
        to_agent: list[float] = []
        round_trip: list[float] = []
        holders: dict[int, Socket] = {}

        replies: set[asyncio.Future[Any]] = set()
        refused: list[str] = []

        def count_refusal(reply: asyncio.Future[Any]) -> None:
            answer = reply.result() if not reply.cancelled() and reply.exception() is None else None
            if not (answer and answer.get("ok")):
                refused.append(str(answer.get("error") if answer else reply.exception()))

        for _, socket in agent_sockets:

            def on_agent_message(message: dict, socket: Socket = socket) -> None:
                marker = message.get("text", "")
                if message.get("author") == "customer" and marker in sent_at:
                    to_agent.append((loop.time() - sent_at[marker]) * 1000)
                    holders[message["conversation_id"]] = socket
                    task = socket.call(
                        "chat:send", {"conversation_id": message["conversation_id"], "text": "re " + marker}
                    )
                    reply = asyncio.ensure_future(task)
                    replies.add(reply)
                    reply.add_done_callback(replies.discard)
                    reply.add_done_callback(count_refusal)

            socket.handlers["chat:message"] = on_agent_message

        for customer in by_conversation.values():

            def on_customer_message(message: dict) -> None:
                text = message.get("text", "")
                if message.get("author") == "agent" and text.startswith("re "):
                    marker = text[3:]
                    if marker in sent_at:
                        round_trip.append((loop.time() - sent_at.pop(marker)) * 1000)

            customer.handlers["message"] = on_customer_message

        cpu = cpu_seconds(pid)
        counter = itertools.count()
        end = loop.time() + args.seconds

        async def talk(customer: Socket) -> None:
            await asyncio.sleep(random.uniform(0, args.interval))
            while loop.time() < end:
                marker = f"m{next(counter)}"
                sent_at[marker] = loop.time()
                await customer.call("message", {"text": marker, "client_id": marker})
                await asyncio.sleep(args.interval)

        log(f"chat: {args.seconds:g} s of messages, one every {args.interval:g} s per customer")
        await asyncio.gather(*(talk(c) for c in customers))
        for _ in range(100):  # the last answers, up to 10 s
            if not sent_at:
                break
            await asyncio.sleep(0.1)
        cpu = cpu_seconds(pid) - cpu
        lost = len(sent_at)
        for socket in customers + [s for _, s in agent_sockets]:
            await socket.close()
    return {
        "customers": args.customers,
        "agents": len(agents),
        "customer_to_agent": summary(to_agent),
        "round_trip": summary(round_trip),
        "unanswered": lost,
        "agent_replies_refused": dict(Counter(refused)),
        "messages_per_s": round(2 * len(round_trip) / args.seconds, 1),
        "server_cpu_s": round(cpu, 2),
        "memory_kib_per_connection": round((memory_connected - memory_before) / args.customers, 1),
    }


async def set_presence(session: aiohttp.ClientSession, base: str, agent: dict, body: dict) -> None:
    headers = {"Authorization": f"Bearer {agent['token']}"}
    async with session.post(f"{base}/api/routing/presence", json=body, headers=headers) as response:
        assert response.status == 200, await response.text()


async def accept_all(session: aiohttp.ClientSession, base: str, agents: list[dict], total: int) -> None:
    """Each agent takes its offers until `total` chats are assigned."""
    accepted = 0

    async def take(agent: dict) -> None:
        nonlocal accepted
        headers = {"Authorization": f"Bearer {agent['token']}"}
        idle_rounds = 0
        while accepted < total and idle_rounds < 200:
            async with session.get(f"{base}/api/routing/me", headers=headers) as response:
                offer = (await response.json()).get("offer")
            if not offer:
                idle_rounds += 1
                await asyncio.sleep(0.05)
                continue
            async with session.post(f"{base}/api/routing/offers/{offer}/accept", headers=headers) as response:
                if response.status == 200:
                    accepted += 1
                    if accepted % 250 == 0:
                        log(f"chat: {accepted} chats assigned")

    await asyncio.gather(*(take(agent) for agent in agents))
    if accepted < total:
        raise SystemExit(f"only {accepted} of {total} chats were assigned")


async def measure_echo(args: argparse.Namespace, pid: int, port: int) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    latencies: list[float] = []
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
        memory_before = rss_kib(pid)
        sockets = await in_batches(
            [session.ws_connect(f"http://127.0.0.1:{port}/echo") for _ in range(args.customers)]
        )
        memory_connected = rss_kib(pid)
        end = loop.time() + args.seconds
        cpu = cpu_seconds(pid)

        async def talk(socket: aiohttp.ClientWebSocketResponse) -> None:
            await asyncio.sleep(random.uniform(0, args.interval))
            while loop.time() < end:
                sent = loop.time()
                await socket.send_str(json.dumps({"text": TEXT}))
                await socket.receive_str()
                latencies.append((loop.time() - sent) * 1000)
                await asyncio.sleep(args.interval)

        log(f"echo: {args.customers} websockets, {args.seconds:g} s")
        await asyncio.gather(*(talk(s) for s in sockets))
        cpu = cpu_seconds(pid) - cpu
        for socket in sockets:
            await socket.close()
    return {
        "connections": args.customers,
        "echo": summary(latencies),
        "messages_per_s": round(2 * len(latencies) / args.seconds, 1),
        "server_cpu_s": round(cpu, 2),
        "memory_kib_per_connection": round((memory_connected - memory_before) / args.customers, 1),
    }


def stop(process: subprocess.Popen[str]) -> None:
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=2000)
    parser.add_argument("--agents", type=int, default=40)
    parser.add_argument("--seconds", type=float, default=30.0, help="how long customers write")
    parser.add_argument("--interval", type=float, default=20.0, help="seconds between a customer's messages")
    parser.add_argument("--serve", choices=["app", "echo"], help=argparse.SUPPRESS)
    parser.add_argument("--data-dir", default="", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--capacity", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve == "app":
        asyncio.run(serve_app(args.data_dir, args.agents, args.capacity, args.port))
        return
    if args.serve == "echo":
        asyncio.run(serve_echo(args.port))
        return

    capacity = -(-args.customers // args.agents) + 1
    data_dir = tempfile.mkdtemp(prefix="cc-bench-chat-")
    started = time.time()
    app_process, app_info = start_child(
        "--serve", "app", "--data-dir", data_dir, "--port", str(free_port()),
        "--agents", str(args.agents), "--capacity", str(capacity),
    )  # fmt: skip
    try:
        log(f"app listening on {app_info['port']} (pid {app_process.pid}), {args.agents} agents seeded")
        chat = asyncio.run(measure_chat(args, app_process.pid, app_info["port"], app_info["agents"]))
    finally:
        stop(app_process)
        shutil.rmtree(data_dir, ignore_errors=True)
    echo_process, echo_info = start_child("--serve", "echo", "--port", str(free_port()))
    try:
        echo = asyncio.run(measure_echo(args, echo_process.pid, echo_info["port"]))
    finally:
        stop(echo_process)
    report = {
        "machine": {
            "cpu_count": os.cpu_count(),
            "platform": platform.platform(),
            "processor": platform.processor() or platform.machine(),
            "python": platform.python_version(),
        },
        "settings": {
            "customers": args.customers,
            "agents": args.agents,
            "seconds": args.seconds,
            "interval": args.interval,
        },
        "chat": chat,
        "plain_echo": echo,
        "ratios": {
            "customer_to_agent_p99_vs_echo_p99": _ratio(
                chat["customer_to_agent"]["p99_ms"], echo["echo"]["p99_ms"]
            ),
            "memory_per_connection_vs_echo": _ratio(
                chat["memory_kib_per_connection"], echo["memory_kib_per_connection"]
            ),
        },
        "wall_seconds": round(time.time() - started, 1),
    }
    print(json.dumps(report, indent=2))


def _ratio(mine: float | None, limit: float | None) -> float | None:
    return round(mine / limit, 2) if mine and limit else None


if __name__ == "__main__":
    main()
