"""Twilio voice and SMS webhook latency at rising request rates, against a plain aiohttp handler (the limit).

What is measured:

- **Servers.** One child process (`python -m bench.webhooks --serve ...`) runs the whole application
  (`create_app(settings)`, routing in memory, `tick_interval` at its default 0.5 s, access log off like
  `contact-center serve`) on one port, and beside it a plain aiohttp application whose one handler does
  `await request.post()` and answers a fixed small XML string, on another port: the limit of aiohttp itself
  on the same form. The load generator runs in this (parent) process; both processes share the machine's
  cores (2 on the reference machine), so the client's own CPU is part of what limits the figures.
- **Requests.** `POST /twilio/voice` (AccountSid, CallSid, From, To, with Twilio's idempotency token) and
  `POST /twilio/sms` (AccountSid, MessageSid, From, To, Body), signed like Twilio (`RequestValidator`
  against `public_url + path`) and checked by the application. Every request has a new CallSid/MessageSid
  (a new call or message, which creates a conversation); callers come from a pool of 1,000 numbers
  +1415555xxxx, so customers repeat. The plain handler gets the voice form.
- **Latency at rising rates (open loop).** For each rate (default 50, 100, 200, 400 requests/s) and each
  target (voice, sms, plain), request i is scheduled at start + i/rate for `--seconds` (default 10) and
  fired as its own task whatever the earlier ones are doing. Latency runs **from the scheduled send time**
  to the end of the response body, so queueing in the client, in its connection pool (at most
  `--connections`, default 256, which also bounds the work left to an overloaded server) and in the server
  all count. Forms and signatures are prepared before each step. Each step follows one second of untimed
  warm-up at the same rate, and the server is left to go idle (its CPU time, from /proc) before and after
  it, so an overloaded step does not spill into the next. A request not answered 200 within `--timeout`
  (10 s) counts as an error. The server's CPU time per answered request is reported too.
- **Maximum throughput (closed loop).** `--workers` (32) tasks each send one request after another for
  `--throughput-seconds` (5) against voice, sms and plain; responses 200 per second, and app/plain.
- **Storing.** The webhooks answer once the payload is in the durable inbox (on disk); the inbox stores
  it through intake in the background. After each app step, the run waits until the inbox is empty (its
  `cc_inbox_waiting` gauge on /metrics) and reports how many payloads were stored per second from the
  step's start until then, and how long after the step's end the last one was stored.

Run (progress on stderr, results on stdout, pretty unless `--json`):

    python -m bench.webhooks                                   # SQLite file in a temporary directory
    python -m bench.webhooks --seconds 3 --rates 50,200        # a quick look
    python -m bench.webhooks --json --database-url postgresql+asyncpg://postgres@127.0.0.1:5432/cc_bench_webhooks

With a PostgreSQL URL the database named in it is dropped, recreated (through the `--admin-database`,
default `test`, on the same server) and migrated first.

Goals (issue 4): p99 under 50 ms at 200 requests/s; throughput at least a third of the plain handler's.
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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from twilio.request_validator import RequestValidator

ACCOUNT_SID = "AC" + "0" * 32
AUTH_TOKEN = "bench-auth-token-0123456789abcdef"  # noqa: S105 - signs local requests only
OUR_NUMBER = "+15005550006"
PUBLIC_URL = "http://bench.invalid"
PLAIN_XML = '<?xml version="1.0" encoding="UTF-8"?><Response><Say>Hello</Say></Response>'
CALLERS = [f"+1415555{n:04d}" for n in range(1000)]
PATHS = {"voice": "/twilio/voice", "sms": "/twilio/sms", "plain": "/plain"}


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def cpu_seconds(pid: int) -> float:
    """User and system CPU time of a process so far (Linux /proc; 0.0 elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def settle(pid: int, limit: float = 120.0) -> float:
    """Wait until the server process is idle (under 10% of a core for 0.5 s): work left over from an
    overloaded step must not land in the next one. Seconds waited."""
    loop = asyncio.get_running_loop()
    start = loop.time()
    while loop.time() - start < limit:
        before = cpu_seconds(pid)
        await asyncio.sleep(0.5)
        if cpu_seconds(pid) - before < 0.05:
            break
    return loop.time() - start


def percentile(values: list[float], share: float) -> float:
    """Nearest-rank percentile of `values` (share in 0..1)."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(share * len(ordered) + 0.5) - 1))
    return ordered[index]


# the servers (child process) ---------------------------------------------------------------------------


def plain_app() -> web.Application:
    """The limit: aiohttp parsing the same form and answering a fixed TwiML-sized string."""

    async def handle(request: web.Request) -> web.Response:
        await request.post()
        return web.Response(text=PLAIN_XML, content_type="application/xml")

    app = web.Application()
    app.router.add_post(PATHS["plain"], handle)
    return app


async def serve(database_url: str, data_dir: str) -> None:
    """Run the application and the plain handler on free ports; print the ports as JSON; run until killed."""
    from contact_center.app import create_app
    from contact_center.settings import load_settings

    settings = load_settings(
        database_url=database_url,
        data_dir=Path(data_dir),
        secret_key="bench-secret-key-0123456789abcdef0123456789",  # noqa: S106 - a throwaway database
        public_url=PUBLIC_URL,
        twilio_account_sid=ACCOUNT_SID,
        twilio_auth_token=AUTH_TOKEN,
        twilio_phone_number=OUR_NUMBER,
        twilio_api_base_url="http://127.0.0.1:9",  # nothing is sent on these webhooks; never Twilio's cloud
    )
    runners = []
    ports = {}
    for name, app in (("app", create_app(settings)), ("plain", plain_app())):
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        runners.append(runner)
        ports[name] = runner.addresses[0][1]
    print(json.dumps(ports), flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await stop.wait()
    for runner in reversed(runners):
        await runner.cleanup()


# requests -----------------------------------------------------------------------------------------------


@dataclass
class Prepared:
    """One request ready to send: path, form and headers (signature included)."""

    path: str
    form: dict[str, str]
    headers: dict[str, str]


@dataclass
class Forms:
    """Makes unique, signed forms for each target."""

    rng: random.Random
    validator: RequestValidator = field(default_factory=lambda: RequestValidator(AUTH_TOKEN))
    counter: Any = field(default_factory=lambda: itertools.count(1))
    run_id: str = field(default_factory=lambda: f"{os.getpid():x}{int(time.time()) & 0xFFFF:04x}")

    def make(self, target: str) -> Prepared:
        n = next(self.counter)
        sid = f"{self.run_id}{n:012x}".rjust(32, "0")[-32:]
        caller = self.rng.choice(CALLERS)
        if target == "sms":
            form = {"AccountSid": ACCOUNT_SID, "MessageSid": "SM" + sid, "From": caller, "To": OUR_NUMBER}
            form["Body"] = f"Hello, I have a question about order {n}"
        else:
            form = {"AccountSid": ACCOUNT_SID, "CallSid": "CA" + sid, "From": caller, "To": OUR_NUMBER}
        path = PATHS[target]
        headers = {"X-Twilio-Signature": self.validator.compute_signature(PUBLIC_URL + path, form)}
        if target != "sms":
            headers["I-Twilio-Idempotency-Token"] = f"{sid}-{n}"
        return Prepared(path, form, headers)


@dataclass
class Outcome:
    """What a batch of requests gave."""

    latencies_ms: list[float] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)
    sample: str = ""

    def summary(self) -> dict[str, Any]:
        ok = self.latencies_ms
        return {
            "ok": len(ok),
            "errors": sum(self.errors.values()),
            "error_kinds": dict(self.errors),
            "p50_ms": round(statistics.median(ok), 2) if ok else None,
            "p99_ms": round(percentile(ok, 0.99), 2) if ok else None,
            "max_ms": round(max(ok), 2) if ok else None,
        }


async def send(
    session: aiohttp.ClientSession,
    base: str,
    request: Prepared,
    since: float,
    outcome: Outcome,
    timeout: float,  # noqa: ASYNC109 - a per-request limit
) -> None:
    """Send one request; its latency counts from `since` (loop time) to the end of the body."""
    loop = asyncio.get_running_loop()
    try:
        async with asyncio.timeout(timeout):
            async with session.post(base + request.path, data=request.form, headers=request.headers) as resp:
                body = await resp.text()
                status = resp.status
    except TimeoutError:
        outcome.errors["timeout"] += 1
        return
    except aiohttp.ClientError as exc:
        outcome.errors[type(exc).__name__] += 1
        return
    if status != 200:
        outcome.errors[str(status)] += 1
        if not outcome.sample:
            outcome.sample = f"{status}: {body[:200]}"
        return
    outcome.latencies_ms.append((loop.time() - since) * 1000)
    if not outcome.sample:
        outcome.sample = body[:300]


async def open_loop(
    session: aiohttp.ClientSession,
    base: str,
    forms: Forms,
    target: str,
    rate: float,
    seconds: float,
    timeout: float,  # noqa: ASYNC109 - a per-request limit, not this call's
) -> tuple[Outcome, float]:
    """Fire rate*seconds requests at their scheduled times; the outcome and the achieved rate (ok/s)."""
    loop = asyncio.get_running_loop()
    requests = [forms.make(target) for _ in range(max(1, round(rate * seconds)))]
    outcome = Outcome()
    tasks = []
    start = loop.time() + 0.05
    for i, request in enumerate(requests):
        due = start + i / rate
        delay = due - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(send(session, base, request, due, outcome, timeout)))
    await asyncio.gather(*tasks)
    elapsed = max(loop.time() - start, seconds)
    return outcome, len(outcome.latencies_ms) / elapsed


async def closed_loop(
    session: aiohttp.ClientSession,
    base: str,
    forms: Forms,
    target: str,
    workers: int,
    seconds: float,
    timeout: float,  # noqa: ASYNC109 - a per-request limit, not this call's
) -> tuple[Outcome, float]:
    """`workers` tasks sending back to back for `seconds`; the outcome and responses 200 per second."""
    loop = asyncio.get_running_loop()
    outcome = Outcome()
    end = loop.time() + seconds

    async def worker() -> None:
        while loop.time() < end:
            request = forms.make(target)
            await send(session, base, request, loop.time(), outcome, timeout)

    start = loop.time()
    await asyncio.gather(*(worker() for _ in range(workers)))
    return outcome, len(outcome.latencies_ms) / (loop.time() - start)


# the run (parent process) -------------------------------------------------------------------------------


async def fresh_postgres(url: str, admin_database: str) -> str:
    """Drop and recreate the database named in `url`, migrate it; the server's version."""
    import asyncpg
    from sqlalchemy.engine import make_url

    from contact_center.db.engine import create_engine
    from contact_center.db.migrate import upgrade

    parsed = make_url(url)
    name = parsed.database
    admin_dsn = parsed.set(drivername="postgresql", database=admin_database).render_as_string(
        hide_password=False
    )
    connection = await asyncpg.connect(admin_dsn)
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await connection.execute(f'CREATE DATABASE "{name}"')
        version = await connection.fetchval("SHOW server_version")
    finally:
        await connection.close()
    engine = create_engine(url)
    try:
        await upgrade(engine)
    finally:
        await engine.dispose()
    return str(version)


def start_server(database_url: str, data_dir: str) -> tuple[subprocess.Popen[str], dict[str, int]]:
    """The server process and its ports."""
    command = [sys.executable, "-m", "bench.webhooks", "--serve", "--database-url", database_url]
    command += ["--data-dir", data_dir]
    process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
        command, stdout=subprocess.PIPE, text=True, cwd=Path(__file__).resolve().parent.parent
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    if not line:
        process.wait()
        raise SystemExit(f"the server process ended with {process.returncode} before listening")
    return process, json.loads(line)


async def inbox_figures(session: aiohttp.ClientSession, base: str) -> tuple[float, float]:
    """The app's inbox: payloads waiting and payloads stored so far (from /metrics)."""
    async with session.get(base + "/metrics") as response:
        text = await response.text()
    figures = {"waiting": 0.0, "stored": 0.0}
    for line in text.splitlines():
        for name, key in (("cc_inbox_waiting{", "waiting"), ("cc_inbox_stored_total{", "stored")):
            if line.startswith(name) and 'inbox="twilio"' in line:
                figures[key] = float(line.rsplit(" ", 1)[1])
    return figures["waiting"], figures["stored"]


async def stored_after(
    session: aiohttp.ClientSession, base: str, stored_before: float, started: float, ended: float
) -> dict[str, Any]:
    """Wait until the inbox is empty; payloads stored per second since `started`, and the lag after
    `ended` (loop times)."""
    loop = asyncio.get_running_loop()
    while True:
        waiting, stored = await inbox_figures(session, base)
        if waiting == 0:
            break
        await asyncio.sleep(0.05)
    done = loop.time()
    return {
        "stored": int(stored - stored_before),
        "stored_per_s": round((stored - stored_before) / (done - started), 1),
        "stored_lag_s": round(max(0.0, done - ended), 2),
    }


async def measure(args: argparse.Namespace, ports: dict[str, int], pid: int) -> dict[str, Any]:
    forms = Forms(random.Random(args.seed))
    bases = {"voice": ports["app"], "sms": ports["app"], "plain": ports["plain"]}
    targets = [t for t in ("voice", "sms", "plain") if t in args.targets]
    app_base = f"http://127.0.0.1:{ports['app']}"
    connector = aiohttp.TCPConnector(limit=args.connections, limit_per_host=args.connections)
    steps: list[dict[str, Any]] = []
    throughput: dict[str, Any] = {}
    samples: dict[str, str] = {}
    async with aiohttp.ClientSession(connector=connector) as session:
        for rate in args.rates:
            for target in targets:
                base = f"http://127.0.0.1:{bases[target]}"
                await open_loop(session, base, forms, target, rate, 1.0, args.timeout)  # warm-up
                await settle(pid)
                stored_before = (await inbox_figures(session, app_base))[1]
                started, cpu = asyncio.get_running_loop().time(), cpu_seconds(pid)
                outcome, achieved = await open_loop(
                    session, base, forms, target, rate, args.seconds, args.timeout
                )
                ended = asyncio.get_running_loop().time()
                storing = {}
                if target != "plain":
                    storing = await stored_after(session, app_base, stored_before, started, ended)
                cpu = cpu_seconds(pid) - cpu
                samples.setdefault(target, outcome.sample)
                step = {"target": target, "rate": rate, "seconds": args.seconds, **outcome.summary()}
                step["achieved_rate"] = round(achieved, 1)
                step["server_cpu_ms_per_ok"] = round(1000 * cpu / max(1, outcome.summary()["ok"]), 2)
                step.update(storing)
                step["settled_s"] = round(await settle(pid), 1)
                steps.append(step)
                stored_text = (
                    f", stored {storing['stored_per_s']}/s (last {storing['stored_lag_s']} s after the end)"
                    if storing
                    else ""
                )
                log(
                    f"{target:>5} @ {rate:>5g}/s: p50 {step['p50_ms']} ms, p99 {step['p99_ms']} ms, "
                    f"{step['achieved_rate']}/s ok, {step['errors']} errors {step['error_kinds'] or ''}, "
                    f"server CPU {step['server_cpu_ms_per_ok']} ms/request{stored_text}"
                )
        if args.throughput_seconds > 0:
            for target in targets:
                base = f"http://127.0.0.1:{bases[target]}"
                await closed_loop(session, base, forms, target, args.workers, 1.0, args.timeout)  # warm-up
                await settle(pid)
                stored_before = (await inbox_figures(session, app_base))[1]
                started, cpu = asyncio.get_running_loop().time(), cpu_seconds(pid)
                outcome, per_second = await closed_loop(
                    session, base, forms, target, args.workers, args.throughput_seconds, args.timeout
                )
                ended = asyncio.get_running_loop().time()
                cpu_answering = cpu_seconds(pid) - cpu
                throughput[target] = {"requests_per_s": round(per_second, 1), **outcome.summary()}
                throughput[target]["server_cpu_ms_per_ok"] = round(
                    1000 * cpu_answering / max(1, len(outcome.latencies_ms)), 2
                )
                if target != "plain":
                    throughput[target].update(
                        await stored_after(session, app_base, stored_before, started, ended)
                    )
                    throughput[target]["server_cpu_ms_per_stored"] = round(
                        1000 * (cpu_seconds(pid) - cpu) / max(1, throughput[target]["stored"]), 2
                    )
                log(
                    f"{target:>5} closed loop, {args.workers} workers: {per_second:.1f}/s, "
                    f"p50 {throughput[target]['p50_ms']} ms, p99 {throughput[target]['p99_ms']} ms, "
                    f"{throughput[target]['errors']} errors"
                    + (
                        f"; stored {throughput[target]['stored_per_s']}/s, "
                        f"last {throughput[target]['stored_lag_s']} s after the end"
                        if target != "plain"
                        else ""
                    )
                )
    return {"steps": steps, "throughput": throughput, "samples": samples}


def verdict(results: dict[str, Any]) -> dict[str, Any]:
    """The goals of issue 4 against the figures."""
    goals: dict[str, Any] = {}
    for target in ("voice", "sms"):
        at_200 = [s for s in results["steps"] if s["target"] == target and s["rate"] == 200]
        if at_200:
            step = at_200[0]
            met = step["p99_ms"] is not None and step["p99_ms"] < 50 and step["errors"] == 0
            goals[f"{target}_p99_at_200_ms"] = {"value": step["p99_ms"], "limit": 50, "met": met}
        plain = results["throughput"].get("plain", {}).get("requests_per_s")
        mine = results["throughput"].get(target, {}).get("requests_per_s")
        if plain and mine is not None:
            ratio = mine / plain
            goals[f"{target}_throughput_vs_plain"] = {
                "value": round(ratio, 3),
                "limit": 1 / 3,
                "met": ratio >= 1 / 3,
            }
    return goals


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--rates", default="50,100,200,400", help="open-loop rates, requests/s, comma-separated"
    )
    parser.add_argument("--seconds", type=float, default=10.0, help="duration of each open-loop step")
    parser.add_argument("--targets", default="voice,sms,plain")
    parser.add_argument("--workers", type=int, default=32, help="concurrent senders of the closed loop")
    parser.add_argument("--throughput-seconds", type=float, default=5.0, help="0 skips the closed loop")
    parser.add_argument("--connections", type=int, default=256, help="client connection pool size")
    parser.add_argument("--timeout", type=float, default=10.0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--database-url", default="", help="empty: a SQLite file in a temporary directory")
    parser.add_argument(
        "--admin-database", default="test", help="PostgreSQL database to create the other from"
    )
    parser.add_argument("--json", action="store_true", help="compact JSON on stdout")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--data-dir", default="", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.serve:
        asyncio.run(serve(args.database_url, args.data_dir))
        return

    args.rates = [float(r) for r in args.rates.split(",") if r.strip()]
    args.targets = {t.strip() for t in args.targets.split(",")}
    data_dir = tempfile.mkdtemp(prefix="cc-bench-webhooks-")
    database = "SQLite (file in a temporary directory, WAL)"
    if args.database_url:
        version = asyncio.run(fresh_postgres(args.database_url, args.admin_database))
        database = f"PostgreSQL {version} ({args.database_url.rsplit('@', 1)[-1]})"
        log(f"recreated and migrated {args.database_url}")
    process, ports = start_server(args.database_url, data_dir)
    log(f"servers listening: {ports} (pid {process.pid}); database: {database}")
    try:
        results = asyncio.run(measure(args, ports, process.pid))
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
            "aiohttp": aiohttp.__version__,
        },
        "database": database,
        "settings": {
            "rates": args.rates,
            "seconds": args.seconds,
            "workers": args.workers,
            "throughput_seconds": args.throughput_seconds,
            "connections": args.connections,
            "timeout": args.timeout,
            "latency_from": "scheduled send time",
        },
        **results,
        "goals": verdict(results),
    }
    print(json.dumps(report) if args.json else json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
