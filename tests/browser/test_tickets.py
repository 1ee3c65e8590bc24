"""The ticket screens in a real browser (Chromium via Playwright) against the whole application on a real
port: a supervisor finds a ticket by its live SLA badge, saves a view, links an article, writes a hostile
note that stays text, escalates and resolves it with reasons.

Without Chromium or Playwright the browser tests are skipped with the reason; with CI=true they fail instead.
The run saves the screenshots the user guide shows (docs/img/tickets-*.png).
"""

from __future__ import annotations

import re
from pathlib import Path

from sqlalchemy import select

from contact_center.db.models import Notification, SlaPolicy, Ticket
from contact_center.web.appkeys import TICKET_TIMERS
from tests.browser.test_chat_widget import (  # noqa: F401  (fixtures)
    browser,
    database_url,
    live,
    live_settings,
    page,
)
from tests.conftest import bearer

IMG = Path(__file__).parents[2] / "docs" / "img"
HOSTILE = "<img src=x onerror=alert(1)>"
ARTICLE = {
    "title": "Kettle switches off before boiling: descaling",
    "body": "If a **kettle** switches off before the water boils, descale it:\n\n"
    "1. Half fill with water and vinegar.\n2. Boil, leave an hour, rinse.\n\n"
    "Still failing? Offer a replacement under warranty.",
    "tags": ["kettle", "boiling"],
}


async def post(server, path: str, body: dict, headers: dict) -> dict:
    response = await server.post(path, json=body, headers=headers)
    assert response.status in (200, 201), await response.text()
    return await response.json()


async def screenshot(tab, name: str) -> None:
    """The page as the user guide shows it: without the passing confirmations and focus rings."""
    await tab.locator(".toast").evaluate_all("nodes => nodes.forEach((node) => node.remove())")
    await tab.evaluate("document.activeElement && document.activeElement.blur()")
    await tab.screenshot(path=str(IMG / name), animations="disabled")


async def seed(server, staff, sessions, clock) -> dict:
    """An SLA policy (first response in an hour, resolution in a working day), an article, and four tickets
    whose badges differ: one breached, one waiting, one in its warning time, and the kettle ticket running."""
    supervisor = bearer(staff["supervisor"]["token"])
    async with sessions.begin() as db:
        db.add(
            SlaPolicy(
                name="Standard",
                position=1,
                first_response_minutes=60,
                resolution_minutes=8 * 60,
                warn_before_minutes=10,
                breach_action="notify",
            )
        )
    await post(server, "/api/knowledge/articles", ARTICLE, bearer(staff["admin"]["token"]))
    ada = await post(server, "/api/customers", {"display_name": "Ada Lovelace"}, supervisor)
    bo = await post(server, "/api/customers", {"display_name": "Bo Chen"}, supervisor)
    timers = server.server.app[TICKET_TIMERS]

    def ticket(customer: dict, subject: str, **fields) -> dict:
        return {"customer_id": customer["id"], "subject": subject, **fields}

    refund = ticket(bo, "Refund for a late delivery", category="complaint")
    refunded = await post(server, "/api/tickets", refund, supervisor)
    async with sessions.begin() as db:  # what the breach below tells the tier's people, for the bell
        db.add(
            Notification(
                user_id=staff["supervisor"]["id"],
                ticket_id=refunded["id"],
                kind="sla_breach",
                channel="console",
                title=f"Ticket T-{refunded['id']} missed its first response target (L1)",
                body=HOSTILE,
                dedupe_key=f"browser-test:{refunded['id']}",
                status="sent",
                created_at=clock.now(),
            )
        )
    clock.advance(minutes=62)
    await timers.run_once()  # the refund ticket misses its first response
    waiting = await post(server, "/api/tickets", ticket(bo, "Wrong colour delivered"), supervisor)
    await post(
        server,
        f"/api/tickets/{waiting['id']}/actions",
        {"action": "wait", "reason": "asked for a photo"},
        supervisor,
    )
    grinder = ticket(ada, "Grinder makes a loud noise", category="repair")
    await post(server, "/api/tickets", grinder, supervisor)
    clock.advance(minutes=52)
    await timers.run_once()  # the grinder ticket is in its last ten minutes
    return await post(
        server,
        "/api/tickets",
        ticket(
            ada,
            "Kettle switches off before boiling",
            description="The kettle clicks off after a few seconds, every time.\nBought in March.",
            category="repair",
            priority="high",
            tags=["kettle"],
        ),
        supervisor,
    )


