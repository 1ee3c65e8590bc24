"""The chat widget's pages over HTTP: who may frame /chat, the embed script and the static files."""

from __future__ import annotations

import pytest

from contact_center.app import create_app
from contact_center.settings import SettingsError, load_settings

WEBSITES = "https://shop.example, http://localhost:3000/"


@pytest.fixture
async def embedding_client(aiohttp_client, settings, clock):
    """The app with two websites allowed to frame the chat."""
    app = create_app(
        settings.model_copy(update={"chat_embed_origins": WEBSITES}), clock=clock, tick_interval=None
    )
    return await aiohttp_client(app)


async def test_the_chat_page_may_be_framed_only_by_ourselves_by_default(client):
    response = await client.get("/chat")
    assert response.status == 200 and response.content_type == "text/html"
    assert "frame-ancestors 'self';" in response.headers["Content-Security-Policy"]
    assert "X-Frame-Options" not in response.headers
    assert "script-src" not in response.headers["Content-Security-Policy"]  # default-src 'self' holds
    assert "img-src 'self' data: blob:;" in response.headers["Content-Security-Policy"]  # the chat's pictures
    assert 'class="layout-page"' in await response.text()


async def test_the_listed_websites_may_frame_the_chat_page_and_no_other_page(embedding_client):
    framed = await embedding_client.get("/chat", params={"embed": "1"})
    policy = framed.headers["Content-Security-Policy"]
    assert "frame-ancestors 'self' https://shop.example http://localhost:3000;" in policy
    assert "X-Frame-Options" not in framed.headers
    assert 'class="layout-embed"' in await framed.text()
    for path in ("/", "/chat/widget.js", "/static/chat/chat.js", "/healthz"):
        other = await embedding_client.get(path)
        assert other.headers["X-Frame-Options"] == "DENY", path
        assert "frame-ancestors 'none'" in other.headers["Content-Security-Policy"], path
        assert "blob:" not in other.headers["Content-Security-Policy"], path


async def test_the_embed_script_and_the_widgets_files_are_served(client):
    script = await client.get("/chat/widget.js")
    assert script.status == 200 and script.content_type == "text/javascript"
    assert "/chat?embed=1" in await script.text()
    for path, kind in (
        ("/static/chat/chat.js", "/javascript"),
        ("/static/chat/chat.css", "text/css"),
        ("/static/vendor/socket.io.min.js", "/javascript"),
    ):
        response = await client.get(path)
        assert response.status == 200 and response.content_type.endswith(kind), path
    vendor = await (await client.get("/static/vendor/socket.io.min.js")).text()
    assert vendor.startswith("/*!\n * Socket.IO v4") and "MIT License" in vendor[:200]


def test_an_embedding_website_must_be_given_as_an_origin(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)  # no .env of the working directory
    with pytest.raises(SettingsError, match="CC_CHAT_EMBED_ORIGINS"):
        load_settings(chat_embed_origins="https://shop.example/products")
    assert load_settings(chat_embed_origins="").chat_embed_origin_list == []
