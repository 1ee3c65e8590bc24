"""Business-hours calendars and SLA policies over HTTP on both databases.

Supervisors read; administrators write (audited); agents get 403 and anonymous callers 401. Bad hours, zones,
holiday countries and unknown categories or calendars are 422; a calendar a policy uses and a policy a
ticket has cannot be deleted (409).
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from contact_center.db.models import BusinessCalendar as CalendarRow
from contact_center.db.models import SlaPolicy, Ticket, TicketCategory
from contact_center.tickets import sla_admin
from contact_center.tickets.calendar import BusinessCalendar
from contact_center.tickets.sla_policy import choose_policy, targets_of
from tests.conftest import bearer

CALENDARS = "/api/business-calendars"
POLICIES = "/api/sla-policies"
OFFICE = {
    "name": "London office",
    "timezone": "Europe/London",
    "hours": {day: [["09:00", "17:00"]] for day in ("mon", "tue", "wed", "thu", "fri")},
    "holidays": ["2026-08-03"],
    "holiday_country": "GB",
    "holiday_subdivision": "ENG",
}


@pytest.fixture
def agent(staff):
    return bearer(staff["agent"]["token"])


@pytest.fixture
def supervisor(staff):
    return bearer(staff["supervisor"]["token"])


@pytest.fixture
def admin(staff):
    return bearer(staff["admin"]["token"])


async def call(client, method, path, headers, body=None, status=200):
    response = await client.request(method, path, headers=headers, json=body)
    assert response.status == status, await response.text()
    return None if status == 204 else await response.json()


async def audit_actions(client, admin, *prefixes: str) -> list[str]:
    entries = reversed(await call(client, "GET", "/api/audit", admin))
    return [e["action"] for e in entries if e["action"].startswith(prefixes)]


# Calendars


async def test_a_calendar_round_trip_normalises_holidays_country_and_hours(client, supervisor, admin):
    created = await call(
        client,
        "POST",
        CALENDARS,
        admin,
        {
            **OFFICE,
            "hours": {"mon": [["13:00", "17:00"], ["09:00", "12:00"]], "sat": []},
            "holidays": ["2026-12-31", "2026-08-03", "2026-12-31"],
            "holiday_country": "gb",
            "holiday_subdivision": "eng",
        },
        status=201,
    )
    assert created["hours"] == {"mon": [["09:00", "12:00"], ["13:00", "17:00"]]}
    assert created["holidays"] == ["2026-08-03", "2026-12-31"]
    assert (created["holiday_country"], created["holiday_subdivision"]) == ("GB", "ENG")
    path = f"{CALENDARS}/{created['id']}"
    assert await call(client, "GET", path, supervisor) == created

    changed = await call(
        client, "PUT", path, admin, {"name": "Night desk", "hours": {"sun": [["00:00", "24:00"]]}}
    )
    assert changed == {
        "id": created["id"],
        "name": "Night desk",
        "timezone": "UTC",
        "hours": {"sun": [["00:00", "24:00"]]},
        "holidays": [],
        "holiday_country": None,
        "holiday_subdivision": None,
    }
    assert await call(client, "GET", CALENDARS, supervisor) == [changed]
    await call(client, "DELETE", path, admin, status=204)
    await call(client, "GET", path, supervisor, status=404)
    assert await audit_actions(client, admin, "business_calendar.") == [
        "business_calendar.created",
        "business_calendar.updated",
        "business_calendar.deleted",
    ]


async def test_calendars_are_listed_by_name(client, supervisor, admin):
    for name in ("Paris", "Berlin", "Chicago"):
        await call(client, "POST", CALENDARS, admin, {**OFFICE, "name": name}, status=201)
    assert [c["name"] for c in await call(client, "GET", CALENDARS, supervisor)] == [
        "Berlin",
        "Chicago",
        "Paris",
    ]


async def test_a_calendar_name_is_taken_once(client, admin):
    first = await call(client, "POST", CALENDARS, admin, OFFICE, status=201)
    other = await call(client, "POST", CALENDARS, admin, {**OFFICE, "name": "Other"}, status=201)
    again = await call(client, "POST", CALENDARS, admin, OFFICE, status=409)
    assert again["error"]["code"] == "conflict" and "London office" in again["error"]["message"]
    await call(client, "PUT", f"{CALENDARS}/{other['id']}", admin, OFFICE, status=409)
    await call(client, "PUT", f"{CALENDARS}/{first['id']}", admin, OFFICE)  # keeping its own name


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        ({"timezone": "Europe/Londres"}, "timezone", "unknown time zone"),
        ({"timezone": "../../etc/passwd"}, "timezone", "unknown time zone"),
        ({"hours": {}}, "hours", "open at some time"),
        ({"hours": {"mon": []}}, "hours", "open at some time"),
        ({"hours": {"mon": [["17:00", "09:00"]]}}, "hours", "start before"),
        ({"hours": {"mon": [["9:00", "17:00"]]}}, "hours", "HH:MM"),
        ({"hours": {"mon": [["09:00", "24:30"]]}}, "hours", "HH:MM"),
        ({"hours": {"mon": [["09:00", "13:00"], ["12:00", "17:00"]]}}, "hours", "overlap"),
        ({"hours": {"monday": [["09:00", "17:00"]]}}, "hours", ""),
        ({"hours": {"mon": [["09:00"]]}}, "hours", ""),
        ({"holidays": ["2026-02-30"]}, "holidays", "YYYY-MM-DD"),
        ({"holidays": ["25/12/2026"]}, "holidays", "YYYY-MM-DD"),
        ({"holidays": ["20261225"]}, "holidays", "YYYY-MM-DD"),
        ({"holiday_country": "XX", "holiday_subdivision": None}, "holiday_country", "no public holidays"),
        ({"holiday_subdivision": "BAV"}, "body", "GB has no subdivision"),
        ({"holiday_country": None}, "body", "needs holiday_country"),
        ({"name": ""}, "name", ""),
        ({"colour": "blue"}, "colour", ""),
    ],
)
async def test_invalid_calendars_are_422_naming_the_field_and_nothing_is_stored(
    client, admin, sessions, change, field, words
):
    problem = await call(client, "POST", CALENDARS, admin, {**OFFICE, **change}, status=422)
    problems = problem["error"]["details"]["problems"]
    assert any(p["field"].split(".")[0] == field and words in p["message"] for p in problems), problems
    async with sessions() as db:
        assert (await db.execute(select(func.count()).select_from(CalendarRow))).scalar_one() == 0


# Policies


async def test_a_policy_round_trip_appends_and_keeps_its_place_unless_moved(client, supervisor, admin):
    calendar = await call(client, "POST", CALENDARS, admin, OFFICE, status=201)
    first = await call(
        client,
        "POST",
        POLICIES,
        admin,
        {
            "name": "Urgent complaints",
            "category": "complaint",
            "priority": "urgent",
            "first_response_minutes": 30,
            "resolution_minutes": 480,
            "calendar_id": calendar["id"],
            "breach_action": "notify",
        },
        status=201,
    )
    assert first == {
        "id": first["id"],
        "name": "Urgent complaints",
        "position": 0,
        "category": "complaint",
        "priority": "urgent",
        "customer_tier": None,
        "first_response_minutes": 30,
        "next_response_minutes": None,
        "resolution_minutes": 480,
        "warn_before_minutes": 30,
        "calendar_id": calendar["id"],
        "breach_action": "notify",
        "active": True,
    }
    second = await call(
        client, "POST", POLICIES, admin, {"name": "Default", "resolution_minutes": 2880}, status=201
    )
    assert second["position"] == 1 and second["breach_action"] == "escalate"
    path = f"{POLICIES}/{first['id']}"
    renamed = await call(client, "PUT", path, admin, {"name": "Complaints", "first_response_minutes": 60})
    assert renamed["position"] == 0 and renamed["category"] is None and renamed["calendar_id"] is None
    moved = await call(
        client, "PUT", path, admin, {"name": "Complaints", "position": 9, "next_response_minutes": 5}
    )
    assert moved["position"] == 9
    assert [p["name"] for p in await call(client, "GET", POLICIES, supervisor)] == ["Default", "Complaints"]
    assert await call(client, "GET", path, supervisor) == moved
    await call(client, "DELETE", path, admin, status=204)
    await call(client, "GET", path, supervisor, status=404)
    assert await audit_actions(client, admin, "sla_policy.") == [
        "sla_policy.created",
        "sla_policy.created",
        "sla_policy.updated",
        "sla_policy.updated",
        "sla_policy.deleted",
    ]


async def test_a_policy_may_name_an_admin_defined_category(client, admin, sessions):
    async with sessions.begin() as db:
        db.add(TicketCategory(code="billing_dispute", label="Billing dispute"))
    body = {"name": "Disputes", "category": "billing_dispute", "resolution_minutes": 600}
    assert (await call(client, "POST", POLICIES, admin, body, status=201))["category"] == "billing_dispute"


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({"name": "No target"}, "at least one of"),
        ({"name": "Zero", "first_response_minutes": 0}, "greater than 0"),
        (
            {"name": "Negative warning", "first_response_minutes": 5, "warn_before_minutes": -1},
            "greater than",
        ),
        ({"name": "Priority", "first_response_minutes": 5, "priority": "critical"}, "low"),
        ({"name": "Action", "first_response_minutes": 5, "breach_action": "page"}, "escalate"),
        ({"name": "", "first_response_minutes": 5}, "at least 1"),
        ({"name": "Category", "first_response_minutes": 5, "category": "no_such"}, "no such ticket category"),
        ({"name": "Calendar", "first_response_minutes": 5, "calendar_id": 999}, "no such business calendar"),
    ],
)
async def test_invalid_policies_are_422_with_a_reason_and_nothing_is_stored(
    client, admin, sessions, body, words
):
    problem = await call(client, "POST", POLICIES, admin, body, status=422)
    error = problem["error"]
    messages = [error["message"], *(p["message"] for p in error.get("details", {}).get("problems", []))]
    assert any(words in message for message in messages), error
    async with sessions() as db:
        assert (await db.execute(select(func.count()).select_from(SlaPolicy))).scalar_one() == 0


async def test_a_calendar_a_policy_uses_cannot_be_deleted_until_the_policy_lets_go(client, admin):
    calendar = await call(client, "POST", CALENDARS, admin, OFFICE, status=201)
    policy = await call(
        client,
        "POST",
        POLICIES,
        admin,
        {
            "name": "Office hours",
            "first_response_minutes": 60,
            "calendar_id": calendar["id"],
            "active": False,
        },
        status=201,
    )
    refused = await call(client, "DELETE", f"{CALENDARS}/{calendar['id']}", admin, status=409)
    assert refused["error"]["code"] == "conflict"
    assert "'Office hours'" in refused["error"]["message"]
    assert refused["error"]["details"]["policy_ids"] == [policy["id"]]
    await call(
        client, "PUT", f"{POLICIES}/{policy['id']}", admin, {"name": "Office hours", "resolution_minutes": 9}
    )
    await call(client, "DELETE", f"{CALENDARS}/{calendar['id']}", admin, status=204)


async def test_a_policy_a_ticket_has_cannot_be_deleted_but_can_be_deactivated(client, admin, sessions, clock):
    policy = await call(
        client, "POST", POLICIES, admin, {"name": "Std", "first_response_minutes": 60}, status=201
    )
    customer = await call(client, "POST", "/api/customers", admin, {"display_name": "Cara"}, status=201)
    async with sessions.begin() as db:
        db.add(
            Ticket(
                customer_id=customer["id"],
                subject="Broken kettle",
                created_at=clock.now(),
                updated_at=clock.now(),
                sla_policy_id=policy["id"],
            )
        )
    refused = await call(client, "DELETE", f"{POLICIES}/{policy['id']}", admin, status=409)
    assert "deactivate" in refused["error"]["message"]
    body = {"name": "Std", "first_response_minutes": 60, "active": False}
    assert not (await call(client, "PUT", f"{POLICIES}/{policy['id']}", admin, body))["active"]


# Authorisation


async def test_supervisors_read_agents_and_anonymous_callers_cannot_and_only_admins_write(
    client, agent, supervisor, admin
):
    calendar = await call(client, "POST", CALENDARS, admin, OFFICE, status=201)
    policy = await call(
        client, "POST", POLICIES, admin, {"name": "Std", "first_response_minutes": 5}, status=201
    )
    for path in (CALENDARS, f"{CALENDARS}/{calendar['id']}", POLICIES, f"{POLICIES}/{policy['id']}"):
        await call(client, "GET", path, supervisor)
        await call(client, "GET", path, agent, status=403)
        await call(client, "GET", path, {}, status=401)
    writes = [
        ("POST", CALENDARS, {**OFFICE, "name": "Second"}),
        ("PUT", f"{CALENDARS}/{calendar['id']}", OFFICE),
        ("DELETE", f"{CALENDARS}/{calendar['id']}", None),
        ("POST", POLICIES, {"name": "Other", "first_response_minutes": 5}),
        ("PUT", f"{POLICIES}/{policy['id']}", {"name": "Other", "first_response_minutes": 5}),
        ("DELETE", f"{POLICIES}/{policy['id']}", None),
    ]
    for method, path, body in writes:
        await call(client, method, path, supervisor, body, status=403)
        await call(client, method, path, agent, body, status=403)
    assert await audit_actions(client, admin, "business_calendar.", "sla_policy.") == [
        "business_calendar.created",
        "sla_policy.created",
    ]


async def test_the_routes_are_in_the_openapi_document(client):
    document = await (await client.get("/api/openapi.json")).json()
    create = document["paths"][CALENDARS]["post"]
    assert create["x-access"] == "admin" and create["tags"] == ["sla"]
    assert create["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/CalendarIn"
    }
    assert set(document["paths"][f"{POLICIES}/{{id}}"]) == {"get", "put", "delete"}
    assert "409" in document["paths"][f"{CALENDARS}/{{id}}"]["delete"]["responses"]


# The stored rows drive the pure helpers


async def test_stored_policies_and_calendars_give_a_tickets_targets_and_due_time(client, admin, sessions):
    calendar = await call(client, "POST", CALENDARS, admin, OFFICE, status=201)
    for body in (
        {"name": "Everything", "resolution_minutes": 2880, "position": 5},
        {
            "name": "Urgent",
            "priority": "urgent",
            "first_response_minutes": 120,
            "calendar_id": calendar["id"],
            "position": 1,
        },
    ):
        await call(client, "POST", POLICIES, admin, body, status=201)
    async with sessions() as db:
        policy = choose_policy(
            await sla_admin.list_policies(db), category="repair", priority="urgent", customer_tier=None
        )
        assert policy is not None and policy.name == "Urgent"
        hours = BusinessCalendar.from_row(await sla_admin.get_calendar(db, policy.calendar_id))
    targets = targets_of(policy)
    # Friday 31 July 2026 16:00 BST; Monday 3 August is a listed holiday: due Tuesday 10:00 BST
    friday = datetime(2026, 7, 31, 15, tzinfo=UTC)
    assert hours.add(friday, targets.first_response) == datetime(2026, 8, 4, 9, tzinfo=UTC)
