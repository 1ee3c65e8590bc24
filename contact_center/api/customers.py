"""The customer record over HTTP: search, create, edit, identities, notes, orders, resolution, merge, 360."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from contact_center.api.common import caller_id, path_id
from contact_center.auth.roles import Access
from contact_center.customers import merge, orders, records, resolve, value
from contact_center.customers.identity import guess_kind
from contact_center.customers.schemas import (
    CustomerIn,
    CustomerPatch,
    IdentityIn,
    MergeIn,
    NoteIn,
    OrderIn,
    ResolveIn,
)
from contact_center.customers.search import fuzzy_name_search
from contact_center.customers.view360 import customer_360, customer_summary, identity_view, order_summary
from contact_center.db.models import Customer
from contact_center.errors import InvalidInput
from contact_center.web.appkeys import CUSTOMERS, EVENTS, SESSIONS
from contact_center.web.endpoints import EndpointTable

api = EndpointTable("customers")


class CustomerQuery(BaseModel):
    """Search text (a phone, an email or a name) and paging."""

    model_config = ConfigDict(extra="forbid")
    q: str | None = Field(default=None, max_length=200)
    limit: int = Field(default=20, ge=1, le=100)
    after_id: int | None = Field(default=None, ge=0, description="Page on: the last id of the previous page.")


def customer_json(customer: Customer) -> dict[str, Any]:
    """A customer with identities."""
    return {
        **customer_summary(customer),
        "identities": [identity_view(i) for i in customer.identities],
    }


@api.get(
    "/api/customers",
    access=Access.AGENT,
    query=CustomerQuery,
    summary="Find customers by phone or email (exact) or by name (fuzzy), or list them",
)
async def list_customers(request: web.Request, query: CustomerQuery) -> dict[str, Any]:
    """Search or page through customers."""
    ctx = request.app[CUSTOMERS]
    async with request.app[SESSIONS]() as db:
        text = (query.q or "").strip()
        if text:
            kind = guess_kind(text)
            if kind is not None:
                try:
                    found = await records.find_by_identity(db, ctx, kind.value, text)
                except InvalidInput:
                    found = None
                if found is not None:
                    return {"items": [customer_json(found)], "match": "identity"}
            candidates = await fuzzy_name_search(db, text, limit=query.limit)
            return {"items": [asdict(c) for c in candidates], "match": "fuzzy"}
        stmt = (
            select(Customer)
            .where(Customer.merged_into_id.is_(None), Customer.id > (query.after_id or 0))
            .options(selectinload(Customer.identities))
            .order_by(Customer.id)
            .limit(query.limit)
        )
        items = [customer_json(c) for c in (await db.execute(stmt)).scalars()]
    next_after = items[-1]["id"] if len(items) == query.limit else None
    return {"items": items, "match": "list", "next_after_id": next_after}


@api.post(
    "/api/customers",
    access=Access.AGENT,
    body=CustomerIn,
    status=201,
    summary="Create a customer",
    responses={409: "An identity already belongs to another customer"},
)
async def create_customer(request: web.Request, body: CustomerIn) -> dict[str, Any]:
    """New customer with identities."""
    ctx = request.app[CUSTOMERS]
    async with request.app[SESSIONS].begin() as db:
        customer = await records.create_customer(db, ctx, body, caller_id(request))
        customer = await records.get_customer(db, customer.id)
    await changed(request, customer.id, "created")
    return customer_json(customer)


@api.get("/api/customers/{id}", access=Access.AGENT, summary="One customer with identities")
async def get_customer(request: web.Request) -> dict[str, Any]:
    """Read one."""
    async with request.app[SESSIONS]() as db:
        return customer_json(await records.get_customer(db, path_id(request)))


async def changed(request: web.Request, customer_id: int, change: str) -> None:
    """Tell every process a customer's name, language or identities changed (caches drop what they kept)."""
    await request.app[EVENTS].publish("customer.changed", {"customer_id": customer_id, "change": change})


@api.patch(
    "/api/customers/{id}", access=Access.AGENT, body=CustomerPatch, summary="Change a customer's fields"
)
async def update_customer(request: web.Request, body: CustomerPatch) -> dict[str, Any]:
    """Edit; the change is recorded in the customer's history."""
    ctx = request.app[CUSTOMERS]
    async with request.app[SESSIONS].begin() as db:
        await records.update_customer(db, ctx, path_id(request), body, caller_id(request))
        customer = await records.get_customer(db, path_id(request))
    await changed(request, customer.id, "updated")
    return customer_json(customer)


