"""The customers' chat widget in a real browser (Chromium via Playwright) against the whole application on a
real port, with agents as real socket.io clients on /agent.

Without Chromium or Playwright these tests are skipped with the reason; with CI=true they fail instead.
"""

from __future__ import annotations

import asyncio
import importlib.util
import re
import shutil
import socket
import struct
import zlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from contact_center.app import create_app
from contact_center.web.appkeys import CLOCK
from tests.conftest import bearer
from tests.integration.test_chat import Socket, accept, agent_ready, settle
from tests.services import require

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOT = Path(__file__).parents[2] / "docs" / "img" / "chat-widget.png"
HOSTILE = "<b>bold</b><script>window.hacked=1</script>"
TIMEOUT_MS = 5000


def png(width: int, height: int) -> bytes:
    """A real PNG (a blue-to-violet gradient), so the browser can decode and measure it."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(
        b"\x00" + b"".join(bytes((47 + 75 * x // width, 111 - 35 * x // width, 237)) for x in range(width))
        for _ in range(height)
    )
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    body = chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")
    return b"\x89PNG\r\n\x1a\n" + body


def chromium_problem() -> str | None:
    """None when Playwright and Debian's Chromium are installed, else what is missing."""
    if importlib.util.find_spec("playwright") is None:
        return "Playwright for Python is not installed (pip install -e '.[dev]')"
    if not CHROMIUM.exists():
        return f"{CHROMIUM} is missing (apt-get install chromium)"
    return None


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def database_url(tmp_path: Path, sqlite_template: Path) -> str:
    """The widget's tests run on SQLite only: the chat's storage is tested on both databases elsewhere."""
    path = tmp_path / "cc.db"
    shutil.copy(sqlite_template, path)
    return f"sqlite+aiosqlite:///{path}"


async def serve(app: web.Application, port: int) -> TestClient:
    client = TestClient(TestServer(app, host="127.0.0.1", port=port))
    await client.start_server()
    return client


@pytest.fixture
def live_settings(settings):
    """Settings whose public URL is the real port the app listens on (the socket Origin check needs it),
    with a website on another origin allowed to frame the chat."""
    port = free_port()
    return settings.model_copy(
        update={
            "public_url": f"http://127.0.0.1:{port}",
            "chat_embed_origins": f"http://localhost:{free_port()}",
        }
    )


@pytest.fixture
async def live(live_settings, clock) -> AsyncIterator[TestClient]:
    """The whole application listening on the port of its public URL."""
    port = int(live_settings.public_url.rsplit(":", 1)[1])
    client = await serve(create_app(live_settings, clock=clock, tick_interval=None), port)
    yield client
    await client.close()


@pytest.fixture
async def browser():
    """Chromium, launched from Debian's package (no browser downloads here)."""
    require(chromium_problem())
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        yield chromium
        await chromium.close()


@pytest.fixture
async def page(browser):
    """A fresh browser context (its own localStorage) at laptop size, failing on any page error."""
    context = await browser.new_context(viewport={"width": 1366, "height": 768})
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.set_default_timeout(TIMEOUT_MS)
    yield page
    await context.close()
    assert not errors, errors


@pytest.fixture
async def agent_socket(live, staff) -> AsyncIterator[Socket]:
    """The agent's console as a real socket.io client on /agent (logged in with an API token)."""
    agent = await Socket("/agent").connect(live, auth={"token": staff["agent"]["token"]})
    yield agent
    await agent.close()


async def start_chat(page, live, text: str = "Hello, my parcel has not arrived") -> None:
    from playwright.async_api import expect

    await page.goto(str(live.make_url("/chat")))
    form = page.locator("#prechat-form")
    await form.get_by_label("Your name").fill("Alice Martin")
    await form.get_by_label("Email").fill("alice@example.com")
    await form.get_by_label("Topic").select_option("Billing")
    await form.get_by_label("How can we help?").fill(text)
    await form.get_by_role("button", name="Start chat").click()
    await expect(page.locator(".from-customer .bubble")).to_have_text([text])


