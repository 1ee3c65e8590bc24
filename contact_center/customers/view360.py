"""customer_360: everything the agent's screen-pop shows about one customer, in a fixed number of queries."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from contact_center.customers.context import CustomerContext
from contact_center.customers.records import live_customer, searchable_name
from contact_center.customers.resolve import possible_duplicates
from contact_center.db.models import Conversation, Customer, CustomerIdentity, CustomerNote, Order, Ticket

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
    """The screen-pop of one customer as plain JSON-ready data.

    It sits on the offer path, so it reads columns (rows, not ORM objects) with statements built once, one
    query per part; only orders are objects (with their items, in a second query when there are any).
    """
    limits = limits or Limits()
    today = ctx.clock.now().date()
    customer = live_customer(customer_id, (await db.execute(_CUSTOMER, {"customer_id": customer_id})).first())
    identities = (await db.execute(_IDENTITIES, {"customer_id": customer_id})).all()
    conversations = (
        await db.execute(_INTERACTIONS, {"customer_id": customer_id, "limit": limits.interactions})
    ).all()
    tickets = (await db.execute(_OPEN_TICKETS, {"customer_id": customer_id, "limit": limits.tickets})).all()
    notes = (await db.execute(_NOTES, {"customer_id": customer_id, "limit": limits.notes})).all()
    orders = (await db.execute(_ORDERS, {"customer_id": customer_id, "limit": limits.orders})).scalars().all()
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
            for i in identities
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


# Built once: the offer path reuses the compiled statements without building and keying them again.
_CUSTOMER = select(Customer.__table__).where(Customer.id == bindparam("customer_id"))
_IDENTITIES = (
    select(
        CustomerIdentity.id,
        CustomerIdentity.kind,
        CustomerIdentity.value,
        CustomerIdentity.display_value,
        CustomerIdentity.verified,
    )
    .where(CustomerIdentity.customer_id == bindparam("customer_id"))
    .order_by(CustomerIdentity.id)
)
_INTERACTIONS = (
    select(
        Conversation.id,
        Conversation.channel,
        Conversation.status,
        Conversation.subject,
        Conversation.snippet,
        Conversation.started_at,
        Conversation.last_activity_at,
    )
    .where(Conversation.customer_id == bindparam("customer_id"))
    .order_by(Conversation.last_activity_at.desc(), Conversation.id.desc())
    .limit(bindparam("limit"))
)
_OPEN_TICKETS = (
    select(
        Ticket.id,
        Ticket.subject,
        Ticket.category,
        Ticket.status,
        Ticket.priority,
        Ticket.created_at,
    )
    .where(Ticket.customer_id == bindparam("customer_id"), Ticket.status.in_(OPEN_TICKET_STATES))
    .order_by(Ticket.created_at.desc())
    .limit(bindparam("limit"))
)
_NOTES = (
    select(CustomerNote.id, CustomerNote.body, CustomerNote.author_id, CustomerNote.created_at)
    .where(CustomerNote.customer_id == bindparam("customer_id"))
    .order_by(CustomerNote.created_at.desc(), CustomerNote.id.desc())
    .limit(bindparam("limit"))
)
_ORDERS = (
    select(Order)
    .where(Order.customer_id == bindparam("customer_id"))
    .options(selectinload(Order.items))
    .order_by(Order.ordered_at.desc(), Order.id.desc())
    .limit(bindparam("limit"))
)


def customer_summary(customer: Any) -> dict[str, Any]:
    """The customer's own fields as JSON-ready data (of a Customer or a row of its columns)."""
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
