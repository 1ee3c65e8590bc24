"""Importing customers and orders from CSV files, on SQLite and PostgreSQL."""

from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from contact_center.customers import records, value
from contact_center.customers.importer import ImportFileError, RejectedRow, import_customers, import_orders
from contact_center.customers.importer.files import PROGRESS_EVERY
from contact_center.customers.schemas import CustomerIn, IdentityIn
from contact_center.db.models import Customer, CustomerEvent, CustomerIdentity, Order
from contact_center.errors import InvalidInput

CUSTOMERS = """\
external_id,display_name,given_name,family_name,email,phone,language,organisation,lifecycle_stage,attr.city
C-1,Alice Smith,Alice,Smith,alice@example.com; Alice.Work@Example.com,+1 415 555 0100,EN,ACME,vip,Paris
C-2,,Bob,Jones,bob@example.com,,fr,,,Lyon
,Carol,,,,(415) 555-0102,,,,
"""


def csv_file(tmp_path, text, name="import.csv", encoding="utf-8"):
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


async def count(sessions, model):
    async with sessions() as db:
        return await db.scalar(select(func.count()).select_from(model))


async def seed(sessions, ctx, name, *identities):
    async with sessions.begin() as db:
        customer = await records.create_customer(
            db,
            ctx,
            CustomerIn(display_name=name, identities=[IdentityIn(kind=k, value=v) for k, v in identities]),
        )
    return customer.id


async def test_good_file_creates_every_customer_with_identities_and_attributes(sessions, ctx, tmp_path):
    report = await import_customers(sessions, ctx, csv_file(tmp_path, CUSTOMERS))

    assert (report.rows_read, report.created, report.updated, report.rejected) == (3, 3, 0, [])
    assert report.committed
    async with sessions() as db:
        alice = await records.find_by_identity(db, ctx, "email", "alice.work@example.com")
        bob = await records.find_by_identity(db, ctx, "crm", "C-2")
        carol = await records.find_by_identity(db, ctx, "phone", "+14155550102")
    assert alice is not None and bob is not None and carol is not None
    assert sorted((i.kind, i.value) for i in alice.identities) == [
        ("crm", "C-1"),
        ("email", "alice.work@example.com"),
        ("email", "alice@example.com"),
        ("phone", "+14155550100"),
    ]
    assert (alice.language, alice.organisation, alice.lifecycle_stage) == ("en", "ACME", "vip")
    assert alice.attributes == {"city": "Paris"}
    assert (bob.display_name, bob.lifecycle_stage) == ("Bob Jones", "customer")
    assert carol.display_name == "Carol"


async def test_bad_rows_roll_back_the_whole_file_and_each_is_reported_by_line(sessions, ctx, tmp_path):
    ann = await seed(sessions, ctx, "Ann", ("crm", "C-9"))
    ben = await seed(sessions, ctx, "Ben", ("email", "ben@example.com"))
    path = csv_file(
        tmp_path,
        "external_id,display_name,email,phone\n"
        "C-1,Good One,good@example.com,\n"
        "C-2,Bad Phone,,12\n"
        "C-3,Bad Email,not-an-email,\n"
        "C-9,Both,ben@example.com,\n"
        "C-4,Good Two,,\n",
    )

    report = await import_customers(sessions, ctx, path)

    assert not report.committed
    assert report.rejected == [
        RejectedRow(3, "phone '12' is not a possible phone number"),
        RejectedRow(4, "email 'not-an-email' is not an email address"),
        RejectedRow(5, f"identities belong to customers {ann} and {ben}"),
    ]
    assert "line 3: phone '12' is not a possible phone number" in report.format().splitlines()
    assert await count(sessions, Customer) == 2
    assert await count(sessions, CustomerIdentity) == 2


async def test_skip_invalid_commits_the_good_rows_and_reports_the_bad(sessions, ctx, tmp_path):
    path = csv_file(tmp_path, "display_name,phone\nGood One,415 555 0100\nBad Phone,12\nGood Two,\n")

    report = await import_customers(sessions, ctx, path, skip_invalid=True)

    assert report.committed
    assert (report.created, [r.line for r in report.rejected]) == (2, [3])
    async with sessions() as db:
        names = sorted((await db.execute(select(Customer.display_name))).scalars())
    assert names == ["Good One", "Good Two"]
    assert await count(sessions, CustomerIdentity) == 1


