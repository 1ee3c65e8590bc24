"""Reports over HTTP (supervisors and admins): interval figures, contact reasons, complaints, the raw export,
staffing; JSON or CSV."""

from __future__ import annotations

from datetime import date
from typing import Any, Literal
from zoneinfo import ZoneInfo

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import select

from contact_center.auth.roles import Access
from contact_center.db.models import Queue
from contact_center.errors import NotFound
from contact_center.reports.breakdowns import (
    CONVERSATION_COLUMNS,
    complaints_report,
    conversation_rows,
    reasons_report,
)
from contact_center.reports.csv_export import csv_response, csv_text, dict_rows
from contact_center.reports.forecast import StaffingTarget, staffing_forecast
from contact_center.reports.intervals import Grain
from contact_center.reports.queries import DIMENSIONS, MAX_DAYS, ReportQuery, check_range, interval_report
from contact_center.web.appkeys import SESSIONS, SETTINGS
from contact_center.web.endpoints import EndpointTable

api = EndpointTable("reports")
MAX_EXPORT_DAYS = 92
MAX_PAGE = 1000
COMPLAINT_COLUMNS = (
    "category",
    "opened",
    "escalated",
    "escalation_rate",
    "resolved",
    "average_hours_to_resolve",
    "sla_met",
    "sla_breached",
    "sla_compliance",
)
FIGURE_COLUMNS = (
    "offered",
    "answered",
    "answered_in_target",
    "abandoned",
    "abandoned_after_target",
    "fell_back",
    "handled",
    "transfers",
    "rated",
    "service_level",
    "abandon_rate",
    "average_speed_of_answer",
    "average_handle_time",
    "satisfaction",
)


