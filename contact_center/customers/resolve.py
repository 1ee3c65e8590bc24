"""Resolution: which customer is this contact? Exact identity first, fuzzy candidates otherwise.

Resolution never merges anything: when identities point at different customers it reports the conflict
and lets a person decide.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from contact_center.customers import names
from contact_center.customers.context import CustomerContext
from contact_center.customers.identity import Identity, normalise
from contact_center.customers.schemas import IdentityIn
from contact_center.customers.search import Candidate, fuzzy_name_search
from contact_center.db.models import Customer, CustomerIdentity
from contact_center.errors import InvalidInput

ORGANISATION_BONUS = 5.0


@dataclass
class Resolution:
    """The customer found by an identity (or None), and scored possible duplicates otherwise."""

    customer: Customer | None
    matched_by: list[Identity] = field(default_factory=list)
    candidates: list[Candidate] = field(default_factory=list)
    conflict: bool = False
    invalid: list[str] = field(default_factory=list)


async def resolve(
    db: AsyncSession,
    ctx: CustomerContext,
    identities: list[IdentityIn],
    name: str | None = None,
    organisation: str | None = None,
    limit: int = 5,
) -> Resolution:
    """Find the customer behind a contact; unusable identities are reported, not fatal."""
    normalised: list[Identity] = []
    invalid: list[str] = []
    for item in identities:
        try:
            normalised.append(normalise(item.kind, item.value, ctx.default_region))
        except InvalidInput as exc:
            invalid.append(exc.message)
    owners = await owners_of(db, normalised)
    if len(owners) == 1:
        customer_id, matched = next(iter(owners.items()))
        query = select(Customer).where(Customer.id == customer_id).options(selectinload(Customer.identities))
        customer = (await db.execute(query)).scalar_one()
        return Resolution(customer=customer, matched_by=matched, invalid=invalid)
    if len(owners) > 1:
        people = (
            await db.execute(select(Customer.id, Customer.display_name).where(Customer.id.in_(owners)))
        ).all()
        candidates = [
            Candidate(row.id, row.display_name, 100.0, [f"{i.kind.value} {i.value}" for i in owners[row.id]])
            for row in people
        ]
        return Resolution(customer=None, candidates=candidates, conflict=True, invalid=invalid)
    candidates = await possible_duplicates(db, name or "", organisation=organisation, limit=limit)
    return Resolution(customer=None, candidates=candidates, invalid=invalid)


async def possible_duplicates(
    db: AsyncSession,
    name: str,
    *,
    organisation: str | None = None,
    limit: int = 5,
    exclude: frozenset[int] = frozenset(),
) -> list[Candidate]:
    """Scored candidates by name, nudged up when the organisation also matches (none for a name without a
    letter, such as the phone number a customer who gave no name is shown by)."""
    if not names.is_name(name) or not names.tokens(name):
        return []
    found = await fuzzy_name_search(db, name, limit=max(limit * 3, 10), exclude=exclude)
    if organisation and found:
        orgs = dict(
            (
                await db.execute(
                    select(Customer.id, Customer.organisation).where(
                        Customer.id.in_([c.customer_id for c in found])
                    )
                )
            ).all()
        )
        wanted = names.fold(organisation)
        found = [
            Candidate(
                c.customer_id,
                c.display_name,
                min(100.0, c.score + ORGANISATION_BONUS),
                [*c.reasons, "organisation"],
            )
            if orgs.get(c.customer_id) and names.fold(orgs[c.customer_id]) == wanted
            else c
            for c in found
        ]
        found.sort(key=lambda c: (-c.score, c.customer_id))
    return found[:limit]


async def owners_of(db: AsyncSession, identities: list[Identity]) -> dict[int, list[Identity]]:
    """The customers owning any of these (normalised) identities, each with the identities it owns."""
    if not identities:
        return {}
    pairs = [(i.kind.value, i.value) for i in identities]
    query = select(CustomerIdentity.customer_id, CustomerIdentity.kind, CustomerIdentity.value).where(
        tuple_(CustomerIdentity.kind, CustomerIdentity.value).in_(pairs)
    )
    by_pair = {(i.kind.value, i.value): i for i in identities}
    owners: dict[int, list[Identity]] = {}
    for row in (await db.execute(query)).all():
        owners.setdefault(row.customer_id, []).append(by_pair[(row.kind, row.value)])
    return owners
