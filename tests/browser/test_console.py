"""The agent console in a real browser (Chromium via Playwright) against the whole application on a real port,
with Twilio's REST API as the local stand-in and SMS arriving as signed webhooks.

Without Chromium or Playwright the browser tests are skipped with the reason; with CI=true they fail instead.
The run saves the screenshots the user guide shows (docs/img/console-*.png).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from agent_ui.console_pages import console_policy, safe_next
from channels.twilio_webhooks import INBOX
from contact_center.app import create_app
from contact_center.db.models import Conversation, WrapUpCode
from tests.browser.test_chat_widget import (  # noqa: F401  (fixtures)
    browser,
    database_url,
    free_port,
    page,
    serve,
)
from tests.conftest import bearer
from tests.integration.test_chat import settle
from tests.twilio_standin import ACCOUNT_SID, OUR_NUMBER, signature

IMG = Path(__file__).parents[2] / "docs" / "img"
CUSTOMER = "+14155550142"
HOSTILE = "<img src=x onerror=alert(1)>"


@pytest.fixture
def live_settings(twilio_settings):
    """Twilio configured (the stand-in) and the public URL on the real port the app listens on."""
    return twilio_settings.model_copy(update={"public_url": f"http://127.0.0.1:{free_port()}"})


@pytest.fixture
async def live(live_settings, clock):
    """The whole application listening on the port of its public URL."""
    port = int(live_settings.public_url.rsplit(":", 1)[1])
    client = await serve(create_app(live_settings, clock=clock, tick_interval=None), port)
    yield client
    await client.close()


@pytest.fixture
async def known_customer(live, staff, sessions, clock) -> AsyncIterator[dict]:
    """Ada, known by her phone, with two earlier contacts, an order with a product in warranty and a note;
    the agent speaks English; two dispositions and a contact reason exist."""
    admin, agent = bearer(staff["admin"]["token"]), bearer(staff["agent"]["token"])
    patched = await live.patch(
        f"/api/users/{staff['agent']['id']}", json={"languages": ["en"]}, headers=admin
    )
    assert patched.status == 200, await patched.text()
    created = await live.post(
        "/api/customers",
        json={
            "display_name": "Ada Lovelace",
            "given_name": "Ada",
            "family_name": "Lovelace",
            "language": "en",
            "identities": [
                {"kind": "phone", "value": CUSTOMER},
                {"kind": "email", "value": "ada@example.com"},
            ],
        },
        headers=agent,
    )
    assert created.status == 201, await created.text()
    customer = await created.json()
    now = clock.now()
    order = {
        "order_number": "A-1042",
        "ordered_at": (now - timedelta(days=90)).isoformat(),
        "currency": "EUR",
        "items": [
            {
                "sku": "KT-2",
                "product_name": "Kettle Pro 2",
                "unit_price": "79.00",
                "serial_number": "KP2-88121",
                "warranty_ends_on": (now + timedelta(days=640)).date().isoformat(),
            },
        ],
    }
    added = await live.post(f"/api/customers/{customer['id']}/orders", json=order, headers=agent)
    assert added.status == 201, await added.text()
    noted = await live.post(
        f"/api/customers/{customer['id']}/notes", json={"body": "Prefers SMS over calls."}, headers=agent
    )
    assert noted.status == 201, await noted.text()
    canned = {
        "shortcut": "replace",
        "title": "Replacement on its way",
        "body": "Hi {{customer.first_name}}, sorry about the kettle. A replacement ships today.",
    }
    article = {
        "title": "Kettle switches off before boiling: descaling",
        "body": "If a **kettle** switches off early, descale it:\n\n1. Half fill with water and vinegar.\n"
        "2. Boil, leave an hour, rinse.\n\nStill failing? Offer a replacement under warranty.",
        "tags": ["kettle", "boiling", "switches"],
    }
    for path, body in (("/api/canned-replies", canned), ("/api/knowledge/articles", article)):
        made = await live.post(path, json=body, headers=admin)
        assert made.status == 201, await made.text()
    async with sessions.begin() as db:
        for days, channel, subject, snippet in (
            (12, "email", "Kettle switches itself off", "It clicks off before the water boils."),
            (3, "voice", "", "Called about the replacement part; promised an update by SMS."),
        ):
            db.add(
                Conversation(
                    customer_id=customer["id"],
                    channel=channel,
                    status="closed",
                    subject=subject,
                    snippet=snippet,
                    started_at=now - timedelta(days=days),
                    last_activity_at=now - timedelta(days=days),
                    routing_state="done",
                    ended_at=now - timedelta(days=days),
                )
            )
        db.add_all(
            [
                WrapUpCode(kind="disposition", code="resolved", label="Resolved", position=1),
                WrapUpCode(kind="disposition", code="follow_up", label="Needs follow-up", position=2),
                WrapUpCode(kind="contact_reason", code="product_fault", label="Product fault", position=1),
            ]
        )
    yield customer


async def sms_webhook(live, sid: str, body: str) -> None:
    """An SMS from the customer, POSTed and signed as Twilio does for our public URL."""
    public = str(live.make_url("/twilio/sms"))
    form = {"AccountSid": ACCOUNT_SID, "MessageSid": sid, "From": CUSTOMER, "To": OUR_NUMBER, "Body": body}
    response = await live.post(
        "/twilio/sms", data=form, headers={"X-Twilio-Signature": signature(public, form)}
    )
    assert response.status == 200, await response.text()
    await live.server.app[INBOX].settled()


async def settled_until(live, locator, within: float = 8.0) -> None:
    """Let routing and the event bus run (the app's timers are driven by the test) until `locator` shows."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while loop.time() < deadline:
        await settle(live.server.app)
        if await locator.count() and await locator.first.is_visible():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"{locator} did not show")


