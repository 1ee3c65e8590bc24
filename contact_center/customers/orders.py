"""Orders and products of a customer; every change recomputes the customer's value."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from contact_center.customers import value
from contact_center.customers.context import CustomerContext
from contact_center.customers.records import get_customer, record_event
from contact_center.customers.schemas import OrderIn
from contact_center.db.models import Order, OrderItem
from contact_center.errors import Conflict, NotFound


async def create_order(
    db: AsyncSession,
    ctx: CustomerContext,
    customer_id: int,
    data: OrderIn,
    actor_id: int | None = None,
    *,
    recompute_value: bool = True,
) -> Order:
    """Store an order for a customer; the same order number twice is a Conflict."""
    await get_customer(db, customer_id, with_identities=False)
    existing = await db.execute(select(Order.customer_id).where(Order.order_number == data.order_number))
    if existing.first() is not None:
        raise Conflict(f"order {data.order_number} already exists")
    items = [
        OrderItem(
            sku=i.sku,
            product_name=i.product_name,
            quantity=i.quantity,
            unit_price_cents=to_cents(i.unit_price),
            serial_number=i.serial_number,
            warranty_ends_on=i.warranty_ends_on,
        )
        for i in data.items
    ]
    total = (
        to_cents(data.total)
        if data.total is not None
        else sum(i.unit_price_cents * i.quantity for i in items)
    )
    order = Order(
        customer_id=customer_id,
        order_number=data.order_number,
        ordered_at=data.ordered_at,
        status=data.status,
        currency=data.currency,
        total_cents=total,
        items=items,
    )
    db.add(order)
    await db.flush()
    record_event(db, ctx, customer_id, "order_added", {"order_number": order.order_number}, actor_id)
    if recompute_value:
        await value.recompute(db, ctx, [customer_id])
    return order


async def get_order(db: AsyncSession, order_id: int) -> Order:
    """One order with its items."""
    query = select(Order).where(Order.id == order_id).options(selectinload(Order.items))
    order = (await db.execute(query)).scalar_one_or_none()
    if order is None:
        raise NotFound(f"order {order_id} does not exist")
    return order


async def list_orders(db: AsyncSession, customer_id: int, limit: int = 100) -> list[Order]:
    """A customer's orders with items, newest first."""
    await get_customer(db, customer_id, with_identities=False)
    query = (
        select(Order)
        .where(Order.customer_id == customer_id)
        .options(selectinload(Order.items))
        .order_by(Order.ordered_at.desc(), Order.id.desc())
        .limit(limit)
    )
    return list((await db.execute(query)).scalars())


async def delete_order(
    db: AsyncSession, ctx: CustomerContext, order_id: int, actor_id: int | None = None
) -> None:
    """Remove an order (e.g. entered by mistake) and recompute the customer's value."""
    order = await get_order(db, order_id)
    await db.delete(order)
    await db.flush()
    record_event(db, ctx, order.customer_id, "order_removed", {"order_number": order.order_number}, actor_id)
    await value.recompute(db, ctx, [order.customer_id])


def to_cents(amount: Decimal) -> int:
    """Decimal money to integer minor units."""
    return int((amount * 100).to_integral_value())
