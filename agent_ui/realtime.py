"""The socket.io server: one per process, on /socket.io/, carrying the /chat and /agent namespaces.

Embedded, sockets live in this process (python-socketio's in-memory manager). With CC_REDIS_URL, emits go
through python-socketio's Redis manager (with a watchdog: agent_ui/redis_manager.py), so a socket connected
to any process receives them; reactions to bus events are then made by the process that published the event
only (its `origin`), so each is emitted once. Handshakes from a foreign Origin are refused (cross-site
websocket hijacking); payloads are limited.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import socketio
from aiohttp import web

from agent_ui.redis_manager import WatchedRedisManager
from contact_center.auth.roles import Access
from contact_center.events import Event, published_here
from contact_center.settings import Settings
from contact_center.web.appkeys import EVENTS
from contact_center.web.endpoints import declare_access, identifies_itself

SIO = web.AppKey("socketio", socketio.AsyncServer)
PATH = "/socket.io/"
MAX_PAYLOAD_BYTES = 64 * 1024


def allowed_origins(settings: Settings) -> list[str]:
    """The page origins whose scripts may open sockets: our own public URL."""
    parts = urlsplit(settings.public_url)
    return [f"{parts.scheme}://{parts.netloc}"]


def create_server(settings: Settings) -> socketio.AsyncServer:
    """A socket.io server for this process (Redis-backed when CC_REDIS_URL is set)."""
    manager = None
    if settings.redis_url:
        manager = WatchedRedisManager(settings.redis_url, channel=settings.redis_prefix + "socketio")
    return socketio.AsyncServer(
        async_mode="aiohttp",
        client_manager=manager,
        cors_allowed_origins=allowed_origins(settings),
        max_http_buffer_size=MAX_PAYLOAD_BYTES,
        logger=False,
        engineio_logger=False,
    )


def attach(app: web.Application, server: socketio.AsyncServer) -> None:
    """Serve `server` on /socket.io/ (GET and POST: websocket and long-polling)."""
    app[SIO] = server

    @declare_access(Access.PUBLIC)
    @identifies_itself
    async def socket_endpoint(request: web.Request) -> web.StreamResponse:
        """The engine.io endpoint; each namespace authenticates the socket when it connects."""
        return await server.handle_request(request)

    app.router.add_get(PATH, socket_endpoint)
    app.router.add_post(PATH, socket_endpoint)


def mine(app: web.Application, event: Event) -> bool:
    """True for an event this process published: the one process that reacts to it with emits."""
    return published_here(app[EVENTS], event)
