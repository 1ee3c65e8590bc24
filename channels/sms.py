"""Two-way SMS through Twilio (being built: see issue 4)."""

from __future__ import annotations

from collections.abc import Callable

from aiohttp import web

routes = web.RouteTableDef()


def attach(app: web.Application) -> Callable[[], None]:
    """Subscribe the channel's event handlers; returns what undoes it."""
    return lambda: None
