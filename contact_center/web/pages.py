"""The landing page and static assets of the core (feature pages live in agent_ui)."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from contact_center.auth.roles import Access
from contact_center.web.endpoints import declare_access

STATIC = Path(__file__).parent / "static"
routes = web.RouteTableDef()


@routes.get("/")
@declare_access(Access.PUBLIC)
async def index(request: web.Request) -> web.FileResponse:
    """The start page with links to what this installation offers."""
    return web.FileResponse(STATIC / "index.html")


routes.static("/static/core", STATIC)
