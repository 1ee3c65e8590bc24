"""Computing customers' value scores and tiers from their orders, and the value pyramid."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, case, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from contact_center.customers.context import CustomerContext
from contact_center.customers.value_model import ValueFacts
from contact_center.db.models import Customer, Order, Ticket

BATCH = 500


async def recompute(db: AsyncSession, ctx: CustomerContext, customer_ids: Sequence[int]) -> None:
    """Recompute value score and tier for these customers from their orders and complaints."""
    now = ctx.clock.now()
    for start in range(0, len(customer_ids), BATCH):
        batch = list(customer_ids[start : start + BATCH])
        facts = await value_facts(db, batch, now)
        for customer_id, fact in facts.items():
            score = ctx.value_model.score(fact)
            await db.execute(
                update(Customer)
                .where(Customer.id == customer_id)
                .values(value_score=score, value_tier=ctx.value_model.tier_for(score))
            )


async def recompute_all(db: AsyncSession, ctx: CustomerContext) -> int:
    """Recompute every live customer (recency and tenure move with time); returns how many."""
    ids = list((await db.execute(select(Customer.id).where(Customer.merged_into_id.is_(None)))).scalars())
    await recompute(db, ctx, ids)
    return len(ids)


async def value_facts(db: AsyncSession, customer_ids: list[int], now: datetime) -> dict[int, ValueFacts]:
    """The figures the value model looks at, for a batch of customers, in three queries."""
    year_ago, two_years_ago = now - timedelta(days=365), now - timedelta(days=730)
    in_12m, in_24m = Order.ordered_at >= year_ago, Order.ordered_at >= two_years_ago
    order_rows = await db.execute(
        select(
            Order.customer_id,
            func.coalesce(func.sum(case((in_12m, Order.total_cents), else_=0)), 0),
            func.coalesce(func.sum(case((in_24m, Order.total_cents), else_=0)), 0),
            func.count(case((in_12m, Order.id))),
            func.count(case((in_24m, Order.id))),
            func.max(Order.ordered_at),
        )
        .where(Order.customer_id.in_(customer_ids))
        .group_by(Order.customer_id)
    )
    orders = {row[0]: row[1:] for row in order_rows.all()}
    complaint_rows = await db.execute(
        select(Ticket.customer_id, func.count())
        .where(
            and_(
                Ticket.customer_id.in_(customer_ids),
                Ticket.category == "complaint",
                Ticket.created_at >= year_ago,
            )
        )
        .group_by(Ticket.customer_id)
    )
    complaints = dict(complaint_rows.all())
    created = dict(
        (
            await db.execute(select(Customer.id, Customer.created_at).where(Customer.id.in_(customer_ids)))
        ).all()
    )
    facts = {}
    for customer_id, created_at in created.items():
        spend_12, spend_24, count_12, count_24, last = orders.get(customer_id, (0, 0, 0, 0, None))
        last = _aware(last)
        facts[customer_id] = ValueFacts(
            spend_12m=int(spend_12) / 100,
            spend_24m=int(spend_24) / 100,
            orders_12m=int(count_12),
            orders_24m=int(count_24),
            days_since_last_order=(now - last).total_seconds() / 86400 if last else None,
            tenure_days=max(0.0, (now - created_at).total_seconds() / 86400),
            complaints_12m=int(complaints.get(customer_id, 0)),
        )
    return facts


@dataclass(frozen=True)
class PyramidLevel:
    """One tier of the value pyramid."""

    tier: str
    customers: int
    revenue_12m_cents: int
    share_of_customers: float
    share_of_revenue: float


async def pyramid(db: AsyncSession, ctx: CustomerContext) -> list[PyramidLevel]:
    """Customers and revenue of the last 12 months per tier, top tier first."""
    year_ago = ctx.clock.now() - timedelta(days=365)
    live = Customer.merged_into_id.is_(None)
    counts = dict(
        (
            await db.execute(
                select(Customer.value_tier, func.count()).where(live).group_by(Customer.value_tier)
            )
        ).all()
    )
    revenue = dict(
        (
            await db.execute(
                select(Customer.value_tier, func.coalesce(func.sum(Order.total_cents), 0))
                .join(Order, Order.customer_id == Customer.id)
                .where(live, Order.ordered_at >= year_ago)
                .group_by(Customer.value_tier)
            )
        ).all()
    )
    total_customers = sum(counts.values()) or 1
    total_revenue = sum(int(v) for v in revenue.values()) or 1
    tiers = ctx.value_model.tier_names + sorted(set(counts) - set(ctx.value_model.tier_names))
    return [
        PyramidLevel(
            tier=tier,
            customers=int(counts.get(tier, 0)),
            revenue_12m_cents=int(revenue.get(tier, 0)),
            share_of_customers=round(counts.get(tier, 0) / total_customers, 4),
            share_of_revenue=round(int(revenue.get(tier, 0)) / total_revenue, 4),
        )
        for tier in tiers
    ]


def _aware(value: datetime | str | None) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, str):  # SQLite returns max() of a timestamp column as text
        value = datetime.fromisoformat(value)
    from datetime import UTC

    return value if value.tzinfo else value.replace(tzinfo=UTC)
