"""Fuzzy lookup of customers by name: index lookup of blocking keys, then rapidfuzz scoring.

A name token and its one-deletion variants are its keys (names.search_keys), so a token of
names.MIN_DELETE_TOKEN letters or more shares a key with every token one edit away; a shorter token is
looked up through the tokens one edit away themselves (names.query_keys). Reading every customer behind
every key of the query is what makes plain blocking slow at scale: each key of a common name ("james" and
its deletions) lists tens of thousands of customers. So lookup takes two queries:

1. Count the customers of each key, reading at most BIG_KEY + 1 index entries per key.
2. Read only what can matter. A token is looked for through all its keys, except a token that is itself a
   big key (a common name typed as it is): through itself and its small keys only, since its big
   one-deletion keys would bring tens of thousands of customers with other common names.
   - If a long token's keys are all small, the customers having one of them are the candidates (whoever
     is meant has one), those also matching every other token first (a join), then by how many of the
     token's keys they share.
   - Otherwise the candidates are the customers matching every token (a join of the tokens' keys), lowest
     ids first. When fewer than asked for match, the query adds the customers having the rarest token
     (when at most RARE_KEY have it) and the customers of the rare keys. (When every token is a common
     name typed as it is, the first customers having them all are read first: if enough of them score
     100, that is the answer; a third query reads the whole pool otherwise.)
   A token that matches nobody (an extra word, more than one edit) is left out.
3. Score the best `pool` candidates with rapidfuzz.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from rapidfuzz import fuzz, process, utils
from sqlalchemy import Integer, Row, Select, String, bindparam, case, func, literal, select, union_all
from sqlalchemy.ext.asyncio import AsyncSession

from contact_center.customers import names
from contact_center.db.models import Customer, CustomerSearchKey

DEFAULT_POOL = 300
DEFAULT_MIN_SCORE = 60.0
BIG_KEY = 800  # a key with more customers is read only as a token typed as it is
RARE_KEY = 300  # customers of keys up to this size fill the pool when few match every token
DRIVING = 8000  # the most index entries read to gather candidates through one token's keys
TYPED, NEAR, RARE = 1000, 100, 1  # weights of the ways a candidate can match
_KEYS = CustomerSearchKey.__table__
_CUSTOMERS = Customer.__table__


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
    near_keys = {token: names.query_keys(token) - keys for token, keys in token_keys.items()}
    counts = await _count_keys(db, token_keys, near_keys)
    found = {t: sorted(k for k in token_keys[t] | near_keys[t] if counts.get(k)) for t in token_keys}
    tokens = [token for token in token_keys if found[token]]
    if not tokens:
        return []
    sides = [  # the keys each token is looked for through
        sorted(k for k in found[t] if (k in token_keys[t] and counts[k] <= BIG_KEY) or k == t)
        if counts[t] > BIG_KEY
        else found[t]
        for t in tokens
    ]
    params: dict[str, Any] = {"size": pool + len(exclude), "need": limit + len(exclude)}
    params.update({f"side{i}": side for i, side in enumerate(sides)})
    small = [  # long tokens whose keys are all small, with the index entries they would read
        (sum(counts[k] for k in side), i)
        for i, side in enumerate(sides)
        if all(counts[k] <= BIG_KEY for k in side) and len(tokens[i]) >= names.MIN_DELETE_TOKEN
    ]
    small = [(read, i) for read, i in small if read <= DRIVING]
    if small:
        driver = min(small)[1]
        others = [i for i in range(len(tokens)) if i != driver]
        params.update(driving=sides[driver], **{f"other{n}": sides[i] for n, i in enumerate(others)})
        rows = await _rows(db, _through_one_token(len(others)), params)
        return _rank_rows(name, rows, exclude, limit, min_score)
    params.update({f"own{i}": t for i, t in enumerate(tokens)})
    params["rare"] = sorted({k for t in tokens for k in token_keys[t] if 0 < counts[k] <= RARE_KEY})
    # Near duplicates that differ in a common name typed as it is (Mary for Mark) would take reading that
    # name's one-deletion keys; but among the few customers having the rarest token, rapidfuzz finds them.
    narrowed = {i for i, t in enumerate(tokens) if sides[i] != found[t]}
    count, rarest = min([(counts[t], i) for i, t in enumerate(tokens) if counts[t]], default=(0, 0))
    near = rarest if 0 < count <= RARE_KEY and narrowed - {rarest} else None
    statement = _every_token(len(tokens), near, bool(params["rare"]))
    # Every token typed as it is: the first customers having them all are likely duplicates scoring 100,
    # and then the first `need` of them are the answer (else the query runs again for the whole pool).
    if all(side == [t] for side, t in zip(sides, tokens, strict=True)) and len(tokens) == len(token_keys):
        params["first"] = params["need"]
        rows = await _rows(db, statement, params)
        ranked = _rank_rows(name, rows, exclude, limit, min_score)
        typed = sum(row.weight >= TYPED for row in rows)
        if typed < params["need"] or sum(c.score == 100 for c in ranked) >= limit:
            return ranked
    params["first"] = params["size"]
    return _rank_rows(name, await _rows(db, statement, params), exclude, limit, min_score)


def rank(name: str, people: list[tuple[int, str]], *, limit: int, min_score: float) -> list[Candidate]:
    """Score each (id, name) against `name` and keep the best `limit` at or above `min_score`."""
    query = utils.default_process(names.fold(name))
    choices = [utils.default_process(names.fold(display_name)) for _, display_name in people]
    scored = [
        Candidate(people[index][0], people[index][1], round(score, 1), ["name"])
        for _, score, index in process.extract(
            query, choices, scorer=fuzz.WRatio, processor=None, limit=None, score_cutoff=min_score
        )
    ]
    scored.sort(key=lambda c: (-c.score, c.customer_id))
    return scored[:limit]


async def _count_keys(
    db: AsyncSession, token_keys: dict[str, set[str]], near_keys: dict[str, set[str]]
) -> dict[str, int]:
    """Customers per key, counted up to BIG_KEY + 1, and for the keys near short tokens 1 if anyone has
    it. Both lists are padded with "" (no such key) to a multiple of 8, so that few statement shapes
    exist."""
    keys = sorted(set().union(*token_keys.values()))
    keys += [""] * (-len(keys) % 8)
    near = sorted(set().union(*near_keys.values()) - set(keys))
    near += [""] * (-len(near) % 8)
    params = {f"k{i}": key for i, key in enumerate(keys)} | {f"n{i}": key for i, key in enumerate(near)}
    return dict((await db.execute(_counts(len(keys), len(near)), params)).all())


async def _rows(db: AsyncSession, statement: Select[Any], params: dict[str, Any]) -> list[Row[Any]]:
    return list((await db.execute(statement, params)).all())


def _rank_rows(
    name: str, rows: list[Row[Any]], exclude: frozenset[int], limit: int, min_score: float
) -> list[Candidate]:
    people = [(row.id, row.display_name) for row in rows if row.id not in exclude]
    return rank(name, people, limit=limit, min_score=min_score)


# The statements depend only on the shape of a query, so each shape is built once. Key lists that steer
# the plan are written into the SQL text (literal_execute), so PostgreSQL plans each query with the
# statistics of the very keys asked for.


def _keys_in(name: str) -> Any:
    return bindparam(name, expanding=True, literal_execute=True)


def _named(pooled: Any) -> Select[Any]:
    """The pooled customers' ids, names and weights, leaving out those merged into another."""
    pooled = pooled.subquery()
    return (
        select(_CUSTOMERS.c.id, _CUSTOMERS.c.display_name, pooled.c.weight)
        .join(pooled, pooled.c.customer_id == _CUSTOMERS.c.id)
        .where(_CUSTOMERS.c.merged_into_id.is_(None))
    )


