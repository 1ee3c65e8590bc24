"""Middlewares: JSON errors with a reason, request metrics, and authentication with authorisation by role."""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable

from aiohttp import web

from contact_center.auth import sessions as auth_sessions
from contact_center.auth.roles import Access, allows
from contact_center.errors import DomainError
from contact_center.web.appkeys import CLOCK, METRICS, SESSIONS, SETTINGS
from contact_center.web.endpoints import access_of, json_response, leaves_identification

log = logging.getLogger(__name__)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
SESSION_COOKIE = "cc_session"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def error_body(status: int, code: str, message: str, details: dict | None = None) -> web.Response:
    """The JSON error every 4xx and 5xx carries."""
    error = {"status": status, "code": code, "message": message}
    if details:
        error["details"] = details
    return json_response({"error": error}, status=status)


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Turn domain errors and HTTP errors into JSON with a reason; hide internals of unexpected ones."""
    try:
        return await handler(request)
    except DomainError as exc:
        return error_body(exc.status, exc.code, exc.message, exc.details)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        reason = {413: f"request body larger than {request.app[SETTINGS].max_body_bytes} bytes"}.get(
            exc.status, exc.reason
        )
        response = error_body(exc.status, exc.reason.lower().replace(" ", "_"), reason)
        if exc.status == 405 and "Allow" in exc.headers:
            response.headers["Allow"] = exc.headers["Allow"]
        return response
    except Exception:
        log.exception("unhandled error on %s %s", request.method, request.path)
        return error_body(500, "internal_error", "something went wrong on our side; it has been logged")


@web.middleware
async def metrics_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Count requests and time them by route template (not by raw path, which would explode labels)."""
    started = time.perf_counter()
    response = await handler(request)
    resource = request.match_info.route.resource
    route = resource.canonical if resource is not None else "unmatched"
    metrics = request.app[METRICS]
    metrics.requests.labels(request.method, route, str(response.status)).inc()
    metrics.latency.labels(route).observe(time.perf_counter() - started)
    return response


@web.middleware
async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Identify the caller (session cookie or bearer token) and enforce the route's declared access."""
    match = request.match_info
    if match.http_exception is not None:
        raise match.http_exception
    access = access_of(match.route.handler)
    if access is None:
        if isinstance(match.route.resource, web.StaticResource):
            access = Access.PUBLIC
        else:
            log.error("route %s declares no access; refusing", match.route)
            return error_body(403, "forbidden", "this route declares no access")
    if access is Access.PUBLIC and leaves_identification(match.route.handler):
        return await handler(request)
    await _identify(request)
    user = request.get("user")
    if not allows(access, user.role if user else None):
        if user is None:
            return error_body(401, "unauthenticated", "log in or send a bearer token")
        return error_body(403, "forbidden", f"this needs the {access.value} role")
    if request.get("auth_method") == "session" and request.method not in SAFE_METHODS:
        if not auth_sessions.csrf_matches(request["session"], request.headers.get(CSRF_HEADER)):
            return error_body(403, "csrf", f"missing or wrong {CSRF_HEADER} header")
    return await handler(request)


async def _identify(request: web.Request) -> None:
    request["user"] = None
    request["auth_method"] = None
    now = request.app[CLOCK].now()
    authorization = request.headers.get("Authorization", "")
    cookie = request.cookies.get(SESSION_COOKIE)
    if not authorization and not cookie:
        return
    async with request.app[SESSIONS].begin() as db:
        if authorization:
            scheme, _, secret = authorization.partition(" ")
            if scheme.lower() == "bearer" and secret:
                user = await auth_sessions.token_user(db, secret.strip(), now)
                if user is not None:
                    request["user"], request["auth_method"] = user, "token"
            return
        found = await auth_sessions.session_user(db, cookie or "", now)
        if found is not None:
            request["user"], request["session"] = found
            request["auth_method"] = "session"


async def security_headers(request: web.Request, response: web.StreamResponse) -> None:
    """Headers every answer carries: no sniffing, no framing, scripts and styles only from ourselves."""
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    response.headers.setdefault(
        "Content-Security-Policy",
        "default-src 'self'; img-src 'self' data:; object-src 'none'; frame-ancestors 'none'; "
        "base-uri 'self'",
    )
