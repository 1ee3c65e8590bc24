"""The demo's console lists: wrap-up codes, canned replies and a knowledge base for an espresso-machine shop,
with its product defect library.

`seed_console` fills each list only while it is empty (the defect library: while there is no defect), so
running it again changes nothing.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from contact_center.db.models import CannedReply, KnowledgeArticle, KnowledgeCategory, WrapUpCode

CODES = {
    "disposition": [
        ("resolved", "Resolved"),
        ("resolved_after_callback", "Resolved after a callback"),
        ("callback_promised", "Callback promised"),
        ("escalated", "Escalated to a specialist"),
        ("ticket_created", "Ticket created"),
        ("replacement_sent", "Replacement sent"),
        ("refund_issued", "Refund issued"),
        ("no_answer", "No answer"),
        ("voicemail_left", "Voicemail left"),
        ("wrong_number", "Wrong number"),
        ("spam", "Spam"),
    ],
    "contact_reason": [
        ("billing", "Billing and invoices"),
        ("delivery", "Delivery"),
        ("product_fault", "Product fault"),
        ("returns", "Returns and refunds"),
        ("warranty", "Warranty and repairs"),
        ("account", "Account and login"),
        ("complaint", "Complaint"),
        ("sales", "Buying advice"),
        ("other", "Other"),
    ],
    # "missed_offers": the pause routing sets by itself after missed offers (its reason "missed offers").
    "away_reason": [
        ("break", "Break"),
        ("lunch", "Lunch"),
        ("training", "Training"),
        ("meeting", "Meeting"),
        ("coaching", "Coaching"),
        ("after_call_work", "Paperwork"),
        ("missed_offers", "Missed offers (set by routing)"),
    ],
}

CANNED = [
    (
        "/greeting",
        "Greeting",
        None,
        "Hello {{customer.first_name}}, this is {{agent.first_name}} from Brewline. "
        "How can I help you today?",
    ),
    (
        "/hola",
        "Saludo",
        "es",
        "Hola {{customer.first_name}}, soy {{agent.first_name}} de Brewline. ¿En qué puedo ayudarle?",
    ),
    (
        "/refund",
        "Refund policy",
        "en",
        "You can return any machine within 30 days of delivery for a full refund. Once the parcel reaches "
        "our warehouse, the refund is on your card within 5 working days.",
    ),
    (
        "/delivery",
        "Delivery times",
        "en",
        "Orders placed before 2 pm leave our warehouse the same working day and usually arrive within "
        "2-3 working days. You get a tracking link by email as soon as the parcel leaves.",
    ),
    (
        "/warranty",
        "Warranty",
        "en",
        "Your machine has a two-year warranty (three years for the Espresso machine Pro), counted from the "
        "delivery date. Repairs under warranty are free, including the collection.",
    ),
    (
        "/sorry",
        "Apology",
        "en",
        "I'm sorry about this, {{customer.first_name}}. That is not the experience we want you to have, and "
        "I'll make sure it is put right.",
    ),
    (
        "/descale",
        "Descaling steps",
        "en",
        "Here is how to descale: fill the tank with 1 litre of water and one sachet of descaler, press and "
        "hold the steam and hot-water buttons for 5 seconds, and let the programme run (about 20 minutes). "
        "Rinse with a full tank of clean water afterwards.",
    ),
    (
        "/callback",
        "Callback promised",
        "en",
        "Thank you, {{customer.first_name}}. I'll call you back by the end of the next working day about "
        "your request (reference {{conversation.id}}).",
    ),
    (
        "/invoice",
        "Copy of an invoice",
        "en",
        "You can download every invoice under My account > Orders. I've also sent a copy to the email "
        "address we have for you.",
    ),
    (
        "/bye",
        "Closing",
        None,
        "Is there anything else I can help you with? Thank you for contacting Brewline, "
        "{{customer.first_name}}. Best regards, {{agent.name}}",
    ),
]

# (category, subcategory) -> articles (title, tags, Markdown body)
KNOWLEDGE = {
    ("Machines", "Care and maintenance"): [
        (
            "Descaling your espresso machine (error E4)",
            ["descale", "limescale", "maintenance", "E4"],
            """Limescale builds up in every espresso machine. Descale **every two months**, or at once when
the display shows **error E4** ("descaling needed").

1. Empty the drip tray and remove the water filter, if one is fitted.
2. Fill the tank with 1 litre of water and one sachet of Brewline descaler.
3. Press and hold the *steam* and *hot water* buttons together for 5 seconds.
4. The descaling programme runs for about 20 minutes; keep a large bowl under the group head.
5. Rinse: fill the tank with clean water and run the programme again.

