"""Helpers shared by API handlers: path ids, the caller, the customer context, serialisers."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from contact_center.db.models import User
from contact_center.errors import NotFound


def path_id(request: web.Request, name: str = "id") -> int:
    """A positive integer from the path; 404 otherwise (so ids are never guessed into errors)."""
    raw = request.match_info.get(name, "")
    if not raw.isdigit() or not 0 < int(raw) < 2**63:
        raise NotFound(f"{name} {raw!r} does not exist")
    return int(raw)


def caller(request: web.Request) -> User:
    """The authenticated user (routes that need one declare it, so this is always set there)."""
    return request["user"]


def caller_id(request: web.Request) -> int | None:
    """The authenticated user's id, or None."""
    user = request.get("user")
    return user.id if user else None


def user_json(user: User) -> dict[str, Any]:
    """A user as the API shows it (never the password hash)."""
    return {
        "id": user.id,
        "username": user.username,
        "display_name": user.display_name,
        "email": user.email,
        "role": user.role,
        "team_id": user.team_id,
        "languages": user.languages,
        "skills": {s.skill.name: s.level for s in user.skills} if "skills" in user.__dict__ else None,
        "is_active": user.is_active,
        "created_at": user.created_at.isoformat(),
        "last_login_at": user.last_login_at.isoformat() if user.last_login_at else None,
    }
