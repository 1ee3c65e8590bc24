"""The reports page in a real browser (Chromium via Playwright): a week of history drawn as charts and
tables, and the CSV behind the page adding up to the totals it shows. The run saves docs/img/reports.png."""

from __future__ import annotations

import csv
import io
import random
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from contact_center.db.models import WrapUpCode
from contact_center.reports.counters import merge, rows_for
from contact_center.reports.store import add_counters, count_wrap_up
from tests.browser.test_chat_widget import (  # noqa: F401  (fixtures)
    browser,
    database_url,
    live,
    live_settings,
    page,
)
from tests.browser.test_tickets import screenshot
from tests.conftest import bearer

UTC_ZONE = ZoneInfo("UTC")
REASONS = [
    ("delivery", "Where is my order", 41),
    ("billing", "Billing question", 23),
    ("defect", "Faulty product", 17),
    ("returns", "Returns", 9),
]


async def seed(server, staff, sessions, clock) -> int:
    """Seven days of contacts on two queues, answered by two people; wrap-up reasons; two tickets."""
    rng = random.Random(7)
    today = clock.now().date()
    offered_total = 0
    async with sessions.begin() as db:
        for days_back in range(7):
            day = today - timedelta(days=days_back)
            for hour in range(8, 19):
                for queue, channel, volume in (
                    ("general", "voice", 9),
                    ("general", "chat", 5),
                    ("sales", "sms", 4),
                ):
                    start = datetime(day.year, day.month, day.day, hour, tzinfo=UTC)
                    offered = rng.randint(volume // 2, volume + 3)
                    abandoned = rng.randint(0, max(1, offered // 6))
                    answered = offered - abandoned
                    in_target = round(answered * rng.uniform(0.7, 0.95))
                    agent = staff["agent"]["id"] if hour % 2 else staff["supervisor"]["id"]
                    answered_increments = {
                        "offered": answered,
                        "answered": answered,
                        "answered_in_target": in_target,
                        "wait_answered_seconds": answered * rng.uniform(8, 30),
                        "handled": answered,
                        "handle_seconds": answered * rng.uniform(150, 320),
                        "rated": answered // 4,
                        "rating_sum": (answered // 4) * rng.choice((4, 5)),
                    }
                    abandoned_increments = {
                        "offered": abandoned,
                        "abandoned": abandoned,
                        "abandoned_in_target": abandoned // 2,
                        "wait_abandoned_seconds": abandoned * 40.0,
                    }
                    changes = rows_for(start, queue, channel, agent, answered_increments, UTC_ZONE)
                    changes += rows_for(start, queue, channel, None, abandoned_increments, UTC_ZONE)
                    await add_counters(db, merge(changes))
                    offered_total += offered
        for code, label, count in REASONS:
            db.add(WrapUpCode(kind="contact_reason", code=code, label=label, position=count))
            for _ in range(count):
                when = clock.now() - timedelta(days=rng.randint(0, 6))
                await count_wrap_up(
                    db,
                    at=when,
                    queue="general",
                    channel="voice",
                    codes={"contact_reason": code},
                    zone=UTC_ZONE,
                )
    admin, supervisor = bearer(staff["admin"]["token"]), bearer(staff["supervisor"]["token"])
    await server.post("/api/queues", json={"name": "sales"}, headers=admin)
    created = await server.post(
        "/api/contacts",
        json={
            "channel": "sms",
            "identities": [["phone", "+14155550199"]],
            "queue": "sales",
            "text": "Broken lid",
        },
        headers=supervisor,
    )
    customer_id = (await created.json())["customer_id"]
    for subject, category in (("Lid broke on day one", "complaint"), ("Copy of invoice", "inquiry")):
        await server.post(
            "/api/tickets",
            json={"customer_id": customer_id, "subject": subject, "category": category},
            headers=supervisor,
        )
    return offered_total + 1  # the SMS contact above is waiting: not offered yet in the figures


async def test_the_reports_page_draws_a_week_and_its_csv_adds_up(live, page, staff, sessions, clock):  # noqa: F811
    from playwright.async_api import expect

    expected_offered = await seed(live, staff, sessions, clock) - 1
    await page.goto(str(live.make_url("/reports")))
    await page.get_by_label("Username").fill(staff["supervisor"]["username"])
    await page.get_by_label("Password").fill(staff["supervisor"]["password"])
    await page.get_by_role("button", name="Sign in").click()
    await expect(page).to_have_url(str(live.make_url("/reports")))
    await expect(page.locator("#app")).to_have_attribute("aria-busy", "false")
    offered = page.locator(".rp-total", has_text="Offered").locator(".rp-total-value")
    await expect(offered).to_have_text(str(expected_offered))
    assert await page.evaluate("Object.keys(window.Chart.instances).length") >= 4
    await expect(page.locator("#agent-table tbody tr")).to_have_count(2)
    await expect(page.locator("#complaint-table tbody tr", has_text="complaint")).to_contain_text("1")
    await expect(page.locator("#staffing-summary")).to_contain_text("agents at once by Erlang C")

    href = await page.locator("#intervals-csv").get_attribute("href")
    answer = await page.request.get(str(live.make_url(href)))
    assert answer.ok and answer.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(await answer.text())))
    assert sum(int(row["offered"]) for row in rows) == expected_offered
    await page.locator("#reasons-chart").scroll_into_view_if_needed()
    await page.evaluate("window.scrollTo(0, 0)")
    await screenshot(page, "reports.png")
