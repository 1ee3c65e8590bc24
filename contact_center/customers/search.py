"""Fuzzy lookup of customers by name: index lookup of blocking keys, then rapidfuzz scoring."""

from __future__ import annotations

from dataclasses import dataclass, field

from rapidfuzz import fuzz, utils
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from contact_center.customers import names
from contact_center.db.models import Customer, CustomerSearchKey

DEFAULT_POOL = 300
DEFAULT_MIN_SCORE = 60.0


@dataclass(frozen=True)
class Candidate:
    """A customer who may be the one meant, with a score from 0 to 100 and why."""

    customer_id: int
    display_name: str
    score: float
    reasons: list[str] = field(default_factory=list)


async def fuzzy_name_search(
    db: AsyncSession,
    name: str,
    *,
    limit: int = 5,
    pool: int = DEFAULT_POOL,
    min_score: float = DEFAULT_MIN_SCORE,
    exclude: frozenset[int] = frozenset(),
) -> list[Candidate]:
    """Customers whose name is close to `name`, best first."""
    keys = names.search_keys(name)
    if not keys:
        return []
    shared = func.count().label("shared")
    pooled = (
        select(CustomerSearchKey.customer_id, shared)
        .where(CustomerSearchKey.key.in_(sorted(keys)))
        .group_by(CustomerSearchKey.customer_id)
        .order_by(shared.desc(), CustomerSearchKey.customer_id)
        .limit(pool + len(exclude))
        .subquery()
    )
    query = (
        select(Customer.id, Customer.display_name, Customer.organisation)
        .join(pooled, pooled.c.customer_id == Customer.id)
        .where(Customer.merged_into_id.is_(None))
    )
    rows = [row for row in (await db.execute(query)).all() if row.id not in exclude]
    return rank(name, [(row.id, row.display_name) for row in rows], limit=limit, min_score=min_score)


def rank(name: str, people: list[tuple[int, str]], *, limit: int, min_score: float) -> list[Candidate]:
    """Score each (id, name) against `name` and keep the best `limit` at or above `min_score`."""
    query = utils.default_process(names.fold(name))
    scored = []
    for customer_id, display_name in people:
        score = fuzz.WRatio(query, utils.default_process(names.fold(display_name)))
        if score >= min_score:
            scored.append(Candidate(customer_id, display_name, round(score, 1), ["name"]))
    scored.sort(key=lambda c: (-c.score, c.customer_id))
    return scored[:limit]
