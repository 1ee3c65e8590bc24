"""A believable demo installation: teams, agents with skills, supervisors, queues, customers with history,
and the console's lists (wrap-up codes, canned replies, knowledge base: demo/console_data.py)."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from contact_center.auth.roles import Role
from contact_center.clock import ManualClock
from contact_center.customers import orders, records
from contact_center.customers.context import CustomerContext
from contact_center.customers.schemas import CustomerIn, IdentityIn, OrderIn, OrderItemIn
from contact_center.db.models import Conversation, Queue, Ticket, TicketCategory, User
from contact_center.demo.console_data import seed_console
from contact_center.demo.sla_data import seed_sla
from contact_center.events import InProcessBus
from contact_center.settings import load_settings
from contact_center.tickets.categories import ensure_categories
from contact_center.tickets.service import TicketService
from contact_center.users import service as users
from contact_center.users.schemas import TeamIn, UserIn

DEMO_PASSWORD = "demo-password"


@dataclass(frozen=True)
class DemoLogin:
    """A login printed by `contact-center demo`."""

    username: str
    role: str
    description: str


STAFF = [
    ("admin", "Ada Admin", Role.ADMIN, None, ["en"], {}, "administrator"),
    ("sam", "Sam Supervisor", Role.SUPERVISOR, "Front line", ["en", "es"], {}, "supervisor, front line"),
    (
        "alice",
        "Alice Agent",
        Role.AGENT,
        "Front line",
        ["en"],
        {"billing": 7, "sales": 5},
        "agent: billing, sales",
    ),
    ("bob", "Bob Agent", Role.AGENT, "Front line", ["en"], {"tech_support": 8}, "agent: tech support"),
    (
        "carmen",
        "Carmen Agente",
        Role.AGENT,
        "Front line",
        ["es", "en"],
        {"billing": 5, "tech_support": 4},
        "agent: Spanish, billing, tech",
    ),
    (
        "dieter",
        "Dieter Agent",
        Role.AGENT,
        "Specialists",
        ["de", "en"],
        {"tech_support": 9, "complaints": 8},
        "agent: German, tech, complaints",
    ),
]
QUEUES = [
    ("general", "Everything else", ["voice", "sms", "email", "chat"], {}, None),
    ("billing", "Invoices, payments, refunds", ["voice", "sms", "email", "chat"], {"billing": 3}, None),
    ("tech_support", "Products that do not work", ["voice", "email", "chat"], {"tech_support": 4}, None),
    ("sales", "New orders and quotes", ["voice", "chat", "email"], {"sales": 3}, None),
    ("complaints", "Complaints, handled by specialists", ["voice", "email", "chat"], {"complaints": 6}, None),
    ("soporte_es", "Spanish-speaking customers", ["voice", "sms", "chat"], {}, "es"),
]
FIRST = [
    "Olivia",
    "Liam",
    "Emma",
    "Noah",
    "Ava",
    "Mateo",
    "Sofia",
    "Lukas",
    "Mia",
    "Hannah",
    "Wei",
    "Priya",
    "Yusuf",
    "Chloe",
    "Jonas",
    "Lucia",
    "Ethan",
    "Amara",
    "Kenji",
    "Fatima",
]
LAST = [
    "Johnson",
    "Garcia",
    "Müller",
    "Nguyen",
    "Patel",
    "Smith",
    "Rossi",
    "Kowalski",
    "Okafor",
    "Tanaka",
    "Fernández",
    "Brown",
    "Schmidt",
    "Dubois",
    "Haddad",
]
PRODUCTS = [
    ("ESP-100", "Espresso machine Classic", "249.00", 730),
    ("GRN-20", "Burr grinder", "129.00", 365),
    ("KTL-5", "Kettle with temperature control", "79.00", 365),
    ("FLT-1", "Water filter pack", "19.00", None),
    ("ESP-900", "Espresso machine Pro", "1299.00", 1095),
]
SNIPPETS = [
    ("voice", "Called about a late delivery"),
    ("email", "Invoice shows the wrong VAT number"),
    ("chat", "How do I descale the Pro?"),
    ("sms", "Thanks, the replacement arrived"),
    ("email", "Grinder makes a loud noise"),
    ("chat", "Can I change my delivery address?"),
]


async def seed_demo(
    sessions: async_sessionmaker[AsyncSession], ctx: CustomerContext, customers: int = 60
) -> bool:
    """Fill an empty database with demo data; does nothing (returns False) if users exist already."""
    async with sessions.begin() as db:
        now = ctx.clock.now()
        await seed_console(db, now)  # fills only empty lists, so older demo databases get them too
        await seed_sla(db)
        if (await db.execute(select(func.count()).select_from(User))).scalar_one():
            return False
        teams = {
            name: (await users.create_team(db, TeamIn(name=name), now)).id
            for name in ("Front line", "Specialists")
        }
        for username, name, role, team, languages, skills, _ in STAFF:
            await users.create_user(
                db,
                UserIn(
                    username=username,
                    display_name=name,
                    password=DEMO_PASSWORD,
                    role=role,
                    team_id=teams.get(team or ""),
                    languages=languages,
                    skills=skills,
                    email=f"{username}@demo.example",
                ),
                now,
            )
        for name, description, channels, skills, language in QUEUES:
            db.add(
                Queue(
                    name=name,
                    description=description,
                    channels=channels,
                    required_skills=skills,
                    language=language,
                )
            )
        await ensure_categories(db)
        await _complaint_tiers(db)
        await _seed_customers(db, ctx, customers)
    return True


async def _complaint_tiers(db: AsyncSession) -> None:
    """The demo's complaints climb to its complaints queue (specialists), then to the supervisors."""
    complaint = (
        await db.execute(select(TicketCategory).where(TicketCategory.code == "complaint"))
    ).scalar_one()
    complaint.tiers = [
        {"tier": 1, "name": "L1 agent", "queue": "general", "notify": ["assignee"]},
        {
            "tier": 2,
            "name": "L2 complaints specialist",
            "queue": "complaints",
            "notify": ["assignee", "team_lead"],
        },
        {"tier": 3, "name": "L3 supervisor", "queue": "complaints", "notify": ["team_lead", "supervisors"]},
    ]


