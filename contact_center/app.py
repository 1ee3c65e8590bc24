"""The composition root: `create_app(settings)` wires storage, events, auth and every feature's routes."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import redis.asyncio as aioredis
from aiohttp import web

from agent_ui import (
    agent_pushes,
    chat_files,
    chat_namespace,
    chat_pages,
    console_pages,
    notification_pushes,
    realtime,
    supervisor_pages,
    survey_pages,
    ticket_pages,
    wallboard_namespace,
)
from agent_ui.realtime import SIO
from channels import email as email_channel
from channels import sms, voice, voice_control
from channels.inbox import Entry, Inbox, InboxCollector
from channels.notification_senders import delivery_for
from channels.ticket_outbound import ChannelOutbound
from channels.twilio_client import close_client, rest_client
from channels.twilio_webhooks import INBOX
from contact_center.api import auth as auth_api
from contact_center.api import console as console_api
from contact_center.api import customers as customers_api
from contact_center.api import knowledge as knowledge_api
from contact_center.api import notifications as notifications_api
from contact_center.api import openapi
from contact_center.api import reports as reports_api
from contact_center.api import routing as routing_api
from contact_center.api import sla as sla_api
from contact_center.api import tickets as tickets_api
from contact_center.api import users as users_api
from contact_center.auth.throttle import LOGIN_THROTTLE, LoginThrottle
from contact_center.background import BackgroundJobs
from contact_center.classify import ComplaintClassifier
from contact_center.clock import Clock, SystemClock
from contact_center.customers.context import CustomerContext
from contact_center.db.engine import create_engine, session_factory
from contact_center.db.migrate import current_revision, head_revision, upgrade
from contact_center.events import InProcessBus, RedisBus
from contact_center.intake import Intake
from contact_center.routing_service.service import RoutingService
from contact_center.settings import Settings
from contact_center.tickets import listeners as ticket_listeners
from contact_center.tickets.categories import ensure_builtin
from contact_center.tickets.routing_link import TicketRouter
from contact_center.tickets.service import Effects, TicketService
from contact_center.tickets.surveys import Surveys
from contact_center.tickets.timers import TicketTimers
from contact_center.web import health, pages
from contact_center.web.appkeys import (
    CLOCK,
    CUSTOMERS,
    ENDPOINTS,
    ENGINE,
    EVENTS,
    INTAKE,
    METRICS,
    REDIS,
    ROUTING,
    SESSIONS,
    SETTINGS,
    SURVEYS,
    TICK_INTERVAL,
    TICKET_TIMERS,
    TICKETS,
    TWILIO,
)
from contact_center.web.endpoints import access_of, add_endpoints
from contact_center.web.loop_lag import LoopLagMonitor
from contact_center.web.metrics import Metrics
from contact_center.web.middlewares import (
    auth_middleware,
    error_middleware,
    metrics_middleware,
    security_headers,
)
from routing.store import RoutingStore
from routing.stores.memory import MemoryStore
from routing.stores.redis import RedisStore

log = logging.getLogger(__name__)
REDIS_POOL_WAIT_SECONDS = 5.0  # a command waits this long for a free connection, then fails


class DatabaseNotMigrated(RuntimeError):
    """The database schema is older than the code; the message says what to run."""


def create_app(
    settings: Settings, *, clock: Clock | None = None, tick_interval: float | None = 0.5
) -> web.Application:
    """The whole application; with `tick_interval=None` the caller drives routing's timers (tests)."""
    app = web.Application(
        client_max_size=settings.max_body_bytes,
        middlewares=[metrics_middleware, error_middleware, auth_middleware],
    )
    app[SETTINGS] = settings
    app[CLOCK] = clock or SystemClock()
    app[METRICS] = Metrics()
    app[CUSTOMERS] = CustomerContext.from_settings(settings, app[CLOCK])
    app[LOGIN_THROTTLE] = LoginThrottle(app[CLOCK])
    app[TICK_INTERVAL] = tick_interval
    app.cleanup_ctx.extend(
        [_loop_lag, _database, _redis, _events, _routing, _twilio, _email, _tickets, _realtime]
    )
    endpoints = []
    for table in (
        auth_api.api,
        customers_api.api,
        users_api.api,
        routing_api.api,
        console_api.api,
        knowledge_api.api,
        notifications_api.api,
        sla_api.api,
        tickets_api.api,
        reports_api.api,
        voice_control.api,
        sms.api,
        email_channel.api,
    ):
        endpoints += add_endpoints(app, table)
    app[ENDPOINTS] = endpoints
    app.router.add_routes(health.routes)
    app.router.add_routes(openapi.routes)
    app.router.add_routes(pages.routes)
    app.router.add_routes(chat_pages.routes)
    app.router.add_routes(console_pages.routes)
    app.router.add_routes(ticket_pages.routes)
    app.router.add_routes(supervisor_pages.routes)
    app.router.add_routes(survey_pages.routes)
    for channel in (voice, sms):
        app.router.add_routes(channel.routes)
    realtime.attach(app, realtime.create_server(settings))
    chat_files.attach(app)
    app.on_startup.append(_refuse_undeclared_routes)
    app.on_response_prepare.append(security_headers)
    app.on_response_prepare.append(chat_pages.allow_framing)  # after security_headers
    return app


