"""Interval reports: counters summed per interval (15 minutes, hour, local day, local week) and per queue and
channel, or per agent (days and weeks only), read from `interval_stats` only.

Days and weeks group in SQL by the stored local day. Quarters and hours group by interval in SQL and are
rolled up here, so their range is limited to `MAX_FINE_DAYS` days.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from contact_center.db.models import IntervalStat, User
from contact_center.db.models.statistics import COUNTER_COLUMNS
from contact_center.errors import InvalidInput
from contact_center.reports.counters import ALL_AGENTS
from contact_center.reports.figures import Figures
from contact_center.reports.intervals import Grain, bucket_of

DIMENSIONS = ("queue", "channel", "agent")
MAX_FINE_DAYS = 62
MAX_DAYS = 2 * 366


class InvalidReport(InvalidInput):
    """The report's range, grain or grouping cannot be served."""


def check_range(first: date, last: date, limit: int, what: str = "this report") -> None:
    """Refuse a range that ends before it begins or is longer than `limit` days."""
    if last < first:
        raise InvalidReport("the range ends before it begins")
    days = (last - first).days + 1
    if days > limit:
        raise InvalidReport(f"{what} covers at most {limit} days; {days} asked")


@dataclass(frozen=True)
class ReportQuery:
    """Which figures: a range of local days, a grain, the dimensions to split by, optional filters."""

    first: date
    last: date
    grain: Grain = Grain.DAY
    by: tuple[str, ...] = ()
    queue: str | None = None
    channel: str | None = None
    agent_id: int | None = None

    def check(self) -> None:
        """Refuse ranges the report cannot answer quickly, and unknown dimensions."""
        limit = MAX_FINE_DAYS if self.grain in (Grain.QUARTER, Grain.HOUR) else MAX_DAYS
        check_range(self.first, self.last, limit, f"a {self.grain.value} report")
        unknown = [name for name in self.by if name not in DIMENSIONS]
        if unknown:
            raise InvalidReport(f"cannot group by {', '.join(unknown)}; use {', '.join(DIMENSIONS)}")
        if self.per_agent:
            if self.grain not in (Grain.DAY, Grain.WEEK):
                raise InvalidReport("agent figures are kept per day: use grain day or week")
            if set(self.by) - {"agent"} or self.queue or self.channel:
                raise InvalidReport("agent figures cover all queues and channels: split by agent alone")

    @property
    def per_agent(self) -> bool:
        """True when the report is about agents (their day rows), not queues (their 15-minute rows)."""
        return "agent" in self.by or self.agent_id is not None


@dataclass
class ReportRow:
    """One row: where it starts (local time), its dimension values, its figures."""

    start: datetime
    keys: dict[str, Any]
    figures: Figures = field(default_factory=Figures)

    def to_dict(self) -> dict[str, Any]:
        return {"start": self.start.isoformat(), **self.keys, **self.figures.to_dict()}


@dataclass
class Report:
    """Rows in time order (then by dimension), and the totals of the whole range."""

    query: ReportQuery
    rows: list[ReportRow]
    totals: Figures

    def to_dict(self) -> dict[str, Any]:
        return {
            "from": self.query.first.isoformat(),
            "to": self.query.last.isoformat(),
            "grain": self.query.grain.value,
            "by": list(self.query.by),
            "rows": [row.to_dict() for row in self.rows],
            "totals": self.totals.to_dict(),
        }


async def interval_report(db: AsyncSession, query: ReportQuery, zone: ZoneInfo) -> Report:
    """The report asked for, from the interval counters."""
    query.check()
    table = IntervalStat.__table__
    columns = {"queue": table.c.queue, "channel": table.c.channel, "agent": table.c.agent_id}
    dimensions = [columns[name] for name in query.by]
    time_columns = (
        [table.c.local_day]
        if query.grain in (Grain.DAY, Grain.WEEK)
        else [table.c.interval_start, table.c.local_day]
    )
    statement = (
        select(*time_columns, *dimensions, *(func.sum(table.c[name]).label(name) for name in COUNTER_COLUMNS))
        .where(table.c.local_day >= query.first, table.c.local_day <= query.last)
        .group_by(*time_columns, *dimensions)
    )
    if query.queue:
        statement = statement.where(table.c.queue == query.queue)
    if query.channel:
        statement = statement.where(table.c.channel == query.channel)
    if query.agent_id is not None:
        statement = statement.where(table.c.agent_id == query.agent_id)
    elif query.per_agent:
        statement = statement.where(table.c.agent_id != ALL_AGENTS)
    else:
        statement = statement.where(table.c.agent_id == ALL_AGENTS)
    names = await _agent_names(db) if "agent" in query.by else {}
    rows: dict[tuple[Any, ...], ReportRow] = {}
    totals = Figures()
    for record in (await db.execute(statement)).mappings():
        start = bucket_of(query.grain, record["local_day"], zone, record.get("interval_start"))
        keys = _keys(record, query.by, names)
        figures = Figures.of(record)
        # keyed by the instant: local datetimes of one zone compare equal across an autumn change's fold
        row = rows.setdefault((start.timestamp(), *keys.values()), ReportRow(start, keys))
        row.figures.add(figures)
        totals.add(figures)
    ordered = [rows[key] for key in sorted(rows, key=lambda key: tuple(str(part) for part in key[1:]))]
    ordered.sort(key=lambda row: row.start.timestamp())
    return Report(query, ordered, totals)


def _keys(record: Any, by: tuple[str, ...], names: dict[int, str]) -> dict[str, Any]:
    keys: dict[str, Any] = {}
    for name in by:
        if name == "agent":
            agent_id = int(record["agent_id"])
            keys["agent_id"] = agent_id
            keys["agent"] = names.get(agent_id, f"user {agent_id}")
        else:
            keys[name] = record[name]
    return keys


async def _agent_names(db: AsyncSession) -> dict[int, str]:
    return {row.id: row.display_name for row in await db.execute(select(User.id, User.display_name))}
