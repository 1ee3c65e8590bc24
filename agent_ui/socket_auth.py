"""Who is opening a socket: the console's session cookie, or `auth={"token": <API token>}`."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from contact_center.auth import sessions as auth_sessions
from contact_center.db.models import User
from contact_center.web.appkeys import CLOCK, SESSIONS
from contact_center.web.middlewares import SESSION_COOKIE


async def socket_user(app: web.Application, environ: dict[str, Any], auth: Any) -> User | None:
    """The logged-in user behind a socket's handshake, or None."""
    now = app[CLOCK].now()
    token = auth.get("token") if isinstance(auth, dict) else None
    request = environ.get("aiohttp.request")
    cookie = request.cookies.get(SESSION_COOKIE) if request is not None else None
    async with app[SESSIONS].begin() as db:
        if isinstance(token, str) and token:
            return await auth_sessions.token_user(db, token, now)
        if cookie:
            found = await auth_sessions.session_user(db, cookie, now)
            return found[0] if found else None
    return None