async def ensure_schema(settings: Settings) -> None:
    """Migrate an embedded SQLite database; refuse any other database that is not at the newest revision."""
    engine = create_engine(settings.effective_database_url)
    try:
        current, head = await current_revision(engine), head_revision()
        if current == head:
            return
        if settings.is_embedded_sqlite:
            log.info("migrating the embedded database from %s to %s", current, head)
            await upgrade(engine)
            return
        raise DatabaseNotMigrated(
            f"The database is at revision {current or 'none (empty)'} but this version needs {head}.\n"
            "Run `contact-center migrate` first (with the same CC_DATABASE_URL)."
        )
    finally:
        await engine.dispose()


async def _loop_lag(app: web.Application) -> AsyncIterator[None]:
    """Event-loop lag sampled for /metrics."""
    monitor = LoopLagMonitor(app[METRICS].registry)
    monitor.start()
    yield
    await monitor.stop()


async def _database(app: web.Application) -> AsyncIterator[None]:
    await ensure_schema(app[SETTINGS])
    engine = create_engine(app[SETTINGS].effective_database_url)
    app[ENGINE] = engine
    app[SESSIONS] = session_factory(engine)
    yield
    await engine.dispose()


async def _redis(app: web.Application) -> AsyncIterator[None]:
    url = app[SETTINGS].redis_url
    if not url:
        yield
        return
    pool = aioredis.BlockingConnectionPool.from_url(
        url,
        max_connections=app[SETTINGS].redis_max_connections,
        timeout=REDIS_POOL_WAIT_SECONDS,
        decode_responses=True,
        health_check_interval=30,
    )
    client = aioredis.Redis.from_pool(pool)  # owns the pool: closed with the client
    app[REDIS] = client
    yield
    await client.aclose()


async def _events(app: web.Application) -> AsyncIterator[None]:
    redis = app.get(REDIS)
    prefix = app[SETTINGS].redis_prefix + "events:"
    bus = RedisBus(redis, app[CLOCK], prefix=prefix) if redis is not None else InProcessBus(app[CLOCK])
    await bus.start()
    app[EVENTS] = bus
    yield
    await bus.close()


async def _routing(app: web.Application) -> AsyncIterator[None]:
    redis = app.get(REDIS)
    if redis is None:
        store: RoutingStore = MemoryStore()
    else:
        store = RedisStore(redis, prefix=app[SETTINGS].redis_prefix + "routing:")
        await store.load_scripts()
    service = RoutingService(store, app[SESSIONS], app[EVENTS], app[CLOCK], ZoneInfo(app[SETTINGS].timezone))
    await service.start(tick_interval=app[TICK_INTERVAL])
    app[ROUTING] = service
    vip_tiers = frozenset(app[SETTINGS].value_model.tier_names[:1])
    complaints = ComplaintClassifier.from_settings(app[SETTINGS])
    app[INTAKE] = Intake(app[SESSIONS], app[CUSTOMERS], service, app[EVENTS], vip_tiers, complaints)
    yield
    await service.stop()


