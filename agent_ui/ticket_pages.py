"""The ticket screens: /tickets (the list with filters and saved views) and /tickets/{id} (the same page with
one ticket open), for any signed-in agent, supervisor or administrator.

The page is static HTML and a script (static/console/tickets.js) that reads and changes tickets through the
JSON API (contact_center/api/tickets.py, knowledge.py) with the session's CSRF token. The page carries the
server's clock, so SLA badges count down against the server's time, not the browser's.
"""

from __future__ import annotations

import html
from functools import cache
from pathlib import Path
from string import Template
from urllib.parse import quote

from aiohttp import web

from contact_center.auth.roles import Access
from contact_center.web.appkeys import CLOCK
from contact_center.web.endpoints import declare_access

HERE = Path(__file__).parent
routes = web.RouteTableDef()

# Nothing but this server: scripts, styles and images from here (articles' images as data: or our own).
POLICY = (
    "default-src 'self'; img-src 'self' data: blob:; object-src 'none'; frame-ancestors 'none'; "
    "base-uri 'self'; form-action 'self'"
)


@cache
def _template() -> Template:
    return Template((HERE / "templates" / "tickets.html").read_text(encoding="utf-8"))


def _signed_in(request: web.Request) -> bool:
    return request.get("user") is not None and request.get("auth_method") == "session"


def _render(request: web.Request) -> web.Response:
    if not _signed_in(request):
        raise web.HTTPFound(f"/login?next={quote(request.path, safe='/')}")
    now = request.app[CLOCK].now().isoformat()
    page = _template().substitute(server_time=html.escape(now, quote=True))
    response = web.Response(text=page, content_type="text/html", charset="utf-8")
    response.headers["Content-Security-Policy"] = POLICY
    response.headers["Cache-Control"] = "no-store"
    return response


@routes.get("/tickets")
@declare_access(Access.PUBLIC)  # checked here, so an anonymous visitor is sent to /login, not given JSON
async def tickets_page(request: web.Request) -> web.Response:
    """The ticket list and detail; without a valid session, a redirect to /login?next=/tickets."""
    return _render(request)


@routes.get(r"/tickets/{id:\d{1,18}}")
@declare_access(Access.PUBLIC)  # as /tickets; the API decides whether the ticket is visible
async def ticket_page(request: web.Request) -> web.Response:
    """The same page with one ticket open."""
    return _render(request)