async def sent_by_twilio(live, twilio, body: str, within: float = 8.0) -> dict:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while loop.time() < deadline:
        await settle(live.server.app)
        for message in twilio.messages():
            if message.get("Body") == body:
                return message
        await asyncio.sleep(0.05)
    raise AssertionError(f"the stand-in did not receive {body!r}: {twilio.messages()}")


async def log_in(page, live, staff) -> None:  # noqa: F811
    from playwright.async_api import expect

    await page.goto(str(live.make_url("/agent")))
    await expect(page).to_have_url(str(live.make_url("/login?next=/agent")))
    await page.get_by_label("Username").fill(staff["agent"]["username"])
    await page.get_by_label("Password").fill(staff["agent"]["password"])
    await page.get_by_role("button", name="Sign in").click()
    await expect(page).to_have_url(str(live.make_url("/agent")))
    await expect(page.locator("#presence-label")).to_have_text("Offline")


async def test_an_sms_rings_with_the_screen_pop_is_answered_and_wrapped_up(
    live,
    twilio,
    staff,
    sessions,
    known_customer,
    page,  # noqa: F811
):
    from playwright.async_api import expect

    dialogs: list[str] = []
    page.on("dialog", lambda dialog: dialogs.append(dialog.message))  # a dialog left open fails the test too
    await log_in(page, live, staff)

    await page.get_by_role("button", name="Offline").click()
    await page.get_by_role("menuitem", name="Available").click()
    await expect(page.locator("#presence-label")).to_have_text("Available")

    await sms_webhook(live, "SM" + "1" * 32, "Hi, my kettle stopped working again")
    offer = page.locator(".offer")
    await settled_until(live, offer)
    await expect(offer.locator(".offer-name")).to_have_text("Ada Lovelace")
    await expect(offer.get_by_role("button", name="Accept")).to_be_visible()
    pop = page.locator("#customer-view")
    await expect(pop.locator(".customer-name")).to_have_text("Ada Lovelace")
    await expect(pop.get_by_text("Kettle switches itself off")).to_be_visible()
    await expect(pop.get_by_text("Called about the replacement part", exact=False)).to_be_visible()
    await expect(pop.get_by_text("In warranty")).to_be_visible()
    await page.screenshot(path=str(IMG / "console-offer.png"), animations="disabled")

    await page.keyboard.press("Alt+a")  # the shortcut accepts
    await expect(offer).to_have_count(0)
    panel = page.locator(".panel:not(.hidden)")
    await expect(panel.locator(".dir-in .body")).to_have_text(["Hi, my kettle stopped working again"])

    await expect(page.locator("#kb-list")).to_contain_text("descaling")  # knowledge for this conversation
    composer = panel.get_by_label("Your reply")
    await composer.press_sequentially("/repl")  # a canned reply by its shortcut, placeholders filled in
    await expect(panel.locator(".slash-item")).to_have_count(1)
    await composer.press("Enter")
    reply = "Hi Ada, sorry about the kettle. A replacement ships today."
    await expect(composer).to_have_value(reply)
    await expect(panel.locator(".sms-count")).to_contain_text("1 segment")
    await composer.press("Enter")
    sent = await sent_by_twilio(live, twilio, reply)
    assert sent["To"] == CUSTOMER
    await expect(panel.locator(".dir-out .body")).to_have_text([reply])

    await sms_webhook(live, "SM" + "2" * 32, HOSTILE)
    hostile = panel.locator(".dir-in .body").last
    await settled_until(live, panel.locator(".dir-in .body", has_text="onerror"))
    await expect(hostile).to_have_text(HOSTILE)
    assert await page.locator("#app img").count() == 0
    await page.screenshot(path=str(IMG / "console-workspace.png"), animations="disabled")

    await panel.get_by_role("button", name="End contact").click()
    await page.locator("#confirm-dialog").get_by_role("button", name="End contact").click()
    wrapup = panel.locator(".wrapup")
    await expect(wrapup).to_be_visible()
    await settle(live.server.app)
    await wrapup.get_by_label("Disposition").select_option("resolved")
    await wrapup.get_by_label("Contact reason").select_option("product_fault")
    await wrapup.get_by_label("Note").fill("Replacement sent; customer happy.")
    await wrapup.get_by_label("Create a ticket or complaint").check()
    await expect(wrapup.locator(".ticket-description")).to_have_value(HOSTILE)  # prefilled: last message
    await wrapup.get_by_label("Create a ticket or complaint").uncheck()
    await page.screenshot(path=str(IMG / "console-wrap-up.png"), animations="disabled")
    await wrapup.get_by_role("button", name="Finish wrap-up").click()
    await settled_until(live, page.locator(".toast", has_text="Wrapped up"))
    await settled_until(live, page.locator("#empty"))

    async with sessions() as db:
        conversation = (
            await db.execute(select(Conversation).where(Conversation.channel == "sms"))
        ).scalar_one()
    assert (conversation.disposition, conversation.contact_reason) == ("resolved", "product_fault")
    assert dialogs == []
    assert await page.evaluate("typeof window.alert") == "function"


