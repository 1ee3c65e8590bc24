"""customer_360: everything the agent's screen-pop shows about a customer, in a fixed number of queries
(for one customer, or for the several offered at one moment: screen_pops)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date
from typing import Any

from sqlalchemy import Select, bindparam, func, select
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
    """The screen-pop of one customer as plain JSON-ready data (NotFound if absent or merged)."""
    pops = await screen_pops(db, ctx, [customer_id], limits)
    if customer_id not in pops:
        live_customer(customer_id, (await db.execute(_CUSTOMERS, {"ids": [customer_id]})).first())
    return pops[customer_id]


async def screen_pops(
    db: AsyncSession, ctx: CustomerContext, customer_ids: list[int], limits: Limits | None = None
) -> dict[int, dict[str, Any]]:
    """The screen-pops of several customers (the offers made at one moment), by customer id; those absent
    or merged are left out.

    It sits on the offer path, so it reads columns (rows, not ORM objects) with statements built once, one
    query per part for all the customers (a window function keeps each customer's latest rows); only orders
    are objects (with their items, in a second query when there are any).
    """
    limits = limits or Limits()
    today = ctx.clock.now().date()
    rows = (await db.execute(_CUSTOMERS, {"ids": sorted(set(customer_ids))})).all()
    customers = {row.id: row for row in rows if row.merged_into_id is None}
    if not customers:
        return {}
    ids = list(customers)
    identities = _by_owner(await db.execute(_IDENTITIES, {"ids": ids}))
    conversations = _by_owner(await db.execute(_INTERACTIONS, {"ids": ids, "limit": limits.interactions}))
    tickets = _by_owner(await db.execute(_OPEN_TICKETS, {"ids": ids, "limit": limits.tickets}))
    notes = _by_owner(await db.execute(_NOTES, {"ids": ids, "limit": limits.notes}))
    orders: dict[int, list[Order]] = {}
    for order in (await db.execute(_ORDERS, {"ids": ids, "limit": limits.orders})).scalars():
        orders.setdefault(order.customer_id, []).append(order)
    pops = {}
    for customer_id, customer in customers.items():
        duplicates = await possible_duplicates(
            db,
            searchable_name(customer),
            organisation=customer.organisation,
            limit=limits.duplicates,
            exclude=frozenset({customer_id}),
        )
        pops[customer_id] = {
            "customer": customer_summary(customer),
            "identities": [identity_view(i) for i in identities.get(customer_id, [])],
            "interactions": [_interaction(c) for c in conversations.get(customer_id, [])],
            "orders": [order_summary(o, today) for o in orders.get(customer_id, [])],
            "open_tickets": [_ticket(t) for t in tickets.get(customer_id, [])],
            "notes": [_note(n) for n in notes.get(customer_id, [])],
            "possible_duplicates": [asdict(d) for d in duplicates],
        }
    return pops


def identity_view(row: Any) -> dict[str, Any]:
    """An identity as JSON-ready data (of a CustomerIdentity or a row of its columns)."""
    return {
        "id": row.id,
        "kind": row.kind,
        "value": row.value,
        "display_value": row.display_value,
        "verified": row.verified,
    }


def _interaction(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "channel": row.channel,
        "status": row.status,
        "subject": row.subject,
        "snippet": row.snippet,
        "started_at": row.started_at.isoformat(),
        "last_activity_at": row.last_activity_at.isoformat(),
    }


def _ticket(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "reference": f"T-{row.id}",
        "subject": row.subject,
        "category": row.category,
        "status": row.status,
        "priority": row.priority,
        "created_at": row.created_at.isoformat(),
    }


def _note(row: Any) -> dict[str, Any]:
    created_at = row.created_at.isoformat()
    return {"id": row.id, "body": row.body, "author_id": row.author_id, "created_at": created_at}


def _by_owner(rows: Any) -> dict[int, list[Any]]:
    """Rows of several customers, by their `owner` column, in the order read."""
    grouped: dict[int, list[Any]] = {}
    for row in rows:
        grouped.setdefault(row.owner, []).append(row)
    return grouped


def _latest(columns: list[Any], owner: Any, order_by: list[Any], *where: Any) -> Select[Any]:
    """The rows of several customers (`ids`), at most `limit` per customer in `order_by` order, with their
    customer as `owner`: a window function numbers each customer's rows, so one query serves them all."""
    rank = func.row_number().over(partition_by=owner, order_by=order_by).label("rank")
    ranked = select(*columns, owner.label("owner"), rank).where(owner.in_(_IDS), *where).subquery()
    return select(ranked).where(ranked.c.rank <= bindparam("limit")).order_by(ranked.c.owner, ranked.c.rank)


# Built once: the offer path reuses the compiled statements without building and keying them again.
_IDS = bindparam("ids", expanding=True)
_CUSTOMERS = select(Customer.__table__).where(Customer.id.in_(_IDS))
_IDENTITIES = (
    select(
        CustomerIdentity.id,
        CustomerIdentity.kind,
        CustomerIdentity.value,
        CustomerIdentity.display_value,
        CustomerIdentity.verified,
        CustomerIdentity.customer_id.label("owner"),
    )
    .where(CustomerIdentity.customer_id.in_(_IDS))
    .order_by(CustomerIdentity.id)
)
_INTERACTIONS = _latest(
    [
        Conversation.id,
        Conversation.channel,
        Conversation.status,
        Conversation.subject,
        Conversation.snippet,
        Conversation.started_at,
        Conversation.last_activity_at,
    ],
    Conversation.customer_id,
    [Conversation.last_activity_at.desc(), Conversation.id.desc()],
)
_OPEN_TICKETS = _latest(
    [Ticket.id, Ticket.subject, Ticket.category, Ticket.status, Ticket.priority, Ticket.created_at],
    Ticket.customer_id,
    [Ticket.created_at.desc(), Ticket.id.desc()],
    Ticket.status.in_(OPEN_TICKET_STATES),
)
_NOTES = _latest(
    [CustomerNote.id, CustomerNote.body, CustomerNote.author_id, CustomerNote.created_at],
    CustomerNote.customer_id,
    [CustomerNote.created_at.desc(), CustomerNote.id.desc()],
)
_LATEST_ORDERS = _latest([Order.id], Order.customer_id, [Order.ordered_at.desc(), Order.id.desc()]).subquery()
_ORDERS = (
    select(Order)
    .join(_LATEST_ORDERS, _LATEST_ORDERS.c.id == Order.id)
    .options(selectinload(Order.items))
    .order_by(Order.customer_id, Order.ordered_at.desc(), Order.id.desc())
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
