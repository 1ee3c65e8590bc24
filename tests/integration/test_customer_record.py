"""The unified customer record on SQLite and PostgreSQL: identities, resolution, history, notes."""

import pytest

from contact_center.customers import records, resolve
from contact_center.customers.schemas import CustomerIn, CustomerPatch, IdentityIn
from contact_center.errors import Conflict, NotFound


def person(name: str, *identities: tuple[str, str], **fields) -> CustomerIn:
    return CustomerIn(
        display_name=name, identities=[IdentityIn(kind=k, value=v) for k, v in identities], **fields
    )


async def test_phone_written_three_ways_finds_the_same_customer(sessions, ctx):
    async with sessions.begin() as db:
        alice = await records.create_customer(db, ctx, person("Alice Smith", ("phone", "+1 (415) 555-0100")))
    async with sessions() as db:
        for raw in ["+1 (415) 555-0100", "415-555-0100", "tel:+14155550100"]:
            found = await records.find_by_identity(db, ctx, "phone", raw)
            assert found is not None and found.id == alice.id, raw


async def test_email_lookup_is_case_insensitive(sessions, ctx):
    async with sessions.begin() as db:
        alice = await records.create_customer(db, ctx, person("Alice", ("email", "alice@example.com")))
    async with sessions() as db:
        found = await records.find_by_identity(db, ctx, "email", "Alice@Example.COM")
    assert found is not None and found.id == alice.id


async def test_two_customers_cannot_share_a_phone_number(sessions, ctx):
    async with sessions.begin() as db:
        await records.create_customer(db, ctx, person("Alice", ("phone", "415-555-0100")))
    with pytest.raises(Conflict):
        async with sessions.begin() as db:
            await records.create_customer(db, ctx, person("Mallory", ("phone", "+14155550100")))
    async with sessions.begin() as db:
        bob = await records.create_customer(db, ctx, person("Bob"))
    with pytest.raises(Conflict):
        async with sessions.begin() as db:
            await records.add_identity(db, ctx, bob.id, IdentityIn(kind="phone", value="tel:+14155550100"))


async def test_adding_the_same_identity_twice_changes_nothing(sessions, ctx):
    async with sessions.begin() as db:
        bob = await records.create_customer(db, ctx, person("Bob"))
    for _ in range(2):
        async with sessions.begin() as db:
            await records.add_identity(db, ctx, bob.id, IdentityIn(kind="email", value="BOB@example.com"))
    async with sessions() as db:
        loaded = await records.get_customer(db, bob.id)
    assert [i.value for i in loaded.identities] == ["bob@example.com"]


async def test_misspelt_name_returns_the_right_person_among_top_candidates(sessions, ctx):
    people = [
        "Katherine Johnson",
        "Catherine Jones",
        "John Smith",
        "Jon Smyth",
        "Maria Garcia",
        "Mario Gracia",
        "Alexander Hamilton",
        "Alexandra Hamlin",
        "Wei Zhang",
        "Priya Patel",
    ]
    async with sessions.begin() as db:
        ids = {name: (await records.create_customer(db, ctx, person(name))).id for name in people}
    async with sessions() as db:
        for typo, meant in [
            ("Katherine Jonson", "Katherine Johnson"),
            ("Jhon Smith", "John Smith"),
            ("Maria Garcai", "Maria Garcia"),
            ("Alexnader Hamilton", "Alexander Hamilton"),
            ("Priya Patell", "Priya Patel"),
        ]:
            result = await resolve.resolve(db, ctx, [], name=typo)
            assert result.customer is None
            top = [c.customer_id for c in result.candidates]
            assert ids[meant] in top[:3], (typo, result.candidates)


async def test_resolution_prefers_exact_identity_and_never_merges_on_conflict(sessions, ctx):
    async with sessions.begin() as db:
        alice = await records.create_customer(db, ctx, person("Alice Smith", ("phone", "4155550100")))
        other = await records.create_customer(db, ctx, person("Alice Smyth", ("email", "alice@example.com")))
    async with sessions() as db:
        exact = await resolve.resolve(
            db, ctx, [IdentityIn(kind="phone", value="+1 415 555 0100")], name="Someone Else"
        )
        assert exact.customer is not None and exact.customer.id == alice.id
        clash = await resolve.resolve(
            db,
            ctx,
            [
                IdentityIn(kind="phone", value="4155550100"),
                IdentityIn(kind="email", value="ALICE@example.com"),
            ],
        )
    assert clash.conflict and clash.customer is None
    assert {c.customer_id for c in clash.candidates} == {alice.id, other.id}


async def test_unusable_identity_is_reported_not_fatal(sessions, ctx):
    async with sessions() as db:
        result = await resolve.resolve(db, ctx, [IdentityIn(kind="phone", value="anonymous")], name="Nobody")
    assert result.customer is None and result.invalid


async def test_updates_are_audited_with_old_and_new_values(sessions, ctx, clock):
    async with sessions.begin() as db:
        bob = await records.create_customer(db, ctx, person("Bob", language="en"))
    clock.advance(minutes=5)
    async with sessions.begin() as db:
        await records.update_customer(
            db, ctx, bob.id, CustomerPatch(language="de", organisation="ACME"), actor_id=None
        )
    async with sessions() as db:
        events = await records.history(db, bob.id)
    assert [e.action for e in events] == ["updated", "created"]
    assert events[0].details["changes"] == {"language": ["en", "de"], "organisation": [None, "ACME"]}


async def test_unknown_customer_is_not_found(sessions, ctx):
    async with sessions() as db:
        with pytest.raises(NotFound):
            await records.get_customer(db, 999)