async def test_importing_the_same_file_twice_changes_nothing_the_second_time(sessions, ctx, tmp_path):
    path = csv_file(tmp_path, CUSTOMERS)
    await import_customers(sessions, ctx, path)
    before = (
        await count(sessions, Customer),
        await count(sessions, CustomerIdentity),
        await count(sessions, CustomerEvent),
    )

    again = await import_customers(sessions, ctx, path)

    assert (again.created, again.updated, again.unchanged, again.rejected) == (0, 0, 3, [])
    assert (
        await count(sessions, Customer),
        await count(sessions, CustomerIdentity),
        await count(sessions, CustomerEvent),
    ) == before


async def test_a_changed_row_updates_only_the_fields_that_changed(sessions, ctx, tmp_path):
    await import_customers(sessions, ctx, csv_file(tmp_path, CUSTOMERS))
    changed = CUSTOMERS.replace("fr,,,Lyon", "fr,Globex,,Lyon")

    report = await import_customers(sessions, ctx, csv_file(tmp_path, changed, "changed.csv"))

    assert (report.created, report.updated, report.unchanged) == (0, 1, 2)
    async with sessions() as db:
        bob = await records.find_by_identity(db, ctx, "email", "bob@example.com")
        assert bob is not None
        last = (await records.history(db, bob.id))[0]
    assert (bob.organisation, bob.attributes) == ("Globex", {"city": "Lyon"})
    assert (last.action, last.details) == ("updated", {"changes": {"organisation": [None, "Globex"]}})


async def test_two_rows_with_one_identity_make_one_customer(sessions, ctx, tmp_path):
    path = csv_file(
        tmp_path, "display_name,email,phone\nAnn,ann@example.com,\nAnn Lee,ANN@example.com,4155550100\n"
    )

    report = await import_customers(sessions, ctx, path)

    assert (report.created, report.updated) == (1, 1)
    async with sessions() as db:
        ann = await records.find_by_identity(db, ctx, "phone", "+14155550100")
    assert ann is not None and ann.display_name == "Ann Lee"
    assert sorted(i.kind for i in ann.identities) == ["email", "phone"]
    assert await count(sessions, Customer) == 1


async def test_rejected_lines_are_physical_lines_of_the_file(sessions, ctx, tmp_path):
    path = csv_file(tmp_path, 'display_name,attr.note\nAnn,"two\nlines"\n\nBen,\n' + "x" * 201 + ",\n")

    report = await import_customers(sessions, ctx, path)

    assert [r.line for r in report.rejected] == [6]
    assert report.rejected[0].reason.startswith("display_name: String should have at most 200 characters")


@pytest.mark.parametrize("header", ["name,emial", "Alice,alice@example.com", "display_name,email,Email"])
async def test_a_bad_header_is_refused_before_anything_is_written(sessions, ctx, tmp_path, header):
    path = csv_file(tmp_path, f"{header}\nAlice,alice@example.com\n")

    with pytest.raises(ImportFileError, match="bad header on line 1") as raised:
        await import_customers(sessions, ctx, path)

    assert isinstance(raised.value, InvalidInput)
    assert await count(sessions, Customer) == 0


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "cannot be read"),
        (b"", "is empty"),
        (b"display_name\nJos\xe9\n", "is not UTF-8 text"),
        (b'display_name\nAnn\n"Ben\nCarol\n', "line 3: not valid CSV"),
        (b"display_name\n" + b"x" * 200_000 + b"\n", "line 2: not valid CSV"),
    ],
)
async def test_an_unreadable_file_is_a_clear_error(sessions, ctx, tmp_path, content, message):
    path = tmp_path / "customers.csv"
    if content is not None:
        path.write_bytes(content)

    with pytest.raises(ImportFileError, match=message):
        await import_customers(sessions, ctx, path)

    assert await count(sessions, Customer) == 0


async def test_a_byte_order_mark_is_accepted(sessions, ctx, tmp_path):
    report = await import_customers(sessions, ctx, csv_file(tmp_path, CUSTOMERS, encoding="utf-8-sig"))

    assert (report.created, report.rejected) == (3, [])


async def test_progress_is_reported_in_steps_that_add_up_to_the_rows_read(sessions, ctx, tmp_path):
    path = csv_file(tmp_path, "display_name\n" + "".join(f"Person {n}\n" for n in range(250)))
    steps: list[int] = []

    report = await import_customers(sessions, ctx, path, progress=steps.append)

    assert sum(steps) == report.rows_read == 250
    assert max(steps) <= PROGRESS_EVERY


