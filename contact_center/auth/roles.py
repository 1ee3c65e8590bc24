"""Roles and the access each route declares."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    """What a user is allowed to do, each role including the ones below it."""

    AGENT = "agent"
    SUPERVISOR = "supervisor"
    ADMIN = "admin"


RANK = {Role.AGENT: 1, Role.SUPERVISOR: 2, Role.ADMIN: 3}


class Access(StrEnum):
    """Who may call a route: anyone, any logged-in user, or a minimum role."""

    PUBLIC = "public"
    AGENT = "agent"
    SUPERVISOR = "supervisor"
    ADMIN = "admin"


def allows(access: Access, role: str | None) -> bool:
    """True if a user with `role` (None when anonymous) may call a route declaring `access`."""
    if access is Access.PUBLIC:
        return True
    if role is None:
        return False
    return RANK[Role(role)] >= RANK[Role(access.value)]
