"""The agents' pages: /login (sign in, then back to where the agent was going) and /agent (the console),
with the console's static files under /static/console/.

The console talks to the socket.io namespace /agent (docs/agent-protocol.md) and to the JSON API. Its
Content-Security-Policy is the app's, plus the hosts the Twilio Voice SDK reaches when Twilio is configured.
"""

from __future__ import annotations

import html
from functools import cache
from pathlib import Path
from string import Template
from urllib.parse import quote, urlsplit

from aiohttp import web

from contact_center.auth.roles import Access
from contact_center.settings import Settings
from contact_center.web.appkeys import SETTINGS
from contact_center.web.endpoints import declare_access

HERE = Path(__file__).parent
STATIC = HERE / "static"
DEFAULT_NEXT = "/agent"
routes = web.RouteTableDef()

# What the Twilio Voice SDK (2.x) reaches from the browser: signalling over wss://voice-js.<edge>.twilio.com,
# insights to https://eventgw.twilio.com, and its ring/disconnect sounds from sdk.twilio.com and
# media.twiliocdn.com (the SDK's README, "Content Security Policy"). Wildcards cover every edge.
TWILIO_CONNECT = "wss://*.twilio.com https://*.twilio.com https://media.twiliocdn.com"
TWILIO_MEDIA = "mediastream: blob: https://sdk.twilio.com https://media.twiliocdn.com"


@cache
def _template(name: str) -> Template:
    return Template((HERE / "templates" / name).read_text(encoding="utf-8"))


def console_policy(settings: Settings) -> str:
    """The console's Content-Security-Policy: the app's default, widened for Twilio's hosts only when
    Twilio is configured (without it the console reaches nothing but this server)."""
    policy = (
        "default-src 'self'; img-src 'self' data: blob:; object-src 'none'; frame-ancestors 'none'; "
        "base-uri 'self'; form-action 'self'"
    )
    if settings.twilio_enabled:
        policy += f"; connect-src 'self' {TWILIO_CONNECT}; media-src 'self' {TWILIO_MEDIA}"
    return policy


def safe_next(target: str | None) -> str:
    """Where to go after signing in: a path on this site, else the console (no open redirect)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return DEFAULT_NEXT
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or any(ord(c) < 32 for c in target):
        return DEFAULT_NEXT
    return target


def _page(html: str, policy: str) -> web.Response:
    response = web.Response(text=html, content_type="text/html", charset="utf-8")
    response.headers["Content-Security-Policy"] = policy
    response.headers["Cache-Control"] = "no-store"
    return response


@routes.get("/login")
@declare_access(Access.PUBLIC)
async def login_page(request: web.Request) -> web.Response:
    """The sign-in page; it posts to /api/auth/login and then goes to `?next=` (a path on this site).
    Someone already signed in goes there at once."""
    target = safe_next(request.query.get("next"))
    if request.get("user") is not None and request.get("auth_method") == "session":
        raise web.HTTPFound(target)
    page = _template("login.html").substitute(next=html.escape(target, quote=True))
    return _page(page, console_policy(request.app[SETTINGS]))


@routes.get("/agent")
@declare_access(Access.PUBLIC)  # checked here, so an anonymous visitor is sent to /login, not given JSON
async def console_page(request: web.Request) -> web.Response:
    """The agent console; without a valid session, a redirect to /login?next=/agent."""
    if request.get("user") is None or request.get("auth_method") != "session":
        raise web.HTTPFound(f"/login?next={quote(DEFAULT_NEXT, safe='/')}")
    return _page(_template("console.html").template, console_policy(request.app[SETTINGS]))


routes.static("/static/console", STATIC / "console")