@lru_cache(maxsize=64)
def _counts(keys: int, near: int) -> Select[Any]:
    """(key, customers having it) for the keys `k{i}`, counted up to BIG_KEY + 1, and the keys `n{i}`, up
    to 1."""

    def counted(prefix: str, size: int, cap: int) -> Select[Any]:
        given = union_all(
            *[select(bindparam(f"{prefix}{i}", type_=String).label("key")) for i in range(size)]
        ).subquery()
        having = select(literal(1)).where(_KEYS.c.key == given.c.key).correlate(given).limit(cap).subquery()
        return select(given.c.key, select(func.count()).select_from(having).scalar_subquery())

    parts = [counted("k", keys, BIG_KEY + 1)] + ([counted("n", near, 1)] if near else [])
    return union_all(*parts) if len(parts) > 1 else parts[0]


@lru_cache(maxsize=16)
def _through_one_token(others: int) -> Select[Any]:
    """Customers having a `driving` key, those also matching every other token (`other{n}`) first, then by
    the driving keys they share."""
    hits = (
        select(_KEYS.c.customer_id, func.count().label("shared"))
        .where(_KEYS.c.key.in_(_keys_in("driving")))
        .group_by(_KEYS.c.customer_id)
        .cte("hits")
    )
    weight = hits.c.shared
    query = select(hits.c.customer_id)
    if others:
        matched = select(hits.c.customer_id)
        for n in range(others):
            table = _KEYS.alias()
            matched = matched.join(table, table.c.customer_id == hits.c.customer_id).where(
                table.c.key.in_(_keys_in(f"other{n}"))
            )
        matched = matched.distinct().subquery()
        query = query.outerjoin(matched, matched.c.customer_id == hits.c.customer_id)
        weight = weight + case((matched.c.customer_id.is_not(None), TYPED), else_=0)
    return _named(
        query.add_columns(weight.label("weight"))
        .order_by(weight.desc(), hits.c.customer_id)
        .limit(bindparam("size", type_=Integer))
    )


