"""Creating, reading and changing customer records, with identities, notes and an audit of every change."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import delete, insert, select, tuple_
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from contact_center.customers import names
from contact_center.customers.context import CustomerContext
from contact_center.customers.identity import Identity, normalise
from contact_center.customers.schemas import CustomerIn, CustomerPatch, IdentityIn
from contact_center.db.models import (
    Customer,
    CustomerEvent,
    CustomerIdentity,
    CustomerNote,
    CustomerSearchKey,
)
from contact_center.errors import Conflict, NotFound

EDITABLE_FIELDS = (
    "display_name",
    "given_name",
    "family_name",
    "language",
    "organisation",
    "lifecycle_stage",
    "attributes",
)


async def create_customer(
    db: AsyncSession,
    ctx: CustomerContext,
    data: CustomerIn,
    actor_id: int | None = None,
    *,
    identities_checked: bool = False,
) -> Customer:
    """Store a new customer with its identities; Conflict if an identity already belongs to someone.

    `identities_checked`: the caller found the identities unowned in this transaction (as resolution does),
    so they are not looked up again; one taken meanwhile still fails the insert with a Conflict.
    """
    [customer] = await create_customers(db, ctx, [data], actor_id, identities_checked=identities_checked)
    return customer


async def create_customers(
    db: AsyncSession,
    ctx: CustomerContext,
    new: list[CustomerIn],
    actor_id: int | None = None,
    *,
    identities_checked: bool = False,
) -> list[Customer]:
    """Store several new customers as `create_customer` does one, with one INSERT per table for all."""
    identities = [_normalise_all(ctx, data.identities) for data in new]
    if not identities_checked:
        await _refuse_taken(db, [each for owned in identities for each in owned])
    now = ctx.clock.now()
    customers = [
        Customer(
            display_name=data.display_name or _compose_name(data.given_name, data.family_name),
            given_name=data.given_name,
            family_name=data.family_name,
            language=data.language.lower() if data.language else None,
            organisation=data.organisation,
            lifecycle_stage=data.lifecycle_stage,
            attributes=dict(data.attributes),
            value_score=0.0,
            value_tier=ctx.value_model.tier_for(0.0),
            created_at=now,
            updated_at=now,
            identities=[_identity_row(None, identity, verified, now) for identity, verified in owned],
        )
        for data, owned in zip(new, identities, strict=True)
    ]
    db.add_all(customers)
    await _flush_or_conflict(db)  # one flush: the customers, then their identities
    await _insert_search_keys(db, customers)
    for customer, owned in zip(customers, identities, strict=True):
        record_event(db, ctx, customer.id, "created", {"identities": [i.value for i, _ in owned]}, actor_id)
    return customers


async def get_customer(db: AsyncSession, customer_id: int, *, with_identities: bool = True) -> Customer:
    """The customer with this id (identities loaded); NotFound if absent or merged into another."""
    query = select(Customer).where(Customer.id == customer_id)
    if with_identities:
        query = query.options(selectinload(Customer.identities))
    return live_customer(customer_id, (await db.execute(query)).scalar_one_or_none())


def live_customer(customer_id: int, customer: Any) -> Any:
    """`customer` (an object or a row of its columns) as read for `customer_id`; NotFound if it is absent or
    was merged into another."""
    if customer is None:
        raise NotFound(f"customer {customer_id} does not exist")
    if customer.merged_into_id is not None:
        raise NotFound(
            f"customer {customer_id} was merged into customer {customer.merged_into_id}",
            merged_into=customer.merged_into_id,
        )
    return customer


async def update_customer(
    db: AsyncSession,
    ctx: CustomerContext,
    customer_id: int,
    patch: CustomerPatch,
    actor_id: int | None = None,
) -> Customer:
    """Apply the fields given in `patch`, recording old and new values in the history."""
    customer = await get_customer(db, customer_id)
    changes: dict[str, list[Any]] = {}
    for field in patch.model_fields_set:
        new = getattr(patch, field)
        if field == "lifecycle_stage" and new is None:
            continue
        if field == "attributes" and new is None:
            new = {}  # null clears the attributes; the column always holds an object
        if field == "language" and new:
            new = new.lower()
        old = getattr(customer, field)
        if old != new:
            changes[field] = [old, new]
            setattr(customer, field, new)
    if not changes:
        return customer
    customer.updated_at = ctx.clock.now()
    if {"display_name", "given_name", "family_name"} & changes.keys():
        if not customer.display_name:
            customer.display_name = _compose_name(customer.given_name, customer.family_name)
        await refresh_search_keys(db, [customer])
    record_event(db, ctx, customer.id, "updated", {"changes": changes}, actor_id)
    await db.flush()
    return customer


async def add_identity(
    db: AsyncSession, ctx: CustomerContext, customer_id: int, data: IdentityIn, actor_id: int | None = None
) -> CustomerIdentity:
    """Attach an identity; repeating it changes nothing, and another customer's identity is a Conflict."""
    customer = await get_customer(db, customer_id, with_identities=False)
    identity = normalise(data.kind, data.value, ctx.default_region)
    existing = await find_identity(db, identity)
    if existing is not None:
        if existing.customer_id == customer.id:
            return existing
        raise Conflict(
            f"{identity.kind.value} {identity.value} already belongs to customer {existing.customer_id}",
            customer_id=existing.customer_id,
        )
    row = _identity_row(customer.id, identity, data.verified, ctx.clock.now())
    db.add(row)
    await _flush_or_conflict(db)
    customer.updated_at = ctx.clock.now()
    record_event(
        db,
        ctx,
        customer.id,
        "identity_added",
        {"kind": identity.kind.value, "value": identity.value},
        actor_id,
    )
    return row


