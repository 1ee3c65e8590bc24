"""The socket.io Redis manager's watchdog: a listener that went deaf (its connection to Redis half-open: still
up, nothing arriving) subscribes again, and emits from other processes reach this process's sockets again.

The deafness is real: the manager reaches Redis through a TCP relay that, when frozen, stops passing what
Redis sends on the connections open at that moment, while new connections pass both ways.
"""

import asyncio
import contextlib
import uuid
from urllib.parse import urlsplit

import socketio
from aiohttp import web
from aiohttp.test_utils import TestServer

from agent_ui.redis_manager import WatchedRedisManager
from tests.services import REDIS_URL, redis_problem, require

NAMESPACE = "/watched"


class FreezableRelay:
    """A TCP relay to Redis; `freeze()` silences Redis on the connections open now (a half-open link)."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.frozen: set[asyncio.StreamWriter] = set()
        self.clients: set[asyncio.StreamWriter] = set()
        self.server: asyncio.Server | None = None
        self.port = 0

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._relay, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]

    def freeze(self) -> None:
        self.frozen |= self.clients

    async def close(self) -> None:
        assert self.server is not None
        self.server.close()
        for writer in self.clients:
            writer.close()

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        upstream_reader, upstream_writer = await asyncio.open_connection(*self.target)
        self.clients.add(writer)

        async def pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter, from_redis: bool) -> None:
            with contextlib.suppress(ConnectionError, OSError):
                while data := await source.read(65536):
                    if from_redis and writer in self.frozen:
                        continue  # swallowed: the client waits for ever, seeing no error
                    sink.write(data)
                    await sink.drain()
            sink.close()

        await asyncio.gather(pipe(reader, upstream_writer, False), pipe(upstream_reader, writer, True))
        self.clients.discard(writer)


async def test_a_deaf_socketio_listener_subscribes_again_and_hears_other_processes():
    require(redis_problem())
    target = urlsplit(REDIS_URL)
    relay = FreezableRelay(target.hostname or "127.0.0.1", target.port or 6379)
    await relay.start()
    channel = f"cc:test:{uuid.uuid4().hex}:socketio"
    manager = WatchedRedisManager(
        f"redis://127.0.0.1:{relay.port}/0", channel, heartbeat_seconds=0.05, deaf_after_seconds=0.4
    )
    server = socketio.AsyncServer(async_mode="aiohttp", client_manager=manager)

    @server.on("connect", namespace=NAMESPACE)
    async def connect(sid, environ, auth=None):
        await server.enter_room(sid, "agents", namespace=NAMESPACE)

    app = web.Application()
    server.attach(app)
    http = TestServer(app)
    await http.start_server()
    other_process = socketio.AsyncRedisManager(REDIS_URL, channel=channel, write_only=True)
    client = socketio.AsyncClient()
    received: asyncio.Queue = asyncio.Queue()
    client.on("offer", received.put, namespace=NAMESPACE)
    try:
        await client.connect(str(http.make_url("/")), namespaces=[NAMESPACE], transports=["websocket"])
        await asyncio.sleep(0.5)  # the listener subscribes
        await other_process.emit("offer", {"n": 1}, room="agents", namespace=NAMESPACE)
        assert await asyncio.wait_for(received.get(), timeout=5) == {"n": 1}
        await asyncio.sleep(0.6)
        assert manager.resubscriptions == 0  # hearing its heartbeats, it leaves a good subscription be

        relay.freeze()  # deaf: the connection stays up, nothing from Redis arrives any more
        for _ in range(100):
            if manager.resubscriptions:
                break
            await asyncio.sleep(0.05)
        assert manager.resubscriptions == 1
        await asyncio.sleep(1.0)
        assert manager.resubscriptions == 1  # the new subscription hears its heartbeats: no second one

        await other_process.emit("offer", {"n": 2}, room="agents", namespace=NAMESPACE)
        assert await asyncio.wait_for(received.get(), timeout=5) == {"n": 2}
        assert received.empty()  # heartbeats are never handed to sockets
    finally:
        await client.disconnect()
        await http.close()
        await relay.close()


async def test_an_emit_to_a_socket_of_this_process_stays_off_redis_and_a_room_emit_goes_through_it():
    require(redis_problem())
    import redis.asyncio as aioredis

    channel = f"cc:test:{uuid.uuid4().hex}:socketio"
    manager = WatchedRedisManager(REDIS_URL, channel)
    server = socketio.AsyncServer(async_mode="aiohttp", client_manager=manager)
    sids: list[str] = []

    @server.on("connect", namespace=NAMESPACE)
    async def connect(sid, environ, auth=None):
        sids.append(sid)
        await server.enter_room(sid, "agents", namespace=NAMESPACE)

    app = web.Application()
    server.attach(app)
    http = TestServer(app)
    await http.start_server()
    spy = aioredis.from_url(REDIS_URL)
    published = spy.pubsub()
    await published.subscribe(channel)
    client = socketio.AsyncClient()
    received: asyncio.Queue = asyncio.Queue()
    client.on("board", received.put, namespace=NAMESPACE)

    async def emits_seen() -> list[bytes]:
        seen = []
        while message := await published.get_message(ignore_subscribe_messages=True, timeout=0.3):
            if b"cc.heartbeat" not in message["data"]:
                seen.append(message["data"])
        return seen

    try:
        await client.connect(str(http.make_url("/")), namespaces=[NAMESPACE], transports=["websocket"])
        await server.emit("board", {"to": "one socket"}, to=sids[0], namespace=NAMESPACE)
        assert await asyncio.wait_for(received.get(), timeout=5) == {"to": "one socket"}
        assert await emits_seen() == []  # delivered here, never published

        await server.emit("board", {"to": "a room"}, room="agents", namespace=NAMESPACE)
        assert await asyncio.wait_for(received.get(), timeout=5) == {"to": "a room"}
        assert len(await emits_seen()) == 1  # the other processes may hold sockets of the room
        assert received.empty()
    finally:
        await client.disconnect()
        await http.close()
        await published.aclose()
        await spy.aclose()