@api.get("/api/customers/{id}/360", access=Access.AGENT, summary="Everything the screen-pop shows")
async def get_customer_360(request: web.Request) -> dict[str, Any]:
    """Identities, tier, orders and warranties, interactions, open tickets, notes, possible duplicates."""
    async with request.app[SESSIONS]() as db:
        return await customer_360(db, request.app[CUSTOMERS], path_id(request))


@api.get("/api/customers/{id}/history", access=Access.AGENT, summary="Audit of the customer record")
async def get_history(request: web.Request) -> list[dict[str, Any]]:
    """Who changed what, newest first."""
    async with request.app[SESSIONS]() as db:
        await records.get_customer(db, path_id(request), with_identities=False)
        events = await records.history(db, path_id(request))
    return [
        {
            "id": e.id,
            "action": e.action,
            "actor_id": e.actor_id,
            "details": e.details,
            "created_at": e.created_at.isoformat(),
        }
        for e in events
    ]


@api.post(
    "/api/customers/{id}/identities",
    access=Access.AGENT,
    body=IdentityIn,
    status=201,
    summary="Add an identity",
    responses={409: "The identity belongs to another customer"},
)
async def add_identity(request: web.Request, body: IdentityIn) -> dict[str, Any]:
    """Attach a phone, email, chat id or CRM id (normalised)."""
    async with request.app[SESSIONS].begin() as db:
        row = await records.add_identity(
            db, request.app[CUSTOMERS], path_id(request), body, caller_id(request)
        )
    await changed(request, path_id(request), "identity_added")
    return identity_view(row)


@api.delete(
    "/api/customers/{id}/identities/{identity_id}",
    access=Access.AGENT,
    status=204,
    summary="Remove an identity",
)
async def remove_identity(request: web.Request) -> None:
    """Detach an identity."""
    async with request.app[SESSIONS].begin() as db:
        await records.remove_identity(
            db, request.app[CUSTOMERS], path_id(request), path_id(request, "identity_id"), caller_id(request)
        )
    await changed(request, path_id(request), "identity_removed")


@api.post("/api/customers/{id}/notes", access=Access.AGENT, body=NoteIn, status=201, summary="Add a note")
async def add_note(request: web.Request, body: NoteIn) -> dict[str, Any]:
    """A note from the caller."""
    async with request.app[SESSIONS].begin() as db:
        note = await records.add_note(
            db, request.app[CUSTOMERS], path_id(request), body.body, caller_id(request)
        )
    return {
        "id": note.id,
        "body": note.body,
        "author_id": note.author_id,
        "created_at": note.created_at.isoformat(),
    }


@api.get("/api/customers/{id}/orders", access=Access.AGENT, summary="A customer's orders, newest first")
async def list_orders(request: web.Request) -> list[dict[str, Any]]:
    """Orders with items and warranty status."""
    today = request.app[CUSTOMERS].clock.now().date()
    async with request.app[SESSIONS]() as db:
        return [order_summary(o, today) for o in await orders.list_orders(db, path_id(request))]


@api.post(
    "/api/customers/{id}/orders",
    access=Access.AGENT,
    body=OrderIn,
    status=201,
    summary="Record an order (recomputes the customer's value)",
    responses={409: "The order number exists"},
)
async def create_order(request: web.Request, body: OrderIn) -> dict[str, Any]:
    """Add an order."""
    ctx = request.app[CUSTOMERS]
    async with request.app[SESSIONS].begin() as db:
        order = await orders.create_order(db, ctx, path_id(request), body, caller_id(request))
        order = await orders.get_order(db, order.id)
    return order_summary(order, ctx.clock.now().date())


@api.get("/api/orders/{id}", access=Access.AGENT, summary="One order")
async def get_order(request: web.Request) -> dict[str, Any]:
    """Read an order."""
    async with request.app[SESSIONS]() as db:
        order = await orders.get_order(db, path_id(request))
    return {
        **order_summary(order, request.app[CUSTOMERS].clock.now().date()),
        "customer_id": order.customer_id,
    }


@api.delete(
    "/api/orders/{id}", access=Access.SUPERVISOR, status=204, summary="Remove an order entered by mistake"
)
async def delete_order(request: web.Request) -> None:
    """Delete an order."""
    async with request.app[SESSIONS].begin() as db:
        await orders.delete_order(db, request.app[CUSTOMERS], path_id(request), caller_id(request))