class RangeQuery(BaseModel):
    """A range of local days (inclusive) and the answer's format."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    first: date = Field(alias="from", description="First local day (YYYY-MM-DD)")
    last: date = Field(alias="to", description="Last local day, included")
    format: Literal["json", "csv"] = "json"


class IntervalQuery(RangeQuery):
    """An interval report: grain, dimensions to split by, filters."""

    grain: Grain = Grain.DAY
    by: str = Field(default="", max_length=40, description="Comma-separated: queue, channel, agent")
    queue: str | None = Field(default=None, max_length=64)
    channel: str | None = Field(default=None, max_length=16)
    agent_id: int | None = Field(default=None, ge=1)

    @field_validator("by")
    @classmethod
    def _known_dimensions(cls, value: str) -> str:
        names = [name.strip() for name in value.split(",") if name.strip()]
        unknown = [name for name in names if name not in DIMENSIONS]
        if unknown:
            raise ValueError(f"cannot group by {', '.join(unknown)}; use {', '.join(DIMENSIONS)}")
        return ",".join(dict.fromkeys(names))


def zone_of(request: web.Request) -> ZoneInfo:
    """The business time zone reports use."""
    return ZoneInfo(request.app[SETTINGS].timezone)


@api.get(
    "/api/reports/intervals",
    access=Access.SUPERVISOR,
    query=IntervalQuery,
    summary="Offered, answered, abandoned, service level, ASA, AHT, transfers, satisfaction per interval",
)
async def intervals(request: web.Request, query: IntervalQuery) -> Any:
    """Figures per 15 minutes, hour, day or week, split by queue, channel and/or agent, with totals."""
    report_query = ReportQuery(
        first=query.first,
        last=query.last,
        grain=query.grain,
        by=tuple(name for name in query.by.split(",") if name),
        queue=query.queue,
        channel=query.channel,
        agent_id=query.agent_id,
    )
    async with request.app[SESSIONS]() as db:
        report = await interval_report(db, report_query, zone_of(request))
    data = report.to_dict()
    if query.format == "json":
        return data
    keys = [k for name in report_query.by for k in (("agent_id", "agent") if name == "agent" else (name,))]
    header = ["start", *keys, *FIGURE_COLUMNS]
    filename = f"intervals-{query.grain.value}-{query.first}-{query.last}.csv"
    return csv_response(filename, header, dict_rows(data["rows"], header))


class ReasonQuery(RangeQuery):
    """Wrap-up codes over time."""

    grain: Literal["day", "week"] = "day"
    kind: Literal["disposition", "contact_reason"] | None = None


@api.get(
    "/api/reports/reasons",
    access=Access.SUPERVISOR,
    query=ReasonQuery,
    summary="Why customers contact us: contacts per disposition and contact reason, per day or week",
)
async def reasons(request: web.Request, query: ReasonQuery) -> Any:
    """Wrap-up codes counted on the local day of the wrap-up (a corrected wrap-up counts once)."""
    check_range(query.first, query.last, MAX_DAYS)
    async with request.app[SESSIONS]() as db:
        data = await reasons_report(db, query.first, query.last, Grain(query.grain), query.kind)
    if query.format == "json":
        return data
    header = ["start", "kind", "code", "label", "contacts"]
    return csv_response(f"reasons-{query.first}-{query.last}.csv", header, dict_rows(data["rows"], header))


@api.get(
    "/api/reports/complaints",
    access=Access.SUPERVISOR,
    query=RangeQuery,
    summary="Tickets by category: opened, escalation rate, time to resolve, SLA compliance",
)
async def complaints(request: web.Request, query: RangeQuery) -> Any:
    """Tickets opened in the range (complaints, service requests, ...), per category."""
    check_range(query.first, query.last, MAX_DAYS)
    async with request.app[SESSIONS]() as db:
        data = await complaints_report(db, query.first, query.last, zone_of(request))
    if query.format == "json":
        return data
    header = list(COMPLAINT_COLUMNS)
    return csv_response(f"complaints-{query.first}-{query.last}.csv", header, dict_rows(data["rows"], header))


class ExportQuery(RangeQuery):
    """The raw export: CSV of the whole range, or JSON pages."""

    after_id: int = Field(default=0, ge=0, description="JSON paging: rows with a larger id")
    limit: int = Field(default=500, ge=1, le=MAX_PAGE)


@api.get(
    "/api/reports/conversations",
    access=Access.SUPERVISOR,
    query=ExportQuery,
    summary="One row per conversation started in the range (CSV streamed, or JSON pages)",
)
async def conversations(request: web.Request, query: ExportQuery) -> Any:
    """The raw export: JSON pages of `limit` rows after `after_id`, or the whole range as CSV."""
    check_range(query.first, query.last, MAX_EXPORT_DAYS)
    zone = zone_of(request)
    if query.format == "json":
        async with request.app[SESSIONS]() as db:
            rows = [
                row
                async for row in conversation_rows(
                    db, query.first, query.last, zone, after_id=query.after_id, limit=query.limit
                )
            ]
        return {"rows": rows, "next_after_id": rows[-1]["id"] if len(rows) == query.limit else None}
    response = web.StreamResponse(
        headers={
            "Content-Type": "text/csv; charset=utf-8",
            "Content-Disposition": f'attachment; filename="conversations-{query.first}-{query.last}.csv"',
        }
    )
    await response.prepare(request)
    await response.write(csv_text(CONVERSATION_COLUMNS, []).encode())
    batch: list[list[Any]] = []
    async with request.app[SESSIONS]() as db:
        async for row in conversation_rows(db, query.first, query.last, zone):
            batch.append([row[name] for name in CONVERSATION_COLUMNS])
            if len(batch) >= 1000:
                await response.write(csv_text(None, batch).encode())
                batch = []
    if batch:
        await response.write(csv_text(None, batch).encode())
    await response.write_eof()
    return response


class StaffingQuery(BaseModel):
    """The queue and the day to staff."""

    model_config = ConfigDict(extra="forbid")
    queue: str = Field(min_length=1, max_length=64)
    day: date = Field(description="The local day to staff (YYYY-MM-DD)")
    weeks: int = Field(default=4, ge=1, le=12, description="How many past weeks the forecast averages")


@api.get(
    "/api/reports/staffing",
    access=Access.SUPERVISOR,
    query=StaffingQuery,
    summary="Forecast contacts per 15 minutes of a day and the agents needed (Erlang C and Erlang A)",
)
async def staffing(request: web.Request, query: StaffingQuery) -> dict[str, Any]:
    """The queue's forecast from the same weekday of past weeks, staffed for its service-level target."""
    async with request.app[SESSIONS]() as db:
        row = (await db.execute(select(Queue).where(Queue.name == query.queue))).scalar_one_or_none()
        if row is None:
            raise NotFound(f"queue {query.queue!r} does not exist")
        target = StaffingTarget(row.target_service_level / 100, float(row.target_answer_seconds))
        return await staffing_forecast(
            db, queue=row.name, day=query.day, weeks=query.weeks, target=target, zone=zone_of(request)
        )
