"""Interval reports through the whole application: contacts queued, answered and abandoned around midnight
and the spring daylight-saving change in Europe/London; JSON figures hand-computed; CSV adds up the same."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from contact_center.clock import ManualClock
from contact_center.web.appkeys import ROUTING
from tests.conftest import bearer
from tests.integration.test_chat import sockets  # noqa: F401  (a fixture)

COUNTERS = ("offered", "answered", "answered_in_target", "abandoned", "abandoned_after_target", "handled")


@pytest.fixture
def clock() -> ManualClock:
    # Saturday 28 March 2026, 23:50 GMT; at 01:00 UTC on the 29th London moves to BST.
    return ManualClock(datetime(2026, 3, 28, 23, 50, tzinfo=UTC))


@pytest.fixture
def settings(database_url, tmp_path):
    from contact_center.settings import load_settings

    return load_settings(
        database_url=database_url,
        data_dir=tmp_path / "data",
        secret_key="test-secret-key",
        public_url="http://testserver",
        timezone="Europe/London",
    )


async def contact(client, headers, number: str) -> dict:
    created = await client.post(
        "/api/contacts",
        headers=headers,
        json={
            "channel": "voice",
            "identities": [["phone", number]],
            "queue": "general",
            "external_id": number,
        },
    )
    assert created.status == 201, await created.text()
    return await created.json()


async def presence(client, headers, value: str, reason: str | None = None) -> dict:
    body = {"presence": value, **({"reason": reason} if reason else {})}
    assert (await client.post("/api/routing/presence", json=body, headers=headers)).status == 200
    return await (await client.get("/api/routing/me", headers=headers)).json()


async def answer_and_finish(client, agent, clock, task_id: str, *, wait: float, talk: float, wrap: float):
    me = await (await client.get("/api/routing/me", headers=agent)).json()
    clock.advance(seconds=wait)
    accepted = await client.post(f"/api/routing/offers/{me['offer']}/accept", headers=agent)
    assert accepted.status == 200, (me, await accepted.text())
    clock.advance(seconds=talk)
    assert (await client.post(f"/api/routing/tasks/{task_id}/complete", headers=agent)).status == 204
    clock.advance(seconds=wrap)
    assert (await client.post(f"/api/routing/tasks/{task_id}/wrap-up-done", headers=agent)).status == 204


@pytest.fixture
async def history(client, staff, clock):
    """Four voice contacts in queue general (target 20 s):
    A 28 Mar 23:50:00 waits 12 s (in target), talk 100 + wrap 10: handled 23:51:52, 110 s;
    B 28 Mar 23:59:50 waits 30 s (late), answered 00:00:20 on the 29th, handled 00:01:30 (70 s);
    C 29 Mar 01:20 UTC (02:20 BST) abandons after 45 s (after the target);
    D 29 Mar 01:25 UTC abandons after 5 s (a short abandon)."""
    agent, supervisor = bearer(staff["agent"]["token"]), bearer(staff["supervisor"]["token"])
    routing = client.server.app[ROUTING]
    await presence(client, agent, "available")
    first = await contact(client, supervisor, "+14155550101")
    await answer_and_finish(client, agent, clock, first["task_id"], wait=12, talk=100, wrap=10)
    await presence(client, agent, "away", "meeting")
    clock.advance(seconds=9 * 60 + 50 - 122)  # 23:59:50
    second = await contact(client, supervisor, "+14155550102")
    clock.advance(seconds=25)  # B waits with nobody ready, then rings for 5 s
    await presence(client, agent, "available")
    await answer_and_finish(client, agent, clock, second["task_id"], wait=5, talk=60, wrap=10)
    await presence(client, agent, "away", "lunch")
    clock.advance(seconds=(datetime(2026, 3, 29, 1, 20, tzinfo=UTC) - clock.now()).total_seconds())
    third = await contact(client, supervisor, "+14155550103")
    clock.advance(seconds=45)
    await routing.cancel(third["task_id"], "caller hung up")
    clock.advance(seconds=(datetime(2026, 3, 29, 1, 25, tzinfo=UTC) - clock.now()).total_seconds())
    fourth = await contact(client, supervisor, "+14155550104")
    clock.advance(seconds=5)
    await routing.cancel(fourth["task_id"], "caller hung up")
    await routing.flush()
    return supervisor


async def report(client, headers, **query) -> dict:
    response = await client.get("/api/reports/intervals", params=query, headers=headers)
    assert response.status == 200, await response.text()
    return await response.json()


async def test_day_report_attributes_each_contact_to_the_local_day_it_arrived(client, history):
    data = await report(client, history, **{"from": "2026-03-28", "to": "2026-03-29", "grain": "day"})
    saturday, sunday = data["rows"]
    assert saturday["start"] == "2026-03-28T00:00:00+00:00" and sunday["start"] == "2026-03-29T00:00:00+00:00"
    assert {k: saturday[k] for k in COUNTERS} == {
        "offered": 2,
        "answered": 2,
        "answered_in_target": 1,
        "abandoned": 0,
        "abandoned_after_target": 0,
        "handled": 1,
    }
    assert saturday["service_level"] == 0.5 and saturday["average_speed_of_answer"] == 21.0
    assert saturday["average_handle_time"] == 110.0  # B's handle time ended on Sunday
    assert {k: sunday[k] for k in COUNTERS} == {
        "offered": 2,
        "answered": 0,
        "answered_in_target": 0,
        "abandoned": 2,
        "abandoned_after_target": 1,
        "handled": 1,
    }
    assert (
        sunday["service_level"] == 0.0
        and sunday["abandon_rate"] == 1.0
        and sunday["average_handle_time"] == 70.0
    )
    totals = data["totals"]
    assert (totals["offered"], totals["answered"], totals["abandoned"]) == (4, 2, 2)
    assert totals["service_level"] == pytest.approx(1 / 3, abs=1e-4)
    assert totals["average_handle_time"] == 90.0


async def test_hour_rows_on_the_23_hour_day_are_labelled_in_local_time(client, history):
    data = await report(client, history, **{"from": "2026-03-29", "to": "2026-03-29", "grain": "hour"})
    assert [(row["start"], row["offered"], row["handled"]) for row in data["rows"]] == [
        ("2026-03-29T00:00:00+00:00", 0, 1),  # B's wrap-up ended at 00:01:30 GMT
        ("2026-03-29T02:00:00+01:00", 2, 0),  # C and D arrived at 02:20 and 02:25 BST
    ]


async def test_agent_rows_split_answered_work_from_the_abandons(client, history, staff):
    data = await report(
        client, history, **{"from": "2026-03-28", "to": "2026-03-29", "by": "agent", "grain": "week"}
    )
    [row] = data["rows"]  # abandons have no agent: only the agent's work is here
    assert (row["agent"], row["agent_id"]) == ("Agent", staff["agent"]["id"])
    assert (row["answered"], row["handled"], row["answered_in_target"]) == (2, 2, 1)
    assert row["average_speed_of_answer"] == 21.0 and row["average_handle_time"] == 90.0
    assert row["start"] == "2026-03-23T00:00:00+00:00"  # the week's Monday
    refused = await client.get(
        "/api/reports/intervals",
        params={"from": "2026-03-28", "to": "2026-03-29", "by": "agent,queue"},
        headers=history,
    )
    assert refused.status == 422 and "agent" in (await refused.json())["error"]["message"]


@pytest.mark.parametrize("grain", ["15m", "hour", "day", "week"])
async def test_csv_exports_parse_and_add_up_to_the_page_totals(client, history, grain):
    query = {"from": "2026-03-28", "to": "2026-03-29", "grain": grain, "by": "queue,channel"}
    page = await report(client, history, **query)
    response = await client.get("/api/reports/intervals", params={**query, "format": "csv"}, headers=history)
    assert response.status == 200 and response.content_type == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(await response.text())))
    assert len(rows) == len(page["rows"])
    for name in (*COUNTERS, "fell_back", "transfers"):
        assert sum(int(row[name]) for row in rows) == page["totals"][name], name


async def test_reports_are_for_supervisors_and_refuse_ranges_they_cannot_answer_quickly(client, staff):
    agent, supervisor = bearer(staff["agent"]["token"]), bearer(staff["supervisor"]["token"])
    query = {"from": "2026-01-01", "to": "2026-01-31"}
    assert (await client.get("/api/reports/intervals", params=query, headers=agent)).status == 403
    assert (await client.get("/api/reports/intervals", params=query)).status == 401
    too_long = {"from": "2026-01-01", "to": "2026-06-30", "grain": "15m"}
    refused = await client.get("/api/reports/intervals", params=too_long, headers=supervisor)
    assert refused.status == 422 and "at most 62 days" in (await refused.json())["error"]["message"]
    backwards = await client.get(
        "/api/reports/intervals", params={"from": "2026-02-01", "to": "2026-01-01"}, headers=supervisor
    )
    assert backwards.status == 422
    unknown = await client.get("/api/reports/intervals", params={**query, "by": "colour"}, headers=supervisor)
    assert unknown.status == 422


# --- contact reasons, complaints, the raw export, staffing ------------------------------------------------


async def test_contact_reasons_count_each_wrap_up_once_even_when_corrected(client, staff, sessions, sockets):  # noqa: F811
    from contact_center.db.models import WrapUpCode

    async with sessions.begin() as db:
        db.add_all(
            [
                WrapUpCode(kind="disposition", code="resolved", label="Resolved", position=1),
                WrapUpCode(kind="contact_reason", code="delivery", label="Where is my order", position=1),
                WrapUpCode(kind="contact_reason", code="billing", label="Billing question", position=2),
            ]
        )
    agent, supervisor = bearer(staff["agent"]["token"]), bearer(staff["supervisor"]["token"])
    console = await sockets(client, "/agent", auth={"token": staff["agent"]["token"]})
    await presence(client, agent, "available")
    contact_ = await contact(client, supervisor, "+14155550191")
    me = await (await client.get("/api/routing/me", headers=agent)).json()
    assert (await client.post(f"/api/routing/offers/{me['offer']}/accept", headers=agent)).status == 200
    assert (
        await client.post(f"/api/routing/tasks/{contact_['task_id']}/complete", headers=agent)
    ).status == 204
    form = {"task_id": contact_["task_id"], "disposition": "resolved", "reason": "delivery"}
    assert (await console.call("wrapup:submit", form))["ok"]
    corrected = await console.call("wrapup:submit", {**form, "reason": "billing"})
    assert corrected["ok"], corrected
    day = "2026-03-28"
    data = await (
        await client.get("/api/reports/reasons", params={"from": day, "to": day}, headers=supervisor)
    ).json()
    assert data["totals"] == [
        {"kind": "contact_reason", "code": "billing", "label": "Billing question", "contacts": 1},
        {"kind": "disposition", "code": "resolved", "label": "Resolved", "contacts": 1},
    ]
    csv_answer = await client.get(
        "/api/reports/reasons", params={"from": day, "to": day, "format": "csv"}, headers=supervisor
    )
    rows = list(csv.DictReader(io.StringIO(await csv_answer.text())))
    assert sum(int(row["contacts"]) for row in rows) == 2


async def test_complaints_by_category_with_escalation_and_resolution(client, staff, clock):
    supervisor = bearer(staff["supervisor"]["token"])
    customer = await contact(client, supervisor, "+14155550192")
    tickets = []
    for subject, category in (
        ("Broken kettle", "complaint"),
        ("Rude agent", "complaint"),
        ("Invoice copy", "inquiry"),
    ):
        created = await client.post(
            "/api/tickets",
            json={"customer_id": customer["customer_id"], "subject": subject, "category": category},
            headers=supervisor,
        )
        assert created.status == 201, await created.text()
        tickets.append(await created.json())
    escalated = await client.post(
        f"/api/tickets/{tickets[0]['id']}/escalate", json={"reason": "angry"}, headers=supervisor
    )
    assert escalated.status == 200, await escalated.text()
    clock.advance(seconds=3 * 3600)
    resolved = await client.post(
        f"/api/tickets/{tickets[1]['id']}/actions",
        json={"action": "resolve", "reason": "apologised"},
        headers=supervisor,
    )
    assert resolved.status == 200, await resolved.text()
    data = await (
        await client.get(
            "/api/reports/complaints", params={"from": "2026-03-28", "to": "2026-03-29"}, headers=supervisor
        )
    ).json()
    rows = {row["category"]: row for row in data["rows"]}
    assert (rows["complaint"]["opened"], rows["complaint"]["escalated"], rows["complaint"]["resolved"]) == (
        2,
        1,
        1,
    )
    assert (
        rows["complaint"]["escalation_rate"] == 0.5 and rows["complaint"]["average_hours_to_resolve"] == 3.0
    )
    assert (rows["inquiry"]["opened"], rows["inquiry"]["resolved"]) == (1, 0)
    exported = await client.get(
        "/api/reports/complaints",
        params={"from": "2026-03-28", "to": "2026-03-29", "format": "csv"},
        headers=supervisor,
    )
    assert sum(int(row["opened"]) for row in csv.DictReader(io.StringIO(await exported.text()))) == 3


async def test_the_raw_export_has_one_row_per_conversation_as_csv_and_as_json_pages(client, history):
    query = {"from": "2026-03-28", "to": "2026-03-29"}
    exported = await client.get(
        "/api/reports/conversations", params={**query, "format": "csv"}, headers=history
    )
    assert exported.status == 200 and "attachment" in exported.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(await exported.text())))
    assert len(rows) == 4 and [row["queue"] for row in rows] == ["general"] * 4
    assert [row["routing_state"] for row in rows] == ["done", "done", "abandoned", "abandoned"]
    assert [float(row["wait_seconds"]) for row in rows] == [12.0, 30.0, 45.0, 5.0]
    first = await (
        await client.get("/api/reports/conversations", params={**query, "limit": 3}, headers=history)
    ).json()
    assert len(first["rows"]) == 3 and first["next_after_id"] == first["rows"][-1]["id"]
    rest = await (
        await client.get(
            "/api/reports/conversations",
            params={**query, "limit": 3, "after_id": first["next_after_id"]},
            headers=history,
        )
    ).json()
    assert len(rest["rows"]) == 1 and rest["next_after_id"] is None


async def test_staffing_forecasts_from_the_same_weekday_of_past_weeks(client, staff, sessions):
    from contact_center.reports.counters import CounterKey
    from contact_center.reports.store import add_counters
    from routing.erlang import staffing

    supervisor = bearer(staff["supervisor"]["token"])
    # Four past Mondays at 09:00 London (BST after 29 March): 8, 12, 10, 10 contacts, 200 s handle time.
    london = ZoneInfo("Europe/London")
    async with sessions.begin() as db:
        for weeks_back, offered in zip((1, 2, 3, 4), (8, 12, 10, 10), strict=True):
            day = date(2026, 4, 13) - timedelta(weeks=weeks_back)
            start = datetime(day.year, day.month, day.day, 9, tzinfo=london).astimezone(UTC)
            key = CounterKey(start, "general", "voice", 0, day)
            await add_counters(
                db, {key: {"offered": offered, "handled": offered, "handle_seconds": 200.0 * offered}}
            )
    answer = await client.get(
        "/api/reports/staffing", params={"queue": "general", "day": "2026-04-13"}, headers=supervisor
    )
    assert answer.status == 200, await answer.text()
    data = await answer.json()
    assert data["weeks"] == ["2026-04-06", "2026-03-30", "2026-03-23", "2026-03-16"]
    assert len(data["rows"]) == 96
    nine = next(row for row in data["rows"] if row["start"] == "2026-04-13T09:00:00+01:00")
    assert nine["contacts"] == 10.0 and nine["aht_seconds"] == 200.0
    expected = staffing(40.0, 200.0, 0.8, 20.0)  # 10 per 15 minutes, the default queue's 80% in 20 s
    assert nine["agents_erlang_c"] == expected.agents
    quiet = next(row for row in data["rows"] if row["start"] == "2026-04-13T03:00:00+01:00")
    assert (quiet["contacts"], quiet["agents_erlang_c"]) == (0.0, 0)
    assert data["totals"]["contacts"] == 10.0 and data["patience_seconds"] is None
    missing = await client.get(
        "/api/reports/staffing", params={"queue": "nope", "day": "2026-04-13"}, headers=supervisor
    )
    assert missing.status == 404