async def _twilio(app: web.Application) -> AsyncIterator[None]:
    """The REST client of the Twilio channels (None without an account), their event handlers, and the
    inbox their webhooks store through."""
    settings = app[SETTINGS]
    app[TWILIO] = rest_client(settings) if settings.twilio_enabled else None
    unsubscribe = [channel.attach(app) for channel in (voice, voice_control, sms)]
    handlers = {**voice.STORED, **sms.STORED}

    together = sms.STORED_TOGETHER

    async def store(kind: str, form: dict[str, str], received_at: float) -> None:
        await handlers[kind](app, form, datetime.fromtimestamp(received_at, UTC))

    async def store_together(kind: str, entries: list[Entry]) -> None:
        await together[kind](app, [entry.form for entry in entries])

    inbox = Inbox(
        settings.data_dir / "inbox" / "twilio",
        store,
        max_waiting=settings.inbox_max_waiting,
        together=store_together,
        together_kinds=frozenset(together),
    )
    app[INBOX] = inbox
    app[METRICS].registry.register(InboxCollector(inbox, "twilio"))
    await inbox.start()
    yield
    await inbox.close()
    await sms.drain(app)  # media fetches under way finish before the database closes
    for stop in unsubscribe:
        stop()
    if app[TWILIO] is not None:
        await close_client(app[TWILIO])


async def _email(app: web.Application) -> AsyncIterator[None]:
    """The email channel: SMTP listener, IMAP pollers and the outbound queue's worker."""
    stop = await email_channel.start(app)
    yield
    await stop()


async def _tickets(app: web.Application) -> AsyncIterator[None]:
    """The ticket service, its surveys, its bus handlers and its timers (SLA checks, auto-close, reminders,
    notification delivery); the timers run unless the caller drives time (tick_interval None)."""
    settings = app[SETTINGS]
    await ensure_builtin(app[SESSIONS])
    service = TicketService(
        app[SESSIONS],
        app[EVENTS],
        app[CLOCK],
        settings,
        router=TicketRouter(app[ROUTING]),
        outbound=ChannelOutbound(app),
        vip_tiers=frozenset(settings.value_model.tier_names[:1]),
    )
    app[TICKETS] = service
    app[SURVEYS] = Surveys(service, settings.signing_key(), settings.public_url)
    delivery = delivery_for(app)
    timers = TicketTimers(service, delivery.deliver_due)
    app[TICKET_TIMERS] = timers
    stop = ticket_listeners.subscribe(app[EVENTS], service)
    running, sending = None, BackgroundJobs("sending ticket notifications failed")
    if app[TICK_INTERVAL] is not None:  # (tests drive the timers and delivery themselves)
        running = asyncio.create_task(timers.run_forever(settings.ticket_timer_seconds))

        async def deliver_now(effects: Effects) -> None:  # an escalation's notices go out at once
            if effects.notify:
                sending.start(delivery.deliver_due())

        service.after_commit.append(deliver_now)
    yield
    stop()
    if running is not None:
        running.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await running
    await sending.drain()


async def _realtime(app: web.Application) -> AsyncIterator[None]:
    """The socket.io namespaces (/chat, /agent, /wallboard) and their pushes of bus events."""
    stops = [chat_namespace.attach(app), agent_pushes.attach(app), notification_pushes.attach(app)]
    stop_wallboard = wallboard_namespace.attach(app)
    yield
    for stop in stops:
        stop()
    await stop_wallboard()
    await app[SIO].shutdown()


async def _refuse_undeclared_routes(app: web.Application) -> None:
    for route in app.router.routes():
        if isinstance(route.resource, web.StaticResource) or route.method == "HEAD":
            continue
        if access_of(route.handler) is None:
            raise RuntimeError(f"route {route.method} {route.resource} declares no access")
