"""The supervisors' pages, for supervisors and administrators: /wallboard and /reports.

Each is static HTML and a script: static/console/wallboard.js opens the /wallboard socket.io namespace
(`?tv=1` starts it in the full-screen TV layout); static/console/reports.js reads the reports API and draws
its charts with Chart.js (bundled from npm under /static/vendor/). Agents who open them get 403.
"""

from __future__ import annotations

import html
from functools import cache
from pathlib import Path
from string import Template
from urllib.parse import quote

from aiohttp import web

from contact_center.auth.roles import Access, Role
from contact_center.web.appkeys import CLOCK
from contact_center.web.endpoints import declare_access

HERE = Path(__file__).parent
routes = web.RouteTableDef()
POLICY = (
    "default-src 'self'; img-src 'self' data:; object-src 'none'; frame-ancestors 'none'; "
    "base-uri 'self'; form-action 'self'"
)


@cache
def _template(name: str) -> Template:
    return Template((HERE / "templates" / name).read_text(encoding="utf-8"))


def _page(request: web.Request, template: str) -> web.Response:
    user = request.get("user")
    if user is None or request.get("auth_method") != "session":
        raise web.HTTPFound(f"/login?next={quote(request.path, safe='/')}")
    if user.role not in (Role.SUPERVISOR, Role.ADMIN):
        raise web.HTTPForbidden(text="This page is for supervisors and administrators.")
    now = request.app[CLOCK].now().isoformat()
    page = _template(template).substitute(server_time=html.escape(now, quote=True))
    response = web.Response(text=page, content_type="text/html", charset="utf-8")
    response.headers["Content-Security-Policy"] = POLICY
    response.headers["Cache-Control"] = "no-store"
    return response


@routes.get("/wallboard")
@declare_access(Access.PUBLIC)  # checked here: anonymous visitors go to /login, agents get 403
async def wallboard_page(request: web.Request) -> web.Response:
    """The live wallboard."""
    return _page(request, "wallboard.html")


@routes.get("/reports")
@declare_access(Access.PUBLIC)  # as /wallboard
async def reports_page(request: web.Request) -> web.Response:
    """Reports with charts and CSV downloads."""
    return _page(request, "reports.html")
