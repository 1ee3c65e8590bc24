"""Business-hours calendars and SLA policies over HTTP. Supervisors read them; administrators change them,
and every change is audited."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from contact_center.api.common import caller_id, path_id
from contact_center.auth.roles import Access
from contact_center.tickets import sla_admin
from contact_center.tickets.sla_schemas import CalendarIn, SlaPolicyIn
from contact_center.web.appkeys import CLOCK, SESSIONS
from contact_center.web.endpoints import EndpointTable

api = EndpointTable("sla")

CALENDAR_ERRORS = {
    409: "The name is taken",
    422: "Fields invalid: unknown time zone or holiday country, malformed hours, never open",
}
POLICY_ERRORS = {422: "Fields invalid, no target, or an unknown category or calendar"}


@api.get("/api/business-calendars", access=Access.SUPERVISOR, summary="Business-hours calendars by name")
async def list_business_calendars(request: web.Request) -> list[dict[str, Any]]:
    """Every calendar: zone, weekly hours, holidays."""
    async with request.app[SESSIONS]() as db:
        rows = await sla_admin.list_calendars(db)
    return [sla_admin.calendar_json(row) for row in rows]


@api.get("/api/business-calendars/{id}", access=Access.SUPERVISOR, summary="One business-hours calendar")
async def get_business_calendar(request: web.Request) -> dict[str, Any]:
    """Read one calendar."""
    async with request.app[SESSIONS]() as db:
        row = await sla_admin.get_calendar(db, path_id(request))
    return sla_admin.calendar_json(row)


@api.post(
    "/api/business-calendars",
    access=Access.ADMIN,
    body=CalendarIn,
    status=201,
    summary="Add a business-hours calendar",
    responses=CALENDAR_ERRORS,
)
async def create_business_calendar(request: web.Request, body: CalendarIn) -> dict[str, Any]:
    """A new calendar (hours are local wall-clock times in its zone)."""
    async with request.app[SESSIONS].begin() as db:
        row = await sla_admin.create_calendar(db, body, caller_id(request), request.app[CLOCK].now())
    return sla_admin.calendar_json(row)


@api.route(
    "PUT",
    "/api/business-calendars/{id}",
    access=Access.ADMIN,
    body=CalendarIn,
    summary="Replace a business-hours calendar",
    responses=CALENDAR_ERRORS,
)
async def update_business_calendar(request: web.Request, body: CalendarIn) -> dict[str, Any]:
    """Change name, zone, hours and holidays; the policies using it count in the new hours."""
    async with request.app[SESSIONS].begin() as db:
        row = await sla_admin.update_calendar(
            db, path_id(request), body, caller_id(request), request.app[CLOCK].now()
        )
    return sla_admin.calendar_json(row)


@api.delete(
    "/api/business-calendars/{id}",
    access=Access.ADMIN,
    status=204,
    summary="Delete a business-hours calendar no SLA policy uses",
    responses={409: "SLA policies use the calendar"},
)
async def delete_business_calendar(request: web.Request) -> None:
    """Delete a calendar; refused while a policy names it."""
    async with request.app[SESSIONS].begin() as db:
        await sla_admin.delete_calendar(db, path_id(request), caller_id(request), request.app[CLOCK].now())


@api.get(
    "/api/sla-policies",
    access=Access.SUPERVISOR,
    summary="SLA policies in the order they are tried (inactive ones too)",
)
async def list_sla_policies(request: web.Request) -> list[dict[str, Any]]:
    """Every policy by (position, id); a ticket gets the first active one that matches it."""
    async with request.app[SESSIONS]() as db:
        rows = await sla_admin.list_policies(db)
    return [sla_admin.policy_json(row) for row in rows]


@api.get("/api/sla-policies/{id}", access=Access.SUPERVISOR, summary="One SLA policy")
async def get_sla_policy(request: web.Request) -> dict[str, Any]:
    """Read one policy."""
    async with request.app[SESSIONS]() as db:
        row = await sla_admin.get_policy(db, path_id(request))
    return sla_admin.policy_json(row)


@api.post(
    "/api/sla-policies",
    access=Access.ADMIN,
    body=SlaPolicyIn,
    status=201,
    summary="Add an SLA policy",
    responses=POLICY_ERRORS,
)
async def create_sla_policy(request: web.Request, body: SlaPolicyIn) -> dict[str, Any]:
    """A new policy, tried after the others unless given a position."""
    async with request.app[SESSIONS].begin() as db:
        row = await sla_admin.create_policy(db, body, caller_id(request), request.app[CLOCK].now())
    return sla_admin.policy_json(row)


@api.route(
    "PUT",
    "/api/sla-policies/{id}",
    access=Access.ADMIN,
    body=SlaPolicyIn,
    summary="Replace an SLA policy",
    responses=POLICY_ERRORS,
)
async def update_sla_policy(request: web.Request, body: SlaPolicyIn) -> dict[str, Any]:
    """Change matching, targets, calendar, breach action or active flag (position kept unless given)."""
    async with request.app[SESSIONS].begin() as db:
        row = await sla_admin.update_policy(
            db, path_id(request), body, caller_id(request), request.app[CLOCK].now()
        )
    return sla_admin.policy_json(row)


@api.delete(
    "/api/sla-policies/{id}",
    access=Access.ADMIN,
    status=204,
    summary="Delete an SLA policy no ticket has",
    responses={409: "Tickets have the policy (deactivate it instead)"},
)
async def delete_sla_policy(request: web.Request) -> None:
    """Delete a policy; refused while tickets carry it."""
    async with request.app[SESSIONS].begin() as db:
        await sla_admin.delete_policy(db, path_id(request), caller_id(request), request.app[CLOCK].now())
