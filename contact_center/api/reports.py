"""Reports over HTTP (supervisors and admins): figures per interval, queue, channel and agent; JSON or CSV."""

from __future__ import annotations

from datetime import date
from typing import Any, Literal
from zoneinfo import ZoneInfo

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, field_validator

from contact_center.auth.roles import Access
from contact_center.reports.csv_export import csv_response, dict_rows
from contact_center.reports.intervals import Grain
from contact_center.reports.queries import DIMENSIONS, ReportQuery, interval_report
from contact_center.web.appkeys import SESSIONS, SETTINGS
from contact_center.web.endpoints import EndpointTable

api = EndpointTable("reports")
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
