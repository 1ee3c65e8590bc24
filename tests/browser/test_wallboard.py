"""The wallboard in a real browser (Chromium via Playwright) against the whole application on a real port: a
supervisor signs in, a contact queued through the API shows on the board within a second, and its answer
within a second after that. The run saves the screenshot the user guide shows (docs/img/wallboard.png)."""

from __future__ import annotations

from pathlib import Path

from tests.browser.test_chat_widget import (  # noqa: F401  (fixtures)
    browser,
    database_url,
    live,
    live_settings,
    page,
)
from tests.browser.test_tickets import screenshot
from tests.conftest import bearer

IMG = Path(__file__).parents[2] / "docs" / "img"
WITHIN_A_SECOND_MS = 1000
TEAM = [
    ("Grace Hopper", "available"),
    ("Alan Turing", "away"),
    ("Ada Lovelace", "available"),
    ("Edsger Dijkstra", "offline"),
]


async def post(server, path: str, body: dict, headers: dict) -> dict:
    response = await server.post(path, json=body, headers=headers)
    assert response.status in (200, 201), await response.text()
    return await response.json() if response.status != 204 else {}


async def seed(server, staff) -> None:
    """Two more queues, a few colleagues in different states, two contacts waiting in sales."""
    admin, supervisor = bearer(staff["admin"]["token"]), bearer(staff["supervisor"]["token"])
    await post(server, "/api/queues", {"name": "sales", "target_answer_seconds": 30}, admin)
    await post(server, "/api/queues", {"name": "support", "target_service_level": 90}, admin)
    for name, _ in TEAM:
        username = name.split()[0].lower()
        user = {
            "username": username,
            "display_name": name,
            "password": f"{username}-pass-123",
            "role": "agent",
        }
        await post(server, "/api/users", user, admin)
    people = await (await server.get("/api/routing/agents", headers=supervisor)).json()
    ids = {person["display_name"]: person["id"] for person in people}
    for name, state in TEAM:
        if state != "offline":
            body = {"presence": state, **({"reason": "training"} if state == "away" else {})}
            await post(server, f"/api/routing/agents/{ids[name]}/presence", body, supervisor)
    for number in ("+14155550161", "+14155550162"):
        await post(
            server,
            "/api/contacts",
            {
                "channel": "sms",
                "identities": [["phone", number]],
                "queue": "sales",
                "text": "Price of the X200?",
            },
            supervisor,
        )


async def test_the_wallboard_shows_a_contact_queued_and_answered_within_a_second(live, page, staff):  # noqa: F811
    from playwright.async_api import expect

    await seed(live, staff)
    supervisor, agent = bearer(staff["supervisor"]["token"]), bearer(staff["agent"]["token"])
    await page.goto(str(live.make_url("/wallboard")))
    await expect(page).to_have_url(str(live.make_url("/login?next=/wallboard")))
    await page.get_by_label("Username").fill(staff["supervisor"]["username"])
    await page.get_by_label("Password").fill(staff["supervisor"]["password"])
    await page.get_by_role("button", name="Sign in").click()
    await expect(page).to_have_url(str(live.make_url("/wallboard")))
    await expect(page.locator("#link-state")).to_have_text("Live")
    await expect(page.locator('tr[data-key="sales/sms"] .wb-waiting')).to_have_text("2")
    await expect(page.locator(".wb-agent", has_text="Alan Turing")).to_contain_text("Away · training")

    await post(
        live,
        "/api/contacts",
        {"channel": "voice", "identities": [["phone", "+14155550170"]], "queue": "general"},
        supervisor,
    )
    voice_waiting = page.locator('tr[data-key="general/voice"] .wb-waiting')
    await expect(voice_waiting).to_have_text("1", timeout=WITHIN_A_SECOND_MS)
    await expect(page.locator("#tile-waiting")).to_have_text("3", timeout=WITHIN_A_SECOND_MS)

    await post(live, "/api/routing/presence", {"presence": "available"}, agent)
    me = await (await live.get("/api/routing/me", headers=agent)).json()
    await post(live, f"/api/routing/offers/{me['offer']}/accept", {}, agent)
    answered = page.locator('tr[data-key="general/all"] .wb-answered')
    await expect(answered).to_have_text("1", timeout=WITHIN_A_SECOND_MS)
    await expect(voice_waiting).to_have_text("0", timeout=WITHIN_A_SECOND_MS)
    await expect(page.locator(".wb-agent", has_text="Agent").first).to_contain_text("1 contact")

    await page.locator(".wb-agent", has_text="Agent").first.locator("button").click()
    work = page.locator("#agent-work li")
    await expect(work).to_have_count(1)
    await expect(work).to_contain_text("Voice")
    await work.get_by_role("button", name="Read live").click()
    await expect(page.locator("#watch-panel")).to_be_visible()
    await page.keyboard.press("Escape")

    await page.locator(".wb-agent", has_text="Grace Hopper").locator("button").click()
    await page.get_by_label("Whisper to the agent").fill("Sales is busy: please help there next.")
    await page.get_by_role("button", name="Send whisper").click()
    await expect(page.locator(".toast")).to_contain_text("Whispered to Grace Hopper")
    await screenshot(page, "wallboard.png")
