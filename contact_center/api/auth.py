"""Login, logout, the current user, and API tokens."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from contact_center.api.common import caller, path_id, user_json
from contact_center.auth import sessions as auth_sessions
from contact_center.auth.passwords import hash_password, needs_rehash, verify_password
from contact_center.auth.roles import Access
from contact_center.auth.throttle import LOGIN_THROTTLE
from contact_center.errors import DomainError
from contact_center.users import service as users
from contact_center.web.appkeys import CLOCK, SESSIONS, SETTINGS
from contact_center.web.client_address import client_address
from contact_center.web.endpoints import EndpointTable, json_response
from contact_center.web.middlewares import SESSION_COOKIE

api = EndpointTable("auth")


class LoginIn(BaseModel):
    """Credentials."""

    model_config = ConfigDict(extra="forbid")
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=200)


class TokenIn(BaseModel):
    """A name for a new API token."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=100)


class LoginFailed(DomainError):
    """Wrong username or password (never saying which)."""

    status = 401
    code = "login_failed"


@api.post(
    "/api/auth/login",
    access=Access.PUBLIC,
    body=LoginIn,
    summary="Log in; sets the session cookie",
    responses={401: "Wrong username or password", 429: "Too many attempts for this username or address"},
)
async def login(request: web.Request, body: LoginIn) -> web.Response:
    """Check the password and open a session; the CSRF token must accompany cookie-authenticated writes."""
    settings, now = request.app[SETTINGS], request.app[CLOCK].now()
    request.app[LOGIN_THROTTLE].check(body.username, client_address(request, settings))
    async with request.app[SESSIONS].begin() as db:
        user = await users.user_by_username(db, body.username)
        valid = verify_password(user.password_hash if user else None, body.password)
        if user is None or not valid or not user.is_active:
            raise LoginFailed("wrong username or password")
        if needs_rehash(user.password_hash):
            user.password_hash = hash_password(body.password)
        user.last_login_at = now
        secret, csrf = await auth_sessions.open_session(
            db, user, now, timedelta(hours=settings.session_ttl_hours)
        )
        user = await users.get_user(db, user.id)
    response = json_response({"user": user_json(user), "csrf_token": csrf})
    response.set_cookie(
        SESSION_COOKIE,
        secret,
        httponly=True,
        samesite="Lax",
        secure=settings.secure_cookies,
        path="/",
        max_age=settings.session_ttl_hours * 3600,
    )
    return response


@api.post("/api/auth/logout", access=Access.AGENT, summary="Log out of this browser session", status=204)
async def logout(request: web.Request) -> web.Response:
    """End the session behind the cookie."""
    secret = request.cookies.get(SESSION_COOKIE)
    if secret:
        async with request.app[SESSIONS].begin() as db:
            await auth_sessions.close_session(db, secret)
    response = web.Response(status=204)
    response.del_cookie(SESSION_COOKIE, path="/")
    return response


@api.get("/api/auth/me", access=Access.AGENT, summary="The logged-in user (and the session's CSRF token)")
async def me(request: web.Request) -> dict[str, Any]:
    """Who am I."""
    async with request.app[SESSIONS]() as db:
        user = await users.get_user(db, caller(request).id)
    session = request.get("session")
    return {"user": user_json(user), "csrf_token": session.csrf_token if session else None}


@api.post(
    "/api/auth/tokens",
    access=Access.AGENT,
    body=TokenIn,
    status=201,
    summary="Issue an API token for the caller; the secret is shown only in this answer",
)
async def create_token(request: web.Request, body: TokenIn) -> dict[str, Any]:
    """A bearer token for scripts and integrations."""
    now = request.app[CLOCK].now()
    async with request.app[SESSIONS].begin() as db:
        token, secret = await auth_sessions.issue_token(db, caller(request), body.name, now)
        users.audit(db, caller(request).id, "token.issued", "api_token", token.id, {"name": body.name}, now)
    return {"id": token.id, "name": token.name, "token": secret, "created_at": token.created_at.isoformat()}


@api.get("/api/auth/tokens", access=Access.AGENT, summary="The caller's API tokens (without secrets)")
async def list_tokens(request: web.Request) -> list[dict[str, Any]]:
    """Own tokens."""
    async with request.app[SESSIONS]() as db:
        tokens = await auth_sessions.list_tokens(db, caller(request))
    return [
        {
            "id": t.id,
            "name": t.name,
            "created_at": t.created_at.isoformat(),
            "last_used_at": t.last_used_at.isoformat() if t.last_used_at else None,
            "revoked": t.revoked_at is not None,
        }
        for t in tokens
    ]


@api.delete(
    "/api/auth/tokens/{id}", access=Access.AGENT, status=204, summary="Revoke one of the caller's tokens"
)
async def revoke_token(request: web.Request) -> None:
    """Revoke."""
    now = request.app[CLOCK].now()
    async with request.app[SESSIONS].begin() as db:
        token_id = path_id(request)
        await auth_sessions.revoke_token(db, caller(request), token_id, now)
        users.audit(db, caller(request).id, "token.revoked", "api_token", token_id, {}, now)
