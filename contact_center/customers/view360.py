"""customer_360: everything the agent's screen-pop shows about one customer, in a fixed number of queries."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from contact_center.customers.context import CustomerContext
from contact_center.customers.records import get_customer, searchable_name
from contact_center.customers.resolve import possible_duplicates
from contact_center.db.models import Conversation, Customer, CustomerNote, Order, Ticket

OPEN_TICKET_STATES = ("new", "open", "pending", "escalated", "reopened")


@dataclass(frozen=True)
class Limits:
    """How much history the screen-pop carries."""

    interactions: int = 20
    orders: int = 20
    notes: int = 20
    tickets: int = 20
    duplicates: int = 5


async def customer_360(
    db: AsyncSession, ctx: CustomerContext, customer_id: int, limits: Limits | None = None
) -> dict[str, Any]:
    """The screen-pop of one customer as plain JSON-ready data."""
    limits = limits or Limits()
    today = ctx.clock.now().date()
    customer = await get_customer(db, customer_id)
    conversations = (
        (
            await db.execute(
                select(Conversation)
                .where(Conversation.customer_id == customer_id)
                .order_by(Conversation.last_activity_at.desc(), Conversation.id.desc())
                .limit(limits.interactions)
            )
        )
        .scalars()
        .all()
    )
    orders = (
        (
            await db.execute(
                select(Order)
                .where(Order.customer_id == customer_id)
                .options(selectinload(Order.items))
                .order_by(Order.ordered_at.desc(), Order.id.desc())
                .limit(limits.orders)
            )
        )
        .scalars()
        .all()
    )
    tickets = (
        (
            await db.execute(
                select(Ticket)
                .where(Ticket.customer_id == customer_id, Ticket.status.in_(OPEN_TICKET_STATES))
                .order_by(Ticket.created_at.desc())
                .limit(limits.tickets)
            )
        )
        .scalars()
        .all()
    )
    notes = (
        (
            await db.execute(
                select(CustomerNote)
                .where(CustomerNote.customer_id == customer_id)
                .order_by(CustomerNote.created_at.desc(), CustomerNote.id.desc())
                .limit(limits.notes)
            )
        )
        .scalars()
        .all()
    )
    duplicates = await possible_duplicates(
        db,
        searchable_name(customer),
        organisation=customer.organisation,
        limit=limits.duplicates,
        exclude=frozenset({customer_id}),
    )
    return {
        "customer": customer_summary(customer),
        "identities": [
            {
                "id": i.id,
                "kind": i.kind,
                "value": i.value,
                "display_value": i.display_value,
                "verified": i.verified,
            }
            for i in customer.identities
        ],
        "interactions": [
            {
                "id": c.id,
                "channel": c.channel,
                "status": c.status,
                "subject": c.subject,
                "snippet": c.snippet,
                "started_at": c.started_at.isoformat(),
                "last_activity_at": c.last_activity_at.isoformat(),
            }
            for c in conversations
        ],
        "orders": [order_summary(o, today) for o in orders],
        "open_tickets": [
            {
                "id": t.id,
                "reference": f"T-{t.id}",
                "subject": t.subject,
                "category": t.category,
                "status": t.status,
                "priority": t.priority,
                "created_at": t.created_at.isoformat(),
            }
            for t in tickets
        ],
        "notes": [
            {"id": n.id, "body": n.body, "author_id": n.author_id, "created_at": n.created_at.isoformat()}
            for n in notes
        ],
        "possible_duplicates": [asdict(d) for d in duplicates],
    }


def customer_summary(customer: Customer) -> dict[str, Any]:
    """The customer's own fields as JSON-ready data."""
    return {
        "id": customer.id,
        "display_name": customer.display_name,
        "given_name": customer.given_name,
        "family_name": customer.family_name,
        "language": customer.language,
        "organisation": customer.organisation,
        "lifecycle_stage": customer.lifecycle_stage,
        "attributes": customer.attributes,
        "value_score": customer.value_score,
        "value_tier": customer.value_tier,
        "created_at": customer.created_at.isoformat(),
        "updated_at": customer.updated_at.isoformat(),
    }


def order_summary(order: Order, today: date) -> dict[str, Any]:
    """An order with its items and each item's warranty status on `today`."""
    return {
        "id": order.id,
        "order_number": order.order_number,
        "ordered_at": order.ordered_at.isoformat(),
        "status": order.status,
        "currency": order.currency,
        "total": f"{order.total_cents / 100:.2f}",
        "items": [
            {
                "id": i.id,
                "sku": i.sku,
                "product_name": i.product_name,
                "quantity": i.quantity,
                "unit_price": f"{i.unit_price_cents / 100:.2f}",
                "serial_number": i.serial_number,
                "warranty_ends_on": i.warranty_ends_on.isoformat() if i.warranty_ends_on else None,
                "warranty": warranty_status(i.warranty_ends_on, today),
            }
            for i in order.items
        ],
    }


def warranty_status(ends_on: date | None, today: date) -> str:
    """'none', 'active', 'expiring' (within 30 days) or 'expired'."""
    if ends_on is None:
        return "none"
    if ends_on < today:
        return "expired"
    return "expiring" if (ends_on - today).days <= 30 else "active"