Vinegar damages the seals and is not covered by the warranty.""",
        ),
        (
            "Using the water filter",
            ["filter", "water", "FLT-1"],
            """The FLT-1 water filter reduces limescale and improves the taste. Soak a new filter for
5 minutes, screw it into the holder in the tank, and set *Filter: on* in the menu. Replace it every
two months; with a filter fitted, the machine asks for descaling less often.""",
        ),
        (
            "Cleaning the milk frother",
            ["milk", "steam wand", "cleaning"],
            """Wipe the steam wand with a damp cloth and purge it for 2 seconds **after every use**. Once a
week, unscrew the tip and soak it in warm water. Dried milk blocks the wand and makes the steam weak.""",
        ),
    ],
    ("Machines", "Troubleshooting"): [
        (
            "Error codes on the display",
            ["error", "E1", "E2", "E3", "E4", "display"],
            """| Code | Meaning | What to do |
|---|---|---|
| E1 | Water tank empty | Fill the tank |
| E2 | Grinder blocked | Switch off, empty the bean hopper, remove the blockage |
| E3 | Brewing unit missing | Refit the brewing unit until it clicks |
| E4 | Descaling needed | Run the descaling programme |

Any other code: switch the machine off for one minute. If it comes back, open a repair request.""",
        ),
        (
            "Grinder is loud or grinds nothing",
            ["grinder", "noise", "GRN-20", "beans"],
            """A loud grinder usually means a stone or a very oily bean is stuck. Switch off, empty the
hopper, and vacuum the burrs. Set the grind one step coarser. If the noise stays, it is a warranty repair.""",
        ),
        (
            "Coffee is cold or weak",
            ["temperature", "weak", "pressure", "Pro"],
            """Preheat the cup and run one empty shot after switching on. Weak coffee: grind finer and use
16-18 g of coffee. The Pro shows the pump pressure; below 8 bar, the machine needs descaling or a repair.""",
        ),
    ],
    ("Orders", "Delivery"): [
        (
            "Delivery times and tracking",
            ["delivery", "shipping", "tracking"],
            """Orders placed before 2 pm on a working day leave our warehouse the same day and arrive within
**2-3 working days**. The tracking link is emailed when the parcel leaves. Delivery is free above 50.

To change the delivery address, the customer must ask **before** the parcel leaves; afterwards, the carrier
can redirect it from the tracking page.""",
        ),
    ],
    ("Orders", "Returns and refunds"): [
        (
            "Returns and refunds",
            ["return", "refund", "30 days"],
            """Any product can be returned within **30 days** of delivery, unused or used, in its box.
Create the return label under My account > Orders, or ask an agent to email one. The refund reaches the
card within 5 working days of the parcel arriving at the warehouse. Water filters cannot be returned once
opened.""",
        ),
    ],
    ("Billing", "Invoices"): [
        (
            "Invoices and VAT numbers",
            ["invoice", "VAT", "billing"],
            """Every order has an invoice under My account > Orders. A business customer can add a VAT number
before ordering; to correct the VAT number or company name on an issued invoice, a billing agent issues a
credit note and a new invoice (never edit the old one).""",
        ),
    ],
    ("Warranty and repairs", None): [
        (
            "Warranty terms",
            ["warranty", "repair", "guarantee"],
            """Machines: **two years** from delivery; the Espresso machine Pro: **three years**. Grinders and
kettles: one year. The warranty covers faults, not limescale damage or broken glass.

For a repair, check the serial number in the customer's screen-pop, create a ticket and book the
collection; repairs take about 10 working days and a loan machine is offered for the Pro.""",
        ),
        (
            "Warranty repair",
            ["warranty", "repair", "collection", "loan machine"],
            """How to book a repair under warranty:

1. Find the product and its **serial number** in the customer's screen-pop; the warranty end date is
   shown beside it. Out of warranty, offer a paid repair quote instead.
2. Look for the fault in the defect library: a known defect may have a quicker solution.
3. Create a ticket of the category *Repair*, link the defect article if there is one, and book the
   collection (the courier brings a box; the customer needs nothing else).
4. Tell the customer: about **10 working days** door to door; a loan machine for the Espresso machine Pro.

The repair, the collection and the return are free under warranty.""",
        ),
    ],
}

# (category, subcategory) -> defects (title, tags, affected products, symptom, cause, solution); Markdown
DEFECTS = {
    ("Defect library", "Kettles"): [
        (
            "Kettle trips the circuit breaker when switched on",
            ["breaker", "fuse", "earth leakage"],
            ["KTL-5", "Kettle with temperature control"],
            """The kettle **trips the circuit breaker** (or blows a fuse in the fuse box) as soon as it is
switched on. Other appliances on the same socket work.""",
            """Water or descaler got under the heating plate and into the connector of the base; kettles
of the batch made before March are affected most.""",
            """1. Ask the customer to **stop using the kettle** and unplug the base.