async def agent_takes_the_chat(live, staff) -> None:
    await settle(live.server.app)
    await accept(live, staff)
    await settle(live.server.app)


async def send_from_composer(page, text: str) -> None:
    box = page.locator("#composer").get_by_label("Your message")
    await box.fill(text)
    await box.press("Enter")


async def conversation_id_of(agent: Socket, text: str) -> int:
    """The conversation of the message the agent's console received with this text."""
    for _ in range(200):
        for message in agent.received["chat:message"]:
            if message["text"] == text:
                return message["conversation_id"]
        await asyncio.sleep(0.01)
    raise AssertionError(f"the agent did not get {text!r}: {agent.received['chat:message']}")


async def test_a_customer_chats_with_an_agent_who_answers(live, staff, page, agent_socket):
    from playwright.async_api import expect

    await agent_ready(live, staff)
    await start_chat(page, live)
    await agent_takes_the_chat(live, staff)
    await expect(page.locator(".note")).to_have_text(["Agent joined the chat"])
    await expect(page.locator("#status")).to_have_text("Chatting with Agent")

    await send_from_composer(page, "Order 1234, placed on Monday")
    await settle(live.server.app)
    conversation_id = await conversation_id_of(agent_socket, "Order 1234, placed on Monday")
    typing = {"conversation_id": conversation_id, "typing": True}
    assert (await agent_socket.call("chat:typing", typing))["ok"]
    await expect(page.get_by_text("Agent is typing")).to_be_visible()
    answer = {"conversation_id": conversation_id, "text": "Thanks Alice, it leaves our warehouse today."}
    assert (await agent_socket.call("chat:send", answer))["ok"]

    await expect(page.locator(".from-agent .bubble")).to_have_text([answer["text"]])
    await expect(page.get_by_text("Agent is typing")).to_be_hidden()
    await settle(live.server.app)
    reads = await agent_socket.wait_for("chat:read")  # the customer saw the answer
    assert reads[-1]["message_id"] > 0

    typed_before = len(agent_socket.received["chat:typing"])
    await page.locator("#composer").get_by_label("Your message").press_sequentially("Great")
    await settle(live.server.app)
    assert (await agent_socket.wait_for("chat:typing", typed_before + 1))[-1]["typing"] is True
    customer_ids = [m["id"] for m in agent_socket.received["chat:message"] if m["author"] == "customer"]
    read = {"conversation_id": conversation_id, "message_id": max(customer_ids)}
    assert (await agent_socket.call("chat:read", read))["ok"]
    await expect(page.locator(".from-customer.seen")).to_have_count(1)
    await expect(page.locator(".from-customer").last).to_have_class("message from-customer seen")
    await expect(page.locator(".from-customer .bubble")).to_have_count(2)  # each message once
    await page.locator(".chat").screenshot(path=str(SCREENSHOT))


async def test_html_and_script_in_messages_show_as_text_on_both_sides(live, staff, page, agent_socket):
    from playwright.async_api import expect

    await agent_ready(live, staff)
    await start_chat(page, live)
    await agent_takes_the_chat(live, staff)
    await send_from_composer(page, HOSTILE)
    await settle(live.server.app)
    conversation_id = await conversation_id_of(agent_socket, HOSTILE)  # the agent gets it as it was typed
    assert (await agent_socket.call("chat:send", {"conversation_id": conversation_id, "text": HOSTILE}))["ok"]

    await expect(page.locator(".from-agent .bubble")).to_have_text([HOSTILE])
    await expect(page.locator(".from-customer .bubble").last).to_have_text(HOSTILE)
    assert await page.locator("#messages b, #messages script").count() == 0
    assert await page.evaluate("typeof window.hacked") == "undefined"


