"""Users, teams, skills, queues and the audit log over HTTP."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from contact_center.api.common import caller, caller_id, path_id, user_json
from contact_center.auth.roles import RANK, Access, Role
from contact_center.errors import PermissionDenied
from contact_center.users import service as users
from contact_center.users.schemas import TeamIn, TeamPatch, UserIn, UserPatch
from contact_center.web.appkeys import CLOCK, ROUTING, SESSIONS
from contact_center.web.endpoints import EndpointTable

api = EndpointTable("users")


def team_json(team: Any) -> dict[str, Any]:
    """A team as the API shows it."""
    return {
        "id": team.id,
        "name": team.name,
        "description": team.description,
        "created_at": team.created_at.isoformat(),
    }


@api.get("/api/users", access=Access.SUPERVISOR, summary="Every user with role, team, skills and languages")
async def list_users(request: web.Request) -> list[dict[str, Any]]:
    """All users."""
    async with request.app[SESSIONS]() as db:
        return [user_json(u) for u in await users.list_users(db)]


@api.post(
    "/api/users",
    access=Access.ADMIN,
    body=UserIn,
    status=201,
    summary="Create a user",
    responses={409: "Username taken"},
)
async def create_user(request: web.Request, body: UserIn) -> dict[str, Any]:
    """A new agent, supervisor or admin."""
    async with request.app[SESSIONS].begin() as db:
        user = await users.create_user(db, body, request.app[CLOCK].now(), caller_id(request))
    await request.app[ROUTING].sync_agent(user.id)
    return user_json(user)


@api.get("/api/users/{id}", access=Access.AGENT, summary="One user (agents may read only themselves)")
async def get_user(request: web.Request) -> dict[str, Any]:
    """Read a user."""
    user_id = path_id(request)
    me = caller(request)
    if me.id != user_id and RANK[Role(me.role)] < RANK[Role.SUPERVISOR]:
        raise PermissionDenied("agents may read only their own user")
    async with request.app[SESSIONS]() as db:
        return user_json(await users.get_user(db, user_id))


@api.patch(
    "/api/users/{id}",
    access=Access.ADMIN,
    body=UserPatch,
    summary="Change a user's role, team, skills, languages, password or active flag",
)
async def update_user(request: web.Request, body: UserPatch) -> dict[str, Any]:
    """Edit a user; recorded in the audit log."""
    user_id = path_id(request)
    if user_id == caller(request).id and (body.role not in (None, Role.ADMIN) or body.is_active is False):
        raise PermissionDenied("admins cannot demote or deactivate themselves")
    async with request.app[SESSIONS].begin() as db:
        user = await users.update_user(db, user_id, body, request.app[CLOCK].now(), caller_id(request))
    await request.app[ROUTING].sync_agent(user.id)
    return user_json(user)


@api.get("/api/teams", access=Access.AGENT, summary="Every team")
async def list_teams(request: web.Request) -> list[dict[str, Any]]:
    """All teams."""
    async with request.app[SESSIONS]() as db:
        return [team_json(t) for t in await users.list_teams(db)]


@api.post(
    "/api/teams",
    access=Access.ADMIN,
    body=TeamIn,
    status=201,
    summary="Create a team",
    responses={409: "Name taken"},
)
async def create_team(request: web.Request, body: TeamIn) -> dict[str, Any]:
    """A new team."""
    async with request.app[SESSIONS].begin() as db:
        return team_json(await users.create_team(db, body, request.app[CLOCK].now(), caller_id(request)))


@api.get("/api/teams/{id}", access=Access.AGENT, summary="One team and its members")
async def get_team(request: web.Request) -> dict[str, Any]:
    """A team with its users."""
    async with request.app[SESSIONS]() as db:
        team = await users.get_team(db, path_id(request))
        members = await users.list_users(db, team_id=team.id)
    return {
        **team_json(team),
        "members": [{"id": u.id, "display_name": u.display_name, "role": u.role} for u in members],
    }


@api.patch("/api/teams/{id}", access=Access.ADMIN, body=TeamPatch, summary="Rename or describe a team")
async def update_team(request: web.Request, body: TeamPatch) -> dict[str, Any]:
    """Edit a team."""
    async with request.app[SESSIONS].begin() as db:
        team = await users.update_team(
            db, path_id(request), body, request.app[CLOCK].now(), caller_id(request)
        )
    return team_json(team)


@api.get("/api/skills", access=Access.AGENT, summary="Every skill")
async def list_skills(request: web.Request) -> list[dict[str, Any]]:
    """All skills."""
    async with request.app[SESSIONS]() as db:
        return [{"id": s.id, "name": s.name} for s in await users.list_skills(db)]


@api.get("/api/audit", access=Access.ADMIN, summary="The newest administrative actions")
async def audit_log(request: web.Request) -> list[dict[str, Any]]:
    """Audit log."""
    async with request.app[SESSIONS]() as db:
        entries = await users.audit_log(db)
    return [
        {
            "id": e.id,
            "actor_id": e.actor_id,
            "action": e.action,
            "target_type": e.target_type,
            "target_id": e.target_id,
            "details": e.details,
            "created_at": e.created_at.isoformat(),
        }
        for e in entries
    ]