ORDERS = """\
order_number,customer,ordered_at,status,currency,total,sku,product_name,quantity,unit_price,serial_number,warranty_ends_on
A-1,alice@example.com,2025-12-20T10:00:00+01:00,,EUR,,ESP-1,Espresso machine,1,300.00,SN-1,2027-12-20
A-1,ALICE@example.com,2025-12-20T10:00:00+01:00,,EUR,,CUP-6,Cups,2,10.50,,
B-1,crm:B7,2025-11-02,shipped,,,GRN-1,Grinder,1,80,,
"""


async def seed_buyers(sessions, ctx):
    return (
        await seed(sessions, ctx, "Alice", ("email", "alice@example.com")),
        await seed(sessions, ctx, "Bob", ("crm", "B7")),
    )


async def test_order_rows_are_grouped_by_order_number_and_value_is_recomputed_once(
    sessions, ctx, tmp_path, monkeypatch
):
    alice, bob = await seed_buyers(sessions, ctx)
    recomputed = []

    async def spy(db, ctx, customer_ids):
        recomputed.append(list(customer_ids))
        await real_recompute(db, ctx, customer_ids)

    real_recompute = value.recompute
    monkeypatch.setattr(value, "recompute", spy)

    report = await import_orders(sessions, ctx, csv_file(tmp_path, ORDERS))

    assert (report.rows_read, report.created, report.rejected, report.committed) == (3, 2, [], True)
    assert recomputed == [sorted([alice, bob])]
    async with sessions() as db:
        stored = {
            o.order_number: o
            for o in (await db.execute(select(Order).options(selectinload(Order.items)))).scalars()
        }
        scores = dict((await db.execute(select(Customer.id, Customer.value_score))).all())
    a1, b1 = stored["A-1"], stored["B-1"]
    assert (a1.customer_id, a1.currency, a1.total_cents, len(a1.items)) == (alice, "EUR", 32100, 2)
    assert a1.items[0].serial_number == "SN-1" and str(a1.items[0].warranty_ends_on) == "2027-12-20"
    assert (b1.customer_id, b1.status, b1.currency, b1.total_cents) == (bob, "shipped", "USD", 8000)
    assert b1.ordered_at == datetime(2025, 11, 2, tzinfo=UTC)
    assert scores[alice] > 0 and scores[bob] > 0


async def test_an_order_number_already_stored_is_unchanged_not_duplicated(sessions, ctx, tmp_path):
    await seed_buyers(sessions, ctx)
    path = csv_file(tmp_path, ORDERS)
    await import_orders(sessions, ctx, path)

    again = await import_orders(sessions, ctx, path)

    assert (again.created, again.unchanged, again.rejected, again.committed) == (0, 2, [], True)
    assert await count(sessions, Order) == 2


async def test_an_unknown_customer_rejects_the_order_line(sessions, ctx, tmp_path):
    await seed_buyers(sessions, ctx)
    path = csv_file(tmp_path, ORDERS.replace("crm:B7", "nobody@example.com"))

    report = await import_orders(sessions, ctx, path)

    assert report.rejected == [RejectedRow(4, "customer 'nobody@example.com' is not known")]
    assert not report.committed
    assert await count(sessions, Order) == 0


async def test_a_bad_item_rejects_its_whole_order_and_no_other(sessions, ctx, tmp_path):
    await seed_buyers(sessions, ctx)
    path = csv_file(tmp_path, ORDERS.replace("2,10.50", "2,-1"))

    report = await import_orders(sessions, ctx, path, skip_invalid=True)

    assert report.rejected[0] == RejectedRow(2, "order A-1 not imported because of line 3")
    assert report.rejected[1].line == 3
    assert report.rejected[1].reason.startswith("unit_price: Input should be greater than or equal to 0")
    async with sessions() as db:
        assert list((await db.execute(select(Order.order_number))).scalars()) == ["B-1"]


async def test_rows_of_one_order_must_agree_on_customer_date_and_currency(sessions, ctx, tmp_path):
    await seed_buyers(sessions, ctx)
    path = csv_file(
        tmp_path,
        ORDERS.replace(
            "ALICE@example.com,2025-12-20T10:00:00+01:00,,EUR", "crm:B7,2025-12-21T10:00:00+01:00,,EUR"
        ),
    )

    report = await import_orders(sessions, ctx, path)

    assert report.rejected == [
        RejectedRow(2, "order A-1 not imported because of line 3"),
        RejectedRow(3, "customer and ordered_at differ from line 2 of the same order"),
    ]
    assert await count(sessions, Order) == 0