@lru_cache(maxsize=64)
def _every_token(tokens: int, near: int | None, with_rare: bool) -> Select[Any]:
    """Customers having a key of every token's `side{i}`, lowest ids first, at most `first`; when fewer than
    `need`, also those having token `near` itself (`own{near}`), and those having a rare key."""
    tables = [_KEYS.alias() for _ in range(tokens)]
    typed = select(tables[0].c.customer_id).where(tables[0].c.key.in_(_keys_in("side0")))
    for i, table in enumerate(tables[1:], 1):
        typed = typed.join(table, table.c.customer_id == tables[0].c.customer_id).where(
            table.c.key.in_(_keys_in(f"side{i}"))
        )
    base = (
        typed.distinct()
        .order_by(tables[0].c.customer_id)
        .limit(bindparam("first", type_=Integer))
        .cte("typed")
    )
    few = select(func.count()).select_from(base).scalar_subquery() < bindparam("need", type_=Integer)
    parts = [select(base.c.customer_id, literal(TYPED).label("weight"))]
    if near is not None:
        parts.append(
            select(_KEYS.c.customer_id, literal(NEAR).label("weight")).where(
                _KEYS.c.key == bindparam(f"own{near}"), few
            )
        )
    if with_rare:
        parts.append(
            select(_KEYS.c.customer_id, literal(RARE).label("weight")).where(
                _KEYS.c.key.in_(_keys_in("rare")), few
            )
        )
    rows = (union_all(*parts) if len(parts) > 1 else parts[0]).subquery()
    weight = func.sum(rows.c.weight)
    return _named(
        select(rows.c.customer_id, weight.label("weight"))
        .group_by(rows.c.customer_id)
        .order_by(weight.desc(), rows.c.customer_id)
        .limit(bindparam("size", type_=Integer))
    )
