"""The customers' web chat pages: /chat (the widget, full page or `?embed=1` inside a website's frame),
/chat/widget.js (the one-tag embed script) and their static files.

Only /chat may be framed, and only by our own pages and the websites in CC_CHAT_EMBED_ORIGINS; every
other answer keeps the app's `frame-ancestors 'none'` and `X-Frame-Options: DENY`.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from string import Template

from aiohttp import web

from contact_center.auth.roles import Access
from contact_center.settings import Settings
from contact_center.web.appkeys import SETTINGS
from contact_center.web.endpoints import declare_access

HERE = Path(__file__).parent
STATIC = HERE / "static"
FRAMEABLE = web.ResponseKey("frameable", bool)  # set on an answer the embedding websites may frame
routes = web.RouteTableDef()


@cache
def _page_template() -> Template:
    return Template((HERE / "templates" / "chat.html").read_text(encoding="utf-8"))


def frame_policy(settings: Settings) -> str:
    """The /chat page's Content-Security-Policy: the app's, with the embedding websites as frame-ancestors and
    blob: images (the chat's pictures are fetched with the visitor token and shown from blob: URLs)."""
    ancestors = " ".join(["'self'", *settings.chat_embed_origin_list])
    return (
        "default-src 'self'; img-src 'self' data: blob:; object-src 'none'; "
        f"frame-ancestors {ancestors}; base-uri 'self'; form-action 'self'"
    )


@routes.get("/chat")
@declare_access(Access.PUBLIC)
async def chat_page(request: web.Request) -> web.Response:
    """The chat widget; `?embed=1` is the compact layout shown in the embed script's frame."""
    embedded = request.query.get("embed") == "1"
    html = _page_template().substitute(layout="embed" if embedded else "page")
    response = web.Response(text=html, content_type="text/html", charset="utf-8")
    response.headers["Content-Security-Policy"] = frame_policy(request.app[SETTINGS])
    response.headers["Cache-Control"] = "no-cache"
    response[FRAMEABLE] = True
    return response


@routes.get("/chat/widget.js")
@declare_access(Access.PUBLIC)
async def widget_script(request: web.Request) -> web.FileResponse:
    """The embed script: a launcher button and a frame of /chat?embed=1 on the website that adds it."""
    response = web.FileResponse(STATIC / "chat" / "widget.js", headers={"Cache-Control": "max-age=300"})
    response.content_type = "text/javascript"
    return response


routes.static("/static/chat", STATIC / "chat")
routes.static("/static/vendor", STATIC / "vendor")


async def allow_framing(request: web.Request, response: web.StreamResponse) -> None:
    """Drop `X-Frame-Options: DENY` from a frameable answer (its CSP frame-ancestors says who may frame
    it); added to `on_response_prepare` after the app's security headers."""
    if response.get(FRAMEABLE):
        response.headers.popall("X-Frame-Options", None)