def _ticket_service(at: datetime) -> TicketService:
    """A ticket service for opening the demo's tickets in the seeding transaction (no routing, no events:
    the app is not running yet; its timers take the tickets on from there)."""
    clock = ManualClock(at)
    return TicketService(None, InProcessBus(clock), clock, load_settings())  # type: ignore[arg-type]


def demo_logins() -> list[DemoLogin]:
    """The demo's users, for printing."""
    return [DemoLogin(username, role.value, description) for username, _, role, _, _, _, description in STAFF]


async def _seed_customers(db: AsyncSession, ctx: CustomerContext, count: int) -> None:
    rng = random.Random(7)
    now = ctx.clock.now()
    for n in range(count):
        first, last = FIRST[n % len(FIRST)], LAST[(n * 7) % len(LAST)]
        language = (
            "es" if last in {"Garcia", "Fernández"} else "de" if last in {"Müller", "Schmidt"} else "en"
        )
        customer = await records.create_customer(
            db,
            ctx,
            CustomerIn(
                given_name=first,
                family_name=last,
                language=language,
                organisation="Northwind Cafés" if n % 9 == 0 else None,
                identities=[
                    IdentityIn(kind="phone", value=f"+1 415 555 {1000 + n:04d}"),
                    IdentityIn(kind="email", value=f"{first}.{last}{n}@example.com".lower()),
                    IdentityIn(kind="crm", value=f"CRM-{10000 + n}"),
                ],
            ),
        )
        for k in range(rng.choice([0, 1, 1, 2, 3, 6])):
            sku, product, price, warranty_days = rng.choice(PRODUCTS)
            ordered = now - timedelta(days=rng.randint(5, 900))
            await orders.create_order(
                db,
                ctx,
                customer.id,
                OrderIn(
                    order_number=f"SO-{n:03d}-{k}",
                    ordered_at=ordered,
                    items=[
                        OrderItemIn(
                            sku=sku,
                            product_name=product,
                            unit_price=Decimal(price),
                            serial_number=f"SN{n:03d}{k}{rng.randint(1000, 9999)}" if warranty_days else None,
                            warranty_ends_on=(ordered + timedelta(days=warranty_days)).date()
                            if warranty_days
                            else None,
                        )
                    ],
                ),
                recompute_value=k == 0,
            )
        for channel, snippet in rng.sample(SNIPPETS, rng.randint(0, 3)):
            started = now - timedelta(days=rng.randint(1, 120), minutes=rng.randint(0, 600))
            db.add(
                Conversation(
                    customer_id=customer.id,
                    channel=channel,
                    status="closed",
                    subject=snippet,
                    snippet=snippet,
                    started_at=started,
                    last_activity_at=started,
                )
            )
        if n % 7 == 0:  # opened two days ago like any ticket: history, SLA clocks (the timers find them late)
            opened_at = now - timedelta(days=2)
            ticket = Ticket(
                customer_id=customer.id,
                subject="Espresso machine leaks water",
                description="Water pools under the machine after every coffee.",
                category="complaint",
                status="new",
                priority="high",
                severity="major",
                source="demo",
                tier=1,
                tags=["espresso"],
                custom_fields={},
                escalation_causes=[],
                created_at=opened_at,
                updated_at=opened_at,
            )
            db.add(ticket)
            await _ticket_service(opened_at).opened(db, ticket, actor_id=None, route=False)
        if n % 5 == 0:
            await records.add_note(db, ctx, customer.id, "Prefers to be contacted by email in the afternoon.")
    from contact_center.customers import value

    await value.recompute_all(db, ctx)
