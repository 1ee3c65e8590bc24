"""What the staff namespaces (/agent, /wallboard) do with every client event: its rate limit, its payload as
an object, and the answer: `{"ok": true, ...}`, or `{"ok": false, "error", "message"}` for a domain error
(its code) or anything unexpected (`server_error`, logged, no details)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

import socketio

from contact_center.errors import DomainError
from contact_center.rate_limit import RateLimiter

log = logging.getLogger(__name__)
Work = Callable[[dict[str, Any], dict[str, Any]], Awaitable[dict[str, Any]]]


async def answer(
    namespace: socketio.AsyncNamespace, limiter: RateLimiter, sid: str, data: Any, work: Work
) -> dict[str, Any]:
    """Run `work(session, payload)` for one event of socket `sid` and shape its answer."""
    if not limiter.allow(sid):
        return {"ok": False, "error": "rate_limited", "message": "too many events; slow down"}
    if data is None:
        data = {}
    if not isinstance(data, dict):
        return {"ok": False, "error": "invalid", "message": "the payload must be an object"}
    try:
        result = await work(await namespace.get_session(sid), data)
    except DomainError as exc:
        return {"ok": False, "error": exc.code, "message": str(exc)}
    except Exception:
        log.exception("%s event failed", namespace.namespace)
        return {"ok": False, "error": "server_error", "message": "something went wrong on our side"}
    return {"ok": True, **result}