@api.get("/api/customers/{id}/duplicates", access=Access.AGENT, summary="Possible duplicates of a customer")
async def duplicates(request: web.Request) -> list[dict[str, Any]]:
    """Scored candidates by name (and organisation)."""
    async with request.app[SESSIONS]() as db:
        customer = await records.get_customer(db, path_id(request), with_identities=False)
        found = await resolve.possible_duplicates(
            db,
            records.searchable_name(customer),
            organisation=customer.organisation,
            exclude=frozenset({customer.id}),
        )
    return [asdict(c) for c in found]


@api.post(
    "/api/customers/resolve",
    access=Access.AGENT,
    body=ResolveIn,
    summary="Which customer is this? Exact identity match, else scored candidates; never merges",
)
async def resolve_customer(request: web.Request, body: ResolveIn) -> dict[str, Any]:
    """Resolve a contact to a customer."""
    async with request.app[SESSIONS]() as db:
        result = await resolve.resolve(
            db, request.app[CUSTOMERS], body.identities, body.name, body.organisation, body.limit
        )
    return {
        "customer": customer_json(result.customer) if result.customer else None,
        "matched_by": [{"kind": i.kind.value, "value": i.value} for i in result.matched_by],
        "conflict": result.conflict,
        "candidates": [asdict(c) for c in result.candidates],
        "invalid_identities": result.invalid,
    }


@api.post(
    "/api/customers/merge",
    access=Access.AGENT,
    body=MergeIn,
    status=201,
    summary="Merge one customer into another (can be undone)",
    responses={409: "Different CRM ids without force"},
)
async def merge_customers(request: web.Request, body: MergeIn) -> dict[str, Any]:
    """Merge `merged_id` into `survivor_id`."""
    async with request.app[SESSIONS].begin() as db:
        record = await merge.merge(
            db,
            request.app[CUSTOMERS],
            body.survivor_id,
            body.merged_id,
            actor_id=caller_id(request),
            force=body.force,
        )
    await changed(request, body.merged_id, "merged")
    return merge_json(record)


@api.post(
    "/api/merges/{id}/undo",
    access=Access.SUPERVISOR,
    summary="Undo a merge, restoring both customers",
    responses={409: "Already undone, or the survivor was merged again"},
)
async def undo_merge(request: web.Request) -> dict[str, Any]:
    """Split a merge."""
    async with request.app[SESSIONS].begin() as db:
        record = await merge.undo_merge(
            db, request.app[CUSTOMERS], path_id(request), actor_id=caller_id(request)
        )
    await changed(request, record.merged_id, "unmerged")
    return merge_json(record)


@api.get("/api/customers/{id}/merges", access=Access.AGENT, summary="Merges involving a customer")
async def list_merges(request: web.Request) -> list[dict[str, Any]]:
    """Merge history."""
    async with request.app[SESSIONS]() as db:
        return [merge_json(m) for m in await merge.merges_of(db, path_id(request))]


@api.get(
    "/api/value/pyramid", access=Access.SUPERVISOR, summary="Customers and 12-month revenue per value tier"
)
async def value_pyramid(request: web.Request) -> list[dict[str, Any]]:
    """The value pyramid, top tier first."""
    async with request.app[SESSIONS]() as db:
        return [asdict(level) for level in await value.pyramid(db, request.app[CUSTOMERS])]


@api.get("/api/value/model", access=Access.SUPERVISOR, summary="The value model's weights and tiers")
async def value_model(request: web.Request) -> dict[str, Any]:
    """The configured model (CC_VALUE_MODEL)."""
    return request.app[CUSTOMERS].value_model.model_dump()


@api.post("/api/value/recompute", access=Access.ADMIN, summary="Recompute every customer's value now")
async def recompute_values(request: web.Request) -> dict[str, Any]:
    """Recency and tenure move with time; this refreshes every score."""
    async with request.app[SESSIONS].begin() as db:
        count = await value.recompute_all(db, request.app[CUSTOMERS])
    return {"recomputed": count}


def merge_json(record: Any) -> dict[str, Any]:
    """A merge as the API shows it."""
    return {
        "id": record.id,
        "survivor_id": record.survivor_id,
        "merged_id": record.merged_id,
        "actor_id": record.actor_id,
        "created_at": record.created_at.isoformat(),
        "undone_at": record.undone_at.isoformat() if record.undone_at else None,
        "moved": {k: len(v) for k, v in record.snapshot["moved"].items()},
    }
