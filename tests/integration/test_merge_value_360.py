"""Merging and unmerging customers, the value model, orders and the screen-pop (customer_360)."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import event, select

from contact_center.customers import merge, orders, records, value
from contact_center.customers.schemas import CustomerIn, IdentityIn, OrderIn, OrderItemIn
from contact_center.customers.view360 import customer_360
from contact_center.db.models import Conversation, Customer, CustomerNote, Order, Ticket
from contact_center.errors import Conflict, NotFound


def person(name, *identities, **fields):
    return CustomerIn(
        display_name=name, identities=[IdentityIn(kind=k, value=v) for k, v in identities], **fields
    )


def an_order(number, when, amount, *, serial=None, warranty=None):
    return OrderIn(
        order_number=number,
        ordered_at=when,
        items=[
            OrderItemIn(
                sku="SKU-1",
                product_name="Espresso machine",
                unit_price=Decimal(amount),
                serial_number=serial,
                warranty_ends_on=warranty,
            )
        ],
    )


async def snapshot(db, customer_id):
    customer = (await db.execute(select(Customer).where(Customer.id == customer_id))).scalar_one()
    fields = {c.name: getattr(customer, c.name) for c in Customer.__table__.columns}
    owned = {}
    for model in (Conversation, Ticket, Order, CustomerNote):
        owned[model.__tablename__] = sorted(
            (await db.execute(select(model.id).where(model.customer_id == customer_id))).scalars()
        )
    identities = sorted((i.kind, i.value) for i in (await records.get_customer(db, customer_id)).identities)
    return fields, owned, identities


async def seed_pair(sessions, ctx, clock):
    async with sessions.begin() as db:
        a = await records.create_customer(
            db, ctx, person("Alice Smith", ("phone", "4155550100"), language="en")
        )
        b = await records.create_customer(
            db,
            ctx,
            person(
                "Alice Smyth",
                ("email", "alice@example.com"),
                organisation="ACME",
                attributes={"city": "Paris"},
            ),
        )
        await orders.create_order(db, ctx, b.id, an_order("A-1", clock.now() - timedelta(days=10), "120.00"))
        await records.add_note(db, ctx, b.id, "Prefers email")
        now = clock.now()
        db.add(
            Conversation(
                customer_id=b.id, channel="email", subject="Hello", started_at=now, last_activity_at=now
            )
        )
        db.add(
            Ticket(customer_id=b.id, subject="Broken", category="complaint", created_at=now, updated_at=now)
        )
    return a.id, b.id


async def test_merge_moves_everything_then_undo_restores_both_exactly(sessions, ctx, clock):
    a, b = await seed_pair(sessions, ctx, clock)
    async with sessions() as db:
        before = (await snapshot(db, a), await snapshot(db, b))
    clock.advance(hours=1)
    async with sessions.begin() as db:
        record = await merge.merge(db, ctx, a, b)
    async with sessions() as db:
        merged_view = await customer_360(db, ctx, a)
        with pytest.raises(NotFound):
            await records.get_customer(db, b)
        assert await records.find_by_identity(db, ctx, "email", "alice@example.com") is not None
    assert {i["value"] for i in merged_view["identities"]} == {"+14155550100", "alice@example.com"}
    assert [o["order_number"] for o in merged_view["orders"]] == ["A-1"]
    assert len(merged_view["open_tickets"]) == 1 and len(merged_view["interactions"]) == 1
    assert merged_view["customer"]["organisation"] == "ACME"
    clock.advance(hours=1)
    async with sessions.begin() as db:
        await merge.undo_merge(db, ctx, record.id)
    async with sessions() as db:
        after = (await snapshot(db, a), await snapshot(db, b))
        survivor_events = [e.action for e in await records.history(db, a)]
    assert after == before
    assert survivor_events[:2] == ["merge_undone", "merged"]


async def test_merge_cannot_be_undone_twice(sessions, ctx, clock):
    a, b = await seed_pair(sessions, ctx, clock)
    async with sessions.begin() as db:
        record = await merge.merge(db, ctx, a, b)
    async with sessions.begin() as db:
        await merge.undo_merge(db, ctx, record.id)
    with pytest.raises(Conflict):
        async with sessions.begin() as db:
            await merge.undo_merge(db, ctx, record.id)


async def test_customers_with_different_crm_ids_merge_only_when_forced(sessions, ctx):
    async with sessions.begin() as db:
        a = await records.create_customer(db, ctx, person("Bob Stone", ("crm", "SF-1")))
        b = await records.create_customer(db, ctx, person("Bob Stone", ("crm", "SF-2")))
    with pytest.raises(Conflict):
        async with sessions.begin() as db:
            await merge.merge(db, ctx, a.id, b.id)
    async with sessions.begin() as db:
        await merge.merge(db, ctx, a.id, b.id, force=True)


async def test_value_tier_rises_with_orders_and_pyramid_sums_revenue(sessions, ctx, clock):
    async with sessions.begin() as db:
        big = await records.create_customer(db, ctx, person("Big Spender"))
        small = await records.create_customer(db, ctx, person("Small Spender"))
    clock.advance(days=800)
    async with sessions.begin() as db:
        for n in range(10):
            await orders.create_order(
                db, ctx, big.id, an_order(f"B-{n}", clock.now() - timedelta(days=n * 30), "400.00")
            )
        await orders.create_order(
            db, ctx, small.id, an_order("S-1", clock.now() - timedelta(days=600), "20.00")
        )
    async with sessions() as db:
        big_row = await records.get_customer(db, big.id)
        small_row = await records.get_customer(db, small.id)
        levels = {level.tier: level for level in await value.pyramid(db, ctx)}
    assert big_row.value_tier == "platinum" and big_row.value_score > small_row.value_score
    assert small_row.value_tier in {"silver", "bronze"}
    assert levels["platinum"].customers == 1 and levels["platinum"].revenue_12m_cents == 10 * 40000
    assert sum(level.customers for level in levels.values()) == 2


async def test_customer_360_shows_warranty_status(sessions, ctx, clock):
    today = clock.now().date()
    async with sessions.begin() as db:
        c = await records.create_customer(db, ctx, person("Wendy Warranty", ("phone", "4155550199")))
        await orders.create_order(
            db,
            ctx,
            c.id,
            an_order("W-1", clock.now(), "99.00", serial="SN1", warranty=today + timedelta(days=200)),
        )
        await orders.create_order(
            db,
            ctx,
            c.id,
            an_order("W-2", clock.now() - timedelta(days=900), "10.00", warranty=date(2020, 1, 1)),
        )
    async with sessions() as db:
        view = await customer_360(db, ctx, c.id)
    statuses = {o["order_number"]: o["items"][0]["warranty"] for o in view["orders"]}
    assert statuses == {"W-1": "active", "W-2": "expired"}
    assert view["orders"][0]["items"][0]["serial_number"] == "SN1"


async def test_customer_360_uses_a_bounded_number_of_queries(sessions, engine, ctx, clock):
    async def count_queries(customer_id):
        statements = []
        listener = lambda *args: statements.append(args[2])  # noqa: E731
        event.listen(engine.sync_engine, "before_cursor_execute", listener)
        try:
            async with sessions() as db:
                await customer_360(db, ctx, customer_id)
        finally:
            event.remove(engine.sync_engine, "before_cursor_execute", listener)
        return len(statements)

    async with sessions.begin() as db:
        small = await records.create_customer(db, ctx, person("Few Things", ("phone", "4155550001")))
        large = await records.create_customer(db, ctx, person("Many Things", ("phone", "4155550002")))
        await orders.create_order(db, ctx, small.id, an_order("F-1", clock.now(), "5.00"))
        for n in range(15):
            await orders.create_order(db, ctx, large.id, an_order(f"M-{n}", clock.now(), "5.00"))
            await records.add_identity(db, ctx, large.id, IdentityIn(kind="email", value=f"m{n}@example.com"))
            await records.add_note(db, ctx, large.id, f"note {n}")
            now = datetime.now(UTC)
            db.add(Conversation(customer_id=large.id, channel="sms", started_at=now, last_activity_at=now))
    assert await count_queries(large.id) == await count_queries(small.id) <= 10


async def test_screen_pops_of_several_customers_are_each_their_own_in_one_set_of_queries(
    sessions, engine, ctx, clock
):
    from contact_center.customers.view360 import Limits, screen_pops

    async with sessions.begin() as db:
        first = await records.create_customer(db, ctx, person("Ann First", ("phone", "4155550011")))
        second = await records.create_customer(db, ctx, person("Bob Second", ("phone", "4155550012")))
        for n in range(4):
            await orders.create_order(
                db, ctx, first.id, an_order(f"A-{n}", clock.now() + timedelta(n), "5.00")
            )
            await records.add_note(db, ctx, first.id, f"note {n} on Ann")
            at = clock.now() + timedelta(minutes=n)
            db.add(Conversation(customer_id=first.id, channel="sms", started_at=at, last_activity_at=at))
        await records.add_note(db, ctx, second.id, "Bob's only note")
        gone = await records.create_customer(db, ctx, person("Merged Away", ("phone", "4155550013")))
        gone.merged_into_id = first.id
    statements = []
    listener = lambda *args: statements.append(args[2])  # noqa: E731
    event.listen(engine.sync_engine, "before_cursor_execute", listener)
    try:
        async with sessions() as db:
            limits = Limits(interactions=3, orders=2, notes=2)
            pops = await screen_pops(db, ctx, [second.id, first.id, gone.id, 999_999, first.id], limits)
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", listener)
    assert set(pops) == {first.id, second.id}  # the merged and the missing are left out
    ann, bob = pops[first.id], pops[second.id]
    assert [o["order_number"] for o in ann["orders"]] == ["A-3", "A-2"]  # each customer's latest, bounded
    assert [n["body"] for n in ann["notes"]] == ["note 3 on Ann", "note 2 on Ann"]
    assert (
        len(ann["interactions"]) == 3
        and ann["interactions"][0]["last_activity_at"] > ann["interactions"][1]["last_activity_at"]
    )
    assert [n["body"] for n in bob["notes"]] == ["Bob's only note"] and bob["orders"] == []
    assert [i["value"] for i in bob["identities"]] == ["+14155550012"]
    assert bob["customer"]["display_name"] == "Bob Second"
    async with sessions() as db:
        assert await customer_360(db, ctx, first.id, limits) == ann
        with pytest.raises(NotFound, match="merged into"):
            await customer_360(db, ctx, gone.id)
    # one query per part for all of them; only the fuzzy search for look-alike names is per customer
    assert len([s for s in statements if "customer_search_keys" not in s]) <= 9