async def test_a_reload_resumes_the_conversation(live, staff, page, agent_socket):
    from playwright.async_api import expect

    await agent_ready(live, staff)
    await start_chat(page, live)
    await agent_takes_the_chat(live, staff)
    await send_from_composer(page, "Before the reload")
    await settle(live.server.app)
    conversation_id = await conversation_id_of(agent_socket, "Before the reload")
    assert (await agent_socket.call("chat:send", {"conversation_id": conversation_id, "text": "Still here"}))[
        "ok"
    ]
    await expect(page.locator(".from-agent .bubble")).to_have_text(["Still here"])

    await page.reload()
    await expect(page.locator(".from-customer .bubble")).to_have_text(
        ["Hello, my parcel has not arrived", "Before the reload"]
    )
    await expect(page.locator(".from-agent .bubble")).to_have_text(["Still here"])
    await expect(page.locator("#status")).to_have_text("Chatting with Agent")
    second_tab = await page.context.new_page()  # the same visitor token: the same chat
    await second_tab.goto(str(live.make_url("/chat")))
    await expect(second_tab.locator(".from-agent .bubble")).to_have_text(["Still here"])
    await send_from_composer(second_tab, "From my other tab")
    await expect(page.locator(".from-customer .bubble").last).to_have_text("From my other tab")


async def test_with_nobody_to_chat_the_offline_form_confirms_a_ticket(live, page):
    from playwright.async_api import expect

    await page.goto(str(live.make_url("/chat")))
    await expect(page.get_by_text("All of our team are away just now.")).to_be_visible()
    form = page.locator("#offline-form")
    await form.get_by_label("Your name").fill("Carol")
    await form.get_by_label("Email").fill("carol@example.com")
    await form.get_by_label("Your message").fill("Please call me back")
    await form.get_by_role("button", name="Send message").click()
    await expect(page.get_by_role("heading", name="Message received")).to_be_visible()
    await expect(page.locator("#offline-confirmation")).to_contain_text("ticket T-")


async def test_ending_the_chat_asks_for_a_rating(live, staff, page):
    from playwright.async_api import expect

    await agent_ready(live, staff)
    await start_chat(page, live)
    await page.get_by_role("button", name="End chat").click()
    await page.get_by_role("button", name="End the chat?").click()
    await expect(page.get_by_role("heading", name="How did we do?")).to_be_visible()
    await page.locator("label[for=score-4]").click()
    await page.get_by_label("Anything you would like to tell us?").fill("Quick and kind")
    await page.get_by_role("button", name="Send", exact=True).click()
    await expect(page.get_by_role("heading", name="Thank you!")).to_be_visible()


async def test_one_tag_on_a_listed_website_embeds_the_chat(live, live_settings, staff, page):
    from playwright.async_api import expect

    await agent_ready(live, staff)
    website = web.Application()
    tag = f'<script src="{live_settings.public_url}/chat/widget.js" async></script>'
    shop = f"<!doctype html><title>Shop</title><h1>Shop</h1>{tag}"

    async def home(request: web.Request) -> web.Response:
        return web.Response(text=shop, content_type="text/html")

    website.router.add_get("/", home)
    origin = live_settings.chat_embed_origin_list[0]
    host = await serve(website, int(origin.rsplit(":", 1)[1]))
    try:
        await page.goto(origin + "/")
        await page.get_by_role("button", name="Chat with us").click()
        frame = page.frame_locator("#cc-chat-frame")
        form = frame.locator("#prechat-form")
        await form.get_by_label("Your name").fill("Dan")
        await form.get_by_label("How can we help?").fill("Do you ship to Norway?")
        await form.get_by_role("button", name="Start chat").click()
        await expect(frame.locator(".from-customer .bubble")).to_have_text(["Do you ship to Norway?"])
        await frame.get_by_role("button", name="Minimise the chat").click()
        await expect(page.locator("#cc-chat-frame")).to_be_hidden()
    finally:
        await host.close()


