"""Real processes, killed: two `contact-center serve` processes on one PostgreSQL and Redis. The agent's
console is on process A when a contact arrives at process B; A is killed with SIGKILL while the offer is out;
the console connects to B and the contact is offered there and answered, once."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest
import redis.asyncio as aioredis

from tests.conftest import _truncate_postgres
from tests.integration.test_chat import Socket
from tests.services import REDIS_URL, redis_problem, require

pytestmark = pytest.mark.redis
PASSWORD = "process-faults-password-1"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Cluster:
    """Processes of the application sharing one database and one Redis prefix."""

    def __init__(self, database_url: str, data_dir: Path) -> None:
        self.prefix = f"cc-procs-{uuid.uuid4().hex[:8]}:"
        self.env = {
            **os.environ,
            "CC_DATABASE_URL": database_url,
            "CC_REDIS_URL": REDIS_URL,
            "CC_REDIS_PREFIX": self.prefix,
            "CC_SECRET_KEY": "process-faults-secret-of-some-length",
            "CC_AGENT_GRACE_SECONDS": "60",
            "CC_NEW_USER_PASSWORD": PASSWORD,
        }
        self.data_dir = data_dir
        self.processes: dict[str, subprocess.Popen] = {}
        self.urls: dict[str, str] = {}

    def cli(self, *args: str) -> None:
        command = [sys.executable, "-m", "contact_center", *args]
        env = {**self.env, "CC_DATA_DIR": str(self.data_dir / "cli")}
        subprocess.run(command, env=env, check=True, capture_output=True, timeout=120)

    def start(self, name: str) -> str:
        port = _free_port()
        url = f"http://127.0.0.1:{port}"
        env = {**self.env, "CC_DATA_DIR": str(self.data_dir / name), "CC_PUBLIC_URL": url}
        log = (self.data_dir / f"{name}.log").open("w")
        command = [sys.executable, "-m", "contact_center", "serve", "--port", str(port)]
        self.processes[name] = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
        self.urls[name] = url
        return url

    async def ready(self, name: str) -> None:
        async with aiohttp.ClientSession() as http:
            for _ in range(150):
                try:
                    async with http.get(f"{self.urls[name]}/healthz") as response:
                        if response.status == 200:
                            return
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.1)
        raise AssertionError(f"process {name} did not start: {(self.data_dir / f'{name}.log').read_text()}")

    def kill(self, name: str) -> None:
        self.processes[name].send_signal(signal.SIGKILL)
        self.processes[name].wait(timeout=10)

    def stop_all(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.terminate()
                process.wait(timeout=20)


@pytest.fixture
def cluster(postgres_database: str, tmp_path: Path) -> Iterator[Cluster]:
    require(redis_problem())
    _truncate_postgres(postgres_database)
    running = Cluster(postgres_database, tmp_path)
    yield running
    running.stop_all()  # the test drops its Redis keys itself (in its own event loop)


async def token(base: str, username: str) -> str:
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:  # an IP address host
        async with http.post(
            f"{base}/api/auth/login", json={"username": username, "password": PASSWORD}
        ) as r:
            assert r.status == 200, await r.text()
            csrf = (await r.json())["csrf_token"]
        async with http.post(
            f"{base}/api/auth/tokens", json={"name": "t"}, headers={"X-CSRF-Token": csrf}
        ) as r:
            assert r.status == 201, await r.text()
            return (await r.json())["token"]


async def console(base: str, secret: str) -> Socket:
    class Url:
        def make_url(self, path: str) -> str:
            return base + path

    socket_ = await Socket("/agent").connect(Url(), auth={"token": secret})
    await socket_.wait_for("state")
    return socket_


async def test_a_killed_process_loses_no_offer_the_console_reconnects_elsewhere(cluster: Cluster):
    cluster.cli("user", "add", "ann", "--role", "agent", "--name", "Ann Agent", "--language", "en")
    cluster.cli("user", "add", "sue", "--role", "supervisor", "--name", "Sue Supervisor")
    a, b = cluster.start("a"), cluster.start("b")
    await cluster.ready("a")
    await cluster.ready("b")
    agent, supervisor = await token(a, "ann"), await token(b, "sue")
    first = await console(a, agent)
    try:
        answer = await first.call("presence:set", {"state": "available"})
        assert answer["ok"], answer
        async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {supervisor}"}) as http:
            body = {
                "channel": "sms",
                "identities": [["phone", "+14155550150"]],
                "text": "Hi",
                "queue": "general",
            }
            async with http.post(f"{b}/api/contacts", json=body) as response:
                assert response.status == 201, await response.text()
                contact = await response.json()
        [offer] = await first.wait_for("offer")  # made by B, rung on A's socket
        assert offer["conversation_id"] == contact["conversation_id"]
    finally:
        cluster.kill("a")  # SIGKILL: no goodbye, the socket just goes
        await first.close()

    second = await console(b, agent)  # the console reconnects, to the process still alive
    try:
        [state] = second.received["state"]
        assert [o["reservation_id"] for o in state["offers"]] == [offer["reservation_id"]]
        accepted = await second.call("offer:accept", {"reservation_id": offer["reservation_id"]})
        assert accepted["ok"] and accepted["conversation"]["id"] == contact["conversation_id"], accepted
        again = await second.call("offer:accept", {"reservation_id": offer["reservation_id"]})
        assert again["ok"] is False and again["error"] == "conflict"
    finally:
        await second.close()
        client = aioredis.from_url(REDIS_URL)
        async for key in client.scan_iter(match=f"{cluster.prefix}*", count=1000):
            await client.delete(key)
        await client.aclose()
