"""Simulated customer traffic for the demo: contacts from demo customers (and new callers) now and then.

Every contact goes through the real intake, so it is stored, threaded and routed like one from a channel.
Arrivals pause while many contacts already wait, so an unattended demo does not pile up work.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import AsyncIterator

from aiohttp import web
from sqlalchemy import select

from contact_center.db.models import CustomerIdentity
from contact_center.intake import InboundContact
from contact_center.web.appkeys import INTAKE, ROUTING, SESSIONS

log = logging.getLogger(__name__)
MAX_WAITING = 12
MESSAGES = [
    ("chat", "billing", "Hi, I was charged twice for my last order."),
    ("email", "tech_support", "My espresso machine shows error E4 after descaling."),
    ("sms", "general", "Can I change the delivery address for my order?"),
    ("voice", "sales", "Caller would like a quote for ten grinders."),
    ("chat", "complaints", "This is the third time the kettle broke. Unacceptable."),
    ("email", "billing", "Please send me a copy of invoice SO-014."),
    ("chat", "soporte_es", "Hola, ¿dónde está mi pedido?"),
]
KIND_FOR_CHANNEL = {"voice": "phone", "sms": "phone", "email": "email", "chat": "chat"}


def traffic(mean_interval: float = 20.0, seed: int | None = None) -> object:
    """A cleanup context that runs the traffic while the app runs."""

    async def run(app: web.Application) -> AsyncIterator[None]:
        task = asyncio.create_task(_arrivals(app, random.Random(seed), mean_interval))
        yield
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    return run


async def _arrivals(app: web.Application, rng: random.Random, mean_interval: float) -> None:
    serial = 0
    while True:
        await asyncio.sleep(rng.expovariate(1 / mean_interval))
        try:
            waiting = sum(q["waiting"] for q in await app[ROUTING].queue_view())
            if waiting >= MAX_WAITING:
                continue
            serial += 1
            await app[INTAKE].receive(await _contact(app, rng, serial))
        except Exception:
            log.exception("demo traffic could not deliver a contact")


async def _contact(app: web.Application, rng: random.Random, serial: int) -> InboundContact:
    channel, queue, text = rng.choice(MESSAGES)
    kind = KIND_FOR_CHANNEL[channel]
    async with app[SESSIONS]() as db:
        known = list(
            (
                await db.execute(
                    select(CustomerIdentity.value).where(CustomerIdentity.kind == kind).limit(200)
                )
            ).scalars()
        )
    if known and rng.random() < 0.8:
        identity = rng.choice(known)
    else:  # a first-time customer
        identity = {
            "phone": f"+1415555{9000 + serial % 1000:04d}",
            "email": f"new.customer{serial}@example.net",
            "chat": f"visitor-{serial}",
        }[kind]
    return InboundContact(
        channel=channel,
        identities=[(kind, identity)],
        text=text,
        queue=queue,
        subject=text[:60] if channel == "email" else None,
        language="es" if queue == "soporte_es" else None,
        external_id=f"demo-{rng.getrandbits(64):x}",
    )
