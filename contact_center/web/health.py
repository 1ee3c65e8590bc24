"""/healthz (database and Redis checked) and /metrics (Prometheus text format)."""

from __future__ import annotations

import asyncio

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text

from contact_center.auth.roles import Access
from contact_center.web.appkeys import ENGINE, METRICS, REDIS
from contact_center.web.endpoints import declare_access

routes = web.RouteTableDef()
CHECK_TIMEOUT = 3.0


@routes.get("/healthz")
@declare_access(Access.PUBLIC)
async def healthz(request: web.Request) -> web.Response:
    """200 when the database (and Redis, if configured) answer; 503 naming what failed otherwise."""
    checks: dict[str, str] = {}
    try:
        async with asyncio.timeout(CHECK_TIMEOUT), request.app[ENGINE].connect() as connection:
            await connection.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as exc:
        checks["database"] = f"failed: {type(exc).__name__}"
    redis = request.app.get(REDIS)
    if redis is not None:
        try:
            async with asyncio.timeout(CHECK_TIMEOUT):
                await redis.ping()
            checks["redis"] = "ok"
        except Exception as exc:
            checks["redis"] = f"failed: {type(exc).__name__}"
    healthy = all(v == "ok" for v in checks.values())
    return web.json_response(
        {"status": "ok" if healthy else "unhealthy", "checks": checks}, status=200 if healthy else 503
    )


@routes.get("/metrics")
@declare_access(Access.PUBLIC)
async def metrics(request: web.Request) -> web.Response:
    """Prometheus exposition of this process's metrics."""
    body = generate_latest(request.app[METRICS].registry)
    response = web.Response(body=body)
    response.headers["Content-Type"] = CONTENT_TYPE_LATEST
    return response
