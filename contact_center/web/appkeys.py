"""Typed keys for what the application holds."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from contact_center.clock import Clock
from contact_center.customers.context import CustomerContext
from contact_center.events import EventBus
from contact_center.settings import Settings
from contact_center.web.metrics import Metrics

SETTINGS = web.AppKey("settings", Settings)
CLOCK = web.AppKey("clock", Clock)
ENGINE = web.AppKey("engine", AsyncEngine)
SESSIONS = web.AppKey("sessions", async_sessionmaker[AsyncSession])
REDIS = web.AppKey("redis", Any)
EVENTS = web.AppKey("events", EventBus)
METRICS = web.AppKey("metrics", Metrics)
CUSTOMERS = web.AppKey("customer_context", CustomerContext)
ENDPOINTS = web.AppKey("endpoints", list)
ROUTING = web.AppKey("routing", Any)
INTAKE = web.AppKey("intake", Any)
TICK_INTERVAL = web.AppKey("tick_interval", object)
TWILIO = web.AppKey("twilio_client", Any)
TICKETS = web.AppKey("tickets", Any)
SURVEYS = web.AppKey("surveys", Any)
TICKET_TIMERS = web.AppKey("ticket_timers", Any)
