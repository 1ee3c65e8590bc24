"""Merging two customer records into one, and undoing it exactly.

A merge moves the merged customer's identities, notes, conversations, tickets and orders to the survivor,
fills the survivor's blank fields, and keeps the merged record as a tombstone pointing at the survivor.
The snapshot stores every field of both records and the id of every moved row, so undo restores both.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from contact_center.customers.context import CustomerContext
from contact_center.customers.records import get_customer, record_event, refresh_search_keys
from contact_center.db.models import (
    Conversation,
    Customer,
    CustomerIdentity,
    CustomerMerge,
    CustomerNote,
    Order,
    Ticket,
)
from contact_center.errors import Conflict, InvalidInput, NotFound

MOVED_TABLES: dict[str, Any] = {
    "identities": CustomerIdentity,
    "notes": CustomerNote,
    "conversations": Conversation,
    "tickets": Ticket,
    "orders": Order,
}
FILLED_FIELDS = ("given_name", "family_name", "language", "organisation")
RESTORED_FIELDS = (
    "display_name",
    "given_name",
    "family_name",
    "language",
    "organisation",
    "lifecycle_stage",
    "attributes",
    "value_score",
    "value_tier",
    "merged_into_id",
    "created_at",
    "updated_at",
)


async def merge(
    db: AsyncSession,
    ctx: CustomerContext,
    survivor_id: int,
    merged_id: int,
    *,
    actor_id: int | None = None,
    force: bool = False,
) -> CustomerMerge:
    """Merge `merged_id` into `survivor_id`; refuses differing CRM ids unless `force`."""
    if survivor_id == merged_id:
        raise InvalidInput("a customer cannot be merged into itself")
    survivor = await get_customer(db, survivor_id)
    merged = await get_customer(db, merged_id)
    survivor_crm = {i.value for i in survivor.identities if i.kind == "crm"}
    merged_crm = {i.value for i in merged.identities if i.kind == "crm"}
    if survivor_crm and merged_crm and survivor_crm != merged_crm and not force:
        raise Conflict(
            "the two customers have different CRM ids; merge with force=true if they are one person",
            survivor_crm=sorted(survivor_crm),
            merged_crm=sorted(merged_crm),
        )
    snapshot: dict[str, Any] = {"survivor": _fields(survivor), "merged": _fields(merged), "moved": {}}
    for name, model in MOVED_TABLES.items():
        ids = list((await db.execute(select(model.id).where(model.customer_id == merged_id))).scalars())
        snapshot["moved"][name] = ids
        if ids:
            await db.execute(update(model).where(model.id.in_(ids)).values(customer_id=survivor_id))
    now = ctx.clock.now()
    for field in FILLED_FIELDS:
        if not getattr(survivor, field) and getattr(merged, field):
            setattr(survivor, field, getattr(merged, field))
    survivor.attributes = {**(merged.attributes or {}), **(survivor.attributes or {})}
    survivor.updated_at = now
    merged.merged_into_id = survivor_id
    merged.updated_at = now
    await db.flush()
    await refresh_search_keys(db, [survivor, merged])
    record = CustomerMerge(
        survivor_id=survivor_id, merged_id=merged_id, actor_id=actor_id, snapshot=snapshot, created_at=now
    )
    db.add(record)
    await db.flush()
    record_event(db, ctx, survivor_id, "merged", {"merge_id": record.id, "merged_id": merged_id}, actor_id)
    record_event(
        db, ctx, merged_id, "merged_into", {"merge_id": record.id, "survivor_id": survivor_id}, actor_id
    )
    from contact_center.customers import value

    await value.recompute(db, ctx, [survivor_id])
    return record


async def undo_merge(
    db: AsyncSession, ctx: CustomerContext, merge_id: int, *, actor_id: int | None = None
) -> CustomerMerge:
    """Split a merge: moved rows go back, both records get their fields back as they were."""
    record = await db.get(CustomerMerge, merge_id)
    if record is None:
        raise NotFound(f"merge {merge_id} does not exist")
    if record.undone_at is not None:
        raise Conflict(f"merge {merge_id} was already undone")
    survivor = await db.get(Customer, record.survivor_id)
    merged = await db.get(Customer, record.merged_id)
    if survivor is None or merged is None:
        raise NotFound("a customer of this merge no longer exists")
    if survivor.merged_into_id is not None:
        raise Conflict(f"customer {survivor.id} was merged again since; undo that merge first")
    for name, model in MOVED_TABLES.items():
        ids = record.snapshot["moved"].get(name, [])
        if ids:
            await db.execute(
                update(model)
                .where(model.id.in_(ids), model.customer_id == survivor.id)
                .values(customer_id=merged.id)
            )
    _restore(survivor, record.snapshot["survivor"])
    _restore(merged, record.snapshot["merged"])
    record.undone_at = ctx.clock.now()
    record.undone_by_id = actor_id
    await db.flush()
    await refresh_search_keys(db, [survivor, merged])
    record_event(db, ctx, survivor.id, "merge_undone", {"merge_id": record.id}, actor_id)
    record_event(db, ctx, merged.id, "merge_undone", {"merge_id": record.id}, actor_id)
    return record


async def merges_of(db: AsyncSession, customer_id: int) -> list[CustomerMerge]:
    """Merges in which this customer survived or was merged, newest first (merged customers included)."""
    if await db.get(Customer, customer_id) is None:
        raise NotFound(f"customer {customer_id} does not exist")
    query = (
        select(CustomerMerge)
        .where((CustomerMerge.survivor_id == customer_id) | (CustomerMerge.merged_id == customer_id))
        .order_by(CustomerMerge.id.desc())
    )
    return list((await db.execute(query)).scalars())


def _fields(customer: Customer) -> dict[str, Any]:
    values = {name: getattr(customer, name) for name in RESTORED_FIELDS}
    return {k: v.isoformat() if isinstance(v, datetime) else v for k, v in values.items()}


def _restore(customer: Customer, values: dict[str, Any]) -> None:
    for name in RESTORED_FIELDS:
        value = values[name]
        if name in ("created_at", "updated_at"):
            value = datetime.fromisoformat(value)
        setattr(customer, name, value)
