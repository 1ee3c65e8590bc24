"""Simulated customer traffic for the demo: chats, SMS, emails and calls from demo customers (and new ones)
now and then, and customers who write back after an agent's reply.

Every contact goes through the real intake, so it is stored, threaded and routed like one from a channel.
Arrivals pause while many contacts already wait, so an unattended demo does not pile up work, and skip a
queue where a few already wait, so one agent logged in alone keeps getting the contacts of their queues.
When an agent answers a chat, SMS or email the demo started, its customer now and then writes a short
follow-up in the same conversation (at most `MAX_FOLLOW_UPS` each), which the agent sees in the console.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

from aiohttp import web
from sqlalchemy import select

from contact_center.db.models import CustomerIdentity
from contact_center.events import Event
from contact_center.intake import InboundContact, IntakeResult
from contact_center.web.appkeys import EVENTS, INTAKE, ROUTING, SESSIONS

log = logging.getLogger(__name__)
MAX_WAITING = 12  # arrivals pause while this many contacts wait in all
MAX_WAITING_PER_QUEUE = 3  # and skip a queue while this many wait in it (nobody serving it is logged in)
MAX_FOLLOW_UPS = 2
OUR_NUMBER = "+15005550006"  # the demo's own number, as if the customer texted it
SUPPORT_ADDRESS = "support@demo.example"
MESSAGES = [
    ("chat", "billing", "Hi, I was charged twice for my last order."),
    ("email", "tech_support", "My espresso machine shows error E4 after descaling."),
    ("sms", "general", "Can I change the delivery address for my order?"),
    ("voice", "sales", "Caller would like a quote for ten grinders."),
    ("chat", "complaints", "This is the third time the kettle broke. Unacceptable."),
    ("email", "billing", "Please send me a copy of invoice SO-014."),
    ("chat", "soporte_es", "Hola, ¿dónde está mi pedido?"),
    ("sms", "billing", "Why was my card charged 49.90 yesterday?"),
    ("voice", "general", "Caller asks about opening hours on public holidays."),
]
FOLLOW_UPS = {
    "en": [
        "Thanks! One more thing: can you send that by email too?",
        "OK, and how long will that take?",
        "Great, that helps. Thank you!",
        "Hmm, I still don't see it. Could you check again?",
    ],
    "es": ["¡Gracias! ¿Cuánto tardará?", "Vale, muchas gracias.", "Todavía no lo veo, ¿puede revisarlo?"],
}
KIND_FOR_CHANNEL = {"voice": "phone", "sms": "phone", "email": "email", "chat": "chat"}


@dataclass
class _Origin:
    """Who started a conversation the demo made, to write back as them."""

    channel: str
    identity: tuple[str, str]
    subject: str | None
    language: str | None
    follow_ups: int = 0


class DemoTraffic:
    """The simulated customers of one running application."""

    def __init__(
        self,
        app: web.Application,
        rng: random.Random,
        mean_interval: float,
        follow_up_chance: float,
        follow_up_delay: float,
    ) -> None:
        self.app = app
        self.rng = rng
        self.mean_interval = mean_interval
        self.follow_up_chance = follow_up_chance
        self.follow_up_delay = follow_up_delay
        self.origins: dict[int, _Origin] = {}
        self.follow_ups: list[IntakeResult] = []
        self._serial = 0
        self._tasks: set[asyncio.Task[None]] = set()

    async def run(self) -> None:
        """Contacts at random moments (exponential gaps of `mean_interval` on average), forever."""
        while True:
            await asyncio.sleep(self.rng.expovariate(1 / self.mean_interval))
            try:
                waiting = {q["queue"]: q["waiting"] for q in await self.app[ROUTING].queue_view()}
                if sum(waiting.values()) >= MAX_WAITING:
                    continue
                await self.arrive(open_queues={q for q, n in waiting.items() if n < MAX_WAITING_PER_QUEUE})
            except Exception:
                log.exception("demo traffic could not deliver a contact")

    async def arrive(
        self, channel: str | None = None, open_queues: set[str] | None = None
    ) -> IntakeResult | None:
        """One new contact through the intake: on `channel` if given, for one of `open_queues` if given
        (None when no message fits)."""
        choices = [
            m
            for m in MESSAGES
            if (channel is None or m[0] == channel) and (open_queues is None or m[1] in open_queues)
        ]
        if not choices:
            return None
        self._serial += 1
        channel, queue, text = self.rng.choice(choices)
        kind = KIND_FOR_CHANNEL[channel]
        identity = await self._identity(kind)
        language = "es" if queue == "soporte_es" else None
        subject = text[:60] if channel == "email" else None
        result = await self.app[INTAKE].receive(
            InboundContact(
                channel=channel,
                identities=[(kind, identity)],
                text=text,
                queue=queue,
                subject=subject,
                language=language,
                external_id=self._external_id(),
                attributes=self._attributes(channel, identity, subject),
            )
        )
        if channel != "voice":
            self.origins[result.conversation_id] = _Origin(channel, (kind, identity), subject, language)
        return result

    def subscribe(self) -> list[Callable[[], None]]:
        """Write back after agents' replies: chat messages, SMS and emails sent."""
        bus = self.app[EVENTS]
        return [bus.subscribe("message.sent", self._on_reply), bus.subscribe("chat.message", self._on_reply)]

    async def close(self) -> None:
        """Cancel the follow-ups not yet written."""
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _on_reply(self, event: Event) -> None:
        payload = event.payload
        if event.topic == "chat.message" and (payload.get("message") or {}).get("author") != "agent":
            return
        origin = self.origins.get(payload.get("conversation_id"))
        if origin is None or origin.follow_ups >= MAX_FOLLOW_UPS:
            return
        if self.rng.random() >= self.follow_up_chance:
            return
        origin.follow_ups += 1
        delay = self.follow_up_delay * self.rng.uniform(0.5, 1.5)
        task = asyncio.create_task(self._follow_up(payload["conversation_id"], origin, delay))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _follow_up(self, conversation_id: int, origin: _Origin, delay: float) -> None:
        await asyncio.sleep(delay)
        text = self.rng.choice(FOLLOW_UPS.get(origin.language or "en", FOLLOW_UPS["en"]))
        subject = f"Re: {origin.subject}" if origin.subject else None
        try:
            result = await self.app[INTAKE].receive(
                InboundContact(
                    channel=origin.channel,
                    identities=[origin.identity],
                    text=text,
                    subject=subject,
                    language=origin.language,
                    conversation_id=conversation_id,
                    external_id=self._external_id(),
                    attributes=self._attributes(origin.channel, origin.identity[1], subject),
                )
            )
        except Exception:
            log.exception("demo traffic could not deliver a follow-up in conversation %s", conversation_id)
            return
        self.follow_ups.append(result)

    async def _identity(self, kind: str) -> str:
        async with self.app[SESSIONS]() as db:
            known = list(
                (
                    await db.execute(
                        select(CustomerIdentity.value).where(CustomerIdentity.kind == kind).limit(200)
                    )
                ).scalars()
            )
        if known and self.rng.random() < 0.8:
            return self.rng.choice(known)
        return {  # a first-time customer
            "phone": f"+1415555{9000 + self._serial % 1000:04d}",
            "email": f"new.customer{self._serial}@example.net",
            "chat": f"visitor-{self._serial}",
        }[kind]

    def _external_id(self) -> str:
        return f"demo-{self.rng.getrandbits(64):x}"

    @staticmethod
    def _attributes(channel: str, identity: str, subject: str | None) -> dict[str, str]:
        """What the channel would have recorded: the numbers of a text, the headers of an email."""
        if channel == "sms":
            return {"from": identity, "to": OUR_NUMBER}
        if channel == "email":
            return {"from": identity, "to": SUPPORT_ADDRESS, "subject": subject or ""}
        return {}


DEMO_TRAFFIC = web.AppKey("demo_traffic", DemoTraffic)


def traffic(
    mean_interval: float = 20.0,
    seed: int | None = None,
    *,
    follow_up_chance: float = 0.5,
    follow_up_delay: float = 8.0,
    arrivals: bool = True,
) -> Callable[[web.Application], AsyncIterator[None]]:
    """A cleanup context that runs the traffic while the app runs (`app[DEMO_TRAFFIC]`); without
    `arrivals` only the follow-ups run (tests start contacts with `arrive`)."""

    async def run(app: web.Application) -> AsyncIterator[None]:
        demo = DemoTraffic(app, random.Random(seed), mean_interval, follow_up_chance, follow_up_delay)
        app[DEMO_TRAFFIC] = demo
        stops = demo.subscribe()
        task = asyncio.create_task(demo.run()) if arrivals else None
        yield
        for stop in stops:
            stop()
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await demo.close()

    return run
