"""Fuzzy lookup of customers by name: index lookup of blocking keys, then rapidfuzz scoring.

Reading every customer behind every key of the query is what makes naive blocking slow at scale: the keys
of a common name ("james" and its deletions) each list tens of thousands of customers. So lookup first
counts, capped at RARE_KEY, how many customers each key has (a bounded index scan per key), then:

- a key with few customers is rare: its customers are read in full;
- a common key is read only when it is needed: of a token that is itself a common key, only that key (a
  frequent token is taken as spelt right; its one-deletion keys would bring nothing but the same people);
  of any other token, its common keys (usually the one or two it shares with a frequent name);
- when some token has only rare keys, every customer meant (within one edit of each token) has one of
  them, so those customers are the candidates, and the common keys only add to their score;
- when every token has a common key, the candidates are the customers matching every token, found by
  joining the keys of each token (merge joins of sorted index ranges, no big aggregation).
Tokens that match nobody (an extra word, a typo of more than one edit) are left out. The best `pool`
candidates by shared keys are then scored with rapidfuzz.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from rapidfuzz import fuzz, utils
from sqlalchemy import Subquery, func, literal, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from contact_center.customers import names
from contact_center.db.models import Customer, CustomerSearchKey

DEFAULT_POOL = 300
DEFAULT_MIN_SCORE = 60.0
RARE_KEY = 1000


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
    token_keys = {token: names.token_keys(token) for token in names.tokens(name)}
    if not token_keys:
        return []
    counts = await key_counts(db, set().union(*token_keys.values()))
    rare: set[str] = set()
    common: set[str] = set()
    plans: list[set[str]] = []
    for token, keys in token_keys.items():
        found = {key for key in keys if counts[key]}
        if not found:
            continue
        frequent = {key for key in found if counts[key] > RARE_KEY}
        if token in frequent:
            frequent = {token}
        rare |= {key for key in found if counts[key] <= RARE_KEY}
        common |= frequent
        plans.append({key for key in found if counts[key] <= RARE_KEY} | frequent)
    if not plans:
        return []
    size = pool + len(exclude)
    if any(plan <= rare for plan in plans):
        pooled = _rare_candidates(rare, common, size)
    else:
        pooled = _matching_every_token(plans, size)
    query = (
        select(Customer.id, Customer.display_name)
        .join(pooled, pooled.c.customer_id == Customer.id)
        .where(Customer.merged_into_id.is_(None))
    )
    rows = [row for row in (await db.execute(query)).all() if row.id not in exclude]
    return rank(name, [(row.id, row.display_name) for row in rows], limit=limit, min_score=min_score)


async def key_counts(db: AsyncSession, keys: set[str]) -> dict[str, int]:
    """How many customers have each key, counted up to RARE_KEY + 1 (one bounded index scan per key)."""
    ordered = sorted(keys)
    columns = [
        select(func.count())
        .select_from(select(literal(1)).where(CustomerSearchKey.key == key).limit(RARE_KEY + 1).subquery())
        .scalar_subquery()
        for key in ordered
    ]
    row = (await db.execute(select(*columns))).one()
    return dict(zip(ordered, row, strict=True))


def _rare_candidates(rare: set[str], common: set[str], size: int) -> Subquery:
    """Customers having a rare key, scored by shared rare keys plus the chosen common keys they have."""
    hits = (
        select(CustomerSearchKey.customer_id, func.count().label("shared"))
        .where(CustomerSearchKey.key.in_(sorted(rare)))
        .group_by(CustomerSearchKey.customer_id)
        .subquery()
    )
    score = hits.c.shared
    if common:
        other = aliased(CustomerSearchKey)
        score = score + (
            select(func.count())
            .where(other.customer_id == hits.c.customer_id, other.key.in_(sorted(common)))
            .scalar_subquery()
        )
    return (
        select(hits.c.customer_id, score.label("score"))
        .order_by(score.desc(), hits.c.customer_id)
        .limit(size)
        .subquery()
    )


def _matching_every_token(plans: list[set[str]], size: int) -> Subquery:
    """Customers having one of the chosen keys of every token, scored by the keys they share."""
    tables = [aliased(CustomerSearchKey) for _ in plans]
    first = tables[0]
    query = select(first.customer_id, func.count().label("score")).where(first.key.in_(sorted(plans[0])))
    for table, plan in zip(tables[1:], plans[1:], strict=True):
        query = query.join(table, table.customer_id == first.customer_id).where(table.key.in_(sorted(plan)))
    shared = func.count()
    return (
        query.group_by(first.customer_id)
        .order_by(shared.desc(), first.customer_id)
        .limit(size)
        .subquery()
    )


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