async def test_a_refused_message_says_why_and_can_be_sent_again(live, staff, page):
    from playwright.async_api import expect

    await agent_ready(live, staff)
    await start_chat(page, live)
    for n in range(11):  # ten in a burst are allowed
        await send_from_composer(page, f"Message {n}")
    await expect(page.get_by_role("alert")).to_have_text(
        "You are sending messages a little too fast. Please wait a moment and try again."
    )
    await expect(page.get_by_role("button", name="Not sent. Retry")).to_have_count(1)
    live.server.app[CLOCK].advance(seconds=10)
    await page.get_by_role("button", name="Not sent. Retry").click()
    await expect(page.get_by_role("button", name="Not sent. Retry")).to_have_count(0)
    await expect(page.locator(".from-customer .bubble")).to_have_count(12)  # the first message and 11


async def agent_message_with_files(agent: Socket) -> dict:
    """The first message with files the agent's console received."""
    for _ in range(200):
        for message in agent.received["chat:message"]:
            if message.get("files"):
                return message
        await asyncio.sleep(0.01)
    raise AssertionError(f"the agent got no file: {agent.received['chat:message']}")


async def test_a_picture_the_customer_attaches_reaches_the_agent_and_opens_full_size(
    live, staff, page, agent_socket
):
    from playwright.async_api import expect

    picture = png(120, 80)
    await agent_ready(live, staff)
    await start_chat(page, live)
    await agent_takes_the_chat(live, staff)
    attach = page.get_by_role("button", name="Attach a file")
    await expect(attach).to_be_enabled()
    async with page.expect_file_chooser() as chooser:  # the button works from the keyboard
        await attach.press("Enter")
    await (await chooser.value).set_files({"name": "parcel.png", "mimeType": "image/png", "buffer": picture})

    thumbnail = page.get_by_role("button", name="Open the picture parcel.png full size")
    await expect(thumbnail.locator("img")).to_have_attribute("src", re.compile(r"^blob:"))
    assert await thumbnail.locator("img").evaluate("img => img.decode().then(() => img.naturalWidth)") == 120
    await settle(live.server.app)
    message = await agent_message_with_files(agent_socket)
    [file] = message["files"]
    assert (file["name"], file["type"], file["size"]) == ("parcel.png", "image/png", len(picture))
    download = await live.get(file["url"], headers=bearer(staff["agent"]["token"]))
    assert download.status == 200 and await download.read() == picture

    await thumbnail.click()
    viewer = page.get_by_role("dialog", name="parcel.png")
    await expect(viewer).to_be_visible()
    await expect(viewer.locator("img")).to_have_attribute("src", re.compile(r"^blob:"))
    await page.keyboard.press("Escape")
    await expect(viewer).to_be_hidden()
    await expect(page.locator("#error")).to_be_hidden()


async def test_a_text_file_is_offered_as_a_download_link(live, staff, page):
    from playwright.async_api import expect

    await agent_ready(live, staff)
    await start_chat(page, live)
    note = b"Order 1234\nDelivery address: 1 Main St\n"
    await page.locator("#file-input").set_input_files(
        {"name": "order <1234>.txt", "mimeType": "text/plain", "buffer": note}
    )
    link = page.get_by_role("link", name=re.compile(r"^Download order_1234\.txt"))
    await expect(link).to_be_visible()
    async with page.expect_download() as downloading:
        await link.click()
    download = await downloading.value
    assert download.suggested_filename == "order_1234.txt"
    assert await asyncio.to_thread(Path(await download.path()).read_bytes) == note


async def test_a_file_of_a_refused_type_says_why_it_was_not_sent(live, staff, page):
    from playwright.async_api import expect

    await agent_ready(live, staff)
    await start_chat(page, live)
    program = b"MZ\x90\x00\x03\x00\x00\x00" + b"\xff" * 600
    await page.locator("#file-input").set_input_files(
        {"name": "setup.exe", "mimeType": "application/x-msdownload", "buffer": program}
    )
    await expect(page.get_by_role("alert")).to_have_text(
        "setup.exe: We can only accept pictures (PNG, JPEG or GIF), PDF documents and plain text files."
    )
    await expect(page.locator("#messages .attachments")).to_have_count(0)  # nothing left "Sending…"