async def test_a_contact_transferred_to_a_colleague_rings_for_them_with_the_note(
    live,
    staff,
    known_customer,
    browser,  # noqa: F811
    page,  # noqa: F811
):
    from playwright.async_api import expect

    admin = bearer(staff["admin"]["token"])
    colleague = {"username": "grace", "display_name": "Grace Hopper", "password": "grace-password-1"}
    made = await live.post("/api/users", json={**colleague, "languages": ["en"]}, headers=admin)
    assert made.status == 201, await made.text()
    await log_in(page, live, staff)
    await page.get_by_role("button", name="Offline").click()
    await page.get_by_role("menuitem", name="Available").click()
    await sms_webhook(live, "SM" + "3" * 32, "I would like a refund for the kettle")
    await settled_until(live, page.locator(".offer"))
    await page.keyboard.press("Alt+a")
    panel = page.locator(".panel:not(.hidden)")
    await expect(panel.locator(".dir-in .body")).to_have_text(["I would like a refund for the kettle"])

    context = await browser.new_context(viewport={"width": 1366, "height": 768})
    other = await context.new_page()
    try:
        await log_in(other, live, {"agent": colleague})
        await other.get_by_role("button", name="Offline").click()
        await other.get_by_role("menuitem", name="Available").click()
        await expect(other.locator("#presence-label")).to_have_text("Available")

        await panel.get_by_role("button", name="Transfer").click()
        dialog = page.locator("#transfer-dialog")
        await dialog.get_by_label("An agent").check()
        await dialog.locator("#transfer-agent").select_option(label="Grace Hopper (available)")
        note = "Refunds need a supervisor's OK <b>today</b>"
        await dialog.get_by_label("Note for the next agent").fill(note)
        await dialog.get_by_role("button", name="Transfer").click()
        await settled_until(live, page.locator(".toast", has_text="Transferred Ada Lovelace"))
        await expect(dialog).to_be_hidden()

        offer = other.locator(".offer")
        await settled_until(live, offer)
        await expect(offer.locator(".offer-name")).to_have_text("Ada Lovelace")
        await expect(offer.locator(".offer-transfer")).to_have_text(f"Transferred: {note}")
        assert await offer.locator("b").count() == 0  # the note is text, never markup
        await offer.get_by_role("button", name="Accept").click()
        taken = other.locator(".panel:not(.hidden)")
        await expect(taken.locator(".dir-in .body")).to_have_text(["I would like a refund for the kettle"])
        await settled_until(live, page.locator("#empty"))  # gone from the first agent's workspace
    finally:
        await context.close()


async def test_the_console_sends_visitors_without_a_session_to_the_login_page(client):
    answer = await client.get("/agent", allow_redirects=False)
    assert answer.status == 302 and answer.headers["Location"] == "/login?next=/agent"
    login = await client.get("/login?next=//evil.example/x")
    assert login.status == 200
    assert 'data-next="/agent"' in await login.text()
    assert "script-src" not in login.headers["Content-Security-Policy"]


def test_only_paths_on_this_site_are_followed_after_signing_in():
    assert safe_next("/agent?tab=2") == "/agent?tab=2"
    outside = ("https://evil.example/", "//evil.example", "/\\evil.example", "javascript:alert(1)", "", None)
    for target in outside:
        assert safe_next(target) == "/agent"


def test_twilio_hosts_are_allowed_only_when_twilio_is_configured(settings, twilio_settings):
    assert "twilio" not in console_policy(settings)
    with_twilio = console_policy(twilio_settings)
    assert "connect-src 'self' wss://*.twilio.com" in with_twilio and "media-src 'self'" in with_twilio
    assert "script-src" not in with_twilio  # the Voice SDK is served from here