async def remove_identity(
    db: AsyncSession, ctx: CustomerContext, customer_id: int, identity_id: int, actor_id: int | None = None
) -> None:
    """Detach one identity from the customer."""
    row = await db.get(CustomerIdentity, identity_id)
    if row is None or row.customer_id != customer_id:
        raise NotFound(f"identity {identity_id} of customer {customer_id} does not exist")
    await db.delete(row)
    record_event(db, ctx, customer_id, "identity_removed", {"kind": row.kind, "value": row.value}, actor_id)
    await db.flush()


async def add_note(
    db: AsyncSession, ctx: CustomerContext, customer_id: int, body: str, actor_id: int | None = None
) -> CustomerNote:
    """Write a note on the customer."""
    await get_customer(db, customer_id, with_identities=False)
    note = CustomerNote(customer_id=customer_id, author_id=actor_id, body=body, created_at=ctx.clock.now())
    db.add(note)
    await db.flush()
    record_event(db, ctx, customer_id, "note_added", {"note_id": note.id}, actor_id)
    return note


async def find_identity(db: AsyncSession, identity: Identity) -> CustomerIdentity | None:
    """The stored identity equal to a normalised one, if any."""
    query = select(CustomerIdentity).where(
        CustomerIdentity.kind == identity.kind.value, CustomerIdentity.value == identity.value
    )
    return (await db.execute(query)).scalar_one_or_none()


async def find_by_identity(db: AsyncSession, ctx: CustomerContext, kind: str, raw: str) -> Customer | None:
    """The customer owning this identity (normalised first), or None."""
    identity = normalise(kind, raw, ctx.default_region)
    query = (
        select(Customer)
        .join(CustomerIdentity, CustomerIdentity.customer_id == Customer.id)
        .where(CustomerIdentity.kind == identity.kind.value, CustomerIdentity.value == identity.value)
        .options(selectinload(Customer.identities))
    )
    return (await db.execute(query)).scalar_one_or_none()


async def history(db: AsyncSession, customer_id: int, limit: int = 200) -> list[CustomerEvent]:
    """The audit of a customer record, newest first."""
    query = (
        select(CustomerEvent)
        .where(CustomerEvent.customer_id == customer_id)
        .order_by(CustomerEvent.created_at.desc(), CustomerEvent.id.desc())
        .limit(limit)
    )
    return list((await db.execute(query)).scalars())


def record_event(
    db: AsyncSession,
    ctx: CustomerContext,
    customer_id: int,
    action: str,
    details: dict[str, Any],
    actor_id: int | None,
) -> None:
    """Append one entry to a customer's history."""
    db.add(
        CustomerEvent(
            customer_id=customer_id,
            actor_id=actor_id,
            action=action,
            details=details,
            created_at=ctx.clock.now(),
        )
    )


async def refresh_search_keys(db: AsyncSession, customers: Iterable[Customer]) -> None:
    """Rewrite the fuzzy-search keys of these customers from their current names."""
    customers = list(customers)
    ids = [c.id for c in customers]
    if not ids:
        return
    await db.execute(delete(CustomerSearchKey).where(CustomerSearchKey.customer_id.in_(ids)))
    await _insert_search_keys(db, customers)


async def _insert_search_keys(db: AsyncSession, customers: list[Customer]) -> None:
    rows = [
        {"key": key, "customer_id": c.id}
        for c in customers
        if c.merged_into_id is None
        for key in names.search_keys(searchable_name(c))
    ]
    if rows:
        await db.execute(insert(CustomerSearchKey), rows)


def searchable_name(customer: Customer) -> str:
    """The text fuzzy lookup matches against: the display name, or given and family name."""
    return customer.display_name or _compose_name(customer.given_name, customer.family_name)


def _compose_name(given: str | None, family: str | None) -> str:
    return " ".join(part for part in (given, family) if part)


def _normalise_all(ctx: CustomerContext, items: Iterable[IdentityIn]) -> list[tuple[Identity, bool]]:
    result: dict[tuple[str, str], tuple[Identity, bool]] = {}
    for item in items:
        identity = normalise(item.kind, item.value, ctx.default_region)
        result.setdefault((identity.kind.value, identity.value), (identity, item.verified))
    return list(result.values())


async def _refuse_taken(db: AsyncSession, identities: list[tuple[Identity, bool]]) -> None:
    if not identities:
        return
    pairs = [(i.kind.value, i.value) for i, _ in identities]
    query = select(CustomerIdentity).where(tuple_(CustomerIdentity.kind, CustomerIdentity.value).in_(pairs))
    taken = (await db.execute(query)).scalars().first()
    if taken is not None:
        raise Conflict(
            f"{taken.kind} {taken.value} already belongs to customer {taken.customer_id}",
            customer_id=taken.customer_id,
        )


def _identity_row(customer_id: int | None, identity: Identity, verified: bool, now: Any) -> CustomerIdentity:
    """An identity row (`customer_id` None when the customer is new: the flush fills it in)."""
    return CustomerIdentity(
        customer_id=customer_id,
        kind=identity.kind.value,
        value=identity.value,
        display_value=identity.display_value,
        verified=verified,
        created_at=now,
    )


async def _flush_or_conflict(db: AsyncSession) -> None:
    try:
        await db.flush()
    except IntegrityError:
        raise Conflict("an identity given already belongs to another customer") from None