async def test_a_supervisor_works_a_ticket_from_the_list_to_resolved(
    live,  # noqa: F811
    staff,
    sessions,
    clock,
    page,  # noqa: F811
):
    from playwright.async_api import expect

    kettle = await seed(live, staff, sessions, clock)
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: dialogs.append(dialog.message))

    await page.goto(str(live.make_url("/tickets")))
    await expect(page).to_have_url(str(live.make_url("/login?next=/tickets")))
    await page.get_by_label("Username").fill(staff["supervisor"]["username"])
    await page.get_by_label("Password").fill(staff["supervisor"]["password"])
    await page.get_by_role("button", name="Sign in").click()
    await expect(page).to_have_url(str(live.make_url("/tickets")))

    rows = page.locator(".tk-row")
    await expect(rows).to_have_count(4)
    row = rows.filter(has_text="Kettle switches off before boiling")
    badge = row.locator(".sla")
    await expect(badge).to_have_class("sla sla-running")
    await expect(badge).to_contain_text("Response")
    shown = await badge.inner_text()
    await expect(badge).not_to_have_text(shown, timeout=3000)  # counts down in the browser, no fetch
    await expect(rows.filter(has_text="Refund").locator(".sla")).to_have_class("sla sla-breached")
    await expect(rows.filter(has_text="Wrong colour").locator(".sla")).to_have_class("sla sla-paused")
    await expect(rows.filter(has_text="Grinder").locator(".sla")).to_have_class("sla sla-warning")

    await page.get_by_label("Search subjects").fill("kettle")  # a filter, saved as a view
    await expect(rows).to_have_count(1)
    await page.get_by_role("button", name="Save view").click()
    await page.locator("#view-name").fill("Kettles")
    await page.locator("#view-dialog").get_by_role("button", name="Save view").click()
    await expect(page.locator("#view-select")).to_contain_text("Kettles")
    await page.get_by_label("Search subjects").fill("")
    await expect(rows).to_have_count(4)
    await page.locator("#view-select").select_option(label="Kettles")
    await expect(rows).to_have_count(1)
    await expect(page.get_by_label("Search subjects")).to_have_value("kettle")
    await page.get_by_role("button", name="Delete view").click()
    await page.locator("#confirm-dialog").get_by_role("button", name="Delete").click()
    await expect(page.locator("#view-select option", has_text="Kettles")).to_have_count(0)
    await page.get_by_label("Search subjects").fill("")
    await expect(rows).to_have_count(4)
    await screenshot(page, "tickets-list.png")

    await row.click()
    await expect(page).to_have_url(str(live.make_url(f"/tickets/{kettle['id']}")))
    detail = page.locator("#ticket")
    await expect(detail.locator("#t-subject")).to_have_text("Kettle switches off before boiling")
    await expect(detail.locator("#t-chips .sla")).to_contain_text("First response")
    await expect(detail.locator("#t-description")).to_contain_text("clicks off after a few seconds")

    await detail.locator("#t-suggested").get_by_role("button", name="Link").click()  # knowledge
    linked = detail.locator("#t-linked")
    await expect(linked).to_contain_text("descaling")
    await linked.get_by_role("button", name=ARTICLE["title"], exact=True).click()
    article = page.locator("#article-dialog")
    await expect(article.locator("strong")).to_have_text("kettle")  # the server's HTML, rendered
    await article.get_by_role("button", name="Close").click()
    await linked.get_by_role("button", name="Unlink").click()
    await expect(detail.locator("#t-linked-empty")).to_be_visible()
    await detail.get_by_label("Search the knowledge base").fill("descale")
    await detail.get_by_label("Search the knowledge base").press("Enter")
    await detail.locator("#kb-results").get_by_role("button", name="Link").click()
    await expect(linked).to_contain_text("descaling")

    await detail.get_by_label("Priority").select_option("urgent")
    await detail.get_by_label("Tags").fill("kettle, thermostat")
    await detail.get_by_role("button", name="Save changes").click()
    history = detail.locator("#t-history")
    await expect(history).to_contain_text("priority: high → urgent")

    composer = detail.locator("#composer-text")
    await detail.get_by_text("Reply to customer", exact=True).click()
    await composer.fill("We are sending a new kettle.")
    await detail.get_by_role("button", name="Send reply").click()
    await expect(detail.locator("#composer-error")).to_contain_text("no written conversation")  # a 409

    await detail.get_by_text("Internal note", exact=True).click()
    await composer.fill(HOSTILE)
    await detail.get_by_role("button", name="Add note").click()
    note = history.locator(".ev-note .tk-ev-body")
    await expect(note).to_have_text(HOSTILE)
    assert await page.locator("#t-history img").count() == 0

    await detail.get_by_role("button", name="Escalate…").click()
    reason = page.locator("#reason-dialog")
    await reason.get_by_label("Reason").fill("Thermostat fault: needs a specialist")
    await reason.get_by_role("button", name="Escalate").click()
    await expect(detail.locator("#t-chips")).to_contain_text("L2")
    escalated = history.locator(".act-escalate")
    await expect(escalated).to_contain_text("escalated it to L2")
    await expect(escalated).to_contain_text("Thermostat fault: needs a specialist")
    await expect(detail.locator("#t-escalations")).to_contain_text("L1 → L2")
    await detail.locator("#t-scroll").evaluate("node => node.scrollTop = node.scrollHeight")
    await detail.locator(".tk-side").evaluate("node => node.scrollTop = 0")
    await screenshot(page, "tickets-detail.png")

    await detail.get_by_role("button", name="Resolve…").click()
    await reason.get_by_label("Reason").fill("Replacement kettle sent")
    await reason.get_by_role("button", name="Resolve").click()
    await expect(detail.locator("#t-chips .tk-status")).to_have_text("Resolved")
    await expect(history.locator(".act-resolve")).to_contain_text("Replacement kettle sent")
    await expect(detail.get_by_role("button", name="Reopen…")).to_be_visible()
    await expect(detail.get_by_role("button", name="Resolve…")).to_be_hidden()

    await page.goto(str(live.make_url("/tickets/999")))
    await expect(page.locator("#detail-missing")).to_contain_text("T-999 does not exist")
    await page.goto(str(live.make_url(f"/tickets#T-{kettle['id']}")))  # a link to one ticket
    await expect(detail.locator("#t-subject")).to_have_text("Kettle switches off before boiling")
    await page.locator("#f-status").select_option(label="Resolved")
    await expect(rows).to_have_text([re.compile("Kettle switches off")])
    await page.locator("#f-status").select_option(label="Pending")
    await expect(rows).to_have_text([re.compile("Wrong colour delivered")])
    await rows.first.focus()
    await page.keyboard.press("Enter")  # rows work from the keyboard
    await expect(detail.locator("#t-subject")).to_have_text("Wrong colour delivered")
    await expect(detail.get_by_role("button", name="Resume")).to_be_visible()

    bell = page.locator("#notif-button")
    await expect(page.locator("#notif-count")).to_have_text("1")
    await bell.click()
    item = page.locator("#notif-list .notif-item")
    await expect(item).to_contain_text("missed its first response target")
    await expect(item.locator(".notif-body")).to_have_text(HOSTILE)  # text, never markup
    await item.click()
    await expect(detail.locator("#t-subject")).to_have_text("Refund for a late delivery")
    await expect(page.locator("#notif-count")).to_be_hidden()

    async with sessions() as db:
        stored = await db.get(Ticket, kettle["id"])
        assert stored is not None
        assert (stored.status, stored.tier, stored.priority) == ("resolved", 2, "urgent")
        assert stored.tags == ["kettle", "thermostat"]
        assert (await db.execute(select(Ticket).where(Ticket.status == "pending"))).scalars().one()
    assert dialogs == []


async def test_the_ticket_pages_send_visitors_without_a_session_to_the_login_page(client):
    for path in ("/tickets", "/tickets/42"):
        answer = await client.get(path, allow_redirects=False)
        assert answer.status == 302 and answer.headers["Location"] == f"/login?next={path}"