2. Do not suggest drying it: the heating element stays damaged.
3. Replace it under warranty (book a *Warranty repair* ticket with the reason *Replacement sent*).""",
        ),
    ],
    ("Defect library", "Espresso machines"): [
        (
            "Water pools under the Espresso machine Pro",
            ["leak", "water", "drip tray", "seal"],
            ["ESP-900", "Espresso machine Pro"],
            """A puddle of water forms **under the machine** after a few coffees, while the drip tray is
empty or only half full.""",
            """The seal between the water tank and its valve shrinks after descaling with vinegar or a
descaler too strong, so the tank drips into the housing.""",
            """Ask whether the tank sits flat and clicks in. If it still leaks, send the tank seal kit
(SEAL-9) free of charge; it fits without tools. If water comes from the group head, book a warranty
repair.""",
        ),
    ],
    ("Defect library", "Grinders"): [
        (
            "Grinder stops after a few seconds",
            ["grinder", "stops", "overheating"],
            ["GRN-20", "Burr grinder"],
            """The grinder starts, then **stops after two or three seconds** and only starts again after
some minutes.""",
            """The motor's thermal cut-out trips: the burrs are set to the finest step and oily beans jam
them.""",
            """Set the grind three steps coarser, empty the hopper and vacuum the burrs. If it still stops
with the coarsest setting, book a warranty repair.""",
        ),
    ],
}

# As if agents had used them (linked to tickets, put into replies): "popular" sorts by these.
USES = {
    "Descaling your espresso machine (error E4)": 41,
    "Warranty repair": 23,
    "Delivery times and tracking": 19,
    "Error codes on the display": 12,
    "Kettle trips the circuit breaker when switched on": 9,
    "Returns and refunds": 8,
}


async def seed_console(db: AsyncSession, now: datetime) -> None:
    """Add the demo's wrap-up codes, canned replies and knowledge base where those lists are empty."""
    for kind, codes in CODES.items():
        if not await _count(db, select(func.count()).where(WrapUpCode.kind == kind)):
            db.add_all(
                WrapUpCode(kind=kind, code=code, label=label, position=n)
                for n, (code, label) in enumerate(codes)
            )
    if not await _count(db, select(func.count()).select_from(CannedReply)):
        db.add_all(
            CannedReply(shortcut=shortcut, title=title, body=body, language=language, updated_at=now)
            for shortcut, title, language, body in CANNED
        )
    if not await _count(db, select(func.count()).select_from(KnowledgeCategory)) and not await _count(
        db, select(func.count()).select_from(KnowledgeArticle)
    ):
        await _seed_knowledge(db, now)
    if not await _count(db, select(func.count()).where(KnowledgeArticle.kind == "defect")):
        await _seed_defects(db, now)


async def _seed_knowledge(db: AsyncSession, now: datetime) -> None:
    for (top, sub), articles in KNOWLEDGE.items():
        category = await _category(db, top, sub)
        for title, tags, body in articles:
            db.add(
                KnowledgeArticle(
                    category_id=category.id,
                    title=title,
                    body=body,
                    tags=tags,
                    published=True,
                    usage_count=USES.get(title, 0),
                    created_at=now,
                    updated_at=now,
                )
            )


async def _seed_defects(db: AsyncSession, now: datetime) -> None:
    for (top, sub), defects in DEFECTS.items():
        category = await _category(db, top, sub)
        for title, tags, products, symptom, cause, solution in defects:
            db.add(
                KnowledgeArticle(
                    category_id=category.id,
                    kind="defect",
                    title=title,
                    tags=tags,
                    affected_products=products,
                    symptom=symptom,
                    cause=cause,
                    solution=solution,
                    published=True,
                    usage_count=USES.get(title, 0),
                    created_at=now,
                    updated_at=now,
                )
            )


async def _category(db: AsyncSession, top: str, sub: str | None) -> KnowledgeCategory:
    """The category `top`, or its subcategory `sub`; each added after its siblings if it does not exist."""
    category = await _child(db, None, top)
    return category if sub is None else await _child(db, category.id, sub)


async def _child(db: AsyncSession, parent_id: int | None, name: str) -> KnowledgeCategory:
    siblings = KnowledgeCategory.parent_id == parent_id  # IS NULL for None
    rows = list((await db.execute(select(KnowledgeCategory).where(siblings))).scalars())
    found = next((row for row in rows if row.name == name), None)
    if found is None:
        position = max((row.position for row in rows), default=-1) + 1
        found = KnowledgeCategory(name=name, parent_id=parent_id, position=position)
        db.add(found)
        await db.flush()
    return found


async def _count(db: AsyncSession, statement: Select[Any]) -> int:
    return (await db.execute(statement)).scalar_one()
